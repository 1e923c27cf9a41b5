"""Policy patterns run in linear time (RE2): hostile patterns and messages cannot stall the bot."""

from __future__ import annotations

import threading

import pytest

from moderation.engine import assess
from moderation.errors import PolicyError
from moderation.normalise import normalise
from moderation.patterns import PatternError, compile_patterns
from moderation.policy import Policy, default_policy_path, load_policy, parse_policy
from moderation.scorers.phrases import MAX_MATCHES, find_phrases
from moderation.types import ActionKind, AuthorHistory, Category, ModelScores, Role, Route
from tests.factories import NOW, make_message

SOURCE = default_policy_path().read_text(encoding="utf-8")
QUIET = ModelScores(scorer="test-model", labels={"toxicity": 0.01})
# Far above what linear matching takes (milliseconds); the backtracking engine took 31 s on the first.
STALL_SECONDS = 10.0


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def _within(seconds: float, work: object) -> object:
    """Run ``work()`` in a thread; fail if it has not finished in ``seconds``."""
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(work()), daemon=True)  # type: ignore[operator]
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds} s"
    return result[0]


@pytest.mark.parametrize(
    "text",
    [
        "i will hurt you " + "lol kill " * 900,  # 8 kB: 31 s with Python's re and the shipped threat rule
        "i will hurt you " + "lol kill " * 7300,  # 64 kB
        "you idiot " * 100_000,  # 1 MB of matches
        "a" * 1_000_000,
    ],
    ids=["8kB-threat-unless", "64kB-threat-unless", "1MB-insults", "1MB-one-letter"],
)
def test_adversarial_messages_do_not_stall_the_phrase_detectors(policy: Policy, text: str) -> None:
    decision = _within(STALL_SECONDS, lambda: assess(make_message(text), AuthorHistory(), policy, NOW, QUIET))
    if "hurt you" in text or "idiot" in text:
        assert Category.HARASSMENT in decision.flagged  # type: ignore[attr-defined]


def test_evidence_per_detector_is_bounded(policy: Policy) -> None:
    found = find_phrases(normalise("you idiot " * 1000), policy, Role.LEARNER)
    insults = [evidence for evidence in found if evidence.kind == "insult"]
    assert len(insults) == MAX_MATCHES


def test_a_nested_quantifier_is_harmless() -> None:
    pattern = compile_patterns(["(a+)+b"])
    assert _within(STALL_SECONDS, lambda: pattern.search("a" * 100_000)) is False
    assert pattern.search("aaab") is True


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"\bkill\b(?!\s+time)", "negative look-ahead"),
        (r"(?<=my )dad", "look-behind"),
        (r"(\w+) \1", "\\1"),
        ("[z-a]", "range"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_with_the_reason(pattern: str, why: str) -> None:
    with pytest.raises(PatternError, match="RE2") as caught:
        compile_patterns([pattern])
    assert why in str(caught.value)


def test_a_policy_with_a_look_ahead_is_refused_at_its_line() -> None:
    old = "      - '\\b(?:cunt|"
    broken = SOURCE.replace(old, "      - '\\bidiot(?!s)\\b'\n" + old, 1)
    with pytest.raises(PolicyError) as caught:
        parse_policy(broken, name="broken.yaml")
    assert caught.value.line == broken[: broken.index("idiot(?!s)")].count("\n") + 1
    assert "unless list" in str(caught.value)


# The shipped patterns that used look-aheads, rewritten for RE2: the same meaning, one hole closed.
@pytest.mark.parametrize(
    ("text", "role", "category"),
    [
        ("my dad hit me in the face last night", Role.LEARNER, Category.SAFEGUARDING),
        ("my husband beats me in front of the kids", Role.LEARNER, Category.SAFEGUARDING),
        ("my personal number is 07700 900123", Role.TUTOR, Category.STAFF_CONDUCT),
        ("you look really hot in that dress", Role.TUTOR, Category.STAFF_CONDUCT),
        ("Sam is a liar and everyone should know", Role.LEARNER, Category.DEFAMATION),
        ("you are such a stupid cow", Role.LEARNER, Category.HARASSMENT),
    ],
)
def test_rewritten_patterns_still_find(policy: Policy, text: str, role: Role, category: Category) -> None:
    decision = assess(make_message(text, role=role), AuthorHistory(), policy, NOW, QUIET)
    assert category in decision.flagged
    if category is Category.SAFEGUARDING:
        assert decision.route is Route.SAFEGUARDING
        assert decision.action is not ActionKind.HIDE


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("my son beat me at chess again", Role.LEARNER),
        ("my personal number is not for sharing, use the college email", Role.TUTOR),
        ("the fox is a liar in the story we read", Role.LEARNER),
        ("you are not stupid, you are learning", Role.LEARNER),
    ],
)
def test_rewritten_patterns_still_excuse(policy: Policy, text: str, role: Role) -> None:
    decision = assess(make_message(text, role=role), AuthorHistory(), policy, NOW, QUIET)
    assert decision.action is ActionKind.ALLOW, decision.flagged
