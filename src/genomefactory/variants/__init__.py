"""Variant effect prediction: score VCF/TSV variants against a reference genome with any registered model.

Python API (the same functions the ``variants`` command runs)::

    from genomefactory.config import load_config
    from genomefactory.variants.config import VariantsConfig
    from genomefactory.variants.run import run_variants

    result = run_variants(load_config(VariantsConfig, "examples/variants.yaml"))

Conventions: input positions are 1-based (VCF, TSV ``pos``), everything inside is 0-based half-open on the contig,
reference (``+``) orientation; alleles upper-case ``ACGTN``. Modules: :mod:`.config`, :mod:`.io` (readers),
:mod:`.reference` (FASTA), :mod:`.records` (statuses), :mod:`.windows`, :mod:`.engine` (model access, batching),
:mod:`.scores` (registry and score definitions), :mod:`.scorer`, :mod:`.output` / :mod:`.vcf_out`, :mod:`.run`,
:mod:`.evaluate`.
"""
