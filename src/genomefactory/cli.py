"""``genomefactory-cli COMMAND [config.yaml] [key=value ...]`` — the CLI is a table.

Each row of :data:`COMMANDS` names a config class and the function that runs it; the same functions are the
Python API. ``--help`` output is generated from the config classes' field descriptions (written once).

Start-up is fast: ``--help``, ``models`` and ``COMMAND --help`` import only the config classes (no torch,
transformers or gradio); a command's implementation is imported when it runs, after its optional packages were
checked (a missing one is one line naming the ``pip install`` that fixes it).

Errors: a :class:`~genomefactory.errors.UserError` (bad config, bad data, missing file, refused download) is one
``error:`` line on stderr and exit code 2; anything else is a bug and keeps its traceback. A command's result may
carry an ``exit_code`` attribute (a benchmark sweep in which cells failed: 1); the CLI prints the summary, then
exits with it.
"""

from __future__ import annotations

import sys
from typing import Any

from .commands import COMMANDS, EXTRA, Command, _load, available_commands, check_needs
from .config import describe_config, load_config
from .errors import UserError

__all__ = ["COMMANDS", "Command", "_load", "available_commands", "main"]


def _consoles() -> tuple[Any, Any]:
    from rich.console import Console

    # piped output (files, tests, the web UI) gets wide tables instead of folded cells; no markup is parsed in
    # messages (a path like "runs/[x]" is printed as it is) and long error lines are never wrapped
    out = Console(width=None if sys.stdout.isatty() else 220, highlight=False)
    err = Console(stderr=True, width=None if sys.stderr.isatty() else 220, highlight=False, soft_wrap=True)
    return out, err


def _table(*columns: str, expand: bool = False) -> Any:
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", expand=expand)
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def _say(console: Any, text: str, style: str | None = None) -> None:
    console.print(text, markup=False, style=style)


def print_overview(console: Any) -> None:
    _say(console, "genomefactory-cli COMMAND [config.yaml] [key=value ...]\n", style="bold")
    table = _table("command", "what it does")
    for name, cmd in available_commands().items():
        table.add_row(name, cmd.help)
    for name, text in EXTRA.items():
        table.add_row(name, text)
    console.print(table)
    _say(
        console,
        "`genomefactory-cli COMMAND --help` lists every config key with its type, default and meaning.",
    )
    _say(console, "Overrides use dotted paths, e.g. training.epochs=3 model.family=dnabert2.")


def print_command_help(console: Any, name: str, cmd: Command) -> None:
    cls = _load(cmd.config)
    _say(console, f"genomefactory-cli {name} [config.yaml] [key=value ...]", style="bold")
    _say(console, f"{cmd.help}\n")
    table = _table("key", "type", "default", "meaning", expand=True)
    for key, typ, default, text in describe_config(cls):
        table.add_row(_escape(key), _escape(typ), _escape(default), _escape(text))
    console.print(table)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_models(console: Any) -> None:
    from .models.registry import all_families

    table = _table("family", "kind", "variant", "hub id", "description")
    for fam in all_families():
        for i, (variant, hub) in enumerate(fam.variants.items()):
            first = i == 0
            table.add_row(
                fam.name if first else "",
                fam.kind if first else "",
                variant,
                _escape(hub or "-"),
                _escape(fam.description) if first else "",
            )
    console.print(table)


def _summarise(console: Any, result: Any) -> None:
    summary = getattr(result, "summary", None)
    if callable(summary):
        _say(console, str(summary()))
    elif result is not None:
        _say(console, str(result))


def error_line(exc: BaseException) -> str:
    """The one line the CLI prints for a user error: the message with its lines joined."""
    parts = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "error: " + (" ".join(parts) or type(exc).__name__)


def _fail(err: Any, message: str) -> int:
    _say(err, message, style="red")
    return 2


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    console, err = _consoles()
    if not args or args[0] in ("-h", "--help"):
        print_overview(console)
        return 0
    name, rest = args[0], args[1:]
    if name == "models":
        print_models(console)
        return 0
    if name == "help":
        name, rest = (rest[0], ["--help"]) if rest and rest[0] not in ("-h", "--help") else ("", [])
        if not name:
            print_overview(console)
            return 0
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, [*COMMANDS, *EXTRA], n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return _fail(err, f"error: unknown command {name!r}.{hint} Run `genomefactory-cli --help`.")
    cmd = COMMANDS[name]  # only this command's modules are imported (fast start)
    if "-h" in rest or "--help" in rest:
        print_command_help(console, name, cmd)
        return 0
    return _run(console, err, name, cmd, rest)


def _run(console: Any, err: Any, name: str, cmd: Command, rest: list[str]) -> int:
    path = rest[0] if rest and "=" not in rest[0] else None
    overrides = rest[1:] if path is not None else rest
    try:
        check_needs(name, cmd)
        if path is None and cmd.no_config and not overrides:
            _load(cmd.no_config)()
            return 0
        if path is None and not cmd.config_optional and not overrides:
            return _fail(err, f"error: `{name}` needs a config file: genomefactory-cli {name} config.yaml")
        cfg = load_config(_load(cmd.config), path, overrides)
        result = _load(cmd.run)(cfg)
    except UserError as exc:
        return _fail(err, error_line(exc))
    except OSError as exc:
        if exc.filename is None:  # not about a named file: a bug or a system failure, keep the traceback
            raise
        # the file system refused a path the user gave (permission, no space, not a directory): their error
        return _fail(err, f"error: {exc.strerror or exc}: {exc.filename}")
    except KeyboardInterrupt:
        _say(err, "interrupted", style="yellow")
        return 130
    _summarise(console, result)
    # a result may carry its own status (a sweep with failed cells): printed in full above, then exit with it
    return int(getattr(result, "exit_code", 0) or 0)


if __name__ == "__main__":
    sys.exit(main())
