"""GenomeOcean sizes against the paper's Table 2/3 trainable counts (full fine-tuning, 9-class head)."""

from __future__ import annotations

import pytest
import torch

from genomefactory.models import get_family


@pytest.mark.parametrize(("variant", "paper_millions"), [("100M", 116.42), ("500M", 534.83)])
def test_parameter_counts_match_paper(variant: str, paper_millions: float) -> None:
    fam = get_family("genomeocean")
    cfg = fam.published_config(variant)
    with torch.device("meta"):
        model = fam.build(cfg)
    backbone = sum(p.numel() for p in fam.base(model).parameters())
    with_head = backbone + 9 * cfg["hidden_size"] + 9  # the paper's 9-class COVID-variant task head
    assert round(with_head / 1e6, 2) == paper_millions
