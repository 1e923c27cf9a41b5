"""What the bot says to people, whatever the platform: the policy in brief, welcomes, notices, replies.

Every text a learner reads takes the ``language`` to say it in and comes in the ESOL form: the
learner's language first, then the same in simple English underneath (:func:`bot.languages.esol_form`);
in English, or where a text has no translation, English alone. The wording is in the catalogue
(``bot/locales/``) and, for clause reminders and the support message, in the policy file.
Notices for staff (the unauthorised-group notices) stay in English.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from babel.dates import format_skeleton

from bot.languages import ENGLISH, catalogue, esol_form
from bot.store import AppealRecord, CaseRecord
from moderation.policy import Policy
from moderation.types import ActionKind, Decision, Urgency

__all__ = [
    "APPEAL_SYNTAX",
    "action_reminder",
    "appeal_already",
    "appeal_not_found",
    "appeal_outcome",
    "appeal_sent",
    "appeal_syntax",
    "appeal_usage",
    "awaiting_authorisation",
    "case_list",
    "in_language",
    "language_chosen",
    "language_current",
    "language_group_set",
    "language_group_staff_only",
    "language_unknown",
    "learner_notes",
    "moderator_warning",
    "policy_brief",
    "private_only",
    "public_nudge",
    "public_welcome",
    "start_text",
    "unauthorised_notice",
    "welcome_text",
]

_BRIEF = (
    "brief.polite",
    "brief.bullying",
    "brief.incitement",
    "brief.personal",
    "brief.photos",
    "brief.complaints",
    "brief.safety",
)


def in_language(language: str, render: Callable[[str], str]) -> str:
    """The ESOL form of a text ``render`` writes in any language: the learner's first, English beneath.

    English alone where ``language`` is English, is not shipped, or renders the same as English (no
    translation).
    """
    english = render(ENGLISH)
    shipped = catalogue().languages.get(language)
    if language == ENGLISH or shipped is None:
        return english
    translated = render(language)
    return english if translated == english else esol_form(translated, english, shipped)


def _text(key: str, language: str, /, **values: object) -> str:
    return in_language(language, lambda code: catalogue().text(key, code, **values))


def policy_brief(policy: Policy, language: str = ENGLISH) -> str:
    """The policy in brief, in plain words, with the clauses it enforces."""
    return in_language(language, lambda code: _brief(policy, code))


def _brief(policy: Policy, code: str) -> str:
    texts = catalogue()
    enforced = ", ".join(clause.id for clause in policy.clauses if clause.is_enforced)
    lines = "\n".join(f"• {texts.text(key, code)}" for key in _BRIEF)
    return (
        f"{texts.text('brief.intro', code, policy_name=policy.name)}\n{lines}\n"
        f"{texts.text('brief.mistakes', code, clauses=enforced)}"
    )


def welcome_text(policy: Policy, name: str, language: str = ENGLISH) -> str:
    """A short welcome for someone who joins an authorised group."""
    return in_language(
        language, lambda code: f"{catalogue().text('welcome', code, name=name)}\n\n{_brief(policy, code)}"
    )


def public_welcome(platform: str, name: str, language: str = ENGLISH) -> str:
    """The short welcome posted in the group where a newcomer cannot be written to privately."""
    return _text(f"welcome.public.{platform}", language, name=name)


def start_text(policy: Policy, language: str = ENGLISH, *, platform: str = "telegram") -> str:
    """What the bot is, for /start in a private chat."""
    appeal_form = appeal_syntax(platform)[0]

    def render(code: str) -> str:
        texts = catalogue()
        commands = texts.text("start.commands", code, appeal_form=appeal_form)
        return f"{texts.text('start', code)}\n{commands}\n\n{_brief(policy, code)}"

    return in_language(language, render)


def unauthorised_notice() -> str:
    """Posted once in a group the service has not authorised, before the bot leaves (for staff)."""
    return (
        "This group has not been authorised by the learning service, "
        "so I cannot moderate it and I am leaving. "
        "Staff can authorise class groups (policy clause 4.6)."
    )


APPEAL_SYNTAX = {
    "telegram": ("/appeal CASE your reason", "/appeal 12 I was quoting the book"),
    "discord": ("/appeal case:CASE reason:your reason", "/appeal case:12 reason:I was quoting the book"),
}
"""How each platform writes the appeal command: (the form, an example)."""


def appeal_syntax(platform: str) -> tuple[str, str]:
    """The appeal command's form and an example on this platform (Telegram's where it has none of its own)."""
    return APPEAL_SYNTAX.get(platform, APPEAL_SYNTAX["telegram"])


def appeal_usage(platform: str, language: str = ENGLISH) -> str:
    """Said when an appeal names no case."""
    return _text("appeal.usage", language, example=appeal_syntax(platform)[1])


def awaiting_authorisation(minutes: float) -> str:
    """Posted once in a server nobody has authorised yet, while the bot waits for staff."""
    return (
        "Hello! This server has not been authorised by the learning service yet, so I am not reading "
        f"anything here. The service's staff have been asked; if they do not authorise it within "
        f"{minutes:g} minutes, I will leave (policy clause 4.6)."
    )


def case_list(
    cases: Sequence[CaseRecord],
    active_strikes: int,
    appeals: Mapping[int, AppealRecord] | None = None,
    *,
    platform: str = "telegram",
    language: str = ENGLISH,
) -> str:
    """A learner's own cases, their appeals and strikes, for /mycases."""
    if not cases:
        return _text("cases.none", language)
    appeals = appeals or {}

    def render(code: str) -> str:
        texts = catalogue()
        lines = []
        for case in cases:
            about = ", ".join(texts.text(f"category.{category.value}", code) for category in case.flagged)
            parts = [
                f"#{case.id}",
                format_skeleton("MMMd", case.created_at, locale=code),
                about or texts.text("cases.held", code),
                _status(texts.text, f"status.{case.status}", case.status, code),
            ]
            if case.id in appeals:
                status = _status(texts.text, f"appeal_status.{appeals[case.id].status}", "", code)
                parts.append(texts.text("cases.appeal", code, status=status))
            lines.append(" · ".join(parts))
        return (
            f"{texts.text('cases.header', code)}\n" + "\n".join(lines) + "\n"
            f"{texts.text('cases.strikes', code, count=active_strikes)} "
            f"{texts.text('cases.how_to_appeal', code, appeal_form=appeal_syntax(platform)[0])}"
        )

    return in_language(language, render)


def _status(text: Callable[..., str], key: str, fallback: str, code: str) -> str:
    return text(key, code) if key in catalogue().keys else fallback


def appeal_not_found(case_id: int, language: str = ENGLISH) -> str:
    """Said when a learner appeals a case that is not theirs or does not exist."""
    return _text("appeal.not_found", language, case_id=case_id)


def appeal_already(case_id: int, language: str = ENGLISH) -> str:
    """Said when a learner appeals a case whose appeal is still open."""
    return _text("appeal.already", language, case_id=case_id)


def appeal_sent(case_id: int, language: str = ENGLISH) -> str:
    """Said when an appeal has gone to the moderators."""
    return _text("appeal.sent", language, case_id=case_id)


def appeal_outcome(case_id: int, is_granted: bool, language: str = ENGLISH) -> str:
    """The private note that tells a learner what became of their appeal."""
    return _text("appeal.granted" if is_granted else "appeal.upheld", language, case_id=case_id)


def private_only(command: str, language: str = ENGLISH) -> str:
    """Said when a learner sends a private command in the group."""
    return _text("private_only", language, command=command)


# --- what a learner is sent about their own message -------------------------------------------------


def action_reminder(
    policy: Policy,
    keys: Sequence[str],
    *,
    formal: bool,
    language: str = ENGLISH,
    fallback: str | None = None,
    now: datetime | None = None,
) -> str:
    """The private note for a reminder or the bot's formal warning: the policy's reminder, else a plain one.

    ``keys`` are the decision's reminder parts (``Decision.reminder_keys``); ``fallback`` is the English
    reminder of a case recorded before the parts were kept, said in English alone. ``now`` is when it is
    sent, for an out-of-hours support message's "staff will read this at …".
    """
    key = "warning.formal" if formal else None
    return _about_a_message(policy, keys, key, language, fallback, now)


def learner_notes(
    policy: Policy, decision: Decision, language: str = ENGLISH, now: datetime | None = None
) -> dict[str, str]:
    """What the author of a message would be sent privately, by action (``remind``, ``warn``)."""
    return {
        action.kind.value: action_reminder(
            policy,
            decision.reminder_keys,
            formal=action.kind is ActionKind.WARN,
            language=language,
            fallback=decision.reminder,
            now=now,
        )
        for action in decision.actions
        if action.kind in (ActionKind.REMIND, ActionKind.WARN)
    }


def moderator_warning(
    policy: Policy, keys: Sequence[str], *, language: str = ENGLISH, fallback: str | None = None
) -> str:
    """The private note when a moderator gives a formal warning from a case's card."""
    return _about_a_message(policy, keys, "warning.moderator", language, fallback, None)


def _about_a_message(
    policy: Policy,
    keys: Sequence[str],
    frame: str | None,
    language: str,
    fallback: str | None,
    now: datetime | None,
) -> str:
    hours = policy.service_hours
    if now is not None:
        # The hours are those at sending (a note resumed after a restart may go out after closing).
        keys = [_support_now(policy, key, now) for key in keys]

    def render(code: str) -> str:
        texts = catalogue()
        when = hours.when_text(now or datetime.now(UTC), code) if hours is not None else ""
        reminder = policy.reminder_text(keys, code, when=when) or (fallback if code == ENGLISH else None)
        reminder = reminder or texts.text("reminder.plain", code)
        return texts.text(frame, code, reminder=reminder) if frame else reminder

    return render(ENGLISH) if fallback and not keys else in_language(language, render)


def _support_now(policy: Policy, key: str, now: datetime) -> str:
    kind, _, rest = key.partition(":")
    level, _, hours = rest.partition(":")
    if kind != "support" or not hours or level not in {urgency.value for urgency in Urgency}:
        return key
    return policy.support_key(Urgency(level), now)


def public_nudge(platform: str, who: str, language: str = ENGLISH) -> str:
    """The short public note, naming no breach, when a private note cannot be delivered.

    ``who`` is the learner's name (Telegram) or a mention (Discord); each platform says how to open
    the private channel its own way.
    """
    return _text(f"nudge.{platform}", language, name=who)


# --- /language ---------------------------------------------------------------------------------------


def _label(language: str) -> str:
    shipped = catalogue().languages.get(language)
    return shipped.label if shipped else language


def language_chosen(language: str) -> str:
    """Said when a learner chooses a language: in that language, English underneath."""
    if language == ENGLISH:
        return _text("language.chosen_english", ENGLISH)
    return _text("language.chosen", language, language=_label(language))


def language_current(language: str) -> str:
    """``/language`` alone: the language in use, how to change it, and what there is."""
    return _text("language.current", language, language=_label(language), languages=catalogue().listing())


def language_unknown(language: str) -> str:
    """``/language`` with a language the bot does not write (said in the learner's current one)."""
    return _text("language.unknown", language, languages=catalogue().listing())


def language_group_set(language: str) -> str:
    """Said in a group when staff set its default language."""
    return _text("language.group_set", language, language=_label(language))


def language_group_staff_only(language: str) -> str:
    """Said when a learner tries to set a group's language."""
    return _text("language.group_staff_only", language)
