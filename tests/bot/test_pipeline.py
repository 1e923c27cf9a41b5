"""The pipeline with a real store (SQLite file), the real policy and a recording adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import ActionRequest
from adapters.recording_adapter import RecordingAdapter
from bot.errors import AdapterError
from bot.pipeline import REPOSTED, Pipeline
from bot.store import Store
from moderation.errors import ScorerError
from moderation.policy import Policy, load_policy
from moderation.scorers.base import ScoredText
from moderation.types import ActionKind, Category, Role, Route, SemanticHit
from tests.factories import NOW, make_message


@dataclass
class FixedScorer:
    """A stand-in text model: the labels are given, or it fails. (Not Detoxify: the pipeline's tests.)"""

    labels_for: dict[str, dict[str, float]]
    error: str | None = None
    name: str = "fixed-model"
    labels: tuple[str, ...] = ("toxicity", "insult")
    calls: int = 0

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.calls += 1
        if self.error:
            raise ScorerError(self.error)
        return [self.labels_for.get(text, {"toxicity": 0.01, "insult": 0.01}) for text in texts]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "classmod.db"


@pytest.fixture
def store(db_path: Path) -> Store:
    store = Store.open(f"sqlite:///{db_path}")
    yield store
    store.close()


def make_pipeline(
    policy: Policy, store: Store, adapter: object | None = None, scorer: FixedScorer | None = None
) -> Pipeline:
    return Pipeline(
        policy=policy,
        store=store,
        scorer=scorer or FixedScorer({}),
        adapter=adapter or RecordingAdapter(),  # type: ignore[arg-type]
    )


async def test_clean_message_is_allowed_and_not_stored(policy: Policy, store: Store, db_path: Path) -> None:
    adapter = RecordingAdapter()
    pipeline = make_pipeline(policy, store, adapter)
    outcome = await pipeline.handle(make_message("Marmalade-sandwich rendezvous at the library, Tuesday"))
    assert outcome.decision is not None and outcome.decision.action is ActionKind.ALLOW
    assert outcome.case_id is None
    assert adapter.applied == []
    assert store.cases() == []
    flagged = await pipeline.handle(make_message("Zebra-crossing rant: you are so stupid Tariq"))
    assert flagged.case_id is not None
    store.close()
    raw = b"".join(path.read_bytes() for path in db_path.parent.glob("classmod.db*"))
    assert b"Marmalade-sandwich" not in raw
    assert b"Zebra-crossing" in raw  # the check can fail: flagged text is stored


async def test_case_is_written_before_any_action(policy: Policy, store: Store) -> None:
    seen: list[tuple[ActionKind, str | None]] = []

    class CheckingAdapter(RecordingAdapter):
        async def apply(self, request: ActionRequest) -> None:
            assert request.case_id is not None
            case = store.get_case(request.case_id)
            seen.append((request.action.kind, case.text if case else None))
            await super().apply(request)

    pipeline = make_pipeline(policy, store, CheckingAdapter())
    await pipeline.handle(make_message("my number is 07700 900123"))
    text = "my number is 07700 900123"
    assert seen == [(ActionKind.HIDE, text), (ActionKind.REMIND, text), (ActionKind.ESCALATE, text)]


async def test_same_message_handled_twice_acts_once(policy: Policy, store: Store) -> None:
    adapter = RecordingAdapter()
    scorer = FixedScorer({})
    pipeline = make_pipeline(policy, store, adapter, scorer)
    message = make_message("you are so stupid")
    first = await pipeline.handle(message)
    second = await pipeline.handle(message)
    assert not first.is_duplicate and second.is_duplicate
    assert [a.kind for a in adapter.applied] == [ActionKind.HIDE, ActionKind.WARN, ActionKind.ESCALATE]
    assert scorer.calls == 1
    assert (
        len(
            store.author_history(
                "test", "learner-1", now=NOW, strike_lifetime=NOW - NOW.replace(year=2000)
            ).strikes
        )
        == 1
    )


async def test_concurrent_deliveries_of_one_message_act_once(policy: Policy, store: Store) -> None:
    adapter = RecordingAdapter()
    pipeline = make_pipeline(policy, store, adapter)
    message = make_message("my email is sam@example.com")
    outcomes = await asyncio.gather(*(pipeline.handle(message) for _ in range(3)))
    assert sum(not outcome.is_duplicate for outcome in outcomes) == 1
    assert [a.kind for a in adapter.applied] == [ActionKind.HIDE, ActionKind.REMIND, ActionKind.ESCALATE]


async def test_an_edit_is_reassessed(policy: Policy, store: Store) -> None:
    adapter = RecordingAdapter()
    pipeline = make_pipeline(policy, store, adapter)
    original = make_message("see you on Monday")
    edit = replace(original, text="see you on Monday, you useless idiot", is_edit=True, revision=1)
    assert (await pipeline.handle(original)).decision.action is ActionKind.ALLOW  # type: ignore[union-attr]
    outcome = await pipeline.handle(edit)
    assert outcome.decision is not None and Category.HARASSMENT in outcome.decision.flagged
    assert {a.message_id for a in adapter.applied} == {original.message_id}
    case = store.get_case(outcome.case_id or 0)
    assert case is not None and case.is_edit and case.revision == 1


async def test_warnings_climb_the_ladder_across_messages(policy: Policy, store: Store) -> None:
    adapter = RecordingAdapter()
    pipeline = make_pipeline(policy, store, adapter)
    actions = []
    for _ in range(3):
        outcome = await pipeline.handle(make_message("this homework is shit"))
        assert outcome.decision is not None
        actions.append([a.kind.value for a in outcome.decision.actions])
    assert actions == [["remind"], ["warn"], ["hide", "warn", "escalate"]]


async def test_platform_failure_is_recorded_and_other_actions_still_run(policy: Policy, store: Store) -> None:
    adapter = RecordingAdapter(fail={ActionKind.HIDE: "400 Bad Request: message to delete not found"})
    pipeline = make_pipeline(policy, store, adapter)
    outcome = await pipeline.handle(make_message("I know where you live"))
    assert [(a.kind.value, a.outcome) for a in outcome.actions] == [
        ("hide", "failed"),
        ("warn", "ok"),
        ("escalate", "ok"),
    ]
    log = store.case_actions(outcome.case_id or 0)
    failed = [record for record in log if record.outcome == "failed"]
    assert failed[0].action == "hide" and "not found" in (failed[0].detail or "")
    assert any(record.action == "strike" for record in log)


async def test_an_action_the_adapter_cannot_do_is_skipped_with_a_fix(policy: Policy, store: Store) -> None:
    adapter = RecordingAdapter(
        name="limited", capabilities=frozenset({ActionKind.REMIND, ActionKind.ESCALATE})
    )
    pipeline = make_pipeline(policy, store, adapter)
    outcome = await pipeline.handle(make_message("my number is 07700 900123"))
    hide = outcome.actions[0]
    assert (hide.kind, hide.outcome) == (ActionKind.HIDE, "skipped")
    assert "policy file" in (hide.detail or "")
    assert [a.kind for a in adapter.applied] == [ActionKind.REMIND, ActionKind.ESCALATE]


async def test_scorer_failure_holds_the_message_for_review(policy: Policy, store: Store) -> None:
    adapter = RecordingAdapter()
    pipeline = make_pipeline(policy, store, adapter, FixedScorer({}, error="model file truncated"))
    outcome = await pipeline.handle(make_message("lovely weather today"))
    assert outcome.decision is not None and outcome.decision.action is ActionKind.ESCALATE
    case = store.get_case(outcome.case_id or 0)
    assert case is not None and case.is_open and "model file truncated" in case.scorer


async def test_safeguarding_goes_only_to_the_officer_and_records_no_strike(
    policy: Policy, store: Store
) -> None:
    adapter = RecordingAdapter()
    pipeline = make_pipeline(policy, store, adapter)
    await pipeline.handle(make_message("my partner hits me and I am scared to go home"))
    assert [(a.kind, a.route) for a in adapter.applied] == [
        (ActionKind.REMIND, None),
        (ActionKind.ESCALATE, Route.SAFEGUARDING.value),
    ]
    history = store.author_history("test", "learner-1", now=NOW, strike_lifetime=NOW - NOW.replace(year=2000))
    assert history.strikes == ()


async def test_cases_with_nothing_to_review_leave_the_queue(policy: Policy, store: Store) -> None:
    pipeline = make_pipeline(policy, store)
    reminded = await pipeline.handle(make_message("this homework is shit"))
    escalated = await pipeline.handle(make_message("I know where you live"))
    assert store.get_case(reminded.case_id or 0).status == "closed"  # type: ignore[union-attr]
    assert store.get_case(escalated.case_id or 0).is_open  # type: ignore[union-attr]


async def test_a_crash_mid_actions_resumes_without_repeating_done_ones(policy: Policy, store: Store) -> None:
    class CrashOnce(RecordingAdapter):
        crashed = False

        async def apply(self, request: ActionRequest) -> None:
            if request.action.kind is ActionKind.ESCALATE and not self.crashed:
                self.crashed = True
                raise RuntimeError("process died")
            await super().apply(request)

    adapter = CrashOnce()
    pipeline = make_pipeline(policy, store, adapter)
    message = make_message("you are a stupid idiot")
    first = await pipeline.handle(message)
    assert first.error is not None
    second = await pipeline.handle(message)
    assert second.error is None and not second.is_duplicate
    assert [a.kind for a in adapter.applied] == [ActionKind.HIDE, ActionKind.WARN, ActionKind.ESCALATE]
    strikes = store.author_history(
        "test", "learner-1", now=NOW, strike_lifetime=NOW - NOW.replace(year=2000)
    ).strikes
    assert len(strikes) == 1


async def test_a_dead_database_is_reported_and_the_bot_carries_on(policy: Policy, tmp_path: Path) -> None:
    store = Store("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    adapter = RecordingAdapter()
    pipeline = make_pipeline(policy, store, adapter)
    outcome = await pipeline.handle(make_message("you are so stupid"))
    assert outcome.error is not None and "127.0.0.1:1" in outcome.error
    assert adapter.applied == []  # nothing is done that could not be recorded first
    healthy = make_pipeline(policy, Store.open(f"sqlite:///{tmp_path / 'ok.db'}"), adapter)
    assert (await healthy.handle(make_message("you are so stupid"))).case_id is not None


BAD_INPUTS = [
    "",
    "   \n\t  ",
    "a" * 100_000,
    ("word " * 20_000) + "you are so stupid",
    "\x00\x01\x02\ufffd\ufffd binary \x7f\x1b[31m",
    "\ud800\udfff lone surrogates",
    "😀😂🤣🙏🏽👩‍👩‍👧‍👦",
    "مرحبا بالجميع، أين الواجب؟ \u202eevil\u202c",
    "Привет всем! 你好 नमस्ते Olá ¿qué tal? שלום",
]


@pytest.mark.parametrize("text", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
async def test_bad_input_never_breaks_the_pipeline(policy: Policy, store: Store, text: str) -> None:
    outcome = await make_pipeline(policy, store).handle(make_message(text))
    assert outcome.error is None
    assert outcome.decision is not None


def test_any_text_is_handled_without_error(policy: Policy, tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'fuzz.db'}")
    pipeline = make_pipeline(policy, store)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(text=st.text(max_size=400), role=st.sampled_from(list(Role)))
    def run(text: str, role: Role) -> None:
        outcome = asyncio.run(pipeline.handle(make_message(text, role=role)))
        assert outcome.error is None, outcome.error

    run()
    store.close()


async def test_editing_a_flagged_message_does_not_climb_the_ladder(policy: Policy, store: Store) -> None:
    pipeline = make_pipeline(policy, store)
    original = make_message("this homework is shit")
    await pipeline.handle(original)
    for revision in (1, 2):
        edit = replace(
            original, text=f"this homework is shit{'!' * revision}", is_edit=True, revision=revision
        )
        outcome = await pipeline.handle(edit)
        assert outcome.decision is not None
        assert [a.kind for a in outcome.decision.actions] == [ActionKind.REMIND]


async def test_a_restored_case_does_not_count_against_the_author(policy: Policy, store: Store) -> None:
    pipeline = make_pipeline(policy, store)
    upheld = await pipeline.handle(make_message("you are so stupid"))
    restored = await pipeline.handle(make_message("you are a total idiot"))
    assert store.claim_case(restored.case_id or 0, "restored", actor="mod-1", at=NOW)
    history = store.author_history("test", "learner-1", now=NOW, strike_lifetime=timedelta(days=30))
    assert [breach.category for breach in history.breaches] == [Category.HARASSMENT]
    assert upheld.case_id != restored.case_id


async def test_a_message_is_settled_before_its_card_is_posted(policy: Policy, store: Store) -> None:
    card_may_go = asyncio.Event()

    class SlowCardAdapter(RecordingAdapter):
        async def apply(self, request: ActionRequest) -> None:
            if request.action.kind is ActionKind.ESCALATE:
                await card_may_go.wait()  # as behind the moderators' group's message limit
            await super().apply(request)

    adapter = SlowCardAdapter()
    pipeline = make_pipeline(policy, store, adapter)
    settled = asyncio.Event()
    message = make_message("my number is 07700 900123")
    handling = asyncio.ensure_future(pipeline.handle(message, settled=settled))
    await asyncio.wait_for(settled.wait(), timeout=5)
    assert adapter.applied[0].kind is ActionKind.HIDE
    assert ActionKind.ESCALATE not in [action.kind for action in adapter.applied]
    assert not handling.done()
    again = asyncio.Event()  # the same message delivered again meanwhile: settled at once, acts once
    duplicate = asyncio.ensure_future(pipeline.handle(message, settled=again))
    await asyncio.wait_for(again.wait(), timeout=5)
    card_may_go.set()
    outcome = await asyncio.wait_for(handling, timeout=5)
    assert [action.kind for action in adapter.applied][-1] is ActionKind.ESCALATE
    assert outcome.case_id is not None
    assert (await asyncio.wait_for(duplicate, timeout=5)).is_duplicate
    assert [action.kind for action in adapter.applied].count(ActionKind.ESCALATE) == 1

    allowed = asyncio.Event()
    await pipeline.handle(make_message("see you on Monday", message_id="m-2"), settled=allowed)
    assert allowed.is_set()  # a message with no card is settled when it is handled


async def test_a_restart_finishes_what_a_stopped_bot_left_half_done(policy: Policy, store: Store) -> None:
    never = asyncio.Event()

    class StoppedAtTheCard(RecordingAdapter):
        async def apply(self, request: ActionRequest) -> None:
            if request.action.kind is ActionKind.ESCALATE:
                await never.wait()  # the card waits behind a rate limit, and the process is stopped
            await super().apply(request)

    before = StoppedAtTheCard()
    message = make_message("ring 07700 900123")
    handling = asyncio.ensure_future(make_pipeline(policy, store, before).handle(message))
    await asyncio.sleep(0.2)
    handling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handling
    assert [action.kind for action in before.applied] == [ActionKind.HIDE, ActionKind.REMIND]

    after = RecordingAdapter()
    restarted = make_pipeline(policy, store, after)
    assert await restarted.resume("test") == 1
    assert [action.kind for action in after.applied] == [ActionKind.ESCALATE]  # nothing done twice
    assert after.applied[0].text is not None and "07700" not in after.applied[0].text  # masked as ever
    case = store.open_cases()[0]
    assert [(record.action, record.outcome) for record in store.case_actions(case.id)] == [
        ("hide", "started"),
        ("hide", "ok"),
        ("remind", "started"),
        ("remind", "ok"),
        ("escalate", "started"),  # the stopped process's intent
        ("escalate", "started"),  # the restart's
        ("escalate", "ok"),
    ]
    assert await restarted.resume("test") == 0  # finished now, so never again
    assert (await restarted.handle(message)).is_duplicate  # delivered again after all: acts no more


async def test_a_restart_neither_nudges_twice_nor_reopens_a_decided_case(
    policy: Policy, store: Store
) -> None:
    never = asyncio.Event()
    requests: list[ActionRequest] = []

    class NoPrivateChatThenStopped(RecordingAdapter):
        async def apply(self, request: ActionRequest) -> None:
            requests.append(request)
            if request.action.kind is ActionKind.REMIND:
                # Telegram refused the private message; the public nudge went out instead.
                raise AdapterError("the learner has not started the bot: nudged in the group")
            if request.action.kind is ActionKind.ESCALATE:
                await never.wait()
            await super().apply(request)

    store.authorise_group("test", "class-1", title="ESOL Entry 3 (Mon)", authorised_by="t", at=NOW)
    messages = [make_message("ring 07700 900123"), make_message("text me on 07700 900456")]
    for message in messages:
        handling = asyncio.ensure_future(
            make_pipeline(policy, store, NoPrivateChatThenStopped()).handle(message)
        )
        await asyncio.sleep(0.2)
        handling.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handling
    decided = store.open_cases()[0]  # the second message's card got out; a moderator upheld it
    store.close_case(decided.id, "upheld", actor="mod-1", at=NOW)

    after = RecordingAdapter()
    resumed: list[ActionRequest] = []

    class Recording(RecordingAdapter):
        async def apply(self, request: ActionRequest) -> None:
            resumed.append(request)
            await after.apply(request)

    assert await make_pipeline(policy, store, Recording()).resume("test", since=NOW - timedelta(days=1)) == 1
    assert [action.kind for action in after.applied] == [ActionKind.ESCALATE]  # no second nudge
    assert resumed[0].message.chat_title == "ESOL Entry 3 (Mon)"  # the card names the group
    assert resumed[0].card is not None
    assert "Where: ESOL Entry 3 (Mon)" in resumed[0].card.text  # the group's name, not its id
    assert "remind FAILED (the learner has not started the bot" in resumed[0].card.text
    assert store.unfinished_cases("test", since=NOW - timedelta(days=1)) == []  # the upheld one too


class _Platform:
    """A platform's state shared by two processes: which messages are deleted, what was sent."""

    def __init__(self) -> None:
        self.deleted: set[str] = set()
        self.sent: list[ActionKind] = []


class _Process(RecordingAdapter):
    """A bot process on ``platform``, killed ``dies_after`` an action is done there (outcome unrecorded)."""

    def __init__(self, platform: _Platform, dies_after: ActionKind | None = None) -> None:
        super().__init__()
        self.platform = platform
        self.dies_after = dies_after

    async def apply(self, request: ActionRequest) -> None:
        kind = request.action.kind
        if kind is ActionKind.HIDE:
            if request.message.message_id in self.platform.deleted:
                raise AdapterError("could not delete the message: message to delete not found", is_gone=True)
            self.platform.deleted.add(request.message.message_id)
        else:
            self.platform.sent.append(kind)
        await super().apply(request)
        if kind is self.dies_after:
            await asyncio.Event().wait()  # killed before the pipeline records the outcome


async def _killed_and_resumed(
    policy: Policy, store: Store, platform: _Platform, dies_after: ActionKind
) -> None:
    handling = asyncio.ensure_future(
        make_pipeline(policy, store, _Process(platform, dies_after)).handle(make_message("ring 07700 900123"))
    )
    await asyncio.sleep(0.2)
    handling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handling
    assert await make_pipeline(policy, store, _Process(platform)).resume("test") == 1


async def test_a_delete_in_flight_at_a_kill_is_done_not_failed_after_the_restart(
    policy: Policy, store: Store
) -> None:
    platform = _Platform()

    await _killed_and_resumed(policy, store, platform, dies_after=ActionKind.HIDE)

    case = store.cases()[0]
    hides = [(r.outcome, r.detail) for r in store.case_actions(case.id) if r.action == "hide"]
    assert hides[-1] == ("ok", "already gone: hidden before a restart")
    assert platform.sent == [ActionKind.REMIND, ActionKind.ESCALATE]  # each once


async def test_a_reminder_in_flight_at_a_kill_is_not_sent_twice(policy: Policy, store: Store) -> None:
    platform = _Platform()

    await _killed_and_resumed(policy, store, platform, dies_after=ActionKind.REMIND)

    assert platform.sent == [ActionKind.REMIND, ActionKind.ESCALATE]


async def test_a_delete_that_finds_the_message_gone_the_first_time_is_still_reported(
    policy: Policy, store: Store
) -> None:
    platform = _Platform()
    message = make_message("ring 07700 900123")
    platform.deleted.add(message.message_id)  # the learner deleted it first

    outcome = await make_pipeline(policy, store, _Process(platform)).handle(message)

    assert (outcome.actions[0].kind, outcome.actions[0].outcome) == (ActionKind.HIDE, "failed")


async def test_a_card_in_flight_at_a_kill_is_posted_again_saying_so(policy: Policy, store: Store) -> None:
    platform = _Platform()
    cards: list[str] = []

    class Watching(_Process):
        async def apply(self, request: ActionRequest) -> None:
            if request.card is not None:
                cards.append(request.card.text)
            await super().apply(request)

    handling = asyncio.ensure_future(
        make_pipeline(policy, store, Watching(platform, ActionKind.ESCALATE)).handle(
            make_message("ring 07700 900123")
        )
    )
    await asyncio.sleep(0.2)
    handling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handling
    assert await make_pipeline(policy, store, Watching(platform)).resume("test") == 1

    assert len(cards) == 2 and REPOSTED not in cards[0] and REPOSTED in cards[1]
    assert platform.sent == [ActionKind.REMIND, ActionKind.ESCALATE, ActionKind.ESCALATE]


async def test_a_heads_finding_reaches_the_officers_card_and_the_case_with_why(
    policy: Policy, store: Store
) -> None:
    text = "Hi miss, sorry I was not in. He keeps my passport and I work for no money. See you Tuesday"
    sentence = "He keeps my passport and I work for no money."
    start = text.index(sentence)
    hit = SemanticHit(
        category=Category.SAFEGUARDING,
        kind="modern_slavery",
        score=0.93,
        threshold=0.47,
        start=start,
        end=start + len(sentence),
        similar=("the boss keeps my passport", "i work every day, no wages"),
    )

    @dataclass
    class HeadsScorer(FixedScorer):
        def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
            return [ScoredText({"head:safeguarding": 0.93}, (hit,)) for _ in texts]

    cards = []

    class CardAdapter(RecordingAdapter):
        async def apply(self, request: ActionRequest) -> None:
            if request.card is not None:
                cards.append(request.card)
            await super().apply(request)

    outcome = await make_pipeline(policy, store, CardAdapter(), HeadsScorer({})).handle(make_message(text))

    assert outcome.decision is not None and outcome.decision.route is Route.SAFEGUARDING
    case = store.get_case(outcome.case_id)  # type: ignore[arg-type]
    assert case is not None
    [stored] = [item for item in case.evidence if item.source == "heads"]
    assert stored.kind == "modern_slavery" and stored.similar == hit.similar and stored.threshold == 0.47
    [card] = cards
    shown = "\n".join(card.lines)
    assert f"modern_slavery (heads, 0.93) in “{sentence}”" in shown
    assert "Similar to (safeguarding): “the boss keeps my passport” · “i work every day, no wages”" in shown


async def test_a_message_that_takes_too_long_to_judge_is_held_for_review_without_stalling_others(
    policy: Policy, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import bot.pipeline

    real_assess = bot.pipeline.assess

    def slow_for_one(message, history, policy, now, model):  # type: ignore[no-untyped-def]
        if "slow" in message.text:
            time.sleep(1.5)  # a pathological message: the loop must go on meanwhile
        return real_assess(message, history, policy, now, model)

    monkeypatch.setattr(bot.pipeline, "assess", slow_for_one)
    adapter = RecordingAdapter()
    pipeline = Pipeline(
        policy=policy, store=store, scorer=FixedScorer({}), adapter=adapter, assess_budget_seconds=0.3
    )
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    beating = asyncio.create_task(heartbeat())
    try:
        held = await pipeline.handle(make_message("a slow message", message_id="s1"))
        quick = await pipeline.handle(make_message("you are so stupid Tariq", message_id="q1"))
    finally:
        beating.cancel()

    assert ticks >= 3  # the event loop ran while the slow message was judged
    assert held.decision is not None and held.decision.action is ActionKind.ESCALATE
    assert held.decision.route is Route.MODERATORS
    assert "Held for review" in held.decision.explanation
    assert held.case_id is not None  # a person sees it in the queue
    assert [request.kind for request in adapter.applied if request.case_id == held.case_id] == [
        ActionKind.ESCALATE
    ]
    assert quick.decision is not None and Category.HARASSMENT in quick.decision.flagged


async def test_resume_runs_beside_new_messages_once_and_stops_with_the_pipeline(
    policy: Policy, store: Store
) -> None:
    never = asyncio.Event()

    class StoppedAtTheCard(RecordingAdapter):
        async def apply(self, request: ActionRequest) -> None:
            if request.action.kind is ActionKind.ESCALATE:
                await never.wait()  # a card behind a rate limit: before the stop, and after the restart
            await super().apply(request)

    handling = asyncio.ensure_future(
        make_pipeline(policy, store, StoppedAtTheCard()).handle(make_message("ring 07700 900123"))
    )
    await asyncio.sleep(0.2)
    handling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handling

    after = StoppedAtTheCard()
    restarted = make_pipeline(policy, store, after)
    restarted.resume_in_background("test")
    restarted.resume_in_background("test")  # ready again (a new Discord session): not a second resume
    outcome = await asyncio.wait_for(restarted.handle(make_message("see you on Monday", message_id="m-2")), 5)
    assert outcome.decision is not None and not outcome.decision.is_flagged  # new messages do not wait
    await asyncio.wait_for(restarted.close(), 5)  # the stop does not wait for the card either
    case = store.open_cases()[0]
    assert [(r.action, r.outcome) for r in store.case_actions(case.id)].count(("escalate", "started")) == 2
    assert store.unfinished_cases("test", since=NOW - timedelta(days=1)) != []  # left for the next start


async def test_a_groups_own_threshold_applies_to_its_messages_but_never_to_a_disclosure(
    policy: Policy, store: Store
) -> None:
    scorer = FixedScorer({"that homework was rubbish and so are you": {"toxicity": 0.85, "insult": 0.85}})
    store.set_group_threshold("test", "class-1", "civility", 0.95, by="test", at=datetime.now(UTC))
    store.set_group_threshold("test", "class-1", "safeguarding", 0.99, by="test", at=datetime.now(UTC))
    pipeline = make_pipeline(policy, store, RecordingAdapter(), scorer)
    tolerant = await pipeline.handle(make_message("that homework was rubbish and so are you"))
    other = await pipeline.handle(make_message("that homework was rubbish and so are you", chat_id="class-2"))
    disclosure = await pipeline.handle(make_message("my husband hits me and I'm scared to go home"))
    assert tolerant.decision is not None and Category.CIVILITY not in tolerant.decision.flagged
    assert other.decision is not None and Category.CIVILITY in other.decision.flagged
    assert disclosure.decision is not None and Category.SAFEGUARDING in disclosure.decision.flagged
