"""Which language a message is in, and whether the scorers in use can judge it (issue 15)."""

from __future__ import annotations

import socket

import pytest

from moderation.engine import assess
from moderation.language_detection import (
    FULL,
    PARTIAL,
    DetectedLanguage,
    assessed,
    covered_languages,
    detect_language,
)
from moderation.personal_data import find_personal_data
from moderation.policy import Policy, load_policy
from moderation.types import AuthorHistory, Category, ModelScores
from tests.factories import NOW, make_message


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Sorry I can't come to class tomorrow, my son is ill", "en"),
        ("Dzień dobry, nie mogę dziś przyjść na zajęcia, przepraszam", "pl"),
        ("مرحبا، لا أستطيع الحضور اليوم لأن ابني مريض", "ar"),
        ("Вибачте, я не можу прийти сьогодні на заняття", "uk"),
        ("Lo siento, hoy no puedo ir a clase porque mi hijo está enfermo", "es"),
        ("对不起，我今天不能来上课，我的孩子生病了", "zh"),
        ("Îmi pare rău, nu pot veni astăzi la curs, copilul meu este bolnav", "ro"),
        ("ببخشید، امروز نمی‌توانم به کلاس بیایم چون پسرم مریض است", "fa"),
    ],
)
def test_the_language_of_a_message_is_told(text: str, code: str) -> None:
    detected = detect_language(text)
    assert detected is not None and detected.code == code


@pytest.mark.parametrize("text", ["ok", "👍👍", "thanks!!", "", "07700 900123", "Amina"])
def test_a_message_too_short_to_tell_is_not_said_to_be_in_another_language(text: str) -> None:
    assert detect_language(text) is None


def test_detection_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> socket.socket:
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "socket", refused)
    monkeypatch.setattr(socket, "create_connection", refused)
    detected = detect_language("Dzień dobry wszystkim, do zobaczenia jutro w klasie")
    assert detected is not None and detected.code == "pl"


def test_a_huge_message_is_told_from_its_start_quickly() -> None:
    detected = detect_language("Dzień dobry, do zobaczenia jutro. " * 40_000)
    assert detected is not None and detected.code == "pl"


def test_what_the_scorers_cover() -> None:
    assert covered_languages("heads:all-MiniLM-L6-v2", ["en"]) == {"en"}
    assert covered_languages("heads:paraphrase-multilingual-MiniLM-L12-v2", ["*"]) == {"*"}
    assert covered_languages("fallback:alt-profanity-check", ["*"]) == {"en"}
    assert "pt" in covered_languages("detoxify:multilingual", ["en"])
    polish = DetectedLanguage("pl", 0.99)
    assert assessed(polish, frozenset({"en"})) == PARTIAL
    assert assessed(polish, frozenset({"*"})) == FULL
    assert assessed(None, frozenset({"en"})) == FULL


def test_a_polish_message_is_assessed_in_part_and_its_personal_data_still_found(policy: Policy) -> None:
    message = make_message("Zadzwoń do mnie wieczorem, mój numer to 07700 900456, dziękuję bardzo")
    decision = assess(message, AuthorHistory(), policy, NOW, ModelScores(scorer="test"))
    assert (decision.language, decision.assessed) == ("pl", PARTIAL)
    assert decision.flagged == (Category.PERSONAL_DATA,)
    english = assess(
        make_message("see you all tomorrow in room 12"), AuthorHistory(), policy, NOW, ModelScores("t")
    )
    assert (english.language, english.assessed) == ("en", FULL)


@pytest.mark.parametrize(
    "text",
    [
        "mój numer to 07700 900456",
        "mi número es 07700 900456",
        "Мій номер 07700 900456",
        "مرحبا رقمي 07700 900456",
        "我的电话是 07700 900456",
    ],
)
def test_a_phone_number_beside_a_phone_word_is_found_in_the_learners_languages(text: str) -> None:
    assert [hit.kind for hit in find_personal_data(text)] == ["phone"]
