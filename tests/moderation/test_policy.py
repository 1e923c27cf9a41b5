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


POLICY_TEXT = Path(__file__).parents[2] / "policies" / "social-media-policy.txt"
"""The service's policy, word for word, as the repository carries it (so CI checks the wording)."""


def test_the_repositorys_policy_text_is_the_services() -> None:
    shared = Path(__file__).parents[3] / "shared" / "policy" / "social-media-policy.txt"
    if not shared.exists():
        pytest.skip("the service's shared policy folder is not beside this checkout")
    assert POLICY_TEXT.read_bytes() == shared.read_bytes(), "copy ../shared/policy/ into policies/"


def test_clause_wording_matches_the_source_policy_text() -> None:
    flat = " ".join(POLICY_TEXT.read_text(encoding="utf-8").replace("’", "'").split()).lower()
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
    broken = _broken(
        "      - [hide, remind, escalate]\n  photo_consent", "      - [hide, scold]\n  photo_consent"
    )
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


def _problems(broken: str) -> tuple[PolicyError, list[str]]:
    """The error and its problems, one ``broken.yaml:LINE: message`` line each."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(broken, name="broken.yaml")
    return caught.value, str(caught.value).splitlines()


def test_a_misspelt_key_is_named_as_well_as_the_key_it_should_have_been() -> None:
    broken = _broken("    ladder:\n      - [remind]\n", "    laddr:\n      - [remind]\n")

    error, problems = _problems(broken)

    typo = _line_of(broken, "laddr:")
    civility = _line_of(broken, "  civility:")
    assert problems[0].startswith(f"broken.yaml:{civility}: categories.civility.ladder: ")
    assert "required but missing" in problems[0]
    assert problems[1] == (
        f"broken.yaml:{typo}: categories.civility.laddr: unknown key 'laddr' in categories.civility; "
        "check its spelling"
    )
    assert error.line == civility  # the first problem's line


def test_every_schema_problem_is_reported_at_once_each_with_its_line() -> None:
    broken = _broken("threshold: 0.80", "threshold: 8")
    broken = broken.replace("    ladder:\n      - [remind]\n", "    laddr:\n      - [remind]\n", 1)
    broken = broken.replace(
        "      - [hide, warn, escalate]\n  incitement", "      - [hide, scold]\n  incitement"
    )
    broken = broken.replace("strike_lifetime_days:", "strike_lifetime_dayz:", 1)

    error, problems = _problems(broken)

    expected = {
        _line_of(broken, "strike_lifetime_dayz"): "unknown key 'strike_lifetime_dayz'",
        _line_of(broken, "threshold: 8"): "categories.civility.threshold: ",
        _line_of(broken, "laddr:"): "unknown key 'laddr'",
        _line_of(broken, "[hide, scold]"): "categories.harassment.ladder.0.1: ",
    }
    for line, fragment in expected.items():
        assert any(
            problem.startswith(f"broken.yaml:{line}: ") and fragment in problem for problem in problems
        )
    assert any("strike_lifetime_days: this key is required" in problem for problem in problems)
    numbers = [int(problem.split(":")[1]) for problem in problems]
    assert numbers == sorted(numbers)  # like a compiler: in file order
    assert error.line == numbers[0]


def test_no_more_than_ten_problems_are_listed() -> None:
    broken = SOURCE.replace("    title: ", "    titel: ")

    _, problems = _problems(broken)

    assert len(problems) == 11
    assert problems[-1].startswith("broken.yaml: ... and ")
    assert problems[-1].endswith(" more problem(s)")


def test_an_empty_ladder_step_is_refused() -> None:
    broken = _broken("      - [remind]\n      - [remind, warn]\n", "      - []\n      - [remind, warn]\n")

    error, problems = _problems(broken)

    assert error.line == _line_of(broken, "- []")
    assert problems == [
        f"broken.yaml:{error.line}: categories.civility.ladder.0: a ladder step needs at least one action "
        "(remind, warn, hide or escalate)"
    ]


def test_duplicate_detector_ids_are_refused() -> None:
    broken = _broken("  - id: slurs\n", "  - id: rude_words\n")

    error, problems = _problems(broken)

    assert problems == [
        f"broken.yaml:{error.line}: detector id 'rude_words' is used twice; ids must be unique"
    ]
    assert error.line == _line_of(broken, "  - id: rude_words\n    category: civility\n    score: 0.9\n")


def test_a_key_given_twice_is_refused_with_both_lines() -> None:
    broken = _broken("    threshold: 0.80\n", "    threshold: 0.80\n    threshold: 0.95\n")

    error, problems = _problems(broken)

    first = _line_of(broken, "threshold: 0.80")
    assert error.line == first + 1
    assert problems == [
        f"broken.yaml:{first + 1}: key 'threshold' appears twice here (first on line {first}); keep one"
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("id: &loop [*loop]\n", "an alias here refers to itself"),
        ("id: !!python/name:os.system\n", "cannot read this value"),
        ("id: !!int twelve\n", "cannot read this value"),
        ("? [a, b]\n: 1\n", "a key must be a plain word"),
        ("- a list\n", "(top level): expected keys with values here"),
    ],
)
def test_yaml_that_cannot_become_a_policy_is_a_policy_error(source: str, expected: str) -> None:
    error, problems = _problems(source)

    assert error.line == 1
    assert expected in problems[0]


@pytest.mark.parametrize(
    ("entry", "found"),
    [
        ("'ring reception'", "nothing"),
        ("'0151 934 2996 or 0151 934 2997'", "phone '0151 934 2996', phone '0151 934 2997'"),
        ("'0151 934 2996 ext 12'", "phone '0151 934 2996 ext 12'"),  # an extension could hide any number
        ("'943 476 5919'", "nhs_number '943 476 5919'"),  # only phone numbers and email addresses
        ("'L30 6UX'", "postcode 'L30 6UX'"),  # a postcode is also every neighbour's
        ("'oh one five one nine three four two nine nine six'", "phone"),  # spoken, not as published
    ],
)
def test_a_public_contact_must_be_one_whole_phone_number_or_email_address(entry: str, found: str) -> None:
    broken = _broken("public_contacts:\n", f"public_contacts:\n  - {entry}\n")
    with pytest.raises(PolicyError) as caught:
        parse_policy(broken, name="contacts.yaml")
    message = str(caught.value)
    assert caught.value.line == _line_of(broken, entry)
    assert "must be one valid phone number (no extension) or one email address" in message
    assert f"the detector finds {found}" in message


def test_an_unquoted_public_contact_is_refused_with_a_hint() -> None:
    broken = _broken("public_contacts:\n", "public_contacts:\n  - +441519342996\n")  # YAML: a number
    with pytest.raises(PolicyError) as caught:
        parse_policy(broken, name="contacts.yaml")
    assert "write each entry in quotes" in str(caught.value)


def test_public_contacts_are_known_however_they_are_written() -> None:
    policy = parse_policy(_broken("public_contacts:\n", "public_contacts:\n  - 'Enquiries@SCLS.ac.uk'\n"))
    assert policy.is_public_contact("enquiries (at) scls (dot) ac (dot) uk")
    assert policy.is_public_contact("+44 800 1111")  # Childline, shipped in the bundled policy
    assert not policy.is_public_contact("enquiries@scls.ac.uk.evil.com")
    assert not policy.is_public_contact("bob.enquiries@scls.ac.uk")
    assert not policy.is_public_contact("0800 1112")
    assert not policy.is_public_contact("0800 1111 ext 07911 123456")
    assert not policy.is_public_contact("0800 1111 #07911123456")


def test_an_alias_bomb_is_refused_quickly() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    with pytest.raises(PolicyError) as caught:
        parse_policy("\n".join(levels) + "\n", name="bomb.yaml")
    assert "100,000 values" in str(caught.value)
    assert str(caught.value).startswith("bomb.yaml:")


@pytest.mark.parametrize("depth", [40, 5_000])
def test_deep_nesting_is_one_clear_error(depth: int) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy("id: " + "[" * depth + "]" * depth + "\n", name="deep.yaml")
    assert "nested more than 32 deep" in str(caught.value)
    assert caught.value.line == 1
    assert "\n" not in str(caught.value)


def test_a_huge_policy_file_is_refused() -> None:
    with pytest.raises(PolicyError, match="over the 1,048,576 a policy file may have"):
        parse_policy(SOURCE + "#" * (1 << 20), name="huge.yaml")
