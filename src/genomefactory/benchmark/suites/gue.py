"""GUE (Genome Understanding Evaluation, DNABERT-2 paper): 28 classification tasks in 7 groups.

Layout: ``<root>/<group>/<task>/{train,dev,test}.csv`` with columns ``sequence,label``. Metric: Matthews
correlation ×100, macro F1 ×100 for ``virus/covid`` (the benchmark's protocol, paper section 4.2).

The published download (GUE.zip, about 300 MB) is on Google Drive (:data:`GUE_URL`); download it with a browser
or ``gdown``, then point ``path`` at the zip or the unzipped folder. A zip is extracted into the sweep folder
with every member checked against path traversal.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ...errors import DataError, UserFileNotFoundError
from ..config import SuiteConfig
from . import BenchTask, PreparedTask, Suite, materialize, read_labelled, register_suite

__all__ = ["GUE_GROUPS", "GUE_URL", "GueSuite"]

GUE_URL = "https://drive.google.com/file/d/1GRtbzTe3UXYF1oW27ASNhYX3SZ16D7N2/view"

# group folder -> (description, task folders); order as in DNABERT-2's tables
GUE_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "EMP": (
        "epigenetic marks prediction (yeast)",
        ("H3", "H3K14ac", "H3K36me3", "H3K4me1", "H3K4me2", "H3K4me3", "H3K79me3", "H3K9ac", "H4", "H4ac"),
    ),
    "prom": (
        "promoter detection (human; 300 bp and core 70 bp)",
        (
            "prom_300_all",
            "prom_300_notata",
            "prom_300_tata",
            "prom_core_all",
            "prom_core_notata",
            "prom_core_tata",
        ),
    ),
    "tf": ("transcription factor binding (human)", ("0", "1", "2", "3", "4")),
    "mouse": ("transcription factor binding (mouse)", ("0", "1", "2", "3", "4")),
    "virus": ("COVID variant classification (9 classes)", ("covid",)),
    "splice": ("splice site detection (3 classes)", ("reconstructed",)),
}


def _safe_extract(archive: Path, dest: Path) -> None:
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            target = (dest / member.filename).resolve()
            if target != root and root not in target.parents:
                raise DataError(
                    f"{archive}: member {member.filename!r} would be written outside {dest}; refusing"
                )
        zf.extractall(dest)


class GueSuite(Suite):
    name = "gue"
    title = "GUE"

    def list_tasks(self, cfg: SuiteConfig) -> list[BenchTask]:
        tasks = []
        for group, (_, names) in GUE_GROUPS.items():
            for n in names:
                name = f"{group}/{n}"
                metric = cfg.metric or ("f1" if name == "virus/covid" else "mcc")
                tasks.append(BenchTask(self.name, name, group, metric))
        return tasks

    def check(self, cfg: SuiteConfig) -> None:
        if not cfg.path:
            raise DataError(
                f"suite gue needs `path`: the unzipped GUE folder or GUE.zip (download: {GUE_URL})"
            )
        p = Path(cfg.path).expanduser()
        if not (p.is_dir() or (p.is_file() and p.suffix == ".zip")):
            raise UserFileNotFoundError(
                f"suite gue: path {p} is neither a folder nor a .zip; download GUE.zip from {GUE_URL}, unzip "
                "it and set the suite's path to the folder (or to the zip)"
            )

    def root(self, cfg: SuiteConfig, work_dir: Path) -> Path:
        if not cfg.path:
            raise DataError(
                f"suite gue needs `path`: the unzipped GUE folder or GUE.zip (download: {GUE_URL})"
            )
        p = Path(cfg.path).expanduser()
        if p.is_file() and p.suffix == ".zip":
            dest = work_dir / "gue_extracted"
            if not dest.is_dir():
                _safe_extract(p, dest)
            p = dest
        if not p.is_dir():
            raise UserFileNotFoundError(
                f"GUE folder {p} not found; download GUE.zip from {GUE_URL}, unzip it and set "
                "the suite's path to the folder (or to the zip)"
            )
        if not any((p / g).is_dir() for g in GUE_GROUPS) and (p / "GUE").is_dir():
            p = p / "GUE"  # the zip's top-level folder
        return p

    def prepare(self, task: BenchTask, cfg: SuiteConfig, work_dir: Path) -> PreparedTask:
        folder = self.root(cfg, work_dir) / task.name
        if not folder.is_dir():
            return PreparedTask(task, None, missing=[f"gue/{task.name}: task folder {folder} not found"])
        frames = {
            s: read_labelled(folder / f"{s}.csv") if (folder / f"{s}.csv").is_file() else None
            for s in ("train", "dev", "test")
        }
        # GUE ships all three splits: a missing one is a damaged copy, never carved from train
        gone = [
            f"gue/{task.name}: split '{s}' is missing ({folder / f'{s}.csv'})"
            for s, f in frames.items()
            if f is None
        ]
        if gone:
            return PreparedTask(task, None, missing=gone)
        return materialize(task, frames, cfg, work_dir, source=folder)


register_suite(GueSuite())
