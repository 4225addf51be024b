"""Continued (domain-adaptive) pre-training: masked-LM for encoders, causal LM for decoders, on FASTA files.

Python API: ``run_pretrain(PretrainConfig(...))`` (:mod:`.run`), the same function as ``genomefactory-cli pretrain``.
"""
