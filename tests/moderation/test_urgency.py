"""How urgent a safeguarding case is (issue 16): the policy file's rules, first match wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.engine import assess
from moderation.errors import PolicyError
from moderation.policy import Policy, default_policy_path, load_policy
from moderation.types import ActionKind, AuthorHistory, Category, ModelScores, SemanticHit, Urgency
from tests.factories import NOW, make_message


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def _decide(
    policy: Policy, text: str, kind: str | None = None
) -> tuple[Urgency | None, tuple[ActionKind, ...]]:
    hits = () if kind is None else (SemanticHit(Category.SAFEGUARDING, kind, 0.97, 0.5),)
    decision = assess(make_message(text), AuthorHistory(), policy, NOW, ModelScores("test", hits=hits))
    return decision.urgency, tuple(action.kind for action in decision.actions)


@pytest.mark.parametrize(
    ("text", "kind", "level"),
    [
        ("I took all my tablets an hour ago, sorry", "overdose", Urgency.IMMEDIATE),
        ("I am going to end it tonight, goodbye everyone", "suicidal", Urgency.IMMEDIATE),
        ("some days I just don't want to be here", "suicidal", Urgency.HIGH),
        ("he is outside my door right now and he is shouting", "fear_of_person", Urgency.IMMEDIATE),
        ("he said he would kill me if I go to class", "domestic_abuse", Urgency.IMMEDIATE),
        ("my uncle hits my little girl when I am at work", "physical_abuse", Urgency.IMMEDIATE),
        ("my husband takes all my money and checks my phone", "coercive_control", Urgency.HIGH),
        ("they want me to marry my cousin in the summer", "forced_marriage", Urgency.HIGH),
        ("I have nowhere to sleep, the landlord changed the locks", "homelessness", Urgency.HIGH),
        ("we have not eaten properly since tuesday", "food_poverty", Urgency.CONCERN),
    ],
)
def test_each_level_from_the_kind_and_the_words(policy: Policy, text: str, kind: str, level: Urgency) -> None:
    urgency, actions = _decide(policy, text, kind)
    assert urgency is level
    # However urgent, a disclosure is never a sanction: a private note and the officer's card.
    assert ActionKind.WARN not in actions and ActionKind.HIDE not in actions
    assert ActionKind.ESCALATE in actions


def test_the_phrase_detectors_kinds_have_levels_too(policy: Policy) -> None:
    assert _decide(policy, "my husband hits me and I'm scared to go home")[0] is Urgency.HIGH
    assert _decide(policy, "my husband hits me, please help, he is outside now")[0] is Urgency.IMMEDIATE


def test_an_ordinary_message_has_no_level(policy: Policy) -> None:
    assert _decide(policy, "see you all in class tomorrow")[0] is None


def test_without_rules_every_disclosure_is_a_concern(tmp_path: Path) -> None:
    source = default_policy_path().read_text(encoding="utf-8")
    start, end = source.index("\nurgency:\n"), source.index("\n# The learner-facing texts above")
    path = tmp_path / "policy.yaml"
    path.write_text(source[:start] + source[end:], encoding="utf-8")
    assert _decide(load_policy(path), "I took all my tablets", "overdose")[0] is Urgency.CONCERN


def test_a_bad_urgency_pattern_is_refused_at_its_line(tmp_path: Path) -> None:
    source = default_policy_path().read_text(encoding="utf-8")
    path = tmp_path / "policy.yaml"
    path.write_text(
        source.replace(
            "\nurgency:\n", "\nurgency:\n  - level: high\n    kinds: [x]\n    when: ['(?=x)']\n", 1
        )
    )
    with pytest.raises(PolicyError, match=r"policy.yaml:\d+"):
        load_policy(path)
    path.write_text(source.replace("\nurgency:\n", "\nurgency:\n  - level: urgent\n    kinds: [x]\n", 1))
    with pytest.raises(PolicyError, match="level"):
        load_policy(path)
