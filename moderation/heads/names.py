"""People's names in the training data, swapped for others so that no name decides a category.

The data was written with invented names, and some recur mostly in breaches ("Tariq" in 22 of 28 lines,
most of them harassment or defamation), so a head learnt the name itself: "Sorry Tariq, I was angry"
was flagged as harassment where "Sorry Ben, I was angry" was not, through the encoder's embedding of the
name as well as its n-grams. Before training, every name of ``names_in_data.txt`` in a training line is
replaced by one drawn from ``name_pool.txt`` (600 given names from the backgrounds of the service's
learners), the same name for the same name within a line and chosen from the line's own text, so
training is reproducible. The presence of a name (a message addressed to someone) still counts; which
name it is no longer does. ``bench/name_bias.py`` measures it with names no list contains.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from moderation.errors import PolicyError
from moderation.heads.dataset import Example, default_training_dir

__all__ = ["NAMES", "NameSwap"]

NAMES = "names"
"""The folder of the training data that holds the name lists."""
_WORD = re.compile(r"\b[^\W\d_]+\b")


@dataclass(frozen=True, slots=True)
class NameSwap:
    """Which words are names in the data, and the names put in their place."""

    anywhere: frozenset[str]
    """Names matched in any case (casefolded): they are not ordinary words."""
    capitalised: frozenset[str]
    """Names that are also ordinary words (Grace, Will): matched only when capitalised."""
    pool: tuple[str, ...]

    @classmethod
    def shipped(cls, folder: Path | None = None) -> NameSwap:
        """The lists in ``policies/training/names/``.

        Raises:
            PolicyError: a list is missing or malformed.
        """
        folder = folder or default_training_dir() / NAMES
        try:
            listed = (folder / "names_in_data.txt").read_text(encoding="utf-8").splitlines()
            pool = tuple(
                line.strip()
                for line in (folder / "name_pool.txt").read_text(encoding="utf-8").splitlines()
                if line.strip()
            )
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read the name lists in {folder}: {exc}") from exc
        anywhere: set[str] = set()
        capitalised: set[str] = set()
        for number, line in enumerate(listed, start=1):
            if not line.strip():
                continue
            name, _, flag = line.partition("\t")
            if flag.strip() not in ("any", "cap") or not name.strip():
                raise PolicyError(f"{folder / 'names_in_data.txt'}:{number}: expected NAME<TAB>any|cap")
            (anywhere if flag.strip() == "any" else capitalised).add(name.strip().casefold())
        if not pool:
            raise PolicyError(f"{folder / 'name_pool.txt'} has no names")
        return cls(frozenset(anywhere), frozenset(capitalised), pool)

    def swap(self, text: str) -> str:
        """The text with each listed name replaced (lower case kept lower case)."""
        seed = hashlib.sha256(text.encode("utf-8")).digest()
        chosen: dict[str, str] = {}

        def replacement(match: re.Match[str]) -> str:
            word = match.group(0)
            key = word.casefold()
            is_name = key in self.anywhere or (key in self.capitalised and word[:1].isupper())
            if not is_name:
                return word
            if key not in chosen:
                index = int.from_bytes(hashlib.sha256(seed + key.encode("utf-8")).digest()[:4], "big")
                chosen[key] = self.pool[index % len(self.pool)]
            name = chosen[key]
            return name.lower() if word.islower() else name

        return _WORD.sub(replacement, text)

    def examples(self, examples: Sequence[Example]) -> list[Example]:
        """The examples with their names swapped (labels, kinds and roles unchanged)."""
        return [replace(example, text=self.swap(example.text)) for example in examples]
