"""CUDA paths (skipped without a GPU; run them in a GPU session with ``benchmarks/gpu_session.sh``).

Every family's tiny model gives on CUDA (fp32) what it gives on the CPU, trains a step under bf16 autocast, and the
packed attention path equals the padded one on CUDA in bf16 (NT-v2 through PyTorch's packed FlashAttention kernel,
DNABERT-2 through flash-attn when installed, else SDPA).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from genomefactory.models import ModelConfig, all_families, load_backbone
from genomefactory.models.layers import varlen
from genomefactory.models.layers.varlen import set_attention_path
from genomefactory.train.config import MethodConfig
from genomefactory.train.methods import build_task_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
FAMILIES = [f.name for f in all_families()]
SEQS = ["ACGTACGTTAGCCATGACGTAGCTAGCTAGGATCCA" * 3, "TTGACA", "GGGCCCAAATTTNACGTACGATCGATGCATGCATCGA"]


@pytest.fixture(autouse=True)
def _no_tf32() -> Any:
    """Exact fp32 on the GPU (cuDNN convolutions default to TF32), so CPU and CUDA agree closely."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def _tiny(family: str) -> Any:
    torch.manual_seed(0)
    return load_backbone(ModelConfig(family=family, init="tiny"))


@pytest.mark.parametrize("family", FAMILIES)
def test_cuda_forward_equals_cpu(family: str) -> None:
    bb = _tiny(family)
    enc = bb.tokenizer(SEQS, padding=True, return_tensors="pt")
    bb.base.eval()
    with torch.no_grad():
        cpu = bb.family.encode(bb.base, enc["input_ids"], enc["attention_mask"]).last_hidden_state
        bb.base.cuda()
        gpu = bb.family.encode(
            bb.base, enc["input_ids"].cuda(), enc["attention_mask"].cuda()
        ).last_hidden_state
    real = enc["attention_mask"].bool()
    torch.testing.assert_close(gpu.cpu()[real], cpu[real], atol=5e-4, rtol=5e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_bf16_training_step(family: str) -> None:
    bb = _tiny(family)
    model = build_task_model(bb, MethodConfig(name="full"), "classification", 3).cuda().train()
    enc = bb.tokenizer(SEQS, padding=True, return_tensors="pt")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3, fused=True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(
            input_ids=enc["input_ids"].cuda(),
            attention_mask=enc["attention_mask"].cuda(),
            labels=torch.tensor([0, 1, 2]).cuda(),
        )
    out.loss.backward()
    opt.step()
    assert torch.isfinite(out.loss)
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("family", ["dnabert2", "nucleotide_transformer_v2", "nucleotide_transformer"])
def test_packed_equals_padded_cuda_bf16(family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bb = _tiny(family)
    base = bb.base.cuda().to(torch.bfloat16).eval()
    lengths = [37, 5, 50, 1, 23]
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(5, int(base.get_input_embeddings().num_embeddings), (5, 56), generator=g).cuda()
    mask = (torch.arange(56)[None, :] < torch.tensor(lengths)[:, None]).long().cuda()
    used: list[bool] = []
    real_pick = varlen._torch_varlen

    def spy(x: torch.Tensor, p: Any, dropout_p: float) -> Any:
        fn = real_pick(x, p, dropout_p)
        used.append(fn is not None)
        return fn

    monkeypatch.setattr(varlen, "_torch_varlen", spy)
    outs = []
    with torch.no_grad():
        for path in ("padded", "packed"):
            set_attention_path(base, path)
            outs.append(base(input_ids=ids, attention_mask=mask).last_hidden_state.float())
    real = mask.bool()
    torch.testing.assert_close(outs[1][real], outs[0][real], atol=5e-2, rtol=5e-2)
    if family != "dnabert2":  # rotary models without bias take PyTorch's packed kernel
        assert used and all(used)


@pytest.mark.parametrize("family", ["dnabert2", "hyenadna", "caduceus", "genomeocean"])
def test_embedding_bf16_on_cuda_close_to_cpu_fp32(family: str, tmp_path: Any) -> None:
    import numpy as np

    from genomefactory.config import validate_dict
    from genomefactory.infer.config import InferenceConfig
    from genomefactory.infer.run import run_inference
    from genomefactory.infer.store import read_embeddings

    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(SEQS * 4)))
    vecs = []
    for device, precision in (("cpu", "fp32"), ("cuda", "bf16")):
        out = tmp_path / f"{device}.parquet"
        run_inference(
            validate_dict(
                InferenceConfig,
                {
                    "mode": "embed",
                    "model": {"family": family, "init": "tiny"},
                    "embed": {
                        "input": str(fasta),
                        "output": str(out),
                        "device": device,
                        "precision": precision,
                        "batch_size": 4,
                        "progress": False,
                    },
                },
            )
        )
        vecs.append(read_embeddings(out).vectors)
    cos = (vecs[0] * vecs[1]).sum(1) / (np.linalg.norm(vecs[0], axis=1) * np.linalg.norm(vecs[1], axis=1))
    assert cos.min() > 0.99, cos


@pytest.mark.parametrize("family", ["evo", "genomeocean", "hyenadna"])
def test_greedy_generation_on_cuda_matches_cpu(family: str, tmp_path: Any) -> None:
    from genomefactory.config import validate_dict
    from genomefactory.infer.config import InferenceConfig
    from genomefactory.infer.run import run_inference

    texts = []
    for device in ("cpu", "cuda"):
        out = tmp_path / f"{device}.fa"
        run_inference(
            validate_dict(
                InferenceConfig,
                {
                    "mode": "generate",
                    "model": {"family": family, "init": "tiny"},
                    "generate": {
                        "prompts": ["ACGTACGTAA"],
                        "output": str(out),
                        "greedy": True,
                        "max_new_tokens": 16,
                        "device": device,
                        "precision": "fp32",
                    },
                },
            )
        )
        texts.append(out.read_text())
    assert texts[0] == texts[1]
