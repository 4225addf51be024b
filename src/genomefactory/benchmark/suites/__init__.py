"""genomefactory.benchmark.suites"""
