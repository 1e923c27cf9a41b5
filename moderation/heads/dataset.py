"""The training and held-out examples for the policy heads: JSON lines the project owns.

Each line is ``{"text", "label", "also", "kind", "role", "lang"}`` (see ``policies/training/DATASHEET.md``).
A line may breach more than one category: ``label`` is the main one, ``also`` the others; ``none`` marks
an ordinary message (a hard negative where it looks like a breach).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from moderation.errors import PolicyError
from moderation.types import Category

__all__ = [
    "HEAD_CATEGORIES",
    "NONE_LABEL",
    "Example",
    "default_training_dir",
    "load_examples",
    "read_examples",
    "text_key",
    "texts_of",
]

HEAD_CATEGORIES: tuple[Category, ...] = (
    Category.SAFEGUARDING,
    Category.STAFF_CONDUCT,
    Category.INCITEMENT,
    Category.EXTREMISM,
    Category.DEFAMATION,
    Category.HARASSMENT,
    Category.CIVILITY,
    Category.SEXUAL,
)
"""The categories a trained head scores (personal data and photos have exact detectors instead)."""
NONE_LABEL = "none"
_LABELS = frozenset({NONE_LABEL, *(category.value for category in HEAD_CATEGORIES)})
_MAX_TEXT = 4000


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message."""

    text: str
    categories: frozenset[Category]
    kind: str = ""
    role: str = "learner"
    source: str = ""
    """Where it came from: a file name, or ``case:<id>`` for a moderator's verdict."""

    def has(self, category: Category) -> bool:
        """Whether the example breaches ``category``."""
        return category in self.categories


def default_training_dir() -> Path:
    """The project's own data, shipped inside the ``policies`` package."""
    return Path(__file__).resolve().parents[2] / "policies" / "training"


def read_examples(path: Path) -> list[Example]:
    """Read one JSON-lines file of examples.

    Raises:
        PolicyError: a line is not a valid example (the message names the file and line).
    """
    examples: list[Example] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read training data {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            examples.append(_example(json.loads(line), path.name))
        except (ValueError, TypeError, KeyError) as exc:
            raise PolicyError(f"{path}:{number}: not a training example ({exc})") from exc
    return examples


def load_examples(folder: Path, *, exclude: Iterable[str] = ()) -> list[Example]:
    """Read every ``*.jsonl`` file in ``folder`` (sorted), dropping texts that are in ``exclude``.

    ``exclude`` is usually the held-out split's texts, so a line written into both splits never
    trains the heads that the held-out split measures.
    """
    excluded = {text_key(text) for text in exclude}
    examples = [
        example
        for path in sorted(folder.glob("*.jsonl"))
        for example in read_examples(path)
        if text_key(example.text) not in excluded
    ]
    if not examples:
        raise PolicyError(f"no training examples in {folder} (expected *.jsonl files)")
    return examples


def texts_of(examples: Sequence[Example]) -> list[str]:
    """The examples' texts, in order."""
    return [example.text for example in examples]


def _example(item: object, source: str) -> Example:
    if not isinstance(item, dict):
        raise TypeError("expected a JSON object")
    text, label = item["text"], item["label"]
    if not isinstance(text, str) or not text.strip() or len(text) > _MAX_TEXT:
        raise ValueError(f"text must be a non-empty string of at most {_MAX_TEXT} characters")
    also = item.get("also") or []
    labels = [label, *also] if isinstance(also, list) else [label]
    unknown = [name for name in labels if name not in _LABELS]
    if unknown:
        raise ValueError(f"unknown label {unknown[0]!r}")
    categories = frozenset(Category(name) for name in labels if name != NONE_LABEL)
    return Example(
        text=text,
        categories=categories,
        kind=str(item.get("kind") or ""),
        role=str(item.get("role") or "learner"),
        source=source,
    )


def text_key(text: str) -> str:
    """How two texts are compared as the same line: ignoring case and runs of whitespace."""
    return " ".join(text.casefold().split())
