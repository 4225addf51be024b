"""Builders run by source name: the real annotation/track excerpts are served by a loopback server under the URL
paths of the source table (fetch.base_url points everything there), with a small genome made from real sequence
and served as NCBI would (Datasets zip or FTP .fna.gz, plus the assembly report that harmonises names).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from genomefactory.collect.config import ProcessConfig
from genomefactory.collect.process import check_process, run_process
from genomefactory.collect.source_table import load_table
from genomefactory.config import validate_dict
from genomefactory.errors import UserError
from genomefactory.sequence import reverse_complement

from .conftest import FAST_HTTP
from .source_server import FileServer
from .test_tasks import gtf_rows, rows

TABLE = load_table()
CHR1 = "1\tassembled-molecule\t1\tChromosome\tCM000663.2\t=\tNC_000001.11\tPrimary Assembly\t248956422\tchr1"
CHRX = "X\tassembled-molecule\tX\tChromosome\tCM000685.2\t=\tNC_000023.11\tPrimary Assembly\t156040895\tchrX"


@pytest.fixture()
def server() -> Iterator[FileServer]:
    srv = FileServer().start()
    try:
        yield srv
    finally:
        srv.stop()


def run(
    tmp: Path, out: str, task: str, region: dict, server: FileServer, **fetch: object
) -> tuple[dict[str, int], dict]:
    region = {
        **region,
        "fetch": {"base_url": server.url, "cache_dir": str(tmp / "cache"), "http": FAST_HTTP, **fetch},
    }
    cfg = ProcessConfig.model_validate(
        {
            "task": task,
            "output_dir": tmp / out,
            "region": region,
            "plots": False,
            "seed": 3,
            "qc": {"steps": ["ambiguous", "duplicates"]},
        }
    )
    res = run_process(cfg)
    return rows(res.output_dir), json.loads(res.qc_report.read_text())


def test_promoter_by_source_fetches_once(
    tmp_path: Path, shared_data: Path, real_dna: str, server: FileServer
) -> None:
    dna = real_dna[:1_600_000]
    hg38 = TABLE.assemblies["hg38"]
    server.serve_assembly(hg38, {"NC_000001.11": dna}, [CHR1])  # NCBI names; the GTF says chr1
    gtf = shared_data / "annotations" / "gencode_human.gtf.gz"
    server.serve(TABLE.sources["gencode_human"].url or "", gtf.read_bytes())
    got, rep = run(tmp_path, "a", "promoter", {"annotation": {"source": "gencode_human"}}, server)
    tx = gtf_rows(gtf, "transcript")
    plus, minus = next(r for r in tx if r[6] == "+"), next(r for r in tx if r[6] == "-")
    tss = int(plus[3]) - 1
    assert got.get(dna[tss - 249 : tss + 51]) == 1
    tss = int(minus[4]) - 1
    assert got.get(reverse_complement(dna[tss - 50 : tss + 250])) == 1
    src = rep["build"]["sources"]
    assert src["genome"]["accession"] == hg38.accession and src["genome"]["via"] == "datasets"
    assert rep["build"]["tss_unknown_chromosome"] == 0  # chr1 -> NC_000001.11 through the assembly report
    cache = tmp_path / "cache"
    assert (cache / "gencode_human" / "gencode.v44.annotation.gtf.gz").read_bytes() == gtf.read_bytes()
    assert (cache / "hg38" / f"{hg38.accession}_{hg38.name}_assembly_report.txt").is_file()
    assert any(p.endswith("/download") for p in server.log) and len(src["fetched"]) == 3
    requests = len(server.log)
    got2, rep2 = run(tmp_path, "b", "promoter", {"annotation": {"source": "gencode_human"}}, server)
    assert len(server.log) == requests and rep2["build"]["sources"]["fetched"] == []  # all from the cache
    assert got2 == got
    cached = cache / "gencode_human" / "gencode.v44.annotation.gtf.gz"
    cached.write_bytes(cached.read_bytes() + b"\n")  # a changed cache file is fetched again, not trusted
    _, rep3 = run(tmp_path, "c", "promoter", {"annotation": {"source": "gencode_human"}}, server)
    assert rep3["build"]["sources"]["fetched"] == [TABLE.sources["gencode_human"].url]
    assert cached.read_bytes() == gtf.read_bytes()


def epdnew_bed(gtf: Path, n: int) -> tuple[bytes, list[tuple[int, str]]]:
    """EPDnew's layout (space-separated; 49 bp 5' of the TSS .. 10 bp 3', thick part = TSS + 10 bp)."""
    lines, tss_list = [], []
    for k, r in enumerate(gtf_rows(gtf, "transcript")[:n]):
        if r[6] == "+":
            t = int(r[3]) - 1
            s, e, ts, te = t - 49, t + 11, t, t + 11
        else:
            t = int(r[4]) - 1
            s, e, ts, te = t - 10, t + 50, t - 10, t + 1
        lines.append(f"chr1 {s} {e} GENE{k}_1 900 {r[6]} {ts} {te}\n")
        tss_list.append((t, r[6]))
    return "".join(lines).encode(), tss_list


def test_epdnew_promoters_with_ftp_genome(
    tmp_path: Path, shared_data: Path, real_dna: str, server: FileServer
) -> None:
    dna = real_dna[:1_600_000]
    server.serve_assembly(TABLE.assemblies["hg38"], {"NC_000001.11": dna}, [CHR1])
    bed, tss_list = epdnew_bed(shared_data / "annotations" / "gencode_human.gtf.gz", 40)
    server.serve(TABLE.sources["epdnew_human"].url or "", bed)
    got, rep = run(
        tmp_path, "a", "promoter", {"annotation": {"source": "epdnew_human"}}, server, genome_via="ftp"
    )
    assert not any("/datasets/" in p for p in server.log) and any(
        p.endswith("_genomic.fna.gz") for p in server.log
    )
    for t, strand in tss_list:  # the window is centred on EPDnew's TSS, not on the BED interval's start
        window = dna[t - 249 : t + 51] if strand == "+" else reverse_complement(dna[t - 50 : t + 250])
        assert got.get(window) == 1
    assert rep["build"]["positives"] == len(set(tss_list))


def test_enhancer_by_source(tmp_path: Path, shared_data: Path, real_dna: str, server: FileServer) -> None:
    dna = real_dna[:2_400_000]
    mm10 = TABLE.assemblies["mm10"]
    row = "2L\tassembled-molecule\t2L\tChromosome\tAE014134.6\t=\tNT_033779.5\tPrimary Assembly\t23011544\tchr2L"
    server.serve_assembly(mm10, {"NT_033779.5": dna}, [row])
    bed = shared_data / "annotations" / "CTCF_Kc_Bushey_2009.bed"
    server.serve(TABLE.sources["fantom5_mouse"].url or "", gzip.compress(bed.read_bytes()))
    region = {
        "annotation": {"source": "fantom5_mouse"},
        "species": "mouse",
        "max_length": 400,
        "min_length": 60,
    }
    got, rep = run(tmp_path, "a", "enhancer", region, server)
    records = [ln.split() for ln in bed.read_text().splitlines() if ln.startswith("chr2L")]
    inside = [r for r in records if int(r[2]) <= len(dna) and 60 <= int(r[2]) - int(r[1]) <= 400]
    assert inside and all(got.get(dna[int(r[1]) : int(r[2])]) == 1 for r in inside[:20])
    assert rep["build"]["sources"]["annotation"]["source"] == "fantom5_mouse"


def test_histone_by_source(tmp_path: Path, shared_data: Path, real_dna: str, server: FileServer) -> None:
    dna = (real_dna * 2)[:3_500_000]
    server.serve_assembly(TABLE.assemblies["hg38"], {"NC_000023.11": dna}, [CHRX])
    server.serve(
        TABLE.sources["gencode_human"].url or "",
        (shared_data / "tracks" / "dm3_subset_BDGP5.78.gtf.gz").read_bytes(),
    )
    bw = shared_data / "tracks" / "bigwig_chrx_2e6_5e6.bw"
    server.serve(TABLE.sources["encode_h3k36me3_human"].url or "", bw.read_bytes())
    region = {
        "annotation": {"source": "gencode_human"},
        "signal": {"source": "encode_h3k36me3_human"},
        "max_length": 1000,
        "min_length": 100,
    }
    got, rep = run(tmp_path, "a", "histone", region, server)
    b = rep["build"]
    assert (
        b["gene_unknown_chromosome"] == 0 and b["high"] > 0 and b["low"] > 0 and set(got.values()) == {0, 1}
    )
    assert (
        tmp_path / "cache" / "encode_h3k36me3_human" / "ENCFF705BKP.bigWig"
    ).read_bytes() == bw.read_bytes()
    assert b["sources"]["signal"]["verified"] is False  # recorded as unverified in the table


def region_error(task: str, region: dict) -> str:
    """The error of the start-of-command check (config validation itself reads no files)."""
    with pytest.raises(UserError) as err:
        check_process(validate_dict(ProcessConfig, {"task": task, "region": region}))
    return str(err.value)


def test_bad_source_names_and_mismatches(tmp_path: Path) -> None:
    msg = region_error("promoter", {"annotation": {"source": "epdnew_humna"}})
    assert "unknown annotation source 'epdnew_humna'" in msg and "Did you mean 'epdnew_human'" in msg
    assert "fantom5_mouse" in msg and "gencode_human" in msg  # the known names are listed
    assert "is a annotation source" in region_error(
        "histone", {"annotation": {"source": "gencode_human"}, "signal": {"source": "gencode_human"}}
    )
    assert "not 'enhancer'" in region_error("enhancer", {"annotation": {"source": "epdnew_human"}})
    assert "has no verified URL" in region_error(
        "histone", {"annotation": {"source": "gencode_mouse"}, "signal": {"source": "encode_h3k36me3_mouse"}}
    )
    assert "different assemblies" in region_error(
        "histone", {"annotation": {"source": "gencode_mouse"}, "signal": {"source": "encode_h3k36me3_human"}}
    )
    assert "region.genome is required" in region_error("promoter", {"annotation": "genes.gtf"})
    assert "exactly one of source, url or path" in region_error(
        "promoter", {"annotation": {"source": "epdnew_human", "path": "x.bed"}}
    )
    assert "species is 'mouse'" in region_error(
        "promoter", {"annotation": {"source": "epdnew_human"}, "species": "mouse"}
    )
    ProcessConfig.model_validate(
        {"task": "promoter", "region": {"annotation": "genes.gtf", "genome": "g.fa"}}
    )  # old form


def test_user_sources_file(tmp_path: Path) -> None:
    extra = tmp_path / "mine.json"
    extra.write_text(
        json.dumps(
            {
                "sources": {
                    "my_enhancers": {
                        "role": "annotation",
                        "format": "bed",
                        "tasks": ["enhancer"],
                        "species": "human",
                        "assembly": "hg38",
                        "url": "https://example.org/enh.bed",
                    }
                }
            }
        )
    )
    region = {"annotation": {"source": "my_enhancers"}, "fetch": {"sources_file": str(extra)}}
    cfg = ProcessConfig.model_validate({"task": "enhancer", "region": region})
    assert cfg.region is not None and cfg.region.fetch.sources_file == extra
    extra.write_text(
        json.dumps(
            {
                "sources": {
                    "bad": {
                        "role": "annotation",
                        "format": "bed",
                        "tasks": ["enhancer"],
                        "species": "human",
                        "assembly": "hg99",
                        "url": None,
                    }
                }
            }
        )
    )
    assert "names assembly 'hg99'" in region_error("enhancer", region)


def test_local_epdnew_file_and_env_cache(
    tmp_path: Path,
    shared_data: Path,
    real_dna: str,
    server: FileServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dna = real_dna[:1_600_000]
    server.serve_assembly(TABLE.assemblies["hg38"], {"NC_000001.11": dna}, [CHR1])
    bed, tss_list = epdnew_bed(shared_data / "annotations" / "gencode_human.gtf.gz", 10)
    local = tmp_path / "Hs_EPDnew_006_hg38.bed.gz"
    original = gzip.compress(bed, mtime=0)
    local.write_bytes(original)
    monkeypatch.setenv("GENOMEFACTORY_CACHE", str(tmp_path / "envcache"))
    region = {
        "annotation": {"path": str(local), "format": "epdnew"},
        "genome": {"assembly": "hg38"},
        "fetch": {"base_url": server.url, "http": FAST_HTTP},
    }
    cfg = ProcessConfig.model_validate(
        {
            "task": "promoter",
            "output_dir": tmp_path / "o",
            "region": region,
            "plots": False,
            "qc": {"steps": ["duplicates"]},
        }
    )
    got = rows(run_process(cfg).output_dir)
    t = next(t for t, s in tss_list if s == "-")
    assert got.get(reverse_complement(dna[t - 50 : t + 250])) == 1
    assert (tmp_path / "envcache" / "sources.json").is_file() and not (
        tmp_path / "o" / "source_cache"
    ).exists()
    assert (
        local.read_bytes() == original
        and len(list((tmp_path / "envcache" / "prepared").rglob("*.tss.bed"))) == 1
    )


def test_failed_fetch_caches_nothing(tmp_path: Path, server: FileServer) -> None:
    server.serve_assembly(TABLE.assemblies["mm10"], {"NC_000067.6": "ACGT" * 1000}, [])
    with pytest.raises(ValueError, match="HTTP 404"):  # the FANTOM5 file is not served
        run(
            tmp_path, "a", "enhancer", {"annotation": {"source": "fantom5_mouse"}, "species": "mouse"}, server
        )
    cache = tmp_path / "cache"
    assert not (cache / "fantom5_mouse" / "F5.mm10.enhancers.bed.gz").exists()
    assert (
        not (cache / "sources.json").exists()
        or str(TABLE.sources["fantom5_mouse"].url) not in (cache / "sources.json").read_text()
    )
