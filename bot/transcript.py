"""Chat transcripts (JSON lines) for ``classmod replay`` and ``classmod demo``.

One message per line::

    {"id": "m1", "at": "2026-11-16T09:02:00+00:00", "author": "amina", "name": "Amina",
     "role": "learner", "text": "Good morning!", "chat": "esol-e3"}

Optional keys: ``edit_of`` (the id of the message this line edits), ``photo`` (true when a photo
is attached), ``chat`` (default ``class``), ``name`` (default the author id), ``role`` (default
``learner``). Lines that are blank or start with ``#`` are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from bot.json_input import read_object
from moderation.types import Attachment, AttachmentKind, Author, ChatMessage, Role

__all__ = ["TranscriptError", "TranscriptLine", "demo_transcript_path", "read_transcript"]


class TranscriptError(ValueError):
    """A transcript line is malformed; the message names the line number."""


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One parsed line: its number in the file and the message it describes."""

    number: int
    message: ChatMessage


def demo_transcript_path() -> Path:
    """The bundled week of an ESOL class chat that ``classmod demo`` replays."""
    return Path(str(resources.files("bot").joinpath("demo/esol_week.jsonl")))


def read_transcript(path: Path, *, platform: str = "replay") -> Iterator[TranscriptLine]:
    """Parse a transcript file line by line.

    Raises:
        TranscriptError: a line is not a JSON object with the required keys.
    """
    revisions: dict[str, int] = {}
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            yield TranscriptLine(number, _message(line, number, platform, revisions))


def _message(line: str, number: int, platform: str, revisions: dict[str, int]) -> ChatMessage:
    try:
        item = read_object(line)
    except ValueError as exc:
        raise TranscriptError(f"line {number}: {exc}") from exc
    try:
        author_id = str(item["author"])
        message_id = str(item.get("edit_of") or item["id"])
        text = item.get("text") or ""
        if not isinstance(text, str):
            raise TranscriptError(f"line {number}: text must be a string")
        role = Role(item.get("role", "learner"))
        sent_at = datetime.fromisoformat(item["at"]) if "at" in item else datetime.now(UTC)
    except KeyError as exc:
        raise TranscriptError(f"line {number}: missing key {exc.args[0]!r}") from exc
    except ValueError as exc:
        raise TranscriptError(f"line {number}: {exc}") from exc
    if sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=UTC)
    is_edit = bool(item.get("edit_of"))
    revision = revisions.get(message_id, -1) + 1 if is_edit else 0
    revisions[message_id] = revision
    attachments = (Attachment(kind=AttachmentKind.PHOTO, filename="photo.jpg"),) if item.get("photo") else ()
    return ChatMessage(
        platform=platform,
        chat_id=str(item.get("chat", "class")),
        message_id=message_id,
        author=Author(id=author_id, display_name=str(item.get("name", author_id)), role=role),
        text=text,
        sent_at=sent_at,
        attachments=attachments,
        is_edit=is_edit,
        revision=revision,
    )
