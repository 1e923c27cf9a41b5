"""An adapter with no platform behind it: it records every action it is asked to carry out.

``classmod replay`` and ``classmod demo`` run the real pipeline through it, and tests use it as the
fake platform. ``fail`` makes chosen actions fail the way a platform would, to exercise error paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.base import ActionRequest
from bot.errors import AdapterError
from moderation.types import ActionKind

__all__ = ["RecordedAction", "RecordingAdapter"]


@dataclass(frozen=True, slots=True)
class RecordedAction:
    """One action as the adapter received it."""

    kind: ActionKind
    chat_id: str
    message_id: str
    author_id: str
    case_id: int | None
    route: str | None
    text: str | None


@dataclass
class RecordingAdapter:
    """Records actions instead of calling a platform."""

    name: str = "replay"
    capabilities: frozenset[ActionKind] = frozenset(ActionKind) - {ActionKind.ALLOW}
    fail: dict[ActionKind, str] = field(default_factory=dict)
    applied: list[RecordedAction] = field(default_factory=list)

    async def apply(self, request: ActionRequest) -> None:
        """Record the action, or fail it as configured in ``fail``."""
        kind = request.action.kind
        if kind in self.fail:
            raise AdapterError(self.fail[kind])
        text = request.masked_text if kind is ActionKind.ESCALATE else request.decision.reminder
        self.applied.append(
            RecordedAction(
                kind=kind,
                chat_id=request.message.chat_id,
                message_id=request.message.message_id,
                author_id=request.message.author.id,
                case_id=request.case_id,
                route=request.action.route.value if request.action.route else None,
                text=text,
            )
        )
