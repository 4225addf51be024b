"""Motifs: a motif database (JASPAR via pyjaspar, or a MEME file), TOMTOM matching (memelite), TF-MoDISco
discovery on attributions (modisco-lite), FIMO scanning, logos (logomaker), the ``motifs`` command and the motif
readouts of ``sae_regression``. Matrices are (4, width) A/C/G/T for databases and scanning, (width, 4) for
discovered patterns and logos (modisco's layout)."""

from __future__ import annotations

from .database import Motif, MotifDB, load_jaspar, load_motif_db, read_meme, write_meme

__all__ = ["Motif", "MotifDB", "load_jaspar", "load_motif_db", "read_meme", "write_meme"]
