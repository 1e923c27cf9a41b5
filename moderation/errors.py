"""The error family, grouped by who must act.

    ModerationError
    ├── PolicyError    the policy file is wrong: fix the file named in the message
    ├── ScorerError    a scorer could not load or run: see the setting or file named
    ├── AdapterError   a platform refused or failed an action: recorded on the case (bot/errors.py)
    └── StorageError   the database could not be reached or written: see the URL setting (bot/errors.py)

Every message says what happened and what to do about it, and never contains message text.
"""

from __future__ import annotations

__all__ = ["ModerationError", "PolicyError", "ScorerError"]


class ModerationError(Exception):
    """Base class of every error classmod raises on purpose."""


class PolicyError(ModerationError):
    """A policy file is missing, malformed or inconsistent.

    Args:
        message: what is wrong and how to fix it.
        path: the policy file, when known.
        line: the 1-based line in that file, when known.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = path or "policy"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class ScorerError(ModerationError):
    """A scorer could not be loaded or failed while scoring."""
