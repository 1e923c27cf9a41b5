"""The shipped training data stays apart from the held-out split that measures the heads."""

from __future__ import annotations

from moderation.heads.dataset import default_training_dir, read_examples
from moderation.heads.near_copies import NEAR_COPY, closest


def test_no_training_line_nearly_repeats_a_held_out_line() -> None:
    folder = default_training_dir()
    held = [example.text for example in read_examples(folder / "heldout" / "heldout.jsonl")]
    train = [
        example for path in sorted((folder / "train").glob("*.jsonl")) for example in read_examples(path)
    ]

    similarity = closest([example.text for example in train], held)

    copies = [
        f"{example.source}: {example.text[:60]!r} ({score:.2f})"
        for example, score in zip(train, similarity, strict=True)
        if score >= NEAR_COPY
    ]
    assert not copies, f"{len(copies)} training lines nearly repeat held-out lines:\n" + "\n".join(
        copies[:20]
    )


def test_a_changed_name_or_emoji_does_not_hide_a_copy_and_different_lines_stay_apart() -> None:
    similarity = closest(
        ["keep talking about me and see what happens to ur car 😡", "can we do fractions again tomorrow"],
        ["keep talking about me and see what happens to your car", "my husband took my passport"],
    )

    assert similarity[0] >= NEAR_COPY > similarity[1]
