"""The ``variants`` command: CLI row and help, the example recipe, the web UI form and tab, the score registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from genomefactory.cli import available_commands, main
from genomefactory.config import ConfigError, load_config
from genomefactory.variants.config import VariantsConfig
from genomefactory.variants.scores import SCORES

ROOT = Path(__file__).resolve().parents[2]


def test_cli_help_and_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert "variants" in available_commands()
    assert main(["variants", "--help"]) == 0
    out = capsys.readouterr().out
    for key in ("input", "genome", "rc_average", "chrom_names", "window.tile", "evaluate.label_info"):
        assert key in out
    cfg = load_config(VariantsConfig, ROOT / "examples" / "variants.yaml")
    assert cfg.chrom_names == "add_chr" and cfg.window.tile_bases == 64
    with pytest.raises(ConfigError, match=r"window\.tile"):
        load_config(VariantsConfig, None, ["input=a.vcf", "genome=g.fa", "window.size=20", "window.tile=16"])


def test_web_form_and_tab() -> None:
    from genomefactory.webui.app import _tabs
    from genomefactory.webui.forms import PathError, check_paths, form_fields

    assert "variants" in dict(_tabs(available_commands()))["Interpret"]
    keys = {s.key for s in form_fields(VariantsConfig)}
    assert {"input", "genome", "output", "scores", "window.size", "evaluate.label_column"} <= keys
    cfg = load_config(VariantsConfig, None, ["input=a.vcf", "genome=/elsewhere/g.fa"])
    with pytest.raises(PathError, match="genome"):
        check_paths(cfg, Path("/tmp/workspace"))


def test_registry_holds_the_builtin_scores() -> None:
    assert {"masked_marginal", "loglik", "embedding", "finetuned"} <= set(SCORES.names())
    assert SCORES.group == "genomefactory.variant_scores"
    orient = {s.name: s.orientation for s in SCORES.all()}
    assert [orient[n] for n in ("masked_marginal", "loglik", "embedding", "finetuned")] == [
        "-",
        "-",
        "+",
        "abs",
    ]
