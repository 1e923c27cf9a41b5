"""Builders for real core objects with sensible defaults, so tests say only what matters to them."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from typing import Any

from moderation.types import Attachment, AttachmentKind, Author, ChatMessage, Role

NOW = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
_ids = count(1)


def make_message(text: str, **overrides: Any) -> ChatMessage:
    """A learner's message in a class group, with any field overridden."""
    role = overrides.pop("role", Role.LEARNER)
    author = overrides.pop(
        "author", Author(id=overrides.pop("author_id", "learner-1"), display_name="Amina", role=role)
    )
    photo = overrides.pop("photo", False)
    fields: dict[str, Any] = {
        "platform": "test",
        "chat_id": "class-1",
        "message_id": str(next(_ids)),
        "author": author,
        "text": text,
        "sent_at": NOW,
        "attachments": (Attachment(kind=AttachmentKind.PHOTO, filename="photo.jpg"),) if photo else (),
    }
    fields.update(overrides)
    return ChatMessage(**fields)
