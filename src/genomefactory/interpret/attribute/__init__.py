"""The ``attribute`` command: attributions of a fine-tuned run's predictions (ISM, integrated gradients,
input x gradient from :mod:`genomefactory.interpret.attrib`) written as per-base tracks (.npz, Parquet, bigWig),
TF-MoDISco inputs and a report. This package's ``config`` module imports no torch."""
