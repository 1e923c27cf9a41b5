"""What a card's button carries: its data, written and read back here and nowhere else.

A case button's data is ``cm:<case>:<verb>`` (``cm:12:mute1h``); a button on the card of a group awaiting
authorisation is ``cg:<chat>:<verb>`` (``cg:-1001234:authorise``). Every platform sends the data back
when the button is pressed (Telegram's callback data, Discord's ``custom_id``, whose persistent buttons
are matched by the patterns below). Reading is strict: ``cm:08:uphold`` (a leading zero),
``cm:8:Uphold`` or ``cm:8:uphold:x`` is not a button any card ever carried. Discord's officers' cards also
carry ``cn:<case>``, which opens a form for a note.
"""

from __future__ import annotations

import re

from moderation.verdicts import Verb

__all__ = [
    "CASE_BUTTON_PATTERN",
    "GROUP_BUTTON_PATTERN",
    "GROUP_VERBS",
    "NOTE_BUTTON_PATTERN",
    "case_button_data",
    "group_button_data",
    "note_button_data",
    "parse_case_button",
    "parse_group_button",
]

CASE_BUTTON_PATTERN = r"cm:(?P<case>[1-9][0-9]{0,11}):(?P<verb>[a-z0-9]{1,16})"
"""A case button's data; ``verb`` is one of :class:`~moderation.verdicts.Verb`'s values."""
GROUP_VERBS = {"authorise": "Authorise", "leave": "Leave"}
"""A group awaiting authorisation: verb -> button label."""
GROUP_BUTTON_PATTERN = rf"cg:(?P<chat>-?[1-9][0-9]{{0,19}}):(?P<verb>{'|'.join(GROUP_VERBS)})"
"""A group card's button data: the platform's chat (or server) id and the verb."""

NOTE_BUTTON_PATTERN = r"cn:(?P<case>[1-9][0-9]{0,11})"
"""Discord's "Add a note" button on an officer's card (it opens a form; Telegram's officers reply instead)."""

_CASE_BUTTON = re.compile(CASE_BUTTON_PATTERN)
_GROUP_BUTTON = re.compile(GROUP_BUTTON_PATTERN)
_VERB_VALUES = frozenset(verb.value for verb in Verb)


def case_button_data(case_id: int, verb: Verb | str) -> str:
    """The data of the button for one decision on a case."""
    return f"cm:{case_id}:{verb.value if isinstance(verb, Verb) else verb}"


def parse_case_button(data: str) -> tuple[int, Verb] | None:
    """Read a case button's data back as (case id, verb); anything malformed or unknown is ``None``."""
    match = _CASE_BUTTON.fullmatch(data)
    if match is None or match["verb"] not in _VERB_VALUES:
        return None
    return int(match["case"]), Verb(match["verb"])


def note_button_data(case_id: int) -> str:
    """The data of a card's "Add a note" button."""
    return f"cn:{case_id}"


def group_button_data(chat_id: str | int, verb: str) -> str:
    """The data of a button on the card of a group awaiting authorisation."""
    return f"cg:{chat_id}:{verb}"


def parse_group_button(data: str) -> tuple[str, str] | None:
    """Read a group card's button data back as (chat id, verb); anything else is ``None``."""
    match = _GROUP_BUTTON.fullmatch(data)
    return None if match is None else (match["chat"], match["verb"])
