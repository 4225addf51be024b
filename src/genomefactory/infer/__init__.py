"""genomefactory.infer"""
