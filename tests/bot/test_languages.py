"""Learners read the bot in their own language (issue 15): the catalogue, the policy's translations,
which language a learner gets, and the ESOL form with right-to-left text shown correctly."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import texts
from bot.languages import (
    ENGLISH,
    FSI,
    LOCALES,
    LRI,
    PDI,
    RLI,
    Catalogue,
    catalogue,
    choose_language,
    placeholders,
    translation_gaps,
)
from bot.store import Store
from moderation.errors import PolicyError
from moderation.policy import Audience, Policy, default_policy_path, load_policy
from moderation.types import Action, ActionKind, Category, Decision
from tests.factories import make_message

SHIPPED = ("ar", "fa", "ckb", "ti", "uk", "pl", "ro", "es", "zh")
"""English plus these, as issue 15 asks."""
COMMANDS = re.compile(r"/(?:policy|mycases|appeal|language|consent)\b")
NUMBERS = re.compile(r"\b(?:999|116 123|\d+(?:\.\d+)?)\b")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def test_every_issue_15_language_is_shipped_and_marked_as_a_draft() -> None:
    shipped = catalogue().languages
    assert set(SHIPPED) | {ENGLISH} <= set(shipped)
    for code in SHIPPED:
        assert not shipped[code].reviewed, f"{code} is marked reviewed, but no speaker has checked it yet"
    assert {code for code, language in shipped.items() if language.is_rtl} == {"ar", "fa", "ckb"}


@pytest.mark.parametrize("code", SHIPPED)
def test_every_bot_text_is_translated_with_its_placeholders_intact(code: str) -> None:
    english = catalogue()
    assert english.missing(code) == [] and english.mismatched(code) == []
    for key in english.keys:
        own, source = english.template(key, code), english.template(key)
        assert own != source or key.startswith("status."), f"{code} {key} is the English text"
        assert placeholders(own) == placeholders(source), key
        # Commands are what the learner types: they stay in English.
        assert COMMANDS.findall(own) == COMMANDS.findall(source), key


@pytest.mark.parametrize("code", SHIPPED)
def test_every_learner_policy_text_is_translated_keeping_rule_and_phone_numbers(
    code: str, policy: Policy
) -> None:
    assert translation_gaps(policy) == []
    translation = policy.translations[code]
    assert not translation.reviewed
    parts = ["support", "scorer_failure", *(f"support:{key}" for key in policy.support)] + [
        f"clause:{clause.id}"
        for clause in policy.clauses
        if clause.is_enforced and clause.reminder and clause.applies_to is not Audience.STAFF
    ]
    for part in parts:
        own = policy.reminder_text([part], code, when="Monday 09:00")
        source = policy.reminder_text([part], when="Monday 09:00")
        assert own and source and own != source, part
        for number in NUMBERS.findall(source):
            assert number in own.replace("\u200e", ""), f"{code} {part} lost {number!r}"


def test_placeholders_are_filled_and_isolated_in_a_translation() -> None:
    welcome = catalogue().text("welcome", "ar", name="Tomasz")
    assert f"{FSI}Tomasz{PDI}" in welcome
    assert catalogue().text("welcome", ENGLISH, name="Tomasz").startswith("Welcome, Tomasz!")


def test_the_esol_form_puts_the_learners_language_first_and_english_beneath(policy: Policy) -> None:
    polish = texts.appeal_sent(12, "pl")
    top, bottom = polish.split("\n\n")
    assert "#\u206812\u2069" in top and bottom == texts.appeal_sent(12)
    arabic = texts.appeal_sent(12, "ar")
    top, bottom = arabic.split("\n\n")
    assert top.startswith(RLI) and top.endswith(PDI)
    assert bottom == f"{LRI}{texts.appeal_sent(12)}{PDI}"
    assert texts.appeal_sent(12, ENGLISH) == texts.appeal_sent(12)
    # A multi-line text (the policy in brief): every Arabic line isolated right-to-left, every English one
    # left-to-right, so neither reorders the other.
    brief = texts.policy_brief(policy, "ar")
    arabic_part, english_part = brief.split("\n\n")
    assert all(line.startswith(RLI) and line.endswith(PDI) for line in arabic_part.split("\n"))
    assert all(line.startswith(LRI) and line.endswith(PDI) for line in english_part.split("\n"))


def test_a_language_not_shipped_gets_english_alone() -> None:
    assert texts.appeal_sent(3, "de") == texts.appeal_sent(3)


@pytest.mark.parametrize(
    ("chosen", "locale", "group", "expected"),
    [
        ("pl", "ar", "uk", "pl"),  # the learner's own choice wins
        (None, "ar", "uk", "ar"),  # then their app's language
        (None, "zh-Hans", None, "zh"),  # Telegram's tag for Simplified Chinese
        (None, "es-ES", None, "es"),  # Discord's locale
        (None, "de", "uk", "uk"),  # an app language the bot does not write: the group's
        (None, None, None, ENGLISH),
        ("xx", "pt-BR", None, ENGLISH),
    ],
)
def test_which_language_a_learner_gets(
    chosen: str | None, locale: str | None, group: str | None, expected: str
) -> None:
    languages = catalogue().languages
    assert choose_language(languages, chosen=chosen, platform_locale=locale, group_default=group) == expected


@pytest.mark.parametrize(
    ("typed", "code"),
    [("PL", "pl"), ("zh_CN", "zh"), ("ku-Arab", "ckb"), ("", None), ("<script>", None), ("a" * 40, None)],
)
def test_language_codes_are_read_leniently_and_nonsense_refused(typed: str, code: str | None) -> None:
    assert catalogue().resolve(typed) == code


def test_a_translation_whose_placeholders_differ_is_not_used(tmp_path: Path) -> None:
    english = (LOCALES / "en.yaml").read_text(encoding="utf-8")
    (tmp_path / "en.yaml").write_text(english, encoding="utf-8")
    (tmp_path / "xx.yaml").write_text(
        'code: xx\nname: Test\nnative_name: Test\ntexts:\n  welcome: "Hi {nam}"\n  cases.none: "None"\n',
        encoding="utf-8",
    )
    loaded = Catalogue.load(tmp_path)
    assert loaded.mismatched("xx") == ["welcome"]
    assert loaded.text("welcome", "xx", name="Ann") == loaded.text("welcome", ENGLISH, name="Ann")
    assert loaded.text("cases.none", "xx") == "None"
    assert "cases.none" not in loaded.missing("xx") and "welcome" in loaded.missing("xx")


def test_a_texts_file_named_unlike_its_code_is_refused(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text("code: pl\nname: P\nnative_name: P\ntexts: {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"en\.yaml"):
        Catalogue.load(tmp_path)


def _policy_with(tmp_path: Path, block: str) -> Path:
    source = default_policy_path().read_text(encoding="utf-8")
    head = source.split("\nlanguages:\n")[0]
    path = tmp_path / "policy.yaml"
    path.write_text(f"{head}\nlanguages:\n{block}", encoding="utf-8")
    return path


def test_a_translation_for_no_clause_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _policy_with(tmp_path, '  pl:\n    reminders:\n      "9.9": "Nie ma takiej zasady"\n')
    with pytest.raises(PolicyError, match=r"policy.yaml:\d+.*clause '9.9' is not in clauses"):
        load_policy(path)


def test_an_unquoted_clause_id_is_read_as_written_not_as_a_number(tmp_path: Path) -> None:
    policy = load_policy(
        _policy_with(tmp_path, "  pl:\n    reminders:\n      4.10: Tekst\n      5: Dziękujemy\n")
    )
    assert dict(policy.translations["pl"].reminders) == {"4.10": "Tekst", "5": "Dziękujemy"}


def test_a_missing_translation_falls_back_to_english_and_is_listed(tmp_path: Path) -> None:
    policy = load_policy(_policy_with(tmp_path, '  pl:\n    reminders:\n      "4.1": "Pisz uprzejmie."\n'))
    assert policy.reminder_text(["clause:4.2"], "pl") == policy.reminder_text(["clause:4.2"])
    assert policy.reminder_text(["clause:4.1"], "pl") == "Pisz uprzejmie."
    gaps = translation_gaps(policy)
    assert any(gap.startswith("pl: policy text(s) missing: support") and "clause:4.2" in gap for gap in gaps)
    assert any(gap.startswith("ar: policy text(s) missing") for gap in gaps)


def test_case_list_dates_and_words_are_in_the_learners_language(store: Store) -> None:
    message = make_message("this homework is shit")
    decision = Decision(
        scores={Category.CIVILITY: 0.9},
        flagged=(Category.CIVILITY,),
        evidence=(),
        clauses=("4.1",),
        actions=(Action(ActionKind.REMIND),),
        reminder=None,
        explanation="",
        scorer="test",
    )
    store.record_case(message, decision, at=datetime(2026, 12, 6, 9, 30, tzinfo=UTC))
    cases = store.cases_for_author(message.platform, message.author.id)
    english = texts.case_list(cases, 1)
    chinese = texts.case_list(cases, 1, language="zh")
    assert "Dec 6" in english and "rude words" in english and "Active strikes: 1." in english
    assert "12月6日" in chinese and chinese.endswith(english)


def test_the_store_keeps_a_learners_choice_their_locale_and_the_groups_default(store: Store) -> None:
    assert store.language_choice("telegram", "7").chosen is None
    store.set_language("telegram", "7", "pl")
    store.note_locale("telegram", "7", "uk")
    assert not store.set_group_language("telegram", "-100", "ar")  # a group the bot has never met
    store.record_group("telegram", "-100", title="ESOL", at=datetime.now(UTC))
    assert store.set_group_language("telegram", "-100", "ar")
    choice = store.language_choice("telegram", "7", "-100")
    assert (choice.chosen, choice.locale, choice.group_default) == ("pl", "uk", "ar")
    store.set_language("telegram", "7", None)
    assert store.language_choice("telegram", "7").chosen is None
    assert store.role_of("telegram", "7") is not None  # met through /language: a learner until known


def test_messages_not_fully_assessed_are_counted_per_group_and_language(store: Store) -> None:
    from datetime import date

    for _ in range(3):
        store.count_unassessed("telegram", "-100", "pl", date(2026, 12, 6))
    store.count_unassessed("telegram", "-100", "pl", date(2026, 12, 5))
    store.count_unassessed("telegram", "-100", "ar", date(2026, 12, 6))
    store.count_unassessed("discord", "9", "uk", date(2026, 11, 1))

    counts = store.unassessed_counts(date(2026, 11, 30))

    assert [(item.chat_id, item.language, item.messages) for item in counts] == [
        ("-100", "pl", 4),
        ("-100", "ar", 1),
    ]
