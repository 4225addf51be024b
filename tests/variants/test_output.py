"""Outputs: VCF + INFO (plain; bgzipped + tabix-indexed), Parquet/TSV rows, manifest, resume after a kill."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from genomefactory.config import ConfigError
from genomefactory.variants import scorer as scorer_mod
from genomefactory.variants.output import read_scores
from genomefactory.variants.run import run_variants

from .conftest import LAMBDA
from .helpers import OTHER, config


def _vcf(path: Path, seq: str, n: int, seed: int = 0, samples: bool = False) -> Path:
    rng = random.Random(seed)
    pos = sorted(rng.sample(range(50, len(seq) - 50), n))
    head = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID={LAMBDA},length={len(seq)}>",
        '##INFO=<ID=LAB,Number=1,Type=Integer,Description="label">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO" + ("\tFORMAT\tS1" if samples else ""),
    ]
    body = []
    for i, p in enumerate(pos):
        alt = OTHER[seq[p]] if i % 5 else f"{OTHER[seq[p]]},{OTHER[OTHER[seq[p]]]}"
        body.append(
            f"{LAMBDA}\t{p + 1}\tv{i}\t{seq[p]}\t{alt}\t30\tPASS\tLAB={i % 2}"
            + ("\tGT\t0/1" if samples else "")
        )
    body.append(
        "undeclared\t5\tu1\tA\tC\t.\t.\tLAB=0" + ("\tGT\t1/1" if samples else "")
    )  # not in the header
    path.write_text("\n".join(head + body) + "\n")
    return path


def _cfg(inp: Path, genome: Path, out: Path, **over: object):  # type: ignore[no-untyped-def]
    base: dict[str, object] = {"window": {"size": 40}, "embedding": {"metrics": ["cosine"]}}
    return config(
        "hf_auto",
        input=str(inp),
        genome=str(genome),
        output=str(out),
        scores=["masked_marginal", "embedding"],
        **(base | over),
    )


@pytest.mark.parametrize("suffix", [".vcf", ".vcf.gz"])
def test_vcf_output_carries_the_scores(tmp_path: Path, lambda_fa: Path, lambda_seq: str, suffix: str) -> None:
    src = _vcf(tmp_path / "in.vcf", lambda_seq, 12, samples=True)
    if suffix == ".vcf.gz":
        pysam.tabix_compress(str(src), str(tmp_path / "in.vcf.gz"), force=True)
        src = tmp_path / "in.vcf.gz"
    rows_out = tmp_path / "rows.parquet"
    run_variants(_cfg(src, lambda_fa, rows_out))
    rows = read_scores(rows_out)
    result = run_variants(_cfg(src, lambda_fa, tmp_path / f"out{suffix}"))
    assert result.output == tmp_path / f"out{suffix}" and (tmp_path / f"out{suffix}.manifest.json").is_file()
    assert (tmp_path / f"out{suffix}.tbi").is_file() == (suffix == ".vcf.gz")
    with pysam.VariantFile(str(result.output)) as vcf:
        recs = list(vcf)
        assert {"GF_MASKED_MARGINAL", "GF_EMBEDDING_COSINE", "GF_STATUS", "GF_CLIPPED"} <= set(
            vcf.header.info
        )
    assert len(recs) == 13 and [r.id for r in recs] == [f"v{i}" for i in range(12)] + ["u1"]
    for i, rec in enumerate(recs):
        assert rec.info["LAB"] == (i % 2 if i < 12 else 0) and rec.samples["S1"]["GT"] in ((0, 1), (1, 1))
        for k, alt in enumerate(rec.alts, start=1):
            mine = rows[(rows.record == i) & (rows.allele == k)].set_index("score")
            assert mine.loc["masked_marginal", "alt"] == alt
            if i == 12:
                assert rec.info["GF_STATUS"] == ("unknown_contig",) and "GF_MASKED_MARGINAL" not in rec.info
                continue
            assert rec.info["GF_STATUS"][k - 1] == "ok"
            assert rec.info["GF_MASKED_MARGINAL"][k - 1] == pytest.approx(
                mine.loc["masked_marginal", "value"], abs=1e-4
            )
            assert rec.info["GF_EMBEDDING_COSINE"][k - 1] == pytest.approx(
                mine.loc["embedding_cosine", "value"], rel=1e-4
            )
    if suffix == ".vcf.gz":  # the index works: region queries return the records
        with pysam.VariantFile(str(result.output)) as vcf:
            assert len(list(vcf.fetch(LAMBDA, 0, len(lambda_seq)))) == 12


def test_default_outputs_and_tsv(tmp_path: Path, lambda_fa: Path, lambda_seq: str) -> None:
    from genomefactory.variants.io import open_variants
    from genomefactory.variants.run import default_output

    src = _vcf(tmp_path / "calls.vcf", lambda_seq, 4)
    assert default_output(open_variants(src)) == tmp_path / "calls.scored.vcf"
    pysam.tabix_compress(str(src), str(tmp_path / "calls.vcf.gz"), force=True)
    assert default_output(open_variants(tmp_path / "calls.vcf.gz")) == tmp_path / "calls.scored.vcf.gz"
    tsv = tmp_path / "t.tsv"
    tsv.write_text(f"chrom\tpos\tref\talt\n{LAMBDA}\t100\t{lambda_seq[99]}\tN\n")
    assert default_output(open_variants(tsv)) == tmp_path / "t.scores.parquet"
    r = run_variants(_cfg(tsv, lambda_fa, tmp_path / "t.tsv.out.tsv"))
    df = pd.read_csv(r.output, sep="\t")
    assert list(df["score"]) == ["masked_marginal", "embedding_cosine"] and (df["status"] == "ok").all()


def test_resume_skips_written_records(
    tmp_path: Path, lambda_fa: Path, lambda_seq: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _vcf(tmp_path / "in.vcf", lambda_seq, 30)
    fresh = run_variants(_cfg(src, lambda_fa, tmp_path / "fresh.parquet", compute={"chunk_size": 4}))
    out = tmp_path / "killed.parquet"
    calls = {"n": 0}
    real = scorer_mod.Scorer.score

    def dying(self, variants):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # killed while scoring the 4th chunk
        return real(self, variants)

    monkeypatch.setattr(scorer_mod.Scorer, "score", dying)
    with pytest.raises(KeyboardInterrupt):
        run_variants(_cfg(src, lambda_fa, out, compute={"chunk_size": 4}))
    assert not out.exists() and len(list((tmp_path / "killed.parquet.parts").glob("part-*.parquet"))) == 3
    monkeypatch.setattr(scorer_mod.Scorer, "score", real)
    with pytest.raises(ConfigError, match="other settings"):
        run_variants(_cfg(src, lambda_fa, out, compute={"chunk_size": 4}, window={"size": 42}))
    resumed = run_variants(_cfg(src, lambda_fa, out, compute={"chunk_size": 4}))
    assert resumed.scored == 31 - 12 and resumed.records == 31
    a, b = read_scores(fresh.output), read_scores(out)
    pd.testing.assert_frame_equal(a, b)
    assert not (tmp_path / "killed.parquet.parts").exists()
    meta = json.loads((tmp_path / "killed.parquet.manifest.json").read_text())
    assert meta["command"] == "variants" and str(src) in meta["inputs_sha256"]
    assert np.isfinite(b.loc[b.status == "ok", "value"]).all()
