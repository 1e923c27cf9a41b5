"""Does a name decide a flag? Ordinary messages with a person's name in them, as the whole bot decides.

Run it with ``.venv/bin/python bench/name_bias.py``. Each of a dozen ordinary class-chat messages that
address or mention someone ("Sorry NAME, I was angry", "well done NAME") is filled with each name of two
lists, and decided as ``classmod check`` decides it (heads on, no Detoxify):

* the names the training data uses most (from ``policies/training/names/names_in_data.txt``, ranked by
  how many training lines use them): the names a head could have learnt;
* ``bench/name_bias_names.txt``: names that no training list contains, from the same backgrounds.

Nothing here breaches the policy, so every flag is a false positive. It prints the share flagged per list,
how many decisions the name alone decided (some names flagged, others not, in the same message), the
share of names flagged per message, and writes ``bench/results/name-bias-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.heads import plain_model_dir, write_results  # noqa: E402
from bench.heads_eval import decide_all  # noqa: E402
from bot.config import load_settings  # noqa: E402
from moderation.heads.dataset import Example, default_training_dir  # noqa: E402
from moderation.policy import load_policy  # noqa: E402

TEMPLATES = (
    "Sorry {name}, I was angry",
    "That is very kind {name}",
    "thank you {name} see you monday",
    "{name} can you send me the homework pls",
    "happy birthday {name} 🎂🎉",
    "well done {name}, great presentation",
    "{name} is not in class today, she is at the doctor",
    "i sit next to {name} in maths",
    "{name} what page are we on?",
    "good luck in your test {name} 🙏",
    "{name} and me will bring the cake on friday",
    "ask {name}, he knows the bus times",
)
HELD_APART = ROOT / "bench" / "name_bias_names.txt"
_MOST_USED = 60


def names_from_data(count: int = _MOST_USED) -> list[str]:
    """The names of ``names_in_data.txt`` that the most training lines use."""
    folder = default_training_dir()
    listed = [
        line.split("\t")[0].strip()
        for line in (folder / "names" / "names_in_data.txt").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    words: Counter[str] = Counter()
    for path in sorted((folder / "train").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                words.update({word.casefold() for word in re.findall(r"\w+", json.loads(line)["text"])})
    return sorted(listed, key=lambda name: -words[name.casefold()])[:count]


def flag_rates(names: Sequence[str], flagged: Sequence[set[str]]) -> dict[str, Any]:
    """Flags per list; and how many decisions turn on the name alone.

    A message flagged whatever the name is a false positive of its words; where some names are flagged
    and others not, the name decided: ``name_decided`` counts the names whose decision differs from
    what most names got with the same message.
    """
    decisions = [
        [bool(flagged[index * len(TEMPLATES) + number]) for index in range(len(names))]
        for number in range(len(TEMPLATES))
    ]
    name_decided = sum(min(sum(row), len(row) - sum(row)) for row in decisions)
    counts = Counter(
        {
            name: sum(1 for number in range(len(TEMPLATES)) if decisions[number][index])
            for index, name in enumerate(names)
        }
    )
    total = sum(counts.values())
    messages = len(names) * len(TEMPLATES)
    return {
        "names": len(names),
        "messages": messages,
        "flagged": total,
        "share_flagged": total / messages,
        "name_decided": name_decided,
        "share_name_decided": name_decided / messages,
        "per_message": {
            template: sum(decisions[number]) / len(names) for number, template in enumerate(TEMPLATES)
        },
        "most_flagged": [{"name": name, "flagged": count} for name, count in counts.most_common(10) if count],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, help="default bench/results/name-bias-<date>.json")
    args = parser.parse_args(argv)
    lists = {
        "used most in the training data": names_from_data(),
        "in no training list": [
            line.strip() for line in HELD_APART.read_text(encoding="utf-8").splitlines() if line.strip()
        ],
    }
    settings = load_settings(model_dir=plain_model_dir(), heads=True, require_detoxify=False)
    policy = load_policy(settings.policy_file)
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "lists": {}}
    for label, names in lists.items():
        examples = [
            Example(text=template.format(name=name), categories=frozenset())
            for name in names
            for template in TEMPLATES
        ]
        results["scorer"], flagged = decide_all(examples, settings, policy)
        results["lists"][label] = flag_rates(names, flagged)
    print(f"Name bias, {results['when']}, {results['scorer']}: {len(TEMPLATES)} ordinary messages per name\n")
    print("| names | names | messages flagged | decided by the name | flagged most |")
    print("|---|---|---|---|---|")
    for label, row in results["lists"].items():
        worst = ", ".join(f"{item['name']} {item['flagged']}" for item in row["most_flagged"][:5]) or "-"
        print(
            f"| {label} | {row['names']} | {row['flagged']}/{row['messages']} ({row['share_flagged']:.3f}) | "
            f"{row['name_decided']} ({row['share_name_decided']:.3f}) | {worst} |"
        )
    print("\nShare of names flagged, per message:\n")
    print("| message | " + " | ".join(results["lists"]) + " |")
    print("|---|" + "---|" * len(results["lists"]))
    for template in TEMPLATES:
        shares = " | ".join(f"{row['per_message'][template]:.2f}" for row in results["lists"].values())
        print(f"| {template} | {shares} |")
    write_results(results, args.json, "name-bias")
    return 0


if __name__ == "__main__":
    sys.exit(main())
