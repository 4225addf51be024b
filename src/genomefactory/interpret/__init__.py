"""genomefactory.interpret"""
