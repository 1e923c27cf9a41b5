"""`classmod learn`: verdicts become labels, better heads are installed, worse ones refused, rollback.

Over the tiny encoder and a tiny data folder, so a learn takes seconds; how much the real verdicts
help is measured with the real encoder, not here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import heads_folder
from bot.config import Settings
from bot.learning import (
    Learning,
    learn,
    learned_heads_dir,
    previous_heads_dir,
    regressions,
    rollback,
    verdict_examples,
)
from bot.store import CaseRecord, Store
from moderation.errors import ScorerError
from moderation.heads.dataset import HEAD_CATEGORIES
from moderation.heads.evaluation import HeadScore
from moderation.heads.features import FeatureSpec
from moderation.heads.model import MANIFEST_FILE, load_heads
from moderation.policy import Policy, load_policy
from moderation.types import Action, ActionKind, Author, Category, ChatMessage, Decision, Role, Route
from tests.tinyencoder import ORDINARY_CHAT, TinyEncoder

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
NARROW_FEATURES = FeatureSpec(word_features=2**12, char_features=2**12)
"""Narrow n-gram features: a learn in a second instead of most of a minute."""
_WORDS = {
    "safeguarding": ["stepdad hits me", "bruises at home", "scared to go home", "he hurts me", "hits me"],
    "staff_conduct": ["my personal instagram", "meet me privately", "add my private number", "our secret"],
    "incitement": ["burn their shop", "go and attack them", "smash their windows", "beat them up tonight"],
    "extremism": ["join the caliphate", "white power forever", "glory to the jihad", "race war now"],
    "defamation": ["the manager steals money", "the tutor is a thief", "she takes bribes", "he is a fraud"],
    "harassment": ["i will find you", "watch your back", "i know where you live", "you will get hurt"],
    "civility": ["you are an idiot", "shut up stupid", "this is crap", "what a moron"],
    "sexual": ["send me nudes", "sexy pics please", "sleep with me", "show your body"],
}
_ORDINARY = ORDINARY_CHAT


def _line(text: str, label: str, role: str | None = None) -> str:
    role = role or ("tutor" if label == "staff_conduct" else "learner")
    return json.dumps({"text": text, "label": label, "role": role})


def write_training_data(folder: Path) -> Path:
    """About ten training lines per category and ordinary chat, and a held-out split written apart."""
    (folder / "train").mkdir(parents=True)
    (folder / "heldout").mkdir()
    train, heldout = [], []
    for label, phrases in _WORDS.items():
        train += [_line(f"{phrase} number {n}", label) for n, phrase in enumerate(phrases * 3)][:12]
        heldout += [_line(f"honestly {phrase} again", label) for phrase in phrases[:3]]
    train += [_line(f"{text} {n}", "none") for n, text in enumerate(_ORDINARY * 3)]
    # The staff-conduct head learns from staff's messages alone: tutors' ordinary ones too.
    train += [_line(f"{text} please", "none", "tutor") for text in _ORDINARY]
    heldout += [_line(f"{text} friends", "none") for text in _ORDINARY]
    (folder / "train" / "tiny.jsonl").write_text("\n".join(train) + "\n", encoding="utf-8")
    (folder / "heldout" / "heldout.jsonl").write_text("\n".join(heldout) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_training_data(tmp_path_factory.mktemp("learning-data"))


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(None)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLASSMOD_HEADS_DIR", raising=False)
    return Settings(model_dir=tmp_path / "models", database_url=f"sqlite:///{tmp_path / 'cases.db'}")


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = Store.open(settings.database_url)
    yield opened
    opened.close()


def decided_case(
    store: Store, text: str, flagged: tuple[Category, ...], status: str, **overrides: Any
) -> CaseRecord:
    """A case for ``text``, flagged as given, closed by a person with ``status``."""
    number = len(store.cases(limit=1000)) + 1
    author = Author(id=f"u-{number}", display_name="A Learner", role=overrides.pop("role", Role.LEARNER))
    message = ChatMessage(
        platform="telegram", chat_id="-100", message_id=str(number), author=author, text=text, sent_at=NOW
    )
    decision = Decision(
        scores={category: 0.9 for category in flagged},
        flagged=flagged,
        evidence=(),
        clauses=("4.1",),
        actions=(Action(ActionKind.ESCALATE, Route.MODERATORS),),
        reminder=None,
        explanation="flagged",
        scorer="heads:tiny-test-encoder",
    )
    case = store.record_case(message, decision, overrides.pop("at", NOW))
    return store.close_case(case.id, status, actor="mod-1", at=NOW)


def _learn(settings: Settings, policy: Policy, store: Store, data_dir: Path, **options: Any) -> Learning:
    return learn(settings, policy, store, TinyEncoder, data_dir=data_dir, spec=NARROW_FEATURES, **options)


def _manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


# --- verdicts as labels --------------------------------------------------------------------------


def test_each_verdict_becomes_the_label_it_means(store: Store) -> None:
    civility, safeguarding = (Category.CIVILITY,), (Category.SAFEGUARDING, Category.CIVILITY)
    cases = [
        decided_case(store, "you are an idiot", civility, "upheld"),
        decided_case(store, "shut up stupid", civility, "muted"),
        decided_case(store, "what a funny idea", civility, "restored"),
        decided_case(store, "my dad shouts at me", civility, "referred"),
        decided_case(store, "he hurts me, stupid man", safeguarding, "actioned"),
        decided_case(store, "i fell off my bike", (Category.SAFEGUARDING,), "no_concern"),
        decided_case(
            store, "add my personal number", (Category.STAFF_CONDUCT,), "referred_on", role=Role.TUTOR
        ),
        decided_case(store, "call me on 07700 900123", (Category.PERSONAL_DATA,), "upheld"),
    ]

    verdicts = verdict_examples(cases)

    labels = {
        example.source: sorted(category.value for category in example.categories)
        for example in verdicts.examples
    }
    assert labels == {
        f"case:{cases[0].id}": ["civility"],
        f"case:{cases[1].id}": ["civility"],
        f"case:{cases[2].id}": [],
        f"case:{cases[3].id}": ["safeguarding"],
        f"case:{cases[4].id}": ["safeguarding"],
        f"case:{cases[5].id}": [],
        f"case:{cases[6].id}": ["staff_conduct"],
    }
    assert verdicts.used == {"civility": 2, "none": 2, "safeguarding": 2, "staff_conduct": 1}
    assert verdicts.skipped == {"no verdict on a category the heads score": 1}
    assert (
        next(example.role for example in verdicts.examples if example.has(Category.STAFF_CONDUCT)) == "tutor"
    )


def test_a_referral_the_officer_acted_on_teaches_safeguarding_and_policy_routed_conduct_keeps_its_label(
    store: Store,
) -> None:
    referred = decided_case(store, "my uncle keeps my wages, idiot", (Category.CIVILITY,), "actioned")
    store.record_action(referred.id, "refer", "ok", actor="mod-1", at=NOW)
    routed = decided_case(store, "they are all terrorists", (Category.EXTREMISM,), "actioned")
    cases = [referred, routed]

    verdicts = verdict_examples(cases, referred=store.cases_with_action([case.id for case in cases], "refer"))

    assert {example.source: sorted(c.value for c in example.categories) for example in verdicts.examples} == {
        f"case:{referred.id}": ["safeguarding"],
        f"case:{routed.id}": ["extremism"],
    }


def test_held_out_texts_are_set_aside_and_the_latest_decision_on_a_text_counts(store: Store) -> None:
    first = decided_case(store, "You are  an idiot", (Category.CIVILITY,), "upheld")
    second = decided_case(store, "you are an IDIOT", (Category.CIVILITY,), "restored")
    held = decided_case(store, "honestly this is crap again", (Category.CIVILITY,), "upheld")

    verdicts = verdict_examples([first, second, held], heldout_texts=["Honestly this is crap again"])

    assert [(example.source, example.categories) for example in verdicts.examples] == [
        (f"case:{second.id}", frozenset())
    ]
    assert verdicts.skipped == {"same text as a held-out example": 1, "same text as a later case": 1}


# --- the rule for worse ---------------------------------------------------------------------------


def _score(category: Category, *, recall: float, false_positive_rate: float) -> HeadScore:
    return HeadScore(
        category=category,
        threshold=0.5,
        positives=100,
        ordinary=100,
        true_positives=round(recall * 100),
        flagged=round(recall * 100) + round(false_positive_rate * 100),
        false_positives_on_ordinary=round(false_positive_rate * 100),
    )


@pytest.mark.parametrize(
    ("category", "recall", "false_positive_rate", "expected"),
    [
        (Category.SAFEGUARDING, 0.80, 0.05, []),
        (Category.SAFEGUARDING, 0.79, 0.05, ["safeguarding recall 0.800 → 0.790"]),
        (Category.CIVILITY, 0.78, 0.06, []),
        (Category.CIVILITY, 0.77, 0.05, ["civility recall 0.800 → 0.770"]),
        (Category.CIVILITY, 0.90, 0.07, ["civility false positives on ordinary messages 0.050 → 0.070"]),
    ],
)
def test_worse_means_safeguarding_recall_lower_or_recall_down_2_points_or_false_positives_up_1(
    category: Category, recall: float, false_positive_rate: float, expected: list[str]
) -> None:
    before = [_score(category, recall=0.80, false_positive_rate=0.05)]
    after = [_score(category, recall=recall, false_positive_rate=false_positive_rate)]
    assert regressions(before, after) == expected


# --- learn, install, roll back -------------------------------------------------------------------


@pytest.fixture(scope="module")
def first(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path, policy: Policy
) -> tuple[Learning, Settings]:
    """The first learn on a fresh model folder, from one warning and one restore."""
    folder = tmp_path_factory.mktemp("first-learn")
    settings = Settings(model_dir=folder / "models", database_url=f"sqlite:///{folder / 'cases.db'}")
    with Store.open(settings.database_url) as store:
        decided_case(store, "you are a complete idiot", (Category.CIVILITY,), "warned")
        decided_case(store, "see you at the idiot bus stop", (Category.CIVILITY,), "restored")
        return _learn(settings, policy, store, data_dir), settings


@pytest.fixture
def installed(first: tuple[Learning, Settings], settings: Settings) -> Path:
    """This test's model folder, holding the first learn's heads."""
    target = learned_heads_dir(settings)
    shutil.copytree(learned_heads_dir(first[1]), target)
    return target


def test_the_first_learn_installs_learned_heads_that_are_then_used(first: tuple[Learning, Settings]) -> None:
    learning, settings = first
    installed = learned_heads_dir(settings)

    assert learning.installed == installed and heads_folder(settings) == installed
    assert learning.before is None, "the shipped heads do not load over the tiny encoder"
    assert learning.verdicts.used == {"civility": 1, "none": 1}
    assert [score.category for score in learning.after] == list(HEAD_CATEGORIES)
    manifest = _manifest(installed)
    assert manifest["origin"] == "learned" and manifest["data"]["cases"] == 2
    assert load_heads(installed).description.endswith("(learned)")
    assert "you are a complete idiot" not in (installed / MANIFEST_FILE).read_text(encoding="utf-8")
    assert sorted(path.name for path in settings.model_dir.iterdir()) == ["heads"], "no previous, no staging"


def test_learning_again_keeps_the_replaced_heads_for_a_rollback(
    settings: Settings, policy: Policy, store: Store, data_dir: Path, installed: Path
) -> None:
    first_created = _manifest(installed)["created"]
    decided_case(store, "you are a complete idiot", (Category.CIVILITY,), "warned")
    decided_case(store, "see you at the idiot bus stop", (Category.CIVILITY,), "restored")
    decided_case(store, "shut up you moron", (Category.CIVILITY,), "removed")

    learning = _learn(settings, policy, store, data_dir)

    assert learning.installed == installed and not learning.is_worse
    assert learning.before is not None and learning.before_name.endswith("(learned)")
    assert _manifest(installed)["data"]["cases"] == 3
    assert _manifest(previous_heads_dir(settings))["data"]["cases"] == 2
    assert sorted(path.name for path in settings.model_dir.iterdir()) == ["heads", "heads.previous"]

    assert rollback(settings).endswith("(learned)")

    assert _manifest(installed)["data"]["cases"] == 2 and _manifest(installed)["created"] == first_created
    assert _manifest(previous_heads_dir(settings))["data"]["cases"] == 3, "a rollback can be undone"
    assert heads_folder(settings) == installed


def test_a_rollback_without_previous_heads_says_so_and_changes_nothing(
    settings: Settings, installed: Path
) -> None:
    before = (installed / MANIFEST_FILE).read_bytes()
    with pytest.raises(ScorerError, match=r"no previous learned heads .* nothing to roll back to"):
        rollback(settings)
    assert (installed / MANIFEST_FILE).read_bytes() == before


def test_worse_heads_are_refused_and_nothing_changes(
    settings: Settings, policy: Policy, store: Store, data_dir: Path, installed: Path
) -> None:
    before = (installed / MANIFEST_FILE).read_bytes()
    # Moderators "clearing" disclosures worded like the held-out ones: the bot would learn to miss them.
    for n, phrase in enumerate(_WORDS["safeguarding"] * 8):
        decided_case(store, f"honestly {phrase} again and again {n}", (Category.SAFEGUARDING,), "no_concern")

    learning = _learn(settings, policy, store, data_dir)

    assert learning.is_worse and learning.installed is None
    assert any(reason.startswith("safeguarding recall") for reason in learning.regressions)
    assert (installed / MANIFEST_FILE).read_bytes() == before
    assert sorted(path.name for path in settings.model_dir.iterdir()) == ["heads"]


def test_a_dry_run_measures_and_installs_nothing(
    settings: Settings, policy: Policy, store: Store, data_dir: Path, installed: Path
) -> None:
    before = (installed / MANIFEST_FILE).read_bytes()
    decided_case(store, "shut up you moron", (Category.CIVILITY,), "removed")

    learning = _learn(settings, policy, store, data_dir, is_dry_run=True)

    assert learning.is_trained and learning.installed is None and learning.before is not None
    assert (installed / MANIFEST_FILE).read_bytes() == before
    assert sorted(path.name for path in settings.model_dir.iterdir()) == ["heads"]


def test_purged_cases_leave_the_training_data(store: Store) -> None:
    decided_case(
        store, "you are a complete idiot", (Category.CIVILITY,), "warned", at=NOW - timedelta(days=100)
    )
    decided_case(store, "shut up you moron", (Category.CIVILITY,), "upheld")
    store.purge(older_than=timedelta(days=90), now=NOW)

    verdicts = verdict_examples(store.reviewed_cases())

    assert verdicts.used == {"civility": 1}
    assert [example.text for example in verdicts.examples] == ["shut up you moron"]


def test_without_reviewed_cases_nothing_is_trained_nor_the_encoder_loaded(
    settings: Settings, policy: Policy, store: Store, data_dir: Path
) -> None:
    def refuse_to_load() -> TinyEncoder:
        raise AssertionError("the encoder was loaded with nothing to learn")

    decided_case(store, "call me on 07700 900123", (Category.PERSONAL_DATA,), "upheld")

    learning = learn(settings, policy, store, refuse_to_load, data_dir=data_dir)

    assert not learning.is_trained and learning.installed is None
    assert learning.verdicts.skipped == {"no verdict on a category the heads score": 1}
    assert not settings.model_dir.exists()
