"""DNA generation with decoder families (``inference`` with ``mode: generate``).

Prompts are upper-case IUPAC DNA; output is FASTA whose sequences hold only ``A C G T``: every token whose text
is not made of those four bases (special tokens, ``N``, ids past the tokenizer's vocabulary) gets a logit of
``-inf`` before sampling, so generation never stops early and never emits a non-DNA character.

Two engines, one sampling rule (temperature, then top-k, then top-p, or greedy):
- transformers models (GenomeOcean, causal ``hf_auto``): ``model.generate`` with a logits processor that masks
  non-DNA tokens;
- families with their own decoding (``family.generate(model, input_ids, max_new_tokens, sampler)`` returns the
  ids instead of ``None``: Evo's recurrent step, HyenaDNA's re-forward): our sampler.
Prompts are grouped by token length, so batches need no padding. The seed is applied per batch in a forked RNG:
the same config gives the same sequences.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import DataError, UserFileNotFoundError
from ..io import atomic_open
from ..models.loading import default_device
from ..models.registry import Backbone
from ..records import read_fasta
from ..sequence import clean_sequence
from .config import GenerateConfig, InferenceConfig
from .embed import load_for_inference, resolve_dtype
from .manifest import write_inference_manifest

__all__ = ["GenerationResult", "dna_token_mask", "generate_sequences", "run_generate", "sample_logits"]

_DNA = frozenset("ACGT")


@dataclass
class GenerationResult:
    output: Path
    records: list[tuple[str, str]]  # (header, sequence)
    seconds: float

    def summary(self) -> str:
        return f"generated {len(self.records)} sequences -> {self.output} in {self.seconds:.1f} s"


def is_decoder(backbone: Backbone) -> bool:
    return backbone.family.is_decoder(backbone.config)


def dna_token_mask(tokenizer: Any, vocab_size: int) -> torch.Tensor:
    """(vocab_size,) bool: True for tokens whose text is one or more of A, C, G, T."""
    special = set(tokenizer.all_special_ids or [])
    allowed = torch.zeros(vocab_size, dtype=torch.bool)
    for i in range(min(vocab_size, len(tokenizer))):
        text = tokenizer.convert_ids_to_tokens(i)
        allowed[i] = bool(text) and i not in special and set(text) <= _DNA
    if not allowed.any():
        raise DataError("the tokenizer has no token made only of A/C/G/T; it cannot generate DNA")
    return allowed


def _fit(allowed: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The mask cut or padded (with False) to the logits' vocabulary size (heads may be padded or cut)."""
    n = logits.shape[-1]
    a = allowed[:n] if allowed.numel() >= n else torch.cat([allowed, allowed.new_zeros(n - allowed.numel())])
    return a.to(logits.device)


def sample_logits(
    logits: torch.Tensor, allowed: torch.Tensor, g: GenerateConfig, generator: torch.Generator | None
) -> torch.Tensor:
    """(batch, vocab) logits -> (batch,) ids: DNA mask, then greedy or temperature / top-k / top-p sampling."""
    x = logits.float().masked_fill(~_fit(allowed, logits), float("-inf"))
    if g.greedy:
        return x.argmax(dim=-1)
    x = x / g.temperature
    if g.top_k > 0:
        kth = torch.topk(x, min(g.top_k, x.shape[-1]), dim=-1).values[:, -1:]
        x = x.masked_fill(x < kth, float("-inf"))
    if g.top_p < 1.0:
        sorted_x, idx = torch.sort(x, descending=True, dim=-1)
        probs = sorted_x.softmax(-1)
        # drop a token when the tokens before it already hold top_p of the mass (the first always stays)
        drop = probs.cumsum(-1) - probs > g.top_p
        x = x.scatter(-1, idx, sorted_x.masked_fill(drop, float("-inf")))
    probs = x.softmax(-1)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)


def _prompts(g: GenerateConfig) -> list[tuple[str, str]]:
    out = [(f"prompt{i + 1}", clean_sequence(p, f"generate.prompts[{i}]")) for i, p in enumerate(g.prompts)]
    if g.prompt_file:
        if not Path(g.prompt_file).is_file():
            raise UserFileNotFoundError(f"generate.prompt_file: {g.prompt_file} not found")
        out.extend(read_fasta(g.prompt_file))
    if not out:
        raise DataError(
            "generate: no prompts; set generate.prompts (a list of DNA strings) or generate.prompt_file"
        )
    return out


def _prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    ids = list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
    trailing = {tokenizer.eos_token_id, tokenizer.sep_token_id} - {None}
    while ids and ids[-1] in trailing:  # an appended end-of-sequence token would make the model stop
        ids.pop()
    if not ids:
        raise DataError(f"prompt {prompt[:30]!r} tokenizes to nothing")
    return ids


def _run_batch(
    backbone: Backbone, ids: torch.Tensor, g: GenerateConfig, allowed: torch.Tensor, seed: int
) -> torch.Tensor:
    """(batch, prompt) ids -> (batch, new) ids."""
    model = backbone.model
    with (
        torch.random.fork_rng(devices=[ids.device] if ids.device.type == "cuda" else []),
        torch.inference_mode(),
    ):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        own = backbone.family.generate(
            model, ids, g.max_new_tokens, lambda logits: sample_logits(logits, allowed, g, gen)
        )
        if own is not None:  # the family's own decoding loop
            out = own
        elif callable(getattr(model, "generate", None)):
            from transformers import LogitsProcessor, LogitsProcessorList

            class _DNAOnly(LogitsProcessor):
                def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
                    return scores.masked_fill(~_fit(allowed, scores), float("-inf"))

            out = model.generate(  # type: ignore[operator]
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=g.max_new_tokens,
                min_new_tokens=g.max_new_tokens,
                do_sample=not g.greedy,
                temperature=g.temperature,
                top_k=g.top_k,
                top_p=g.top_p,
                logits_processor=LogitsProcessorList([_DNAOnly()]),
                pad_token_id=backbone.tokenizer.pad_token_id,
                eos_token_id=None,
            )
        else:
            raise DataError(f"{backbone.family.name}: the model has no generate method")
    return out[:, ids.shape[1] :]  # type: ignore[no-any-return]


def _settings(g: GenerateConfig, backbone: Backbone) -> str:
    mode = "greedy" if g.greedy else f"temperature={g.temperature} top_k={g.top_k} top_p={g.top_p}"
    return (
        f"model={backbone.family.name}:{backbone.source or backbone.variant} {mode} "
        f"max_new_tokens={g.max_new_tokens} seed={g.seed}"
    )


def generate_sequences(backbone: Backbone, g: GenerateConfig, device: torch.device) -> list[tuple[str, str]]:
    """(header, sequence) per prompt and sample, in prompt order."""
    if not is_decoder(backbone):
        raise DataError(
            f"model family {backbone.family.name!r} is an encoder; generation needs a decoder "
            "(genomeocean, evo, hyenadna, or a causal hf_auto model)"
        )
    tok = backbone.tokenizer
    get_head: Any = getattr(backbone.model, "get_output_embeddings", None)
    head = get_head() if callable(get_head) else None
    vocab = (
        int(head.weight.shape[0]) if head is not None else int(backbone.config.get("vocab_size", len(tok)))
    )
    allowed = dna_token_mask(tok, vocab)
    rows = [(pid, p, j, _prompt_ids(tok, p)) for pid, p in _prompts(g) for j in range(g.num_samples)]
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i][3]), i))
    new: dict[int, list[int]] = {}
    start = 0
    while start < len(order):
        length = len(rows[order[start]][3])
        batch = [i for i in order[start : start + g.batch_size] if len(rows[i][3]) == length]
        ids = torch.tensor([rows[i][3] for i in batch], device=device)
        out = _run_batch(backbone, ids, g, allowed, g.seed + start)
        new.update({i: out[k].tolist() for k, i in enumerate(batch)})
        start += len(batch)
    settings = _settings(g, backbone)
    records = []
    for i, (pid, prompt, j, _) in enumerate(rows):
        text = "".join(tok.convert_ids_to_tokens(new[i]))
        seq = prompt + text if g.include_prompt else text
        records.append((f"{pid}_sample{j + 1} prompt={prompt} {settings}", seq))
    return records


def run_generate(cfg: InferenceConfig) -> GenerationResult:
    """Generate from every prompt and write ``cfg.generate.output`` (FASTA, 80 bases per line)."""
    g = cfg.generate
    t0 = time.perf_counter()
    from ..io import check_output_file

    check_output_file(g.output, "generate.output")  # before the model is loaded
    device = torch.device(g.device) if g.device else default_device()
    backbone = load_for_inference(cfg.model, g.seed)
    backbone.model.to(device=device, dtype=resolve_dtype(g.precision, device)).eval()
    records = generate_sequences(backbone, g, device)
    out = Path(g.output)
    with atomic_open(out) as fh:
        for header, seq in records:
            fh.write(f">{header}\n")
            fh.writelines(seq[i : i + 80] + "\n" for i in range(0, len(seq), 80))
    write_inference_manifest(cfg, Path(out))
    return GenerationResult(out, records, time.perf_counter() - t0)
