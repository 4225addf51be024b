"""The one user-error type.

Every error a user can cause — a bad config, bad data, a missing file, a refused download — is a
:class:`UserError` (or a subclass). The CLI catches exactly this type: one ``error:`` line, exit code 2, no
partially-created output. Any other exception is a bug and keeps its traceback.

Subclasses also derive from the built-in type a caller would expect (``ValueError`` for bad values,
``FileNotFoundError`` for missing files, ``KeyError`` for unknown names), so ``except ValueError`` in user code
keeps working. This module imports nothing heavy: it sits in the bottom layer.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "MissingExtraError",
    "UserError",
    "UserFileNotFoundError",
    "UserOSError",
    "missing_extra",
]


class UserError(Exception):
    """An error the user can fix; the message says what is wrong (file, row, key, value) and how to fix it."""


class DataError(UserError, ValueError):
    """Bad input data (a record, row, column or value); the message names the file, row and value."""


class UserOSError(UserError, OSError):
    """A file-system or network problem caused by the user's input (permissions, refused connection ...)."""


class UserFileNotFoundError(UserError, FileNotFoundError):
    """A file or folder named by the user does not exist."""


class MissingExtraError(UserError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` that fixes it."""


def missing_extra(what: str, package: str, extra: str | None = None) -> MissingExtraError:
    """The error for a missing optional package: ``raise missing_extra("the web UI", "gradio", "webui")``."""
    fix = f'pip install "genomefactory[{extra}]"' if extra else f"pip install {package}"
    return MissingExtraError(f"{what} needs the package {package!r}, which is not installed: {fix}")
