"""``model:`` config validation (no file I/O) and the torch-free registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import Field

from genomefactory.config import ConfigError, StrictConfig, load_config
from genomefactory.errors import UserError
from genomefactory.models.config import DEFAULT_FAMILY, ModelConfig
from genomefactory.models.registry import UnknownModelError, get_family

SRC = Path(__file__).resolve().parents[2] / "src"


class _Command(StrictConfig):
    """A command config with a model section, like every command's."""

    model: ModelConfig = Field(default_factory=ModelConfig, description="Model.")


def _load(tmp_path: Path, model: str) -> _Command:
    p = tmp_path / "c.yaml"
    p.write_text(f"model:\n{model}\n")
    return load_config(_Command, p)


def test_unknown_family_is_a_config_error_naming_the_key_and_the_closest_family(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, "  family: dnabert")
    msg = str(err.value)
    assert "key 'model.family'" in msg and "Did you mean 'dnabert2'?" in msg and "Value error" not in msg
    assert msg.count("\n") == 1  # the header line and one line for the key


def test_variant_must_resolve_for_the_family_table5_names_accepted(tmp_path: Path) -> None:
    assert _load(tmp_path, "  family: hyenadna\n  variant: 160K").model.variant == "160K"
    with pytest.raises(ConfigError, match=r"key 'model.variant'.*no variant '1B'; variants: 50m, 100m"):
        _load(tmp_path, "  family: nt_v2\n  variant: 1B")
    with pytest.raises(ConfigError, match=r"key 'model.variant'.*'131K' .*ambiguous"):
        _load(tmp_path, "  family: caduceus\n  variant: 131K")
    with pytest.raises(ConfigError, match=r"key 'model.variant'"):  # init: tiny does not excuse it
        _load(tmp_path, "  family: evo\n  variant: 1m\n  init: tiny")
    # the default family's variants are checked too
    with pytest.raises(ConfigError, match=r"model family 'nucleotide_transformer' has no variant 'x'"):
        _load(tmp_path, "  variant: x")


def test_family_defaults_and_is_optional_with_a_path() -> None:
    assert ModelConfig().family == DEFAULT_FAMILY == "nucleotide_transformer"
    assert ModelConfig(variant="500m-1000g").family == DEFAULT_FAMILY
    assert ModelConfig(path="some/folder").family is None  # detected from the folder when loaded
    cfg = ModelConfig(path="x", variant="anything")  # no family yet: the variant is not checked here
    assert cfg.variant == "anything"
    cfg = ModelConfig(family="evo")
    with pytest.raises(ValueError, match="no variant"):
        cfg.variant = "2k"  # assignments are validated as well


def test_unknown_model_error_is_a_user_error_and_a_key_error() -> None:
    with pytest.raises(UnknownModelError) as err:
        get_family("hyenadan")
    assert isinstance(err.value, UserError) and isinstance(err.value, KeyError)
    assert str(err.value).startswith("unknown model family 'hyenadan'. Did you mean 'hyenadna'?")


@pytest.mark.parametrize(
    "code",
    [
        "import genomefactory.models.registry as r; r.all_families()",
        "import genomefactory.models as m; m.all_families(); m.ModelConfig(family='evo', variant='8K')",
        "from genomefactory.models.detect import detect_family",
        "from genomefactory.cli import main; main(['models'])",
        "from genomefactory.config import describe_config as d; from genomefactory.train.config import TrainConfig as T;"
        " from genomefactory.infer.config import InferenceConfig as I; d(T); d(I)",
    ],
)
def test_registry_configs_and_model_listing_import_no_torch(code: str) -> None:
    check = "import sys; heavy = [m for m in ('torch', 'transformers', 'peft', 'gradio') if m in sys.modules]"
    run = subprocess.run(
        [sys.executable, "-c", f"{code}\n{check}\nassert not heavy, heavy"],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
