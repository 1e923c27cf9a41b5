"""Add a new round of written examples to the training data, keeping only what is new.

    .venv/bin/python bench/new_round.py round11_staff=/tmp/out_staff.jsonl [NAME=FILE ...]

Each FILE is checked line by line as training data (``moderation.heads.dataset``), then a line is
dropped when it repeats (ignoring case, punctuation and spacing) or nearly repeats
(``moderation.heads.near_copies``, cosine 0.72 or more) any training line already there, any held-out
line, or a line kept before it from this round. What is kept is written to
``policies/training/train/NAME.jsonl`` as it was written; the counts are printed for the datasheet.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moderation.heads.dataset import default_training_dir, read_examples
from moderation.heads.near_copies import NEAR_COPY, among, closest


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rounds", nargs="+", metavar="NAME=FILE")
    args = parser.parse_args()
    folder = default_training_dir()
    earlier = [
        example.text
        for path in [*sorted((folder / "train").glob("*.jsonl")), folder / "heldout" / "heldout.jsonl"]
        for example in read_examples(path)
    ]
    written: list[tuple[str, str]] = []  # (name, the line as written)
    for pair in args.rounds:
        name, _, file = pair.partition("=")
        read_examples(Path(file))  # every line a valid example, or a clear error naming it
        written += [
            (name, line) for line in Path(file).read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    texts = [json.loads(line)["text"] for _, line in written]
    near_earlier = closest(texts, earlier)
    pairs = among(texts)
    seen = {_key(text) for text in earlier}
    kept: list[int] = []
    dropped = {"same as an earlier line": 0, "near an earlier line": 0, "near a line of this round": 0}
    for index, text in enumerate(texts):
        if _key(text) in seen:
            dropped["same as an earlier line"] += 1
        elif near_earlier[index] >= NEAR_COPY:
            dropped["near an earlier line"] += 1
        elif kept and float(np.max(pairs[index, kept])) >= NEAR_COPY:
            dropped["near a line of this round"] += 1
        else:
            seen.add(_key(text))
            kept.append(index)
    for name in dict.fromkeys(name for name, _ in written):
        lines = [written[index][1] for index in kept if written[index][0] == name]
        if lines:
            (folder / "train" / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"train/{name}.jsonl: {len(lines)} lines" + ("" if lines else " (not written)"))
    print(f"written {len(texts)}, kept {len(kept)}, dropped {dropped}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
