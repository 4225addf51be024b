"""genomefactory.train"""
