"""genomefactory.benchmark"""
