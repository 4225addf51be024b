"""Configs and results of the Genome Collector (``download`` and ``process`` commands).

Conventions: genomic intervals are 0-based half-open ``[start, end)``; fractions are in ``[0, 1]``;
sequences are upper-case IUPAC (see :mod:`genomefactory.sequence`). Split fractions are train/dev/test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ..config import InPathlib, OutPathlib, Secret, StrictConfig

NCBI_BASE_URL = "https://api.ncbi.nlm.nih.gov/datasets/v2"
AssemblyLevel = Literal["complete_genome", "chromosome", "scaffold", "contig"]
QCStep = Literal["length", "ambiguous", "gc", "composition", "rare_kmers", "duplicates", "gc_normalize"]
DEFAULT_STEPS: list[QCStep] = ["length", "ambiguous", "gc", "composition", "rare_kmers", "duplicates"]


class HttpConfig(StrictConfig):
    """Network behaviour: timeouts, retries, NCBI rate limits."""

    timeout_s: float = Field(60.0, gt=0, description="Connect/read timeout of one HTTP request, seconds.")
    retries: int = Field(5, ge=0, description="Retries on 429, 5xx and dropped connections before failing.")
    backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each retry (plus jitter).")
    max_wait_s: float = Field(120.0, ge=0, description="Upper bound of one wait, also caps Retry-After.")
    requests_per_second: float | None = Field(
        None, gt=0, description="Request rate limit; default NCBI's: 5/s, or 10/s with an API key."
    )
    progress: bool = Field(True, description="Show a progress bar (only when stderr is a terminal).")


class DownloadConfig(StrictConfig):
    """What to download from NCBI Datasets v2 (or plain links) and where to put it."""

    output_dir: OutPathlib = Field(
        Path("downloads"), description="Folder for genomes and the download manifest."
    )
    species: list[str] = Field(
        default_factory=list, description="Species names, looked up in the taxonomy table."
    )
    taxa: list[int] = Field(default_factory=list, description="NCBI taxon ids.")
    accessions: list[str] = Field(default_factory=list, description="Assembly accessions (GCF_/GCA_).")
    links: list[str] = Field(
        default_factory=list, description="http(s) URLs of FASTA files (.gz is decompressed)."
    )
    checksums: dict[str, str] = Field(
        default_factory=dict, description="Expected SHA-256 per link URL (bytes as served)."
    )
    species_file: InPathlib | None = Field(
        None, description="Extra JSON {species name: taxon id} extending the bundled table."
    )
    reference_only: bool = Field(
        True, description="Only reference genomes (without it E. coli pulls thousands)."
    )
    assembly_levels: list[AssemblyLevel] = Field(
        default_factory=list, description="Allowed assembly levels; empty = all."
    )
    source: Literal["refseq", "genbank", "all"] = Field("all", description="Assembly source database.")
    limit_per_taxon: int = Field(1, ge=1, description="At most this many assemblies per species/taxon.")
    base_url: str = Field(
        NCBI_BASE_URL, description="NCBI Datasets v2 base URL (change for a mirror or tests)."
    )
    api_key: Annotated[str | None, Secret("NCBI_API_KEY")] = Field(
        None, description="NCBI API key; default: the NCBI_API_KEY environment variable."
    )
    http: HttpConfig = Field(default_factory=HttpConfig, description="Timeouts, retries and rate limits.")

    @model_validator(mode="after")
    def _something_to_do(self) -> DownloadConfig:
        if not (self.species or self.taxa or self.accessions or self.links):
            raise ValueError("nothing to download: give at least one of species, taxa, accessions or links")
        return self


class LengthRange(StrictConfig):
    """Fragment length: fixed (``min == max``) or uniform in ``[min, max]``."""

    min: int = Field(500, ge=1, description="Shortest fragment, bp.")
    max: int = Field(1000, ge=1, description="Longest fragment, bp.")

    @model_validator(mode="after")
    def _ordered(self) -> LengthRange:
        if self.min > self.max:
            raise ValueError(f"length.min ({self.min}) is larger than length.max ({self.max})")
        return self


class GenomeInput(StrictConfig):
    path: InPathlib = Field(description="FASTA (.fa/.fna/.fasta, optionally .gz) or GenBank (.gb/.gbk) file.")
    label: str | None = Field(
        None, description="Class name; default: organism from a download manifest, else file stem."
    )


class SpeciesTask(StrictConfig):
    """Species classification: fragments sampled from whole genomes, labelled by species."""

    genomes: list[GenomeInput] = Field(
        default_factory=list, description="Genome files and their class names."
    )
    input_dir: InPathlib | None = Field(
        None, description="A `download` output folder: every genome in it is a class."
    )
    fragments_per_species: int = Field(1000, ge=1, description="Fragments sampled per species (before QC).")
    length: LengthRange = Field(default_factory=LengthRange, description="Fragment length range.")

    @model_validator(mode="after")
    def _has_input(self) -> SpeciesTask:
        if not self.genomes and self.input_dir is None:
            raise ValueError("species task needs `genomes` or `input_dir`")
        return self


class SourceRef(StrictConfig):
    """An input file given as a named default source, a URL, or a local path (exactly one of them)."""

    source: str | None = Field(
        None, description="Name in the task source table (data/task_sources.json + sources_file)."
    )
    url: str | None = Field(None, description="http(s) URL, fetched into the cache folder.")
    path: InPathlib | None = Field(None, description="Local file.")
    sha256: str | None = Field(None, description="Expected SHA-256 of the bytes served (url only).")
    format: Literal["epdnew"] | None = Field(
        None,
        description="epdnew: an EPDnew BED (TSS from its thick part) given "
        "as url/path; named sources know their format.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> SourceRef:
        given = [k for k in ("source", "url", "path") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of source, url or path (got {given or 'none'})")
        return self


class GenomeRef(StrictConfig):
    """The genome: an assembly of the source table, an NCBI assembly accession, a URL or a local FASTA."""

    assembly: str | None = Field(
        None, description="Assembly name in the source table (hg38, mm10, danRer11 ...)."
    )
    accession: str | None = Field(None, description="NCBI assembly accession (GCF_/GCA_), fetched from NCBI.")
    url: str | None = Field(None, description="http(s) URL of a FASTA (.gz is decompressed).")
    path: InPathlib | None = Field(None, description="Local FASTA.")

    @model_validator(mode="after")
    def _exactly_one(self) -> GenomeRef:
        given = [k for k in ("assembly", "accession", "url", "path") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of assembly, accession, url or path (got {given or 'none'})")
        return self


class FetchConfig(StrictConfig):
    """Where and how named sources, URLs and assemblies are fetched and cached."""

    cache_dir: OutPathlib | None = Field(
        None, description="Cache folder; default $GENOMEFACTORY_CACHE, else <output_dir>/source_cache."
    )
    base_url: str | None = Field(
        None,
        description="Mirror/test server: replaces scheme and host of every source and "
        "NCBI URL (the URL path is kept, appended to this).",
    )
    sources_file: InPathlib | None = Field(
        None, description="Extra JSON {assemblies, sources} extending the bundled table."
    )
    genome_via: Literal["datasets", "ftp"] = Field(
        "datasets",
        description="Assembly genomes from the NCBI Datasets "
        "API (zip) or the NCBI FTP folder (*_genomic.fna.gz).",
    )
    http: HttpConfig = Field(default_factory=HttpConfig, description="Timeouts, retries and rate limits.")


class RegionTask(StrictConfig):
    """Promoter / enhancer / histone builders: positives from annotations, matched negatives from the genome.

    ``genome``, ``annotation`` and ``signal`` are local paths, or ``{source: name}`` / ``{url: ...}`` (and for the
    genome ``{assembly: hg38}`` / ``{accession: GCF_...}``) fetched into a cache; see ``collect/sources.py``.
    """

    genome: InPathlib | GenomeRef | None = Field(
        None,
        description="Genome FASTA (pyfaidx-indexed) or {assembly|accession|url}; "
        "default: the assembly of the named annotation/signal source.",
    )
    annotation: InPathlib | SourceRef = Field(
        description="promoter: GTF or EPDnew BED; enhancer: BED; histone: GTF of "
        "genes. A path or {source: name} / {url: ...}."
    )
    signal: InPathlib | SourceRef | None = Field(
        None,
        description="histone only: bigWig of the mark (e.g. H3K36me3); "
        "a path or {source: name} / {url: ...}.",
    )
    species: Literal["human", "mouse", "zebrafish", "fly", "other"] = Field(
        "human", description="Organism (sets defaults)."
    )
    chrom_aliases: Path | None = Field(
        None,
        description="TSV alias table or NCBI assembly report for chromosome names; "
        "default for a table assembly: its NCBI assembly report.",
    )
    upstream: int = Field(249, ge=0, description="promoter: bp upstream of the TSS.")
    downstream: int = Field(50, ge=0, description="promoter: bp downstream of the TSS (TSS base included).")
    max_length: int = Field(
        1000, ge=1, description="enhancer/histone: longer regions are centre-cropped to this."
    )
    min_length: int = Field(50, ge=1, description="enhancer/histone: shorter regions are dropped (reported).")
    threshold: float | None = Field(
        None, description="histone: high/low cutoff of mean signal; default: the median."
    )
    negatives_per_positive: float = Field(1.0, gt=0, description="Matched-length negatives per positive.")
    fetch: FetchConfig = Field(
        default_factory=FetchConfig, description="Cache and download settings of named sources."
    )


class LocalRegion(RegionTask):
    """A :class:`RegionTask` whose inputs are all local files (what the builders receive)."""

    genome: Path
    annotation: Path
    signal: Path | None = None


class QCConfig(StrictConfig):
    """Quality control: ordered steps, each reported in qc_report.json."""

    steps: list[QCStep] = Field(default_factory=lambda: list(DEFAULT_STEPS), description="Steps in order.")
    min_length: int | None = Field(None, ge=1, description="length: drop shorter sequences.")
    max_length: int | None = Field(None, ge=1, description="length: drop longer sequences.")
    ambiguous: Literal["drop", "mask", "resolve"] = Field(
        "mask",
        description="ambiguous: drop sequences with IUPAC codes, mask them to N, or resolve at random (seeded).",
    )
    max_n_fraction: float = Field(
        0.05,
        ge=0,
        le=1,
        description="ambiguous: drop sequences with more N than this "
        "(counted after masking, before resolving).",
    )
    gc_min: float = Field(0.0, ge=0, le=1, description="gc: lowest GC fraction kept.")
    gc_max: float = Field(1.0, ge=0, le=1, description="gc: highest GC fraction kept.")
    chi2_alpha: float = Field(
        1e-3,
        gt=0,
        lt=1,
        description="composition: family-wise alpha (Bonferroni over sequences) of the "
        "chi-square test against the class's own background composition.",
    )
    kmer: int = Field(2, ge=1, le=4, description="rare_kmers: k of the k-mer profile.")
    rare_z: float = Field(
        6.0, gt=0, description="rare_kmers: robust z-score (median/MAD) of profile distance."
    )
    rare_max_fraction: float = Field(
        0.01, ge=0, lt=0.5, description="rare_kmers: never remove more than this."
    )
    gc_bins: int = Field(20, ge=2, description="gc_normalize: GC histogram bins matched across classes.")
    drop_repeat_leakage: bool = Field(
        False,
        description="After splitting, drop dev/test sequences whose sequence is largely present in train "
        "through a genome repeat (same 32-mers at another locus, either strand); train is never touched. Off by "
        "default: repeat-rich genomes (a chloroplast's inverted repeat) can lose most of their test set.",
    )
    repeat_leakage_report: bool = Field(
        False,
        description="Measure repeat leakage (dev/test sequences sharing sampled 32-mers with train) in "
        "qc_report.json also when drop_repeat_leakage is off. Off by default: the 32-mer pass is about two "
        "thirds of a process run on a bacterial genome; drop_repeat_leakage measures the survivors anyway.",
    )
    repeat_leakage_min_shared: float = Field(
        0.5,
        gt=0,
        le=1,
        description="drop_repeat_leakage: drop a dev/test sequence when at least this fraction of "
        "its sampled 32-mers (1 in 16, both strands) also occurs in train; 1.0 drops only full copies.",
    )


class SplitConfig(StrictConfig):
    train: float = Field(0.8, gt=0, description="Fraction of groups in train.csv.")
    dev: float = Field(0.1, ge=0, description="Fraction in dev.csv.")
    test: float = Field(0.1, gt=0, description="Fraction in test.csv.")
    reverse_complement: bool = Field(False, description="Add the reverse complement of each train sequence.")

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitConfig:
        total = self.train + self.dev + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions train+dev+test must sum to 1, got {total:g}")
        return self


class ProcessConfig(StrictConfig):
    """Build a labelled train/dev/test dataset: species fragments or a promoter/enhancer/histone task."""

    task: Literal["species", "promoter", "enhancer", "histone"] = Field(
        "species", description="Which dataset to build."
    )
    output_dir: OutPathlib = Field(
        Path("processed"), description="Folder for train/dev/test.csv, qc_report.json, plots."
    )
    seed: int = Field(42, description="Seed of sampling, QC resolution/normalisation and splitting.")
    species: SpeciesTask | None = Field(None, description="Settings of task=species.")
    region: RegionTask | None = Field(None, description="Settings of task=promoter|enhancer|histone.")
    qc: QCConfig = Field(default_factory=QCConfig, description="Quality-control steps.")
    split: SplitConfig = Field(default_factory=SplitConfig, description="Split fractions.")
    plots: bool = Field(True, description="Write GC and length histograms per class and split (PNG).")
    overwrite: bool = Field(
        False,
        description="Write into an output_dir that already holds files (an earlier dataset is replaced); "
        "without it a non-empty output_dir is refused.",
    )

    @model_validator(mode="after")
    def _task_settings(self) -> ProcessConfig:
        if self.task == "species" and self.species is None:
            raise ValueError("task 'species' needs a `species:` section (genomes or input_dir)")
        if self.task != "species" and self.region is None:
            raise ValueError(f"task '{self.task}' needs a `region:` section (genome, annotation ...)")
        if self.task == "histone" and self.region is not None and self.region.signal is None:
            raise ValueError("task 'histone' needs region.signal (a bigWig file)")
        return (
            self  # named sources are checked when the command starts (sources.check_region): no file I/O here
        )


@dataclass
class GenomeRecord:
    """One downloaded genome as listed in ``genomes.json``."""

    accession: str
    organism: str
    taxon: int | None
    level: str | None
    path: str
    size: int
    sha256: str
    source_url: str
    date: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DownloadResult:
    output_dir: Path
    genomes: list[GenomeRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"downloaded {len(self.genomes)} genome(s) into {self.output_dir}"]
        lines += [f"  {g.accession}  {g.organism}  {g.size:,} bytes  {g.path}" for g in self.genomes]
        if self.skipped:
            lines.append(f"  already complete, skipped: {', '.join(self.skipped)}")
        return "\n".join(lines)


@dataclass
class ProcessResult:
    output_dir: Path
    counts: dict[str, int]
    labels: dict[int, str]
    qc_report: Path
    plots: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        split = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"wrote {split} rows to {self.output_dir} (classes: {self.labels}); QC report {self.qc_report}"
