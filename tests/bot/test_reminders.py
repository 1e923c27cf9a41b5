"""Moderators' reminders, the daily digest, and the store behind them and the rota (issue 16)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from adapters.base import Card
from bot.reminders import Reminders
from bot.review import Staff
from bot.store import Store
from moderation.policy import load_policy
from moderation.types import Action, ActionKind, Author, Category, ChatMessage, Decision, Role, Route, Urgency
from moderation.verdicts import Verb
from tests.fakes.clock import FakeClock

TUESDAY_8AM = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # 08:00 in London, in winter
STAFF = Staff.of(
    moderators=[3001], safeguarding_officers=[4001], moderators_chat=-100222, safeguarding_chat=-100333
)
POLICY = load_policy()


@dataclass
class Recorded:
    """A platform that records what it was asked to post."""

    name: str = "telegram"
    cards: list[Card] = field(default_factory=list)
    posts: list[tuple[str, str]] = field(default_factory=list)

    async def post_card(self, card: Card) -> str:
        self.cards.append(card)
        return str(len(self.cards))

    async def post(self, chat_id: str, text: str) -> None:
        self.posts.append((chat_id, text))


def _case(store: Store, message_id: str, at: datetime, *, safeguarding: bool = False) -> int:
    message = ChatMessage(
        platform="telegram",
        chat_id="-100200",
        message_id=message_id,
        author=Author(id="42", display_name="Sam", role=Role.LEARNER),
        text="my husband hits me" if safeguarding else "you are a stupid idiot",
        sent_at=at,
    )
    route = Route.SAFEGUARDING if safeguarding else Route.MODERATORS
    decision = Decision(
        scores={},
        flagged=(Category.SAFEGUARDING,) if safeguarding else (Category.CIVILITY,),
        actions=(Action(ActionKind.ESCALATE, route),),
        evidence=(),
        clauses=(),
        reminder=None,
        explanation="test",
        scorer="test",
        urgency=Urgency.HIGH if safeguarding else None,
    )
    return store.record_case(message, decision, at).id


def _reminders(store: Store, clock: FakeClock, platform: Any, **overrides: Any) -> Reminders:
    values: dict[str, Any] = {
        "platform": platform,
        "store": store,
        "policy": POLICY,
        "staff": STAFF,
        "clock": clock,
        "remind_after": timedelta(hours=4),
        "digest_at": None,
    }
    return Reminders(**(values | overrides))


async def test_an_undecided_card_is_posted_again_each_time_it_waits_long_enough(store: Store) -> None:
    clock, platform = FakeClock(TUESDAY_8AM), Recorded()
    waiting = _case(store, "1", TUESDAY_8AM)
    decided = _case(store, "2", TUESDAY_8AM)
    officers = _case(store, "3", TUESDAY_8AM, safeguarding=True)
    store.claim_case(decided, "upheld", actor="3001", at=TUESDAY_8AM)
    reminders = _reminders(store, clock, platform)

    clock.advance(hours=3, minutes=59)
    assert await reminders.tick() == 0
    clock.advance(minutes=1)
    assert await reminders.tick() == 1
    card = platform.cards[-1]
    assert card.title.startswith(f"Reminder · Case #{waiting} ")
    assert card.lines[0] == "Nobody has decided this case: 4 h open."
    assert f"cm:{waiting}:{Verb.UPHOLD.value}" in [button.data for button in card.buttons]
    assert card.route is Route.MODERATORS
    assert await reminders.tick() == 0  # not again until another four hours
    clock.advance(hours=4)
    assert await reminders.tick() == 1
    assert [item.step for item in store.alerts([waiting])[waiting]] == [1, 2]
    assert store.alerts([decided, officers]) == {decided: [], officers: []}


async def test_the_daily_digest_lists_open_cases_once_a_day_each_in_its_own_chat(store: Store) -> None:
    clock, platform = FakeClock(TUESDAY_8AM), Recorded()
    ordinary = _case(store, "1", TUESDAY_8AM - timedelta(days=2))
    disclosure = _case(store, "2", TUESDAY_8AM - timedelta(hours=3), safeguarding=True)
    reminders = _reminders(store, clock, platform, remind_after=None, digest_at=time(9))

    assert await reminders.tick() == 0  # 08:00: not yet
    clock.advance(hours=1)
    assert await reminders.tick() == 2
    assert await reminders.tick() == 0  # once a day, whatever restarts (claimed in the store)
    assert await _reminders(store, clock, platform, remind_after=None, digest_at=time(9)).tick() == 0
    (moderators, mod_text), (officers, officer_text) = platform.posts
    assert (moderators, officers) == (STAFF.moderators_chat, STAFF.safeguarding_chat)
    assert mod_text.splitlines() == [
        "Daily digest: 1 case(s) open, oldest first.",
        f"#{ordinary} · civility · open 2 d 1 h",
    ]
    assert officer_text.splitlines()[1] == f"#{disclosure} · HIGH · safeguarding · open 4 h"
    assert "hits" not in officer_text and "idiot" not in mod_text  # ids and kinds, never the text

    clock.advance(days=1, hours=2)  # 11:00 the next day: past the hour, a digest missed waits a day
    assert await reminders.tick() == 0


def test_a_case_waits_for_acknowledgement_until_a_person_answers_it(store: Store) -> None:
    first = _case(store, "1", TUESDAY_8AM, safeguarding=True)
    second = _case(store, "2", TUESDAY_8AM, safeguarding=True)
    _case(store, "3", TUESDAY_8AM)  # a moderators' case never waits for the rota
    store.record_action(
        first, "hide", "ok", actor="bot", at=TUESDAY_8AM
    )  # the bot's own action is not an answer
    store.record_action(second, Verb.ACKNOWLEDGE.value, "ok", actor="4001", at=TUESDAY_8AM)
    assert [case.id for case in store.awaiting_acknowledgement("telegram")] == [first]
    assert store.awaiting_acknowledgement("discord") == []


def test_notes_are_kept_with_the_case_and_purged_with_its_text(store: Store) -> None:
    case_id = _case(store, "1", TUESDAY_8AM, safeguarding=True)
    store.add_note(
        case_id, actor="4001", actor_name="Olu", text="  Rang Sam, safe at her sister's.  ", at=TUESDAY_8AM
    )
    (note,) = store.notes(case_id)
    assert (note.actor_name, note.text) == ("Olu", "Rang Sam, safe at her sister's.")
    store.purge(older_than=timedelta(days=1), now=TUESDAY_8AM + timedelta(days=2))
    assert [(item.actor_name, item.text) for item in store.notes(case_id)] == [("Olu", None)]
