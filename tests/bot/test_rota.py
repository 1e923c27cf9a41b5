"""The duty rota decides whom to alert and when (issue 16): pure times in, steps out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.config import ConfigError, load_settings
from bot.rota import AckTimeouts, Alerted, Hours, Rota, RotaMember, rota_from
from moderation.service_hours import ServiceHours
from moderation.types import Urgency

HOURS = ServiceHours(
    "Europe/London", frozenset({"mon", "tue", "wed", "thu", "fri"}), time(9), time(17), "GB-ENG"
)
TUESDAY_10AM = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
TUESDAY_4_30PM = datetime(2026, 12, 8, 16, 30, tzinfo=UTC)
FRIDAY_10PM = datetime(2026, 12, 11, 22, 0, tzinfo=UTC)
CHRISTMAS_EVE_4PM = datetime(2026, 12, 24, 16, 0, tzinfo=UTC)

OFFICER = RotaMember("Olu", "officer", (("telegram", "1"), ("discord", "11")), Hours.IN_HOURS)
DEPUTY = RotaMember("Dee", "deputy", (("telegram", "2"),), Hours.IN_HOURS)
ON_CALL = RotaMember(
    "Kit", "out-of-hours contact", (("telegram", "3"), ("discord", "33")), Hours.OUT_OF_HOURS
)
ROTA = Rota((OFFICER, DEPUTY, ON_CALL), AckTimeouts(), HOURS)


def _names(rota: Rota, done: list[Alerted], now: datetime, level: Urgency = Urgency.IMMEDIATE) -> list[str]:
    step = rota.next_step("telegram", level, done, now)
    return [] if step is None else [member.name for _, member in step.members]


def test_in_hours_the_climb_goes_officer_then_deputy_then_everyone_on_duty_again() -> None:
    assert _names(ROTA, [], TUESDAY_10AM) == ["Olu"]
    first = [Alerted(1, 0, TUESDAY_10AM)]
    assert _names(ROTA, first, TUESDAY_10AM + timedelta(minutes=14)) == []  # immediate: 15 minutes
    assert _names(ROTA, first, TUESDAY_10AM + timedelta(minutes=15)) == ["Dee"]
    second = [*first, Alerted(2, 1, TUESDAY_10AM + timedelta(minutes=15)), Alerted(2, None, TUESDAY_10AM)]
    # The out-of-hours contact is not on duty at 10:30 on a Tuesday: the officer and deputy again.
    assert _names(ROTA, second, TUESDAY_10AM + timedelta(minutes=30)) == ["Olu", "Dee"]


def test_out_of_hours_an_immediate_case_goes_straight_to_the_out_of_hours_contact() -> None:
    assert _names(ROTA, [], FRIDAY_10PM) == ["Kit"]


def test_a_member_without_an_id_on_the_platform_is_passed_over() -> None:
    step = ROTA.next_step(
        "discord", Urgency.IMMEDIATE, [Alerted(1, 0, TUESDAY_10AM)], TUESDAY_10AM + timedelta(hours=1)
    )
    assert step is not None and [member.name for _, member in step.members] == [
        "Olu"
    ]  # Dee is not on Discord
    assert ROTA.ids_on("discord") == ["11", "33"]


def test_nobody_on_duty_alerts_everyone_rather_than_no_one() -> None:
    rota = Rota((OFFICER, DEPUTY), AckTimeouts(), HOURS)
    assert _names(rota, [], FRIDAY_10PM) == ["Olu"]  # the first of everyone reachable


def test_a_high_case_waits_an_hour_of_working_time() -> None:
    assert ROTA.deadline(Urgency.HIGH, TUESDAY_10AM) == TUESDAY_10AM + timedelta(hours=1)
    # Half an hour before closing: half an hour that day, half an hour the next morning.
    assert ROTA.deadline(Urgency.HIGH, TUESDAY_4_30PM) == datetime(2026, 12, 9, 9, 30, tzinfo=UTC)
    # Friday night: Monday 10:00.
    assert ROTA.deadline(Urgency.HIGH, FRIDAY_10PM) == datetime(2026, 12, 14, 10, 0, tzinfo=UTC)


def test_a_concern_waits_for_the_next_working_morning() -> None:
    assert ROTA.deadline(Urgency.CONCERN, TUESDAY_10AM) == datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
    # Christmas Eve: Christmas Day and Boxing Day (moved to Monday 28th) are bank holidays.
    assert ROTA.deadline(Urgency.CONCERN, CHRISTMAS_EVE_4PM) == datetime(2026, 12, 29, 10, 0, tzinfo=UTC)


def test_an_immediate_case_counts_the_clock_day_or_night() -> None:
    assert ROTA.deadline(Urgency.IMMEDIATE, FRIDAY_10PM) == FRIDAY_10PM + timedelta(minutes=15)


def test_the_wall_clock_counts_plain_seconds_for_every_level() -> None:
    rota = Rota(
        ROTA.members,
        AckTimeouts(timedelta(seconds=5), timedelta(seconds=7), timedelta(seconds=9), "wall"),
        HOURS,
    )
    assert [rota.deadline(level, FRIDAY_10PM) - FRIDAY_10PM for level in Urgency] == [
        timedelta(seconds=seconds) for seconds in (5, 7, 9)
    ]


def test_the_rota_and_its_time_outs_come_from_the_settings() -> None:
    settings = load_settings(
        safeguarding_rota=[
            {"name": "Olu", "telegram": 4001, "hours": "in_hours"},
            {"name": "Kit", "duty": "out-of-hours contact", "discord": 99, "hours": "out_of_hours"},
        ],
        ack_immediate_seconds=30,
        ack_clock="wall",
    )
    rota = rota_from(settings, HOURS)
    assert [(member.label, member.hours) for member in rota.members] == [
        ("Olu (officer)", Hours.IN_HOURS),
        ("Kit (out-of-hours contact)", Hours.OUT_OF_HOURS),
    ]
    assert rota.ids_on("telegram") == ["4001"] and rota.ids_on("discord") == ["99"]
    assert rota.deadline(Urgency.IMMEDIATE, TUESDAY_10AM) == TUESDAY_10AM + timedelta(seconds=30)


@pytest.mark.parametrize("hours", ["sometimes", ""])
def test_a_rota_member_with_unknown_hours_is_a_clear_error(
    hours: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CLASSMOD_SAFEGUARDING_ROTA", json.dumps([{"name": "Olu", "telegram": 1, "hours": hours}])
    )
    with pytest.raises(ConfigError, match=r"CLASSMOD_SAFEGUARDING_ROTA \(environment\) \(entry 1, hours\)"):
        load_settings()
