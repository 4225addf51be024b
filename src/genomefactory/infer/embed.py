"""Embedding extraction for every registered family (``inference`` with ``mode: embed``).

Conventions: sequences are upper-case IUPAC (:mod:`genomefactory.sequence`); hidden states are
(batch, length, hidden); pooling is mask-aware (:mod:`genomefactory.models.pooling`).

Long sequences: a sequence whose tokenisation exceeds the window (the model's maximum input length unless
``window_tokens`` is set) is split into overlapping windows of bases whose edges sit at token starts of the whole
sequence's tokenization (so a k-mer tokenizer keeps its frame in every window). Windows are embedded separately and stitched:
every base belongs to exactly one window (the one where it is most central: boundaries at the middle of each
overlap), a window contributes the tokens that start in its own bases, the leading special tokens of the first
window and the trailing ones of the last. Pooling then runs over the stitched tokens, so for a model without
cross-token context the result equals the unwindowed embedding. Nothing is truncated; the output metadata records
the windowing.

Streaming: the input is read ``chunk_size`` sequences at a time; each chunk is sorted by length into batches,
embedded and written as one part; a rerun skips ids already written (see :mod:`genomefactory.infer.store`).

Several processes (``torchrun --nproc_per_node N``; ``WORLD_SIZE`` > 1): every rank reads the same chunks and
embeds its own contiguous slice of each (rank r of N takes the r-th of N near-equal slices), writing it as part
``part-<chunk>-r<rank>``; part names sort in input order, so after a barrier rank 0 merges them into one output
whose rows are in input order, exactly as a single process writes them. Each rank uses ``cuda:<LOCAL_RANK>`` when
CUDA is available; the process group (gloo on CPU, nccl on GPU) is created here unless one exists already.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..dist import Ranks
from ..errors import DataError
from ..io import atomic_path
from ..models.encoding import BatchEncoder, Encoded, KmerIds
from ..models.loading import ModelConfig, default_device, load_backbone
from ..models.pooling import pool
from ..models.registry import Backbone
from ..records import Record, iter_chunks
from .config import EmbedConfig, InferenceConfig
from .manifest import write_inference_manifest
from .store import PartStore, rows_to_table

__all__ = ["Embedder", "EmbeddingResult", "iter_records", "load_for_inference", "resolve_dtype", "run_embed"]

log = logging.getLogger(__name__)


@dataclass
class EmbeddingResult:
    output: Path
    rows: int  # rows in the output (previous runs included)
    embedded: int  # sequences embedded by this run
    skipped: int  # sequences skipped because a previous run wrote them
    windowed: int  # sequences longer than the window, embedded in windows
    hidden: int
    seconds: float

    def summary(self) -> str:
        return (
            f"embedded {self.embedded} sequences ({self.windowed} in windows, {self.skipped} already done) "
            f"-> {self.output} ({self.rows} rows, hidden {self.hidden}) in {self.seconds:.1f} s"
        )


def load_for_inference(cfg: ModelConfig, seed: int = 0) -> Backbone:
    """A registered family's backbone, or the backbone of a genomefactory training run directory.

    Random and tiny initialisations are drawn under ``seed`` (without touching the global RNG), so two runs
    of the same config embed identically.
    """
    if cfg.path and (Path(cfg.path) / "model").is_dir():
        try:
            from ..train.model_io import load_run_model
        except ImportError as exc:
            raise DataError(
                f"{cfg.path} looks like a training run directory, but this installation cannot "
                f"read run directories ({exc})"
            ) from exc
        # the run's backbone carries the fine-tuned weights (the task model wraps the same modules)
        return load_run_model(cfg.path).backbone
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return load_backbone(cfg)


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    if precision == "fp32":
        return torch.float32
    if precision == "auto":
        ok = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if ok else torch.float32
    if precision == "fp16" and device.type == "cpu":
        raise DataError("precision: fp16 needs a GPU; use fp32 or bf16 on the CPU")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def iter_records(path: str | Path, chunk_size: int, what: str = "embed.input") -> Iterator[list[Record]]:
    """Chunks of records of a FASTA or CSV/TSV file, streamed (:func:`genomefactory.records.iter_chunks`).

    Sequences are validated and ids unique; a table's columns other than the sequence and ``id`` are metadata.
    """
    return iter_chunks(path, chunk_size, what=what)


@dataclass
class _Piece:
    seq: int  # index of the sequence in the chunk
    ids: list[int]
    keep: list[bool] | None  # tokens this window contributes to the stitched sequence; None: all (no windows)
    first: bool
    last: bool
    window: int = 0  # the window's number along its sequence


class Embedder:
    """Embeds lists of sequences with one backbone; pooled (hidden,) or per-token (tokens, hidden) float32."""

    def __init__(
        self,
        backbone: Backbone,
        pooling: str = "mean",
        layer: int = -1,
        batch_size: int = 16,
        window_tokens: int | None = None,
        window_overlap: float = 0.25,
        device: torch.device | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.backbone = backbone
        self.tok = backbone.tokenizer
        self.pooling, self.layer, self.batch_size = pooling, layer, batch_size
        self.window = min(window_tokens or backbone.max_tokens, backbone.max_tokens)
        self.overlap = window_overlap
        self.device = device or torch.device("cpu")
        self.model = backbone.model.to(device=self.device, dtype=dtype).eval()
        self.base = backbone.family.base(self.model)
        self.pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        self.encoder = BatchEncoder(self.tok)
        fam = backbone.family
        k = fam.kmer if fam.tokenizer_kind == "kmer" else 1 if fam.tokenizer_kind == "char" else None
        kmer_ids = KmerIds(self.tok, k, self.encoder) if k and self.encoder.backend() is not None else None
        self.kmer_ids = kmer_ids if kmer_ids is not None and kmer_ids.ok else None

    # -- tokenisation and windows -------------------------------------------------------------------
    def _encode(self, seq: str) -> Encoded:
        return self.encoder.encode([seq])[0]

    def _bounds(self, n: int, width: int, token_starts: list[int]) -> list[tuple[int, int]]:
        stride = max(1, int(width * (1.0 - self.overlap)))
        starts = list(range(0, max(n - width, 0) + 1, stride))
        if starts[-1] + width < n:
            starts.append(n - width)

        # Window edges sit where a token of the whole sequence starts: a k-mer tokenizer (NT) then reads every
        # window in the same 6-mer frame as the whole sequence, and BPE merges are disturbed as little as possible.
        def snap(x: int) -> int:
            return token_starts[max(bisect.bisect_right(token_starts, x) - 1, 0)]

        out: list[tuple[int, int]] = []
        for s in starts:
            a, b = snap(s), (n if s + width >= n else snap(s + width))
            if b > a and (not out or (a, b) != out[-1]):
                out.append((a, b))
        return out

    def pieces(self, idx: int, seq: str, encoded: Encoded | None = None) -> list[_Piece]:
        """One piece for a sequence that fits; overlapping stitched windows for one that does not."""
        ids, offsets, special = encoded if encoded is not None else self._encode(seq)
        if len(ids) <= self.window:
            return [_Piece(idx, ids, None, True, True)]
        n_special = sum(special)
        token_starts = sorted({a for (a, _), sp in zip(offsets, special, strict=True) if not sp} | {0})
        width = int((self.window - n_special) * len(seq) / max(len(ids) - n_special, 1))
        while width >= 1:
            bounds = self._bounds(len(seq), width, token_starts)
            encs = self.encoder.encode([seq[s:e] for s, e in bounds])
            if all(len(e[0]) <= self.window for e in encs):
                break
            width = int(width * 0.9)
        else:
            raise DataError(f"cannot split a sequence of {len(seq)} bp into windows of {self.window} tokens")
        cuts = [0] + [(bounds[i][1] + bounds[i + 1][0]) // 2 for i in range(len(bounds) - 1)] + [len(seq)]
        out = []
        for w, ((s, _), (wid, off, spec)) in enumerate(zip(bounds, encs, strict=True)):
            content = [i for i, sp in enumerate(spec) if not sp]
            lo, hi = (content[0], content[-1]) if content else (len(spec), -1)
            keep = []
            for i, (a, _) in enumerate(off):
                if spec[i]:
                    keep.append((i < lo and w == 0) or (i > hi and w == len(bounds) - 1))
                else:
                    keep.append(cuts[w] <= s + a < cuts[w + 1])
            out.append(_Piece(idx, wid, keep, w == 0, w == len(bounds) - 1, w))
        return out

    def _all_pieces(self, sequences: list[str]) -> list[_Piece]:
        """Every sequence's pieces: one batched tokenizer call; offsets read only for sequences that need windows."""
        fast: list[list[int] | None] = [None] * len(sequences)
        if self.kmer_ids is not None:
            fits = [s if self.kmer_ids.n_tokens(len(s)) <= self.window else "" for s in sequences]
            fast = self.kmer_ids.ids(fits)
        rest = [i for i, f in enumerate(fast) if f is None]
        backend = self.encoder.backend()
        encoded: dict[int, Any] = {}
        if backend is not None and rest:
            encoded = dict(zip(rest, backend.encode_batch([sequences[i] for i in rest]), strict=True))
        out: list[_Piece] = []
        for i, seq in enumerate(sequences):
            ids = fast[i]
            if ids is not None:
                out.append(_Piece(i, ids, None, True, True))
            elif i not in encoded:  # a slow (Python) tokenizer: no batched backend to call
                out.extend(self.pieces(i, seq))
            elif len(enc := encoded[i]) <= self.window:
                out.append(_Piece(i, enc.ids, None, True, True))
            else:
                out.extend(self.pieces(i, seq, (enc.ids, enc.offsets, enc.special_tokens_mask)))
        return out

    # -- forward --------------------------------------------------------------------------------------
    def _forward(self, batch: list[_Piece]) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = [len(p.ids) for p in batch]
        length = max(lengths)
        left = self.tok.padding_side == "left"
        pad = self.pad_id
        # one tensor from padded Python lists (no per-row tensor copies); the mask follows from the lengths
        rows = [
            [pad] * (length - len(p.ids)) + p.ids if left else p.ids + [pad] * (length - len(p.ids))
            for p in batch
        ]
        ids = torch.tensor(rows, dtype=torch.long)
        n = torch.tensor(lengths)
        pos = torch.arange(length)
        mask = pos >= (length - n)[:, None] if left else pos < n[:, None]
        keep = mask
        windowed = [i for i, p in enumerate(batch) if p.keep is not None]
        if windowed:
            keep = mask.clone()
            for i in windowed:  # only windows of long sequences keep fewer tokens than they hold
                k = torch.tensor(batch[i].keep, dtype=torch.bool)
                if left:
                    keep[i, length - len(k) :] = k
                else:
                    keep[i, : len(k)] = k
        with torch.inference_mode():
            out = self.backbone.family.encode(
                self.base,
                ids.to(self.device),
                mask.to(self.device, torch.long),
                output_hidden_states=self.layer != -1,
            )
            if self.layer == -1:
                hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
            else:
                hidden = out.hidden_states[self.layer]
        return hidden.float(), keep.to(self.device)

    def embed(self, sequences: list[str]) -> tuple[list[np.ndarray], list[int], list[int]]:
        """(vectors, windows per sequence, stitched tokens per sequence) for a list of sequences, in input order."""
        pieces = self._all_pieces(sequences)
        order = sorted(range(len(pieces)), key=lambda j: len(pieces[j].ids))
        pooled = _Pooled(len(sequences), self.pooling)
        for start in range(0, len(order), self.batch_size):
            batch = [pieces[j] for j in order[start : start + self.batch_size]]
            hidden, keep = self._forward(batch)
            pooled.add(batch, hidden, keep)
        wins = np.bincount([p.seq for p in pieces], minlength=len(sequences))
        return pooled.result(), wins.tolist(), pooled.tokens.tolist()


class _Pooled:
    """Per-sequence pooling accumulated over batches of pieces (windows), vectorised over each batch.

    A sequence's windows may arrive in different batches and in any order (length sorting); mean sums and counts
    are added, max takes the element-wise maximum, cls comes from the first window and last from the last one;
    per-token rows are kept with their window number and put in order at the end (arrival order is length order,
    which for windows of unequal token counts is not their order along the sequence).
    """

    def __init__(self, n: int, how: str) -> None:
        self.n, self.how = n, how
        self.tokens = torch.zeros(n, dtype=torch.long)
        self.acc: torch.Tensor | None = None
        self.rows: list[list[tuple[int, torch.Tensor]]] = [[] for _ in range(n)]

    def add(self, batch: list[_Piece], hidden: torch.Tensor, keep: torch.Tensor) -> None:
        seq = torch.tensor([p.seq for p in batch])
        k = keep.unsqueeze(-1)
        self.tokens.index_add_(0, seq, keep.sum(1).cpu())
        if self.how == "token":
            for i, p in enumerate(batch):  # windows are put back in their order along the sequence
                self.rows[p.seq].append((p.window, hidden[i][keep[i]].cpu()))
            return
        if self.acc is None:
            fill = float("-inf") if self.how == "max" else 0.0
            self.acc = torch.full((self.n, hidden.shape[-1]), fill, dtype=torch.float32)
        if self.how == "mean":
            self.acc.index_add_(0, seq, (hidden * k).sum(1).cpu())
        elif self.how == "max":
            m = hidden.masked_fill(~k, float("-inf")).max(1).values.cpu()
            self.acc.scatter_reduce_(0, seq[:, None].expand_as(m), m, "amax")
        else:
            sel = [i for i, p in enumerate(batch) if (p.first if self.how == "cls" else p.last)]
            if sel:
                rows = torch.tensor(sel)
                picked = pool(hidden[rows.to(hidden.device)], keep[rows.to(keep.device)], self.how).cpu()
                self.acc[seq[rows]] = picked

    def result(self) -> list[np.ndarray]:
        if self.how == "token":
            return [torch.cat([t for _, t in sorted(r, key=lambda x: x[0])]).numpy() for r in self.rows]
        assert self.acc is not None
        out = self.acc / self.tokens[:, None].clamp(min=1) if self.how == "mean" else self.acc
        return list(out.numpy())


def run_embed(cfg: InferenceConfig) -> EmbeddingResult:
    """Embed ``cfg.embed.input`` into ``cfg.embed.output`` (streamed, resumable, sharded over torchrun ranks)."""
    import time

    e: EmbedConfig = cfg.embed
    t0 = time.perf_counter()
    out = Path(e.output)
    # the output is checked before the model is loaded or a sequence embedded (nothing is made when it is wrong)
    from ..io import check_output_file
    from .store import EMBEDDING_SUFFIXES

    check_output_file(out, "embed.output", EMBEDDING_SUFFIXES)
    if e.pooling == "token" and out.suffix.lower() == ".npy":
        raise DataError("embed.output: per-token embeddings (pooling: token) need a .parquet or .csv output")
    ranks = Ranks()
    store = PartStore(out, keep_previous=e.resume)
    if not e.resume and ranks.rank == 0:
        store.reset()
    ranks.barrier()
    if e.resume:
        _check_resumable(cfg, store)
    done = store.done_ids() if e.resume else set()
    first_part = len(
        store.parts()
    )  # new parts are numbered after an interrupted run's, so they sort after them
    ranks.barrier()  # nobody writes a part before every rank has read the existing ones
    backbone = load_for_inference(cfg.model, e.seed)
    device = ranks.device(e.device, default_device())
    emb = Embedder(
        backbone,
        e.pooling,
        e.layer,
        e.batch_size,
        e.window_tokens,
        e.window_overlap,
        device,
        resolve_dtype(e.precision, device),
    )
    info = {
        "model": cfg.model.model_dump(mode="json"),
        "family": backbone.family.name,
        "layer": e.layer,
        "pooling": e.pooling,
        "hidden": backbone.hidden_size,
        "window_tokens": emb.window,
        "window_overlap": e.window_overlap,
        "settings": _settings(cfg),
        "windowing": "sequences longer than window_tokens are split into overlapping windows of bases and "
        "stitched: each base's token comes from the window where it is most central",
    }
    embedded = skipped = windowed = 0
    with progress_bar(e.progress and ranks.rank == 0, "embedding") as bar:
        for index, chunk in enumerate(iter_records(e.input, e.chunk_size)):
            todo = [r for r in chunk if r.id not in done]
            skipped += len(chunk) - len(todo)
            bar(len(chunk) - len(todo))
            mine = todo[ranks.my_slice(len(todo))]
            if mine:
                vecs, wins, ntok = emb.embed([r.sequence for r in mine])
                table = _chunk_table(mine, vecs, wins, ntok, e.keep_sequence, e.pooling == "token", info)
                if ranks.world == 1:
                    store.write(table)
                else:
                    _write_part(store, table, f"part-{first_part + index:05d}-r{ranks.rank:03d}")
                embedded += len(mine)
                windowed += sum(w > 1 for w in wins)
            bar(len(todo))
    embedded, windowed = ranks.total([embedded, windowed])
    ranks.barrier()
    rows = store.finalize() if ranks.rank == 0 else 0
    ranks.barrier()
    if ranks.rank != 0:
        rows = len(store.done_ids())
    write_inference_manifest(cfg, Path(out))
    return EmbeddingResult(
        out, rows, embedded, skipped, windowed, backbone.hidden_size, time.perf_counter() - t0
    )


def _settings(cfg: InferenceConfig) -> dict[str, Any]:
    """What determines the vectors: a resumed run must match the run that wrote the existing rows."""
    e = cfg.embed
    return {
        "model": cfg.model.model_dump(mode="json"),
        "layer": e.layer,
        "pooling": e.pooling,
        "window_tokens": e.window_tokens,
        "window_overlap": e.window_overlap,
        "precision": e.precision,
        "seed": e.seed,
    }


def _check_resumable(cfg: InferenceConfig, store: PartStore) -> None:
    """Refuse to append rows computed with other settings to an existing output (they would mix silently)."""
    import json

    stored = store.stored_info()
    old = stored.get("settings") if stored else None
    manifest = store.output.parent / f"{store.output.name}.manifest.json"
    if old is None and stored is None and store.output.is_file() and manifest.is_file():
        old = _settings(InferenceConfig.model_validate(json.loads(manifest.read_text())["config"]))
    new = _settings(cfg)
    if old is not None and old != new:
        diff = {k: (old.get(k), v) for k, v in new.items() if old.get(k) != v}
        raise DataError(
            f"embed.output {store.output} holds embeddings made with other settings "
            f"(setting: (written, now) = {diff}); resuming would mix them. Write to another output, "
            "or set embed.resume: false to start over"
        )


def _chunk_table(
    todo: list[Record],
    vecs: list[np.ndarray],
    wins: list[int],
    ntok: list[int],
    keep_sequence: bool,
    per_token: bool,
    info: dict[str, Any],
) -> Any:
    frame = pd.DataFrame(
        {
            "id": [r.id for r in todo],
            "length": [len(r.sequence) for r in todo],
            "n_windows": wins,
            "n_tokens": ntok,
        }
    )
    if keep_sequence:
        frame["sequence"] = [r.sequence for r in todo]
    for col in todo[0].meta:
        frame[col] = [r.meta.get(col) for r in todo]
    return rows_to_table(frame, vecs, emb_hidden(vecs), per_token, info)


def _write_part(store: PartStore, table: Any, stem: str) -> None:
    import pyarrow.parquet as pq

    store.parts_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(store.parts_dir / f"{stem}.parquet", suffix=".parquet") as tmp:
        pq.write_table(table, tmp)


def emb_hidden(vecs: list[np.ndarray]) -> int:
    return int(vecs[0].shape[-1])


@contextlib.contextmanager
def progress_bar(enabled: bool, desc: str) -> Iterator[Callable[[int], None]]:
    """A tqdm bar (sequences processed) when enabled and tqdm is installed; a no-op otherwise."""
    if not enabled:
        yield lambda n: None
        return
    from tqdm.auto import tqdm

    with tqdm(desc=desc, unit="seq") as bar:
        yield bar.update
