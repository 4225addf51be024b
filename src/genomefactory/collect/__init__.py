"""genomefactory.collect"""
