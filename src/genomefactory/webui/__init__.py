"""genomefactory.webui"""
