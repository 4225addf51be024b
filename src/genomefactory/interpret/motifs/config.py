"""Config of ``genomefactory-cli motifs`` (torch-free: the CLI help reads it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ...config import InPath, OutPath, StrictConfig

__all__ = ["ModiscoSettings", "MotifDBConfig", "MotifsConfig"]


class MotifDBConfig(StrictConfig):
    """The motif database patterns are matched against: JASPAR (shipped with pyjaspar) or a MEME file."""

    release: str = Field(
        "JASPAR2024", description="JASPAR release shipped with pyjaspar (JASPAR2014 ... 2026)."
    )
    collection: str | None = Field(
        "CORE", description="JASPAR collection (CORE, UNVALIDATED ...); null = all."
    )
    tax_group: list[str] | None = Field(
        default_factory=lambda: ["vertebrates"],
        description="JASPAR taxonomic groups (vertebrates, plants, insects, fungi ...); null = all.",
    )
    meme_file: InPath | None = Field(
        None, description="A MEME motif file to use instead of JASPAR (e.g. HOCOMOCO, CIS-BP exports)."
    )


class ModiscoSettings(StrictConfig):
    """TF-MoDISco (modisco-lite) settings; the defaults suit a few hundred to a few thousand sequences."""

    window: int = Field(21, ge=5, description="Seqlet core window (bases).")
    flank: int = Field(10, ge=0, description="Bases added on each side of a seqlet core.")
    min_metacluster_size: int = Field(
        100, ge=1, description="Fewest seqlets of one sign for that metacluster to be clustered."
    )
    max_seqlets: int = Field(20000, ge=10, description="Most seqlets clustered per metacluster.")
    min_cluster_size: int = Field(20, ge=2, description="Fewest seqlets of a reported pattern.")
    n_leiden_runs: int = Field(10, ge=1, description="Leiden clustering restarts (modisco's default is 50).")
    trim_threshold: float = Field(
        0.3, gt=0.0, le=1.0, description="Trim a pattern to columns with |CWM| >= this x the maximum."
    )


class MotifsConfig(StrictConfig):
    """``genomefactory-cli motifs``: TF-MoDISco patterns of a run's attributions, matched to JASPAR by TOMTOM.

    Input: either ``attributions_file`` (an .npz with ``one_hot`` and ``hypothetical`` arrays of shape (N, L, 4),
    optional ``labels`` (N,); ``attribute``'s ``onehot`` / ``<method>.hypothetical`` names are read too) or
    ``run_dir`` + ``data_file`` (attributions computed here with ``method``)."""

    run_dir: InPath | None = Field(
        None, description="Run directory written by `train` (the model explained)."
    )
    data_file: InPath | None = Field(
        None, description="Sequences to explain (FASTA/CSV/TSV; a `label` column enables the class contrast)."
    )
    attributions_file: InPath | None = Field(
        None, description="Precomputed attributions file (.npz: one_hot, hypothetical, optional labels)."
    )
    method: Literal["ism", "integrated_gradients", "input_x_gradient"] = Field(
        "ism", description="Attribution method when computing from run_dir (ism is exact; k-mer/BPE need it)."
    )
    target: int | None = Field(None, description="Class explained (default: the last class).")
    max_sequences: int | None = Field(None, ge=1, description="Use only the first N sequences.")
    database: MotifDBConfig = Field(default_factory=MotifDBConfig, description="Motif database.")
    modisco: ModiscoSettings = Field(default_factory=ModiscoSettings, description="TF-MoDISco settings.")
    top_matches: int = Field(5, ge=1, description="TOMTOM matches reported per pattern.")
    alpha: float = Field(
        0.05, gt=0.0, lt=1.0, description="FDR of the discriminative-pattern tests (seqlets and motif hits)."
    )
    batch_size: int = Field(64, ge=1, description="Attribution batch size (sequences or mutants).")
    device: str | None = Field(None, description="cpu, cuda ...; default: cuda when available.")
    output: OutPath = Field(
        "motifs", description="Output directory (report.md/html, logos, patterns.json, TSV)."
    )
    overwrite: bool = Field(False, description="Write into an output directory that already holds files.")
