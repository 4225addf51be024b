"""genomefactory.train.methods"""
