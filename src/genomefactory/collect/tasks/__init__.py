"""genomefactory.collect.tasks"""
