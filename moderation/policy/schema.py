"""The policy file's schema: which keys it has, their types and their bounds, checked by pydantic.

A value that breaks the schema becomes a problem at its line (:func:`schema_problem`), worded for
the person editing the file rather than in pydantic's terms.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from moderation.policy.model import Audience
from moderation.policy.yaml_source import Lines, Problem, line_of
from moderation.types import Category, Route, Urgency

__all__ = [
    "CategoryFile",
    "ClauseFile",
    "DetectorFile",
    "PolicyFile",
    "ServiceHoursFile",
    "SupportFile",
    "TranslationFile",
    "UrgencyRuleFile",
    "schema_problem",
]

_Action = Literal["remind", "warn", "hide", "escalate"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClauseFile(_Strict):
    """One clause of the source policy, as the file writes it."""

    id: str
    title: str
    wording: str
    applies_to: Audience = Audience.EVERYONE
    categories: list[Category] = Field(default_factory=list)
    enforced: bool = True
    not_enforced_reason: str | None = None
    reminder: str | None = None
    staff_reminder: str | None = None


def _has_an_action(step: list[_Action]) -> list[_Action]:
    if not step:
        raise ValueError("a ladder step needs at least one action (remind, warn, hide or escalate)")
    return step


_Step = Annotated[list[_Action], AfterValidator(_has_an_action)]


class CategoryFile(_Strict):
    """A category's threshold, route and ladder, as the file writes them."""

    threshold: float = Field(ge=0.0, le=1.0)
    route: Route = Route.MODERATORS
    ladder: list[_Step] = Field(min_length=1)
    head_precision: float | None = Field(default=None, gt=0.0, le=1.0)
    head_false_positive_rate: float | None = Field(default=None, ge=0.0, lt=1.0)


class DetectorFile(_Strict):
    """A phrase detector, as the file writes it."""

    id: str
    category: Category
    score: float = Field(default=0.9, ge=0.0, le=1.0)
    applies_to: Audience = Audience.EVERYONE
    patterns: list[str] = Field(min_length=1)
    unless: list[str] = Field(default_factory=list)
    unless_scope: Literal["sentence", "message"] = "sentence"
    clause: str | None = None


class UrgencyRuleFile(_Strict):
    """One rule of how urgent a disclosure is: its level, the sub-kinds it covers, and optional cues."""

    level: Urgency
    kinds: list[str] = Field(min_length=1)
    when: list[str] = Field(default_factory=list)


_Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_Clock = Annotated[str, Field(pattern=r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")]


class ServiceHoursFile(_Strict):
    """When the safeguarding team is at work, as the file writes it."""

    timezone: str = "Europe/London"
    days: list[_Day] = Field(min_length=1)
    opens: _Clock
    closes: _Clock
    bank_holidays: str | None = None


class SupportFile(_Strict):
    """The support message a learner gets after a disclosure, by the service's hours and the urgency."""

    in_hours: dict[Urgency, str] = Field(default_factory=dict)
    out_of_hours: dict[Urgency, str] = Field(default_factory=dict)


class TranslationFile(_Strict):
    """The learner-facing texts of the policy in one language; what is left out stays in English."""

    reviewed: bool = False
    support_message: str | None = None
    scorer_failure_reminder: str | None = None
    reminders: dict[str, str] = Field(default_factory=dict)
    staff_reminders: dict[str, str] = Field(default_factory=dict)
    support: SupportFile | None = None


_LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]


class PolicyFile(_Strict):
    """The whole policy file: what it must, may and may not contain."""

    id: str
    name: str
    version: str
    source: str
    strike_lifetime_days: int = Field(ge=1, le=3650)
    new_group_mode: Literal["enforce", "shadow"] = "enforce"
    support_message: str
    scorer_failure_reminder: str | None = None
    model_labels: dict[str, Category]
    categories: dict[Category, CategoryFile]
    clauses: list[ClauseFile] = Field(min_length=1)
    detectors: list[DetectorFile] = Field(default_factory=list)
    idioms: list[str] = Field(default_factory=list)
    public_contacts: list[str] = Field(default_factory=list)
    languages: dict[_LanguageCode, TranslationFile] = Field(default_factory=dict)
    urgency: list[UrgencyRuleFile] = Field(default_factory=list)
    service_hours: ServiceHoursFile | None = None
    helplines: dict[str, str] = Field(default_factory=dict)
    support: SupportFile | None = None

    @field_validator("public_contacts", mode="before")
    @classmethod
    def _contacts_quoted(cls, value: object) -> object:
        if isinstance(value, list) and any(not isinstance(item, str) for item in value):
            raise ValueError(
                'write each entry in quotes, e.g. - "0151 934 2996": unquoted, YAML reads a number as a '
                "number and drops its leading 0"
            )
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value


def schema_problem(error: Any, lines: Lines) -> Problem:
    """What is wrong with one value, from a pydantic error, at the line of that value."""
    location = tuple(error["loc"])
    dotted = ".".join(str(part) for part in location) or "(top level)"
    if location and location[-1] == "[key]":
        parent = ".".join(str(part) for part in location[:-1])
        message = f"{parent}: {location[-2]!r} is not a name allowed here; {error['msg'].lower()}"
    elif error["type"] == "extra_forbidden":
        parent = ".".join(str(part) for part in location[:-1]) or "the top level"
        message = f"{dotted}: unknown key {location[-1]!r} in {parent}; check its spelling"
    elif error["type"] == "missing":
        message = f"{dotted}: this key is required but missing"
    elif error["type"] in ("model_type", "dict_type"):
        message = (
            f"{dotted}: expected keys with values here (key: value), not {type(error['input']).__name__}"
        )
    elif error["type"] == "value_error":
        message = f"{dotted}: {error.get('ctx', {}).get('error', error['msg'])}"
    else:
        message = f"{dotted}: {error['msg']}"
    return line_of(location, lines), message
