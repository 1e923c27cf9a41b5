"""What the bot says to people, whatever the platform: the policy in brief, welcomes, notices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.store import AppealRecord, CaseRecord
from moderation.policy import Policy

__all__ = [
    "APPEAL_SYNTAX",
    "action_reminder",
    "appeal_outcome",
    "appeal_syntax",
    "appeal_usage",
    "awaiting_authorisation",
    "case_list",
    "moderator_warning",
    "policy_brief",
    "private_only",
    "public_nudge",
    "start_text",
    "unauthorised_notice",
    "welcome_text",
]

_BRIEF = (
    "Be polite and use kind words.",
    "Do not bully, threaten or pressure anyone.",
    "Do not encourage drugs, violence or extreme ideas.",
    "Do not share personal details (phone numbers, emails, addresses) in the group.",
    "Only post photos of people who have given written permission.",
    "Complaints go through the Complaints Procedure, not the group.",
    "If you are worried about your safety or someone else's, talk to the designated safeguarding officer.",
)


def policy_brief(policy: Policy) -> str:
    """The policy in brief, in plain English, with the clauses it enforces."""
    enforced = ", ".join(clause.id for clause in policy.clauses if clause.is_enforced)
    lines = "\n".join(f"• {line}" for line in _BRIEF)
    return (
        f"This group follows the {policy.name}.\n{lines}\n"
        f"Spelling and grammar mistakes are fine: everyone is here to learn. (Clauses {enforced}.)"
    )


def welcome_text(policy: Policy, name: str) -> str:
    """A short welcome for someone who joins an authorised group."""
    return (
        f"Welcome, {name}! I help keep this class group safe and friendly. "
        "If a message breaks the rules I will tell you privately, never in public.\n\n" + policy_brief(policy)
    )


def start_text(policy: Policy) -> str:
    """What the bot is, for /start in a private chat."""
    return (
        "Hello! I am the class groups' moderation helper. I read messages in authorised class groups and, "
        "if one breaks the social media policy, I send a private reminder or pass it to staff.\n"
        "Commands: /policy (the rules), /mycases (your cases), "
        "/appeal CASE reason (ask staff to look again).\n\n" + policy_brief(policy)
    )


def unauthorised_notice() -> str:
    """Posted once in a group the service has not authorised, before the bot leaves."""
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


def appeal_usage(platform: str) -> str:
    """Said when an appeal names no case."""
    return f"Please write the case number, then why: {appeal_syntax(platform)[1]}"


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
) -> str:
    """A learner's own cases, their appeals and strikes, for /mycases."""
    if not cases:
        return "You have no cases. Thank you for keeping the group friendly!"
    appeals = appeals or {}
    lines = [
        f"#{case.id} · {case.created_at:%d %b} · "
        f"{', '.join(c.value for c in case.flagged) or 'held for review'} · {case.status}"
        + (f" · appeal {appeals[case.id].status}" if case.id in appeals else "")
        for case in cases
    ]
    return (
        "Your cases:\n" + "\n".join(lines) + f"\nActive strikes: {active_strikes}. "
        f"To ask staff to look again: {appeal_syntax(platform)[0]}"
    )


def appeal_outcome(case_id: int, is_granted: bool) -> str:
    """The private note that tells a learner what became of their appeal."""
    if is_granted:
        return (
            f"Good news: the moderators looked again at case #{case_id} and agree with you. "
            "Your message is restored if it was hidden, and the case does not count against you."
        )
    return (
        f"The moderators looked again at case #{case_id} and the decision stays. "
        "If you still disagree, you can use the service's Complaints Procedure."
    )


def private_only(command: str) -> str:
    """Said when a learner sends a private command in the group."""
    return f"Please send {command} to me in a private chat, so your cases stay private."


# --- what a learner is sent about their own message -------------------------------------------------


def action_reminder(reminder: str | None, *, formal: bool, place: str = "group") -> str:
    """The private note for a reminder or the bot's formal warning: the policy's reminder, else a plain one.

    ``place`` is what the platform calls the class chat (a Telegram group, a Discord server).
    """
    text = reminder or f"Please remember the {place}'s rules."
    return f"This is a formal warning. {text}" if formal else text


def moderator_warning(reminder: str | None) -> str:
    """The private note when a moderator gives a formal warning from a case's card."""
    reminder = reminder or "Please follow the group's rules."
    return f"A moderator has reviewed your message and given you a formal warning. {reminder}"


_PUBLIC_NUDGES = {
    "telegram": (
        "{who}, I have a private note for you about the group's rules. "
        "Please open a chat with me and press Start so I can send it."
    ),
    "discord": (
        "{who}, I have a private note for you about the server's rules, but your direct messages are "
        "closed. Please allow direct messages from server members so I can send it."
    ),
}


def public_nudge(platform: str, who: str) -> str:
    """The short public note, naming no breach, when a private note cannot be delivered.

    ``who`` is the learner's name (Telegram) or a mention (Discord); each platform says how to open
    the private channel its own way.
    """
    return _PUBLIC_NUDGES[platform].format(who=who)
