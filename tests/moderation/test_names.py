"""No name decides a category: the names in the training data are swapped before the heads learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from moderation.heads.dataset import HEAD_CATEGORIES, Example, read_examples
from moderation.heads.model import load_heads
from moderation.heads.names import NameSwap
from moderation.heads.training import train_heads
from moderation.types import Category
from tests.tinyencoder import TinyEncoder

SWAP = NameSwap(
    anywhere=frozenset({"zoltan", "ben", "amy", "kasia"}),
    capitalised=frozenset({"grace"}),
    pool=tuple(f"Name{letter}" for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
)
INSULTS = [
    "you are so stupid",
    "nobody likes you",
    "shut up idiot",
    "you are a loser",
    "go away freak",
    "ur so thick honestly",
    "everyone hates you",
    "you smell bad",
    "stop talking clown",
    "you are useless",
    "get lost weirdo",
    "you are pathetic",
    "what a moron",
    "no one asked you",
    "you are a joke",
    "ur english is rubbish",
    "keep quiet dummy",
    "youre so annoying",
    "total idiot",
    "you are worthless",
]
FRIENDLY = [
    "thank you",
    "see you monday",
    "well done",
    "happy birthday",
    "good luck today",
    "nice work",
    "can you help me",
    "see you later",
    "great idea",
    "thanks for the notes",
    "welcome back",
    "how are you",
    "good morning",
    "have a nice day",
    "congratulations",
    "what page are we on",
    "are you coming",
    "i liked your story",
    "safe trip home",
    "nice to meet you",
]


def test_listed_names_are_swapped_consistently_and_other_words_are_not() -> None:
    swapped = SWAP.swap("zoltan said Zoltan and grace will help Grace and Kasia, not the bus")

    words = swapped.split()
    assert words[0] == words[2].lower() and words[0].islower() and words[2][0].isupper()
    assert "zoltan" not in swapped.casefold() and "kasia" not in swapped.casefold()
    assert " grace will help " in swapped and "Grace" not in swapped  # an ordinary word stays
    assert swapped.endswith("not the bus")
    assert SWAP.swap("zoltan said Zoltan and grace will help Grace and Kasia, not the bus") == swapped


def test_a_name_seen_only_in_breaches_no_longer_flags_an_ordinary_message(tmp_path: Path) -> None:
    examples = [
        *(Example(f"{insult} zoltan", frozenset({Category.HARASSMENT})) for insult in INSULTS),
        *(Example(f"{words} {name}", frozenset()) for words in FRIENDLY for name in ("ben", "amy", "kasia")),
        *(  # every head needs positives of its own to train
            Example(
                f"{category.value} breach number {n} {category.value}", frozenset({category}), role="tutor"
            )
            for category in HEAD_CATEGORIES
            if category is not Category.HARASSMENT
            for n in range(6)
        ),
    ]

    def harassment(trained_on: list[Example], folder: Path) -> np.ndarray:
        encoder = TinyEncoder()
        train_heads(
            trained_on,
            encoder.encode,
            encoder_name=encoder.name,
            encoder_sha256=encoder.sha256,
            out_dir=folder,
        )
        heads = load_heads(folder, encoder_sha256=encoder.sha256)
        texts = ["thank you zoltan", "thank you ben"]
        return heads.probabilities(encoder.encode(texts), texts)[
            :, heads.categories.index(Category.HARASSMENT)
        ]

    as_written = harassment(examples, tmp_path / "as-written")
    swapped = harassment(SWAP.examples(examples), tmp_path / "swapped")

    assert as_written[0] - as_written[1] > 0.2  # the name alone made it harassment
    assert abs(swapped[0] - swapped[1]) < (as_written[0] - as_written[1]) / 3


def test_the_shipped_lists_take_the_datas_most_used_names_out_of_training() -> None:
    swap = NameSwap.shipped()
    folder = Path(__file__).resolve().parents[2] / "policies" / "training" / "train"
    with_tariq = [
        example.text
        for path in sorted(folder.glob("*.jsonl"))
        for example in read_examples(path)
        if "tariq" in example.text.casefold()
    ]

    assert len(swap.pool) >= 400 and len(with_tariq) >= 20
    assert not [
        text
        for text in swap.examples([Example(t, frozenset()) for t in with_tariq])
        if "tariq" in text.text.casefold()
    ]
