"""``io.atomic_path``: a finished output has the mode of any new file (umask applied), not mkstemp's 0600, so
the owner's group can read results; a failed write leaves nothing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from genomefactory.io import atomic_path, atomic_write_text


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_finished_output_mode_follows_umask(tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "out.txt", "x\n")
        reference = tmp_path / "plain.txt"
        reference.write_text("x\n")  # what open() gives a new file under this umask
    finally:
        os.umask(old)
    got = stat.S_IMODE((tmp_path / "out.txt").stat().st_mode)
    assert got == 0o666 & ~mask == stat.S_IMODE(reference.stat().st_mode)


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
