"""``genomefactory-cli download`` without a config: ask for species or links and options, then download.

Every answer is validated on the spot (unknown species get suggestions and the question is asked again);
defaults are shown in brackets and taken on an empty answer. The equivalent YAML is printed and saved as
``download_config.yaml`` in the output folder so the run can be repeated without prompts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ..config import ConfigError, validate_dict
from ..errors import DataError
from ..io import atomic_write_text
from .config import NCBI_BASE_URL, DownloadConfig, DownloadResult
from .links import link_filename
from .ncbi import species_table, taxon_for

T = TypeVar("T")
_LEVELS = ("complete_genome", "chromosome", "scaffold", "contig")


class Prompter:
    def __init__(self, read: Callable[[str], str] = input, write: Callable[[str], Any] = print) -> None:
        self.read, self.write = read, write

    def ask(self, question: str, default: str, parse: Callable[[str], T]) -> T:
        while True:
            try:
                raw = self.read(f"{question} [{default}]: " if default else f"{question}: ").strip()
            except EOFError:
                raise SystemExit("\ninput closed; nothing downloaded") from None
            try:
                return parse(raw or default)
            except ValueError as exc:
                self.write(f"  ! {exc}")


def _yes(raw: str) -> bool:
    if raw.lower() in ("y", "yes"):
        return True
    if raw.lower() in ("n", "no"):
        return False
    raise DataError(f"answer y or n, not {raw!r}")


def _items(raw: str) -> list[str]:
    return [x.strip() for x in raw.split(",") if x.strip()]


def _species(table: dict[str, int]) -> Callable[[str], tuple[list[str], list[int]]]:
    def parse(raw: str) -> tuple[list[str], list[int]]:
        names, taxa = [], []
        for item in _items(raw):
            if item.isdigit():
                taxa.append(int(item))
            else:
                taxon_for(item, table)
                names.append(item)
        if not names and not taxa:
            raise DataError("give at least one species name or taxon id")
        return names, taxa

    return parse


def _levels(raw: str) -> list[str]:
    levels = [] if raw == "all" else _items(raw)
    bad = [x for x in levels if x not in _LEVELS]
    if bad:
        raise DataError(f"unknown assembly level(s) {bad}; choose from {', '.join(_LEVELS)} or 'all'")
    return levels


def _links(raw: str) -> list[str]:
    links = _items(raw)
    if not links:
        raise DataError("give at least one http(s) link")
    for url in links:
        link_filename(url)
    return links


def _positive(raw: str) -> int:
    n = int(raw)
    if n < 1:
        raise DataError("give a whole number of at least 1")
    return n


def collect_answers(p: Prompter) -> dict[str, Any]:
    """Ask the questions; returns a DownloadConfig-shaped mapping."""
    mode = p.ask("Download by species or link", "species", lambda r: _pick(r, ("species", "link")))
    data: dict[str, Any] = {}
    if mode == "species":
        names, taxa = p.ask(
            "Species names or taxon ids, comma-separated (e.g. Homo sapiens, 10090)",
            "",
            _species(species_table()),
        )
        data.update(species=names, taxa=taxa)
        data["reference_only"] = p.ask("Reference genomes only? (y/n)", "y", _yes)
        data["assembly_levels"] = p.ask(f"Assembly levels ({', '.join(_LEVELS)} or all)", "all", _levels)
        data["limit_per_taxon"] = p.ask("Genomes per species", "1", _positive)
    else:
        data["links"] = p.ask("Links (http/https, .gz is fine), comma-separated", "", _links)
    data["output_dir"] = p.ask("Output folder", "downloads", str)
    data["base_url"] = p.ask("NCBI Datasets base URL", NCBI_BASE_URL, str)
    return data


def _pick(raw: str, options: tuple[str, ...]) -> str:
    match = [o for o in options if o.startswith(raw.lower())]
    if len(match) != 1:
        raise DataError(f"choose one of {', '.join(options)}")
    return match[0]


def main(read: Callable[[str], str] = input, write: Callable[[str], Any] = print) -> DownloadResult | None:
    """Run the interactive download; returns the result, or None if the user declined."""
    p = Prompter(read, write)
    write("genomefactory download: answer the questions (Enter takes the default in brackets, Ctrl-C quits).")
    data = collect_answers(p)
    try:
        cfg = validate_dict(DownloadConfig, data, "interactive answers")
    except ConfigError as exc:
        write(str(exc))
        return None
    text = yaml.safe_dump(cfg.model_dump(mode="json", exclude_defaults=True), sort_keys=False)
    write("Equivalent config:\n" + text)
    if not p.ask("Start the download? (y/n)", "y", _yes):
        write("nothing downloaded")
        return None
    from .download import run_download

    result = run_download(cfg)
    atomic_write_text(Path(cfg.output_dir) / "download_config.yaml", text)
    write(result.summary())
    sys.stdout.flush()
    return result


if __name__ == "__main__":
    main()
