"""The support message after a disclosure depends on its urgency and the service's hours (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from moderation.engine import assess
from moderation.errors import PolicyError
from moderation.policy import Policy, default_policy_path, load_policy
from moderation.service_hours import ServiceHours
from moderation.types import AuthorHistory, Category, ModelScores, SemanticHit, Urgency
from tests.factories import make_message

HOURS = ServiceHours(
    "Europe/London", frozenset({"mon", "tue", "wed", "thu", "fri"}), time(9), time(17), "GB-ENG"
)
TUESDAY_10AM = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
FRIDAY_10PM = datetime(2026, 12, 11, 22, 0, tzinfo=UTC)
CHRISTMAS_EVE_6PM = datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
SUMMER_8_30AM_LONDON = datetime(2026, 7, 7, 7, 30, tzinfo=UTC)  # 08:30 BST


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def test_open_in_working_hours_and_closed_at_night_weekends_and_bank_holidays() -> None:
    assert HOURS.is_open(TUESDAY_10AM)
    assert not HOURS.is_open(FRIDAY_10PM)
    assert not HOURS.is_open(datetime(2026, 12, 25, 10, 0, tzinfo=UTC))  # Christmas Day, a Friday
    assert not HOURS.is_open(SUMMER_8_30AM_LONDON)  # London time, not UTC: 08:30 in summer
    assert HOURS.is_open(datetime(2026, 7, 7, 8, 30, tzinfo=UTC))  # 09:30 BST


def test_the_next_opening_skips_nights_weekends_and_bank_holidays() -> None:
    assert HOURS.next_opening(TUESDAY_10AM) == TUESDAY_10AM
    assert HOURS.next_opening(FRIDAY_10PM) == datetime(2026, 12, 14, 9, 0, tzinfo=HOURS.zone)  # Monday
    # Christmas Day (Fri), the weekend, Boxing Day's substitute bank holiday (Mon 28th): Tuesday.
    assert HOURS.next_opening(CHRISTMAS_EVE_6PM) == datetime(2026, 12, 29, 9, 0, tzinfo=HOURS.zone)
    assert HOURS.when_text(CHRISTMAS_EVE_6PM) == "Tuesday 09:00"
    assert HOURS.when_text(CHRISTMAS_EVE_6PM, "pl") == "wtorek 09:00"


def _support(policy: Policy, text: str, kind: str, now: datetime) -> str:
    hits = (SemanticHit(Category.SAFEGUARDING, kind, 0.97, 0.5),)
    decision = assess(make_message(text), AuthorHistory(), policy, now, ModelScores("test", hits=hits))
    assert decision.reminder is not None
    return decision.reminder


def test_the_support_message_differs_by_level_and_time(policy: Policy) -> None:
    immediate_night = _support(policy, "I took all my tablets", "overdose", FRIDAY_10PM)
    immediate_day = _support(policy, "I took all my tablets", "overdose", TUESDAY_10AM)
    concern_night = _support(policy, "we have not eaten since tuesday", "food_poverty", FRIDAY_10PM)
    concern_day = _support(policy, "we have not eaten since tuesday", "food_poverty", TUESDAY_10AM)

    assert len({immediate_night, immediate_day, concern_night, concern_day}) == 4
    for text in (immediate_night, immediate_day, concern_night, concern_day):
        assert "You are not in trouble" in text
    # Out of hours, the immediate level says what to do now, every number from the policy file.
    for number in policy.helplines.values():
        assert number in immediate_night
    assert "Monday 09:00" in immediate_night and "Monday 09:00" in concern_night
    assert "999" not in concern_night and "116 123" in concern_night
    assert "Monday" not in immediate_day


def test_a_support_placeholder_that_is_no_helpline_is_refused_at_its_line(tmp_path: Path) -> None:
    source = default_policy_path().read_text(encoding="utf-8")
    broken = source.replace("call {emergency}.", "call {ambulance}.", 1)
    assert broken != source
    path = tmp_path / "policy.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"policy.yaml:\d+.*\{ambulance\} is not a helpline"):
        load_policy(path)


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("timezone: Europe/London", "timezone: Mars/Olympus", "not a time zone"),
        ("bank_holidays: GB-ENG", "bank_holidays: XX-YY", "not a known calendar"),
        ('closes: "17:00"', 'closes: "08:00"', "closes must be after opens"),
    ],
)
def test_bad_service_hours_are_refused(tmp_path: Path, old: str, new: str, said: str) -> None:
    source = default_policy_path().read_text(encoding="utf-8")
    path = tmp_path / "policy.yaml"
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PolicyError, match=said):
        load_policy(path)


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            "at {when}. Please get help now",
            "at {when:%A}. Please get help now",
            "without a conversion or format",
        ),
        ("call {emergency}.", "call {emergency!r}.", "without a conversion or format"),
        ("call {emergency}.", "call {emergency.", "brace"),
        ('  emergency: "999"', '  when: "999"\n  emergency: "999"', "'when' cannot be a placeholder"),
    ],
)
def test_a_support_text_that_could_fail_when_sent_is_refused_when_the_file_loads(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    source = default_policy_path().read_text(encoding="utf-8")
    assert old in source
    path = tmp_path / "policy.yaml"
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PolicyError, match=said):
        load_policy(path)


def test_a_translation_that_drops_a_helpline_is_refused(tmp_path: Path, policy: Policy) -> None:
    source = default_policy_path().read_text(encoding="utf-8")
    start = source.index("\n  pl:\n")
    line_start = source.index("        immediate:", source.index("      out_of_hours:", start))
    line_end = source.index("\n", line_start)
    dropped = source[:line_start] + '        immediate: "Zadzwoń pod {emergency}."' + source[line_end:]
    path = tmp_path / "policy.yaml"
    path.write_text(dropped, encoding="utf-8")
    with pytest.raises(PolicyError, match="keep every number"):
        load_policy(path)


def test_an_hour_before_closing_the_message_does_not_promise_today(policy: Policy) -> None:
    friday_4_30pm = datetime(2026, 12, 11, 16, 30, tzinfo=UTC)
    text = _support(policy, "my husband takes all my money", "coercive_control", friday_4_30pm)
    assert "today" not in text and "Monday 09:00" in text


def test_a_note_sent_later_says_the_hours_at_sending(policy: Policy) -> None:
    from bot import texts

    key = policy.support_key(Urgency.HIGH, TUESDAY_10AM)
    assert key == "support:high:in_hours"
    resumed = texts.action_reminder(policy, [key], formal=False, now=FRIDAY_10PM)
    assert "Monday 09:00" in resumed and "today" not in resumed
