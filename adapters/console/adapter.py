"""The console adapter: a local class chat in a terminal, moderated by the real pipeline.

Type a line to post it as the current person; lines starting with ``/`` are commands (``/help``).
What the bot does is printed as the platform adapters would do it: a deleted message, a private
reminder, a card in the moderators' or the safeguarding officer's channel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import count

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from adapters.base import ActionRequest
from bot.languages import catalogue
from moderation.types import ActionKind, Attachment, AttachmentKind, Author, ChatMessage, Role

__all__ = ["ConsoleAdapter", "ConsoleChat"]

HELP = """Type a message and press Enter to post it in the class group.
  /as NAME [learner|tutor|staff|moderator]   post as someone else (e.g. /as Sam tutor)
  /photo [CAPTION]                 post a photo (with an optional caption)
  /edit TEXT                       edit your last message
  /language CODE                   read the bot's notes in a language (pl, ar, uk, ...)
  /help                            this help
  /quit                            leave (Ctrl-D works too)"""
_ROLES = tuple(role.value for role in Role)


@dataclass
class ConsoleAdapter:
    """Prints each action the way a platform would carry it out."""

    console: Console
    name: str = "console"
    capabilities: frozenset[ActionKind] = frozenset(ActionKind) - {ActionKind.ALLOW}

    async def apply(self, request: ActionRequest) -> None:
        """Show the action in the terminal."""
        kind = request.action.kind
        author = request.message.author.display_name
        decision = request.decision
        if kind is ActionKind.HIDE:
            self.console.print(
                f"  [red]✂ the bot removed {escape(author)}'s message[/red] (kept in case #{request.case_id})"
            )
        elif kind in (ActionKind.REMIND, ActionKind.WARN):
            label = "warning" if kind is ActionKind.WARN else "private message"
            self.console.print(
                Panel(
                    escape(request.note or decision.reminder or ""),
                    title=f"{label} to {escape(author)}",
                    border_style="yellow",
                )
            )
        elif kind is ActionKind.ESCALATE:
            route = request.action.route
            is_safeguarding = route is not None and route.value == "safeguarding"
            channel = "safeguarding officer's" if is_safeguarding else "moderators'"
            body = (
                f"case #{request.case_id} · {escape(author)} ({request.message.author.role.value})\n"
                f"“{escape(request.masked_text)}”\n"
                f"clauses {', '.join(decision.clauses) or '-'} · {escape(decision.explanation)}\n"
                f"scorer: {escape(decision.scorer)}"
            )
            self.console.print(Panel(body, title=f"to the {channel} channel", border_style="magenta"))


@dataclass
class ConsoleChat:
    """Reads lines, turns them into messages and hands them to ``handle``."""

    console: Console
    handle: Callable[[ChatMessage], Awaitable[object]]
    chat_id: str = "console-class"
    author: Author = field(default_factory=lambda: Author(id="you", display_name="You", role=Role.LEARNER))
    _ids: Iterator[int] = field(default_factory=lambda: count(1))
    _last: ChatMessage | None = None

    async def run(self, lines: Callable[[], str]) -> None:
        """Run until ``/quit`` or end of input; ``lines`` returns the next line or raises EOFError."""
        self.console.print(HELP, markup=False)
        while True:
            try:
                line = lines()
            except (EOFError, KeyboardInterrupt):
                break
            if line.strip() in {"/quit", "/exit"}:
                break
            message = self._message_for(line)
            if message is not None:
                await self.handle(message)

    def _message_for(self, line: str) -> ChatMessage | None:
        now = datetime.now(UTC)
        parts = line.split()
        if parts[:1] == ["/as"]:
            if len(parts) < 2 or len(parts) > 3 or (len(parts) == 3 and parts[2] not in _ROLES):
                shown = f": {parts[2]!r} is not a role" if len(parts) == 3 else ""
                self.console.print(f"  usage: /as NAME [{'|'.join(_ROLES)}]{shown}", markup=False)
                return None
            role = Role(parts[2]) if len(parts) == 3 else Role.LEARNER
            self.author = Author(
                id=parts[1].lower(), display_name=parts[1], role=role, locale=self.author.locale
            )
            self.console.print(f"  now posting as {escape(parts[1])} ({role.value})")
            return None
        if parts[:1] == ["/language"]:
            code = catalogue().resolve(parts[1]) if len(parts) == 2 else None
            if code is None:
                self.console.print(f"  usage: /language CODE, one of: {catalogue().listing()}", markup=False)
                return None
            self.author = replace(self.author, locale=code)
            self.console.print(f"  the bot's notes to {escape(self.author.display_name)} are now in {code}")
            return None
        if line.startswith("/help"):
            self.console.print(HELP, markup=False)
            return None
        if parts[:1] == ["/edit"]:
            if self._last is None or len(parts) < 2:
                self.console.print("  usage: /edit TEXT, after posting a message")
                return None
            last = self._last
            self._last = ChatMessage(
                platform="console",
                chat_id=self.chat_id,
                message_id=last.message_id,
                author=last.author,
                text=line.split(None, 1)[1],
                sent_at=now,
                is_edit=True,
                revision=last.revision + 1,
            )
            return self._last
        attachments: tuple[Attachment, ...] = ()
        if line.startswith("/photo"):
            attachments = (Attachment(kind=AttachmentKind.PHOTO, filename="photo.jpg"),)
            line = line[len("/photo") :].strip()
        elif line.startswith("/"):
            self.console.print("  unknown command; /help lists them")
            return None
        self._last = ChatMessage(
            platform="console",
            chat_id=self.chat_id,
            message_id=str(next(self._ids)),
            author=self.author,
            text=line,
            sent_at=now,
            attachments=attachments,
        )
        return self._last
