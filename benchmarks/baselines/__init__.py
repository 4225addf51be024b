"""Plain PyTorch / transformers code a competent user writes without genomefactory, timed against the project.

Each baseline runs on the same model weights, data and settings as the project's path it is compared with, and
does what a careful user would: batched, under ``torch.no_grad``, length-sorted where a user would sort.
"""
