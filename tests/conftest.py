"""Shared fixtures: the real data folder beside the checkout, deterministic torch, temp dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GENOMEFACTORY_SHARED_DATA", ROOT.parent / "shared" / "data"))

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; missing data fails under CI (``CI`` set) and skips elsewhere."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real test data folder {SHARED_DATA} is missing (required in CI)")
        pytest.skip(f"real test data folder {SHARED_DATA} not present")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
