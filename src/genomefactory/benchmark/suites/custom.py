"""Custom suites: a folder of task folders in the Model Trainer's layout (paper section 3.5).

``path`` holds task folders at any depth; a task folder is one that contains a test split (plus train and dev;
a missing dev split is carved from train with ``dev_fraction``). Splits are read as the trainer reads them:
``test.csv`` (or ``.tsv``/``.tab``) with columns ``sequence`` (or ``seq``) and ``label``, or ``test.fasta`` (any
FASTA suffix) with ``test.labels.csv``, each optionally gzipped (:mod:`genomefactory.records`). The task name is
the folder's path relative to ``path`` and its group is the first path component. Labels are integer classes,
or real values with ``task_type: regression``. Default metric: mcc (classification) or mse
(regression). Python plugins instead register a :class:`~genomefactory.benchmark.suites.Suite` under the entry
point group ``genomefactory.benchmarks``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import DataError, UserFileNotFoundError
from ...records import record_stem
from ...train.data import find_split
from ..config import SuiteConfig
from . import BenchTask, PreparedTask, Suite, materialize, read_labelled, register_suite

__all__ = ["FolderSuite"]


class FolderSuite(Suite):
    name = "custom"
    title = "Custom"

    def _root(self, cfg: SuiteConfig) -> Path:
        if not cfg.path:
            raise DataError(
                "suite custom needs `path`: a folder of task folders (train.csv, dev.csv, test.csv)"
            )
        root = Path(cfg.path).expanduser()
        if not root.is_dir():
            raise UserFileNotFoundError(f"custom suite folder {root} not found")
        return root

    def check(self, cfg: SuiteConfig) -> None:
        self._root(cfg)

    def list_tasks(self, cfg: SuiteConfig) -> list[BenchTask]:
        root = self._root(cfg)
        metric = cfg.metric or ("mse" if cfg.task_type == "regression" else "mcc")
        folders = _task_folders(root)
        if not folders:
            raise DataError(
                f"custom suite folder {root} holds no task folder (a folder with a test split, e.g. test.csv)"
            )
        tasks = []
        for f in folders:
            name = f.relative_to(root).as_posix() if f != root else root.name
            tasks.append(BenchTask(self.name, name, name.split("/")[0], metric, cfg.task_type))
        return tasks

    def prepare(self, task: BenchTask, cfg: SuiteConfig, work_dir: Path) -> PreparedTask:
        root = self._root(cfg)
        folder = root if task.name == root.name and find_split(root, "test") else root / task.name
        frames = {
            s: read_labelled(path) if (path := find_split(folder, s)) else None
            for s in ("train", "dev", "test")
        }
        return materialize(task, frames, cfg, work_dir, source=folder)


register_suite(FolderSuite())


def _task_folders(root: Path) -> list[Path]:
    """Folders under ``root`` holding a test split file; linked folders are followed (each real folder once)."""
    found: set[Path] = set()
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a link loop or a folder linked twice
            dirnames[:] = []
            continue
        seen.add(real)
        if any(record_stem(f) == "test" for f in filenames):
            found.add(Path(dirpath))
    return sorted(found)
