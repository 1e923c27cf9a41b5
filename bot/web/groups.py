"""Groups in the console: each group's mode, weekly charts drawn as SVG on the server, shadow calibration.

The charts are plain SVG rectangles and text computed here (no script, no chart library): cases per
category per week, and the median time from a case to a person's decision per week. A moderator's view
leaves the officers' cases out of every count. The calibration report lists what the bot would have done
in shadow mode (hidden, reminded, warned, escalated), with the cases, so a tutor can switch to enforce.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from bot.store import Store
from bot.web.auth import Person
from bot.web.views import _row, visible
from moderation.policy import GROUP_TUNABLE, Policy
from moderation.types import Category

__all__ = ["WEEKS", "group_page", "groups_page"]

WEEKS = 8
_COLOURS = {
    Category.CIVILITY: "#90a4ae",
    Category.HARASSMENT: "#e65100",
    Category.INCITEMENT: "#b71c1c",
    Category.EXTREMISM: "#4a148c",
    Category.DEFAMATION: "#6d4c41",
    Category.PERSONAL_DATA: "#1565c0",
    Category.PHOTO_CONSENT: "#00838f",
    Category.SEXUAL: "#ad1457",
    Category.STAFF_CONDUCT: "#5d4037",
    Category.SAFEGUARDING: "#6a1b9a",
}
_WOULD = {"hide": "hidden", "remind": "reminded", "warn": "warned", "escalate": "escalated"}
_WIDTH, _HEIGHT, _LEFT, _BOTTOM = 640, 220, 40, 30


def groups_page(store: Store, person: Person, now: datetime) -> dict[str, Any]:
    """The authorised groups with their mode and their open cases this person may see."""
    open_cases = store.console_queue(officer=person.is_officer, limit=5000)
    counts = Counter((case.platform, case.chat_id) for case in open_cases if visible(case, person))
    return {
        "groups": [
            {
                "platform": group.platform,
                "chat_id": group.chat_id,
                "title": group.title or group.chat_id,
                "mode": group.mode or "enforce",
                "open": counts.get((group.platform, group.chat_id), 0),
            }
            for group in store.groups()
            if group.is_authorised
        ]
    }


def _week(moment: datetime) -> datetime:
    start = moment - timedelta(days=moment.weekday())
    return start.replace(hour=0, minute=0, second=0, microsecond=0)


def group_page(
    store: Store, policy: Policy, person: Person, platform: str, chat_id: str, now: datetime
) -> dict[str, Any] | None:
    """One group: its mode, charts over the last eight weeks and the shadow calibration report."""
    group = next(
        (item for item in store.groups() if item.platform == platform and item.chat_id == chat_id), None
    )
    if group is None:
        return None
    weeks = [_week(now) - timedelta(weeks=index) for index in range(WEEKS - 1, -1, -1)]
    cases = [case for case in store.group_cases(platform, chat_id, since=weeks[0]) if visible(case, person)]
    per_week: dict[datetime, Counter[Category]] = {week: Counter() for week in weeks}
    waits: dict[datetime, list[float]] = {week: [] for week in weeks}
    for case in cases:
        week = _week(case.created_at)
        if week not in per_week:
            continue
        per_week[week][case.flagged[0] if case.flagged else Category.CIVILITY] += 1
        if case.closed_at is not None and case.closed_by not in (None, "bot"):
            waits[week].append((case.closed_at - case.created_at).total_seconds() / 3600)
    shadow = store.shadow_actions([case.id for case in cases])
    own = store.group_thresholds(platform, chat_id)
    would = Counter(_WOULD.get(action, action) for actions in shadow.values() for action in actions)
    return {
        "platform": platform,
        "chat_id": chat_id,
        "title": group.title or chat_id,
        "mode": group.mode or "enforce",
        "thresholds": [
            {
                "category": category.value,
                "policy": f"{rule.threshold:.2f}",
                "own": f"{own[category.value]:.2f}" if category.value in own else "",
                "tunable": category in GROUP_TUNABLE,
                "ladder": " → ".join("+".join(k.value for k in step) for step in rule.ladder),
            }
            for category, rule in policy.categories.items()
        ],
        "categories_chart": _stacked(weeks, per_week),
        "waits_chart": _bars(
            weeks, {week: statistics.median(values) if values else 0.0 for week, values in waits.items()}
        ),
        "legend": [
            (category.value, colour)
            for category, colour in _COLOURS.items()
            if any(per_week[w][category] for w in weeks)
        ],
        "shadow": {
            "counts": sorted(would.items()),
            "cases": [
                {**_row(case, now), "would": ", ".join(sorted(_WOULD.get(a, a) for a in shadow[case.id]))}
                for case in cases
                if case.id in shadow
            ][-50:],
        },
    }


def _axis(weeks: list[datetime]) -> list[dict[str, Any]]:
    step = (_WIDTH - _LEFT) / len(weeks)
    return [
        {"x": _LEFT + step * index + step / 2, "label": f"{week:%d %b}"} for index, week in enumerate(weeks)
    ]


def _stacked(weeks: list[datetime], per_week: dict[datetime, Counter[Category]]) -> dict[str, Any]:
    """Stacked bars: cases per category per week."""
    top = max([sum(per_week[week].values()) for week in weeks] + [1])
    step = (_WIDTH - _LEFT) / len(weeks)
    scale = (_HEIGHT - _BOTTOM - 10) / top
    rects = []
    for index, week in enumerate(weeks):
        y = float(_HEIGHT - _BOTTOM)
        for category, colour in _COLOURS.items():
            count = per_week[week][category]
            if not count:
                continue
            height = count * scale
            y -= height
            rects.append(
                {
                    "x": round(_LEFT + step * index + step * 0.15, 1),
                    "y": round(y, 1),
                    "width": round(step * 0.7, 1),
                    "height": round(height, 1),
                    "fill": colour,
                    "title": f"{week:%d %b}: {count} {category.value}",
                }
            )
    return {
        "width": _WIDTH,
        "height": _HEIGHT,
        "rects": rects,
        "axis": _axis(weeks),
        "top": top,
        "base": _HEIGHT - _BOTTOM,
    }


def _bars(weeks: list[datetime], values: dict[datetime, float]) -> dict[str, Any]:
    """Bars: the median hours from a case to a person's decision, per week."""
    top = max([values[week] for week in weeks] + [1.0])
    step = (_WIDTH - _LEFT) / len(weeks)
    scale = (_HEIGHT - _BOTTOM - 10) / top
    rects = [
        {
            "x": round(_LEFT + step * index + step * 0.15, 1),
            "y": round(_HEIGHT - _BOTTOM - values[week] * scale, 1),
            "width": round(step * 0.7, 1),
            "height": round(values[week] * scale, 1),
            "fill": "#455a64",
            "title": f"{week:%d %b}: median {values[week]:.1f} h",
        }
        for index, week in enumerate(weeks)
        if values[week]
    ]
    return {
        "width": _WIDTH,
        "height": _HEIGHT,
        "rects": rects,
        "axis": _axis(weeks),
        "top": f"{top:.1f} h",
        "base": _HEIGHT - _BOTTOM,
    }
