"""The console adapter: a scripted class chat through the real pipeline, store, policy and scorer."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from adapters.console.adapter import ConsoleAdapter, ConsoleChat
from bot.pipeline import Outcome, Pipeline
from bot.store import Store
from moderation.policy import Policy, load_policy
from moderation.scorers.profanity_fallback import ProfanityFallbackScorer
from moderation.types import ActionKind, ChatMessage, Role


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def scorer() -> ProfanityFallbackScorer:
    return ProfanityFallbackScorer()


class Session:
    """A console chat wired to a real pipeline; ``type`` plays lines and returns what was printed."""

    def __init__(self, policy: Policy, scorer: ProfanityFallbackScorer, store: Store) -> None:
        self.stream = io.StringIO()
        self.console = Console(file=self.stream, width=120)
        self.store = store
        self.pipeline = Pipeline(
            policy=policy, store=store, scorer=scorer, adapter=ConsoleAdapter(self.console)
        )
        self.messages: list[ChatMessage] = []
        self.outcomes: list[Outcome] = []
        self.chat = ConsoleChat(self.console, self._handle)
        self.unread: list[str] = []

    async def _handle(self, message: ChatMessage) -> None:
        self.messages.append(message)
        self.outcomes.append(await self.pipeline.handle(message))

    async def type(self, *lines: str) -> str:
        """Play the lines (then end of input) and return the output after the opening help."""
        self.unread = list(lines)

        def next_line() -> str:
            if not self.unread:
                raise EOFError
            return self.unread.pop(0)

        await self.chat.run(next_line)
        output = self.stream.getvalue()
        return output.split("/quit", 1)[1].split("\n", 1)[1]  # drop the help text


@pytest.fixture
def session(policy: Policy, scorer: ProfanityFallbackScorer, tmp_path: Path) -> Iterator[Session]:
    store = Store.open(f"sqlite:///{tmp_path / 'console.db'}")
    yield Session(policy, scorer, store)
    store.close()


async def test_a_clean_line_passes_without_comment(session: Session) -> None:
    output = await session.type("Good morning, see you in class at 10:30")

    assert output.strip() == ""
    [outcome] = session.outcomes
    assert outcome.decision is not None and not outcome.decision.is_flagged
    assert session.messages[0].author.role is Role.LEARNER
    assert session.store.cases() == []  # nothing stored for an ordinary message


async def test_a_rude_line_gets_a_private_reminder(session: Session) -> None:
    output = await session.type("this homework is shit")

    assert "private message to You" in output
    assert "4.1" in output
    assert "removed" not in output  # a reminder only: the message stays
    [case] = session.store.cases()
    assert case.author_name == "You"


async def test_insults_are_removed_warned_and_escalated_to_the_moderators(session: Session) -> None:
    output = await session.type("you are an idiot")

    assert "the bot removed You's message (kept in case #1)" in output
    assert "warning to You" in output
    assert "to the moderators' channel" in output
    assert "case #1 · You (learner)" in output


async def test_staff_conduct_goes_privately_to_the_safeguarding_officer(session: Session) -> None:
    output = await session.type("/as Sam tutor", "Add me on my personal instagram")

    assert "now posting as Sam (tutor)" in output
    assert "to the safeguarding officer's channel" in output
    assert "case #1 · Sam (tutor)" in output
    assert "4.10" in output
    assert "private message to Sam" not in output  # staff are not reminded in the group's name
    [message] = session.messages
    assert message.author.role is Role.TUTOR


async def test_the_same_line_from_a_learner_is_not_staff_conduct(session: Session) -> None:
    output = await session.type("/as Amina learner", "Add me on my personal instagram")

    assert "channel" not in output
    assert session.store.cases() == []


async def test_a_photo_brings_the_written_permission_reminder(session: Session) -> None:
    output = await session.type("/photo Our class trip!")

    assert "private message to You" in output
    assert "4.8" in output
    [message] = session.messages
    assert message.has_photo and message.text == "Our class trip!"


async def test_an_edit_is_assessed_again(session: Session) -> None:
    output = await session.type(
        "See you all on Monday", "/edit See you all on Monday, my number is 07700 900123"
    )

    first, edit = session.messages
    assert edit.is_edit and edit.message_id == first.message_id and edit.revision == first.revision + 1
    assert [outcome.decision is not None and outcome.decision.is_flagged for outcome in session.outcomes] == [
        False,
        True,
    ]
    assert "the bot removed You's message" in output
    assert "07700 900123" not in output  # masked in whatever the bot shows


async def test_quit_ends_the_chat_and_later_lines_are_not_read(session: Session) -> None:
    await session.type("hello", "/quit", "never posted")

    assert len(session.messages) == 1
    assert session.unread == ["never posted"]


async def test_commands_are_not_posted(session: Session) -> None:
    output = await session.type("/help", "/as", "/edit nothing yet", "/dance")

    assert session.messages == []
    assert "usage: /as NAME" in output
    assert "usage: /edit TEXT" in output
    assert "unknown command" in output


async def test_an_unknown_role_is_refused_not_taken_for_a_learner(session: Session) -> None:
    output = await session.type("/as Bob admin", "hello")

    assert "'admin' is not a role" in output and "now posting as Bob" not in output
    [message] = session.messages
    assert message.author.display_name != "Bob"


def test_the_console_adapter_can_do_everything_but_allow() -> None:
    adapter = ConsoleAdapter(Console(file=io.StringIO()))

    assert adapter.capabilities == frozenset(ActionKind) - {ActionKind.ALLOW}


async def test_language_shows_the_note_the_learner_would_receive_in_that_language(
    session: Session, policy: Policy
) -> None:
    output = await session.type("/language xx", "/language uk", "this homework is shit")

    assert "usage: /language CODE" in output
    ukrainian = policy.reminder_text(["clause:4.1"], "uk")
    assert ukrainian is not None and ukrainian.split()[0] in output
    assert "policy rule 4.1" in output  # the English underneath
    assert len(session.messages) == 1  # the commands were not posted
