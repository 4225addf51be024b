"""Malformed records get a per-record status (never scored, never a crash); malformed files one clear error."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from genomefactory.cli import main
from genomefactory.errors import UserError
from genomefactory.variants import reference as reference_mod
from genomefactory.variants.run import run_variants

from .conftest import LAMBDA
from .helpers import OTHER, config, write_tsv


def _run(tmp_path: Path, inp: Path, genome: Path, **over: object) -> pd.DataFrame:
    out = tmp_path / "out.tsv"
    cfg = config(
        "hf_auto",
        input=str(inp),
        genome=str(genome),
        output=str(out),
        scores=["masked_marginal", "embedding"],
        window={"size": 40},
        compute={"resume": False},
        **over,
    )
    run_variants(cfg)
    return pd.read_csv(out, sep="\t", dtype={"chrom": str, "id": str})


def test_every_record_class_has_its_status(tmp_path: Path, lambda_fa: Path, lambda_seq: str) -> None:
    n, s = len(lambda_seq), lambda_seq
    vcf = tmp_path / "v.vcf"
    lines = [
        (LAMBDA, 101, "a", s[100], f"{OTHER[s[100]]},{OTHER[OTHER[s[100]]]}"),  # multi-allelic: split per ALT
        (LAMBDA, 201, "b", s[200], "<DEL>"),
        (LAMBDA, 301, "c", s[300], "*"),
        (LAMBDA, 401, "d", s[400], "."),
        (LAMBDA, 501, "e", OTHER[s[500]], s[500]),  # REF does not match the genome
        (LAMBDA, n, "f", s[n - 1], OTHER[s[n - 1]]),  # last base: fine (clipped window)
        (LAMBDA, n + 1, "g", "A", "C"),  # past the contig end
        ("chrUn", 10, "h", "A", "C"),  # unknown contig
        (LAMBDA, 601, "i", s[600:603], s[600]),  # deletion: masked_marginal not_snv, embedding ok
        (LAMBDA, 701, "j", s[700], f"{s[700]}[chr2:10["),  # breakend
        (LAMBDA, 801, "k", s[800], s[800]),  # ALT = REF
    ]
    head = f"##fileformat=VCFv4.2\n##contig=<ID={LAMBDA},length={n}>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    vcf.write_text(head + "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\t.\t.\n" for c, p, i, r, a in lines))
    df = _run(tmp_path, vcf, lambda_fa)
    mm = df[df.score == "masked_marginal"].set_index(["id", "allele"])["status"].to_dict()
    assert mm == {
        ("a", 1): "ok",
        ("a", 2): "ok",
        ("b", 1): "symbolic_allele",
        ("c", 1): "spanning_deletion",
        ("d", 1): "no_alt",
        ("e", 1): "ref_mismatch",
        ("f", 1): "ok",
        ("g", 1): "past_contig_end",
        ("h", 1): "unknown_contig",
        ("i", 1): "not_snv",
        ("j", 1): "symbolic_allele",
        ("k", 1): "alt_equals_ref",
    }
    emb = df[df.score == "embedding_cosine"].set_index("id")
    assert emb.loc["i", "status"] == "ok" and emb.loc["i", "alt_window_len"] == 38
    assert bool(emb.loc["f", "clipped"]) and not bool(emb.loc["a", "clipped"].iloc[0])
    assert (
        df.loc[df.status != "ok", "value"].isna().all() and df.loc[df.status == "ok", "value"].notna().all()
    )
    assert df["record"].tolist() == sorted(df["record"].tolist())  # input order


def test_tsv_rows_and_chromosome_names(tmp_path: Path, lambda_seq: str, lambda_fa: Path) -> None:
    """chr-prefixed genome: exact names never match; add_chr / chrom_map map them explicitly."""
    genome = tmp_path / "chr.fa"
    genome.write_text(">chrL\n" + lambda_seq + "\n")
    rows = [
        ("L", 11, lambda_seq[10], OTHER[lambda_seq[10]]),
        ("L", "x", "A", "C"),
        ("L", 0, "A", "C"),
        ("L", 21, "AXG", "A"),
        ("chrL", 31, lambda_seq[30], OTHER[lambda_seq[30]]),
    ]
    tsv = write_tsv(tmp_path / "v.tsv", rows)
    exact = _run(tmp_path, tsv, genome)
    st = exact[exact.score == "masked_marginal"]["status"].tolist()
    assert st == ["unknown_contig", "invalid_position", "invalid_position", "invalid_allele", "ok"]
    added = _run(tmp_path, tsv, genome, chrom_names="add_chr")
    assert added[added.score == "masked_marginal"]["status"].tolist() == ["ok", *st[1:]]
    mapped = _run(tmp_path, tsv, genome, chrom_map={"L": "chrL"})
    assert mapped[mapped.score == "masked_marginal"]["status"].tolist() == ["ok", *st[1:]]


def _cli_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], **over: object) -> str:
    import yaml

    data = {"model": {"family": "hf_auto", "init": "tiny"}, "compute": {"progress": False}, **over}
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(data))
    assert main(["variants", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "Traceback" not in err
    return err


def test_malformed_files_are_one_error_line(
    tmp_path: Path, lambda_fa: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write_tsv(tmp_path / "ok.tsv", [(LAMBDA, 5, "A", "C")])
    notvcf = tmp_path / "x.vcf"
    notvcf.write_text("this is not a vcf\n")
    assert "not a readable VCF" in _cli_error(tmp_path, capsys, input=str(notvcf), genome=str(lambda_fa))
    nocols = write_tsv(tmp_path / "n.tsv", [(LAMBDA, 5, "A")], header="chrom\tpos\tref")
    assert "missing column(s) alt" in _cli_error(tmp_path, capsys, input=str(nocols), genome=str(lambda_fa))
    junk = tmp_path / "junk.fa"
    junk.write_text("no header here\nACGT\n")
    assert "not a readable FASTA" in _cli_error(tmp_path, capsys, input=str(good), genome=str(junk))
    gz = tmp_path / "plain.fa.gz"
    gz.write_bytes(gzip.compress(lambda_fa.read_bytes()))
    assert "not bgzip" in _cli_error(tmp_path, capsys, input=str(good), genome=str(gz))
    assert "not found" in _cli_error(
        tmp_path, capsys, input=str(tmp_path / "nope.vcf"), genome=str(lambda_fa)
    )
    assert "unknown type" in _cli_error(
        tmp_path, capsys, input=str(good), genome=str(lambda_fa), output=str(tmp_path / "o.xlsx")
    )
    assert "needs a VCF input" in _cli_error(
        tmp_path, capsys, input=str(good), genome=str(lambda_fa), output=str(tmp_path / "o.vcf")
    )
    bad_line = tmp_path / "bad.vcf"
    bad_line.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\tabc\t.\tA\tC\t.\t.\t.\n"
    )
    assert "data line 1" in _cli_error(tmp_path, capsys, input=str(bad_line), genome=str(lambda_fa))
    # no .fai and a folder that cannot take one (root passes every permission check, so the check is simulated)
    fresh = tmp_path / "ro"
    fresh.mkdir()
    (fresh / "g.fa").write_bytes(lambda_fa.read_bytes())
    monkeypatch.setattr(reference_mod.os, "access", lambda *a, **k: False)
    assert "not writable" in _cli_error(tmp_path, capsys, input=str(good), genome=str(fresh / "g.fa"))
    assert not (fresh / "g.fa.fai").exists()


def test_unavailable_scores_are_one_error(tmp_path: Path, lambda_fa: Path) -> None:
    good = write_tsv(tmp_path / "ok.tsv", [(LAMBDA, 5, "A", "C")])
    cases = [
        ("hyenadna", "masked_marginal", {}, "causal decoder"),
        ("nucleotide_transformer", "loglik", {}, "not a causal decoder"),
        ("nucleotide_transformer", "finetuned", {}, "not a genomefactory training run"),
        ("hf_auto", "masked_marginal", {"architectures": ["BertModel"]}, "no masked-LM head"),
        ("hf_auto", "no_such_score", {}, "unknown variant score"),
    ]
    for family, score, tiny, text in cases:
        cfg = config(
            family, input=str(good), genome=str(lambda_fa), scores=[score], model={"tiny_overrides": tiny}
        )
        with pytest.raises(UserError, match=text):
            run_variants(cfg)
