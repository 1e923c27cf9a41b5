"""A button's data is written and read back in one place, strictly."""

from __future__ import annotations

import re

import pytest

from bot.buttons import (
    CASE_BUTTON_PATTERN,
    GROUP_BUTTON_PATTERN,
    case_button_data,
    group_button_data,
    parse_case_button,
    parse_group_button,
)
from moderation.verdicts import Verb


@pytest.mark.parametrize("verb", list(Verb))
def test_every_verb_survives_the_round_trip(verb: Verb) -> None:
    data = case_button_data(12, verb)
    assert parse_case_button(data) == (12, verb)
    assert re.fullmatch(CASE_BUTTON_PATTERN, data), "Discord's persistent buttons match it too"
    assert len(data.encode()) <= 64, "Telegram's callback data holds at most 64 bytes"


@pytest.mark.parametrize(
    "data",
    ["cm:08:uphold", "cm:8:Uphold", "cm:8:uphold:x", "cm:8:nosuchverb", "cm:-8:uphold", "cg:8:uphold", ""],
)
def test_anything_no_card_carried_is_not_a_case_button(data: str) -> None:
    assert parse_case_button(data) is None


def test_group_buttons_carry_negative_telegram_and_positive_discord_ids() -> None:
    for chat_id in ("-1001234567890", "2000000000000000001"):
        for verb in ("authorise", "leave"):
            data = group_button_data(chat_id, verb)
            assert parse_group_button(data) == (chat_id, verb)
            assert re.fullmatch(GROUP_BUTTON_PATTERN, data)
    assert parse_group_button("cg:12:delete") is None
    assert parse_group_button("cm:12:uphold") is None
