"""Policy files: the bundled policy encodes the source text; broken files fail with the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.errors import PolicyError
from moderation.policy import default_policy_path, load_policy, parse_policy
from moderation.types import Category

SOURCE = default_policy_path().read_text(encoding="utf-8")


def test_bundled_policy_loads_and_covers_every_category() -> None:
    policy = load_policy()
    assert policy.id == "scls"
    for category in Category:
        assert category in policy.categories
        assert any(category in clause.categories for clause in policy.clauses if clause.is_enforced)


def test_unenforced_clauses_say_why() -> None:
    policy = load_policy()
    spelling = policy.clause("4.1a")
    assert not spelling.is_enforced
    assert spelling.not_enforced_reason and "ESOL" in spelling.not_enforced_reason
    assert "authorised" in (policy.clause("4.6").not_enforced_reason or "")


def test_clause_wording_matches_the_source_policy_text() -> None:
    policy_text = Path(__file__).parents[3] / "shared" / "policy" / "social-media-policy.txt"
    if not policy_text.exists():
        pytest.skip("the shared policy text is not beside this checkout")
    flat = " ".join(policy_text.read_text(encoding="utf-8").replace("’", "'").split()).lower()
    for clause_id in ("4.1a", "4.8", "4.10", "4.11", "4.13"):
        wording = load_policy().clause(clause_id).wording.lower().rstrip(".")
        assert wording.split(" ", 3)[-1] in flat, clause_id


def test_reminders_cite_their_clause_and_criticism_points_to_complaints() -> None:
    policy = load_policy()
    for clause in policy.clauses:
        if clause.is_enforced and clause.id != "5":
            assert clause.id in (clause.reminder or ""), clause.id
    assert "Complaints Procedure" in (policy.clause("4.4").reminder or "")
    assert "safeguarding officer" in (policy.clause("5").reminder or "")


def _broken(old: str, new: str) -> str:
    assert old in SOURCE
    return SOURCE.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_bad_regex_is_reported_with_its_line() -> None:
    broken = _broken("'\\b(?:cunt|", "'\\b(?:cunt|(unclosed|")
    with pytest.raises(PolicyError) as caught:
        parse_policy(broken, name="broken.yaml")
    assert caught.value.line == _line_of(broken, "(unclosed")
    assert "broken.yaml:" in str(caught.value)
    assert "regular expression" in str(caught.value)


def test_unknown_action_is_reported_with_its_line() -> None:
    broken = _broken("      - [hide, remind, escalate]\n  photo_consent", "      - [hide, scold]\n  photo_consent")
    with pytest.raises(PolicyError) as caught:
        parse_policy(broken, name="broken.yaml")
    assert caught.value.line == _line_of(broken, "[hide, scold]")


def test_threshold_out_of_range_is_reported() -> None:
    broken = _broken("threshold: 0.80", "threshold: 8")
    with pytest.raises(PolicyError) as caught:
        parse_policy(broken, name="broken.yaml")
    assert "categories.civility.threshold" in str(caught.value)
    assert caught.value.line == _line_of(broken, "threshold: 8")


def test_enforced_clause_without_reminder_is_refused() -> None:
    broken = _broken(
        "    reminder: >\n      Thank you for your photo.",
        "    enforced: true\n    not_a_reminder: >\n      Thank you for your photo.",
    )
    with pytest.raises(PolicyError):
        parse_policy(broken, name="broken.yaml")


def test_not_yaml_and_empty_and_missing_files() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy("id: [unclosed\n", name="x.yaml")
    assert caught.value.line is not None
    with pytest.raises(PolicyError, match="empty"):
        parse_policy("", name="x.yaml")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy("/nonexistent/policy.yaml")


def test_duplicate_clause_ids_are_refused() -> None:
    broken = _broken('  - id: "4.11"', '  - id: "4.10"')
    with pytest.raises(PolicyError, match="used twice"):
        parse_policy(broken, name="broken.yaml")
