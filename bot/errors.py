"""The outer layer's errors: a platform that refused or failed, a store that could not be reached.

They belong to the bot and its adapters, not to the core, which neither calls a platform nor stores
anything; both are :class:`~moderation.errors.ModerationError` s, so one ``except`` still catches every
error classmod raises on purpose.
"""

from __future__ import annotations

from moderation.errors import ModerationError

__all__ = ["AdapterError", "StorageError"]


class AdapterError(ModerationError):
    """A platform action failed; ``retryable`` says whether trying again may help.

    ``is_gone`` says the platform no longer has what the action was for (the message to delete is
    not found): after a restart, a delete that was in flight and now finds nothing was done.
    """

    def __init__(self, message: str, *, retryable: bool = False, is_gone: bool = False) -> None:
        self.retryable = retryable
        self.is_gone = is_gone
        super().__init__(message)


class StorageError(ModerationError):
    """The case store could not be reached or written."""
