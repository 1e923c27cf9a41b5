"""Sealing values with the operator's keys: case texts and notes encrypted at rest.

A sealed value is ``sealed:v1:`` followed by a Fernet token (AES-128-CBC with an HMAC-SHA256 over
it, from the ``cryptography`` library): a stolen database file holds no learner's words, and a
token changed on disk fails to open instead of reading as something else. The keys come from
``CLASSMOD_DATA_KEYS``, newest first: the first seals, every one opens, so a new key can be put in
front, the store re-sealed (``classmod keys rotate``) and the old key then removed.

A value without the marker is plain text written before sealing was turned on; it is read as it is.
No key, its text or a value is ever put into an error message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.errors import StorageError

__all__ = ["KEYS_VARIABLE", "MARKER", "Sealer", "check_keys", "new_key", "split_keys"]

MARKER = "sealed:v1:"
"""What every sealed value starts with."""
# A plain text that happens to start like a sealed value (a learner may type one) is stored behind
# this, so it is never mistaken for a sealed value, without keys or with them.
_ESCAPE = "plain:"
_SEALED_FAMILY = "sealed:"
KEYS_VARIABLE = "CLASSMOD_DATA_KEYS"
_NO_KEY = (
    "the case store holds encrypted case texts: set CLASSMOD_DATA_KEYS to the key(s) they were sealed with"
)
_WRONG_KEY = (
    "cannot decrypt case texts with the keys in CLASSMOD_DATA_KEYS: none of them sealed the texts "
    "stored (or a stored value was altered); give the key(s) they were sealed with, newest first"
)


def new_key() -> str:
    """A new random key for ``CLASSMOD_DATA_KEYS`` (32 bytes, URL-safe base64)."""
    return Fernet.generate_key().decode("ascii")


def split_keys(keys: str) -> list[str]:
    """The keys in a comma-separated list, blanks around them and empty entries left out."""
    return [key.strip() for key in keys.split(",") if key.strip()]


def check_keys(keys: str) -> str:
    """Return ``keys`` if it is a comma-separated list of at least one valid key.

    Raises:
        ValueError: no key, or one that is not a key; the message says which by position only.

    """
    found = split_keys(keys)
    if not found:
        raise ValueError(
            "holds no key: give one or more keys made by `classmod keys generate`, comma-separated"
        )
    for position, key in enumerate(found, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ValueError(
                f"key {position} of {len(found)} is not a valid key (32 bytes in URL-safe base64): "
                "make one with `classmod keys generate`"
            ) from None
    return keys


class Sealer:
    """Seals and opens values with the operator's keys (the first seals, all open).

    A sealer without keys seals nothing and opens only plain values: sealed ones raise
    :class:`StorageError` saying which setting is missing.

    Raises:
        ValueError: a key is not a valid key.

    """

    __slots__ = ("_fernet", "_newest")

    def __init__(self, keys: Sequence[str] = ()) -> None:
        if keys:
            check_keys(",".join(keys))
        fernets = [Fernet(key) for key in keys]
        self._newest = fernets[0] if fernets else None
        self._fernet = MultiFernet(fernets) if fernets else None

    @classmethod
    def of(cls, keys: str | None) -> Sealer:
        """The sealer for a ``CLASSMOD_DATA_KEYS`` value (None: no keys, nothing sealed)."""
        return cls(split_keys(keys) if keys else ())

    @property
    def is_enabled(self) -> bool:
        """Whether there is a key to seal with."""
        return self._fernet is not None

    @staticmethod
    def is_sealed(value: str | None) -> bool:
        """Whether ``value`` is sealed (starts with :data:`MARKER`)."""
        return value is not None and value.startswith(MARKER)

    @overload
    def seal(self, text: str) -> str: ...
    @overload
    def seal(self, text: None) -> None: ...
    def seal(self, text: str | None) -> str | None:
        """``text`` sealed with the newest key; unchanged without keys (and None stays None)."""
        if text is None:
            return None
        if self._fernet is None:
            return _ESCAPE + text if _looks_sealed(text) else text
        return MARKER + self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    @overload
    def open(self, value: str) -> str: ...
    @overload
    def open(self, value: None) -> None: ...
    def open(self, value: str | None) -> str | None:
        """The text in ``value``; a plain value (stored before sealing was turned on) as it is.

        Raises:
            StorageError: the value is sealed and there is no key, or no key opens it.

        """
        if value is None:
            return None
        if value.startswith(_ESCAPE) and _looks_sealed(value):
            return value[len(_ESCAPE) :]
        if not self.is_sealed(value):
            return value
        if self._fernet is None:
            raise StorageError(_NO_KEY)
        try:
            return self._fernet.decrypt(value[len(MARKER) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise StorageError(_WRONG_KEY) from None

    def is_current(self, value: str | None) -> bool:
        """Whether ``value`` is sealed with the newest key (re-sealing it would change nothing)."""
        if value is None or self._newest is None or not self.is_sealed(value):
            return False
        try:
            self._newest.decrypt(value[len(MARKER) :].encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def rotate(self, value: str) -> str:
        """``value`` sealed again with the newest key; a plain value gets sealed.

        Raises:
            StorageError: there is no key, or no key opens the value.

        """
        if self._fernet is None:
            raise StorageError(f"there is no key to seal with: set {KEYS_VARIABLE} (newest key first)")
        return self.seal(self.open(value))


def _looks_sealed(text: str) -> bool:
    """Whether ``text``, once any leading escapes are set aside, starts like a sealed value."""
    while text.startswith(_ESCAPE):
        text = text[len(_ESCAPE) :]
    return text.startswith(_SEALED_FAMILY)
