"""`genomefactory-cli download` with no config, driven through a pseudo-terminal like a user would."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from .ncbi_server import NCBIServer


class Terminal:
    """A tiny expect: a child process on a pty, read until a prompt appears, then answer."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "TERM": "dumb", "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, close_fds=True
        )
        os.close(slave)
        self.buffer = ""

    def expect(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"timed out waiting for {text!r}; screen so far:\n{self.buffer}")
            try:
                chunk = os.read(self.master, 4096).decode(errors="replace")
            except OSError:  # child closed the terminal
                chunk = ""
            if not chunk:
                raise AssertionError(f"process ended before {text!r}; screen:\n{self.buffer}")
            self.buffer += chunk
        before, _, self.buffer = self.buffer.partition(text)
        return before

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def close(self) -> int:
        code = self.proc.wait(timeout=30)
        os.close(self.master)
        return code


def test_interactive_species_download_through_a_pty(ncbi: NCBIServer, tmp_path: Path) -> None:
    term = Terminal([sys.executable, "-m", "genomefactory", "download"], tmp_path)
    term.expect("Download by species or link [species]:")
    term.send("")
    term.expect("comma-separated (e.g. Homo sapiens, 10090):")
    term.send("Corynebacterium diphtheria")  # typo: must be rejected with a suggestion, then asked again
    shown = term.expect("comma-separated (e.g. Homo sapiens, 10090):")
    assert "Did you mean 'Corynebacterium diphtheriae'" in shown
    term.send("Corynebacterium diphtheriae")
    term.expect("Reference genomes only? (y/n) [y]:")
    term.send("maybe")
    assert "answer y or n" in term.expect("Reference genomes only? (y/n) [y]:")
    term.send("")
    term.expect("or all) [all]:")
    term.send("complete_genome")
    term.expect("Genomes per species [1]:")
    term.send("0")
    assert "at least 1" in term.expect("Genomes per species [1]:")
    term.send("1")
    term.expect("Output folder [downloads]:")
    term.send("genomes")
    term.expect("base URL [")
    term.expect("]:")
    term.send(ncbi.url)
    term.expect("Start the download? (y/n) [y]:")
    term.send("y")
    out = term.expect("downloaded 1 genome(s)", timeout=60)
    assert "Traceback" not in out
    assert term.close() == 0
    fna = tmp_path / "genomes" / "GCF_001457455.1" / "GCF_001457455.1_NCTC11397_genomic.fna"
    assert fna.read_bytes() == ncbi.fasta_bytes("GCF_001457455.1")
    saved = (tmp_path / "genomes" / "download_config.yaml").read_text()
    assert "complete_genome" in saved and "Corynebacterium diphtheriae" in saved
    q = next(e["query"] for e in ncbi.log if e["path"].endswith("/dataset_report"))
    assert q["filters.assembly_level"] == ["complete_genome"]


def test_interactive_link_mode_validates_urls(ncbi: NCBIServer, tmp_path: Path) -> None:
    term = Terminal([sys.executable, "-m", "genomefactory.collect.interactive"], tmp_path)
    term.expect("[species]:")
    term.send("link")
    term.expect("comma-separated:")
    term.send("ftp://example.org/x.fa")
    assert "must start with http" in term.expect("comma-separated:")
    term.send(f"{ncbi.url}/files/lambda_NC_001416.1.fasta.gz")
    term.expect("Output folder [downloads]:")
    term.send("")
    term.expect("]:")
    term.send("")
    term.expect("(y/n) [y]:")
    term.send("n")
    term.expect("nothing downloaded")
    assert term.close() == 0
    assert not (tmp_path / "downloads").exists()
