"""The policy heads over a tiny encoder: training, files, scoring by sentence, the engine's rules."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from moderation.engine import assess
from moderation.errors import PolicyError, ScorerError
from moderation.heads import training
from moderation.heads.dataset import HEAD_CATEGORIES, Example, load_examples, read_examples
from moderation.heads.features import sentence_spans
from moderation.heads.model import HEADS_FILE, MANIFEST_FILE, HeadTarget, load_heads
from moderation.heads.training import train_heads
from moderation.policy import Policy, load_policy
from moderation.scorers.base import hits_of
from moderation.scorers.semantic import SemanticScorer, head_thresholds
from moderation.scorers.stack import ModelStack
from moderation.types import ActionKind, AuthorHistory, Category, ModelScores, Role, Route
from tests.factories import make_message
from tests.tinyencoder import ORDINARY_CHAT, TinyEncoder

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)

_DISCLOSURES = [
    "my stepdad hits me when he drinks",
    "he hit me again last night and i have bruises",
    "my husband hits me and takes my money",
    "dad hits me with a belt",
    "my brother hits me every day at home",
    "he hits me and says nobody will believe me",
]
_THREATS = [
    "i will find you after class and hurt you",
    "watch your back after class, i will hurt you",
    "you will get hurt if you tell the teacher",
    "i know where you live, i will hurt you",
    "wait outside after class, i will find you",
    "i will find you and you will get hurt",
]
_ORDINARY = ORDINARY_CHAT


def _examples() -> list[Example]:
    def make(texts: list[str], categories: frozenset[Category], kind: str = "") -> list[Example]:
        return [Example(text=text, categories=categories, kind=kind, source="tiny.jsonl") for text in texts]

    safeguarding = frozenset({Category.SAFEGUARDING})
    examples = make(_DISCLOSURES[:3], safeguarding, "domestic_abuse")
    examples += make(_DISCLOSURES[3:], safeguarding, "physical_abuse")
    examples += make(_THREATS, frozenset({Category.HARASSMENT}))
    examples += make(_ORDINARY * 2, frozenset())
    examples += [Example(text=f"{text} please", categories=frozenset(), role="tutor") for text in _ORDINARY]
    # Every head needs positives of its own to train; these few are enough for the tiny encoder.
    for category in HEAD_CATEGORIES:
        if category not in (Category.SAFEGUARDING, Category.HARASSMENT):
            examples += [
                Example(
                    text=f"{category.value} breach number {n} {category.value}",
                    categories=frozenset({category}),
                    role="tutor",
                )
                for n in range(6)
            ]
    return examples


def _train(out: Path, examples: list[Example] | None = None, *, min_part: int = 3) -> Path:
    # The tiny data has three disclosures of each sub-kind: enough for a part here.
    encoder = TinyEncoder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "_MIN_PART", min_part)
        train_heads(
            examples or _examples(),
            encoder.encode,
            encoder_name=encoder.name,
            encoder_sha256=encoder.sha256,
            out_dir=out,
        )
    return out


@pytest.fixture(scope="module")
def heads_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(tmp_path_factory.mktemp("heads") / "heads")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(None)


@pytest.fixture(scope="module")
def scorer(heads_dir: Path, policy: Policy) -> SemanticScorer:
    heads = load_heads(heads_dir, encoder_sha256=TinyEncoder.sha256)
    return SemanticScorer(TinyEncoder(), heads, head_thresholds(heads, policy))


def _decide(scorer: SemanticScorer, policy: Policy, text: str, role: Role = Role.LEARNER):  # type: ignore[no-untyped-def]
    result = scorer.score_batch([text])[0]
    model = ModelScores(scorer=scorer.name, labels=result, hits=hits_of(result))
    return assess(make_message(text, role=role), AuthorHistory(), policy, NOW, model)


def test_training_writes_heads_that_load_only_over_their_encoder(heads_dir: Path) -> None:
    manifest = json.loads((heads_dir / MANIFEST_FILE).read_text())
    assert manifest["encoder"] == {"name": "tiny-test-encoder", "sha256": "t" * 64}
    assert manifest["categories"] == [category.value for category in HEAD_CATEGORIES]
    assert manifest["subkinds"] == ["domestic_abuse", "physical_abuse"]
    with pytest.raises(ScorerError, match="trained over another encoder"):
        load_heads(heads_dir, encoder_sha256="0" * 64)


def test_damaged_heads_are_refused_with_the_fix(heads_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "heads"
    broken.mkdir()
    (broken / MANIFEST_FILE).write_text((heads_dir / MANIFEST_FILE).read_text())
    (broken / HEADS_FILE).write_bytes(b"not an archive")
    with pytest.raises(ScorerError, match="classmod model train"):
        load_heads(broken)


def test_the_thresholds_come_from_the_policy_targets(heads_dir: Path, policy: Policy) -> None:
    heads = load_heads(heads_dir)
    strict = heads.threshold(Category.SAFEGUARDING, HeadTarget(precision=1.0))
    lenient = heads.threshold(Category.SAFEGUARDING, HeadTarget(precision=0.1))
    assert lenient <= strict
    chosen = head_thresholds(heads, policy)[Category.SAFEGUARDING]
    target = policy.categories[Category.SAFEGUARDING].head_precision
    point = next(p for p in heads.curves[Category.SAFEGUARDING] if p.threshold == chosen)
    assert target is not None and point.precision >= target


def test_a_disclosure_found_by_the_head_goes_to_the_officer_and_is_never_punished(
    scorer: SemanticScorer, policy: Policy
) -> None:
    decision = _decide(scorer, policy, "my uncle hits me when he drinks")

    assert decision.flagged[0] is Category.SAFEGUARDING
    assert decision.route is Route.SAFEGUARDING
    assert {action.kind for action in decision.actions} == {ActionKind.REMIND, ActionKind.ESCALATE}
    assert decision.reminder_keys[0].startswith("support")  # the support message, never a rule's reminder
    assert decision.reminder is not None and "You are not in trouble" in decision.reminder
    evidence = next(item for item in decision.evidence if item.source == "heads")
    assert evidence.kind in {"domestic_abuse", "physical_abuse"}
    assert len(evidence.similar) == 2 and all(example in _DISCLOSURES for example in evidence.similar)


def test_the_evidence_is_the_sentence_that_scored_highest(scorer: SemanticScorer, policy: Policy) -> None:
    text = (
        "Good morning everyone, I hope you all had a lovely weekend with your families. The lesson on "
        "Thursday was good and I liked the reading about the library very much. My stepdad hits me when "
        "he drinks. See you tuesday, and thank you for the homework sheets."
    )
    decision = _decide(scorer, policy, text)

    evidence = next(item for item in decision.evidence if item.source == "heads")
    assert evidence.start is not None and evidence.end is not None
    assert text[evidence.start : evidence.end] == "My stepdad hits me when he drinks."


class _LimitedEncoder(TinyEncoder):
    """The tiny encoder with a reading limit, as the real one cuts texts at 256 tokens; notes what it read."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.read: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.read += texts
        return super().encode(texts)

    def reads_whole(self, text: str) -> bool:
        return len(text) <= self.limit


def test_a_message_too_long_to_read_whole_is_read_sentence_by_sentence(
    heads_dir: Path, policy: Policy
) -> None:
    heads = load_heads(heads_dir, encoder_sha256=TinyEncoder.sha256)
    encoder = _LimitedEncoder(limit=350)
    scorer = SemanticScorer(encoder, heads, head_thresholds(heads, policy))
    chat = "Good morning everyone, I hope you all had a lovely weekend with your families. "
    long = chat * 5 + "My stepdad hits me when he drinks. See you tuesday, and thank you for the homework."
    short = chat * 3 + "My stepdad hits me when he drinks."  # several sentences, read whole too

    decision = _decide(scorer, policy, long)

    assert long not in encoder.read  # only its start would have been read: its sentences are
    assert "My stepdad hits me when he drinks." in encoder.read
    assert decision.flagged[0] is Category.SAFEGUARDING
    evidence = next(item for item in decision.evidence if item.source == "heads")
    assert long[evidence.start : evidence.end] == "My stepdad hits me when he drinks."
    encoder.read.clear()
    scorer.score_batch([short])
    assert len(sentence_spans(short)) > 1 and encoder.read == [
        short,
        *(short[start:end] for start, end in sentence_spans(short)),
    ]


def test_a_head_alone_never_sanctions_it_asks_a_moderator(scorer: SemanticScorer, policy: Policy) -> None:
    decision = _decide(scorer, policy, "next week you will get hurt, wait and see")  # no phrase rule matches

    assert Category.HARASSMENT in decision.flagged
    kinds = {action.kind for action in decision.actions}
    assert kinds == {ActionKind.ESCALATE}  # the ladder says hide, warn and escalate: nothing to the learner
    assert decision.route is Route.MODERATORS
    # Where a phrase rule agrees, the policy's ladder applies as written.
    agreed = _decide(scorer, policy, "after class i will find you and hurt you")
    assert {ActionKind.HIDE, ActionKind.WARN} <= {action.kind for action in agreed.actions}


def test_ordinary_chat_is_allowed(scorer: SemanticScorer, policy: Policy) -> None:
    for text in ("see you on tuesday teacher", "thank you for the lesson", ""):
        assert not _decide(scorer, policy, text).actions


def test_the_staff_conduct_head_never_judges_a_learner(scorer: SemanticScorer, policy: Policy) -> None:
    text = "staff_conduct breach number 3 staff_conduct"
    assert Category.STAFF_CONDUCT in _decide(scorer, policy, text, Role.TUTOR).flagged
    assert Category.STAFF_CONDUCT not in _decide(scorer, policy, text, Role.LEARNER).flagged


def test_the_staff_conduct_head_learns_from_staff_not_from_learners_saying_the_same(
    tmp_path: Path, policy: Policy
) -> None:
    # A learner calling the class thick is civility; a tutor saying it belittles learners. Learners'
    # insults must not teach the staff-conduct head that a tutor's are no breach.
    def said(texts: list[str], role: str, categories: frozenset[Category]) -> list[Example]:
        return [Example(text=text, categories=categories, role=role, source="t.jsonl") for text in texts]

    belittling = [f"are you lot thick or what {word}" for word in ("today", "again", "honestly", "now")]
    belittling += ["you are all thick as bricks", "how many times, are you thick"]
    insults = [f"{text}{end}" for text in belittling for end in ("", "!", " 😂")]
    examples = _examples()
    examples += said(belittling, "tutor", frozenset({Category.STAFF_CONDUCT}))
    examples += said(insults, "learner", frozenset({Category.CIVILITY}))
    heads = load_heads(_train(tmp_path / "heads", examples), encoder_sha256=TinyEncoder.sha256)
    scorer = SemanticScorer(TinyEncoder(), heads, head_thresholds(heads, policy))

    belittled = "are you lot thick, honestly"
    assert Category.STAFF_CONDUCT in _decide(scorer, policy, belittled, Role.TUTOR).flagged
    # Learning from learners too, the head was unsure (0.26) of what it had been taught as a breach.
    assert scorer.score_batch([belittled])[0]["head:staff_conduct"] > 0.9
    assert (
        Category.STAFF_CONDUCT not in _decide(scorer, policy, "thank you for the lesson", Role.TUTOR).flagged
    )


def test_a_head_learns_nothing_from_other_categories_breaches_but_disclosures(
    tmp_path: Path, policy: Policy
) -> None:
    # The same insult is civility, and harassment when aimed at a classmate again and again; writers
    # seldom label both. Harassment's lines must not teach the civility head that insults are fine,
    # while a disclosure stays a negative for it.
    insults = [
        f"you are a useless idiot {word}" for word in ("today", "again", "honestly", "now", "mate", "lol")
    ]
    aimed = [f"{text}{end}" for text in insults for end in ("", "!", " 😂")]
    examples = _examples()
    examples += [Example(text=t, categories=frozenset({Category.CIVILITY}), source="t") for t in insults]
    examples += [Example(text=t, categories=frozenset({Category.HARASSMENT}), source="t") for t in aimed]
    heads = load_heads(_train(tmp_path / "heads", examples), encoder_sha256=TinyEncoder.sha256)
    scorer = SemanticScorer(TinyEncoder(), heads, head_thresholds(heads, policy))

    scores = scorer.score_batch(["you are a useless idiot, honestly", _DISCLOSURES[1]])
    # Learning from harassment's lines as negatives, the head was unsure (about one half).
    assert scores[0]["head:civility"] > 0.9
    assert scores[1]["head:civility"] < 0.1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "a" * 1_000_000,
        "\x00\x01\x02 binary \udcff",
        "🙂" * 5000,
        "۱۲۳ نص عربي " * 200,
        "x. " * 10_000,
    ],
)
def test_bad_input_is_scored_not_crashed(scorer: SemanticScorer, text: str) -> None:
    [result] = scorer.score_batch([text])
    assert set(result) == set(scorer.labels)
    assert all(0.0 <= value <= 1.0 for value in result.values())


def test_sentences_are_bounded_whatever_the_length() -> None:
    assert sentence_spans("one sentence only") == []
    assert len(sentence_spans("This is a sentence. " * 10_000)) <= 24


def test_the_stack_merges_labels_and_keeps_the_heads_hits(scorer: SemanticScorer) -> None:
    class Profanity:
        name = "fake:profanity"
        labels = ("profanity",)

        def score_batch(self, texts: list[str]) -> list[dict[str, float]]:
            return [{"profanity": 0.5} for _ in texts]

    stack = ModelStack([Profanity(), scorer])
    [result] = stack.score_batch(["my stepdad hits me"])

    assert stack.name == "fake:profanity+heads:tiny-test-encoder"
    assert result["profanity"] == 0.5 and "head:safeguarding" in result
    assert {hit.category for hit in hits_of(result)} == set(HEAD_CATEGORIES)


def test_a_bad_training_line_names_its_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text('{"text": "hello", "label": "none"}\n{"text": "x", "label": "rudeness"}\n')
    with pytest.raises(PolicyError, match=r"train.jsonl:2: .*unknown label 'rudeness'"):
        read_examples(data)


def test_lines_also_in_the_held_out_split_never_train(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        '{"text": "Good  morning everyone", "label": "none"}\n{"text": "see you", "label": "none"}\n'
    )
    kept = load_examples(tmp_path, exclude=["good morning everyone"])
    assert [example.text for example in kept] == ["see you"]


def test_probabilities_are_calibrated_between_zero_and_one(heads_dir: Path) -> None:
    heads = load_heads(heads_dir)
    encoder = TinyEncoder()
    texts = ["my stepdad hits me", "see you tuesday"]
    probabilities = heads.probabilities(encoder.encode(texts), texts)
    assert probabilities.shape == (2, len(HEAD_CATEGORIES))
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    column = heads.categories.index(Category.SAFEGUARDING)
    assert probabilities[0, column] > probabilities[1, column]


def test_a_moderator_s_case_trains_the_heads_but_is_never_kept_as_a_neighbour(tmp_path: Path) -> None:
    case_text = "my uncle hits me when nobody is home"
    case = Example(text=case_text, categories=frozenset({Category.SAFEGUARDING}), source="case:7")
    encoder = TinyEncoder()
    out = tmp_path / "heads"
    train_heads(
        [*_examples(), case],
        encoder.encode,
        encoder_name=encoder.name,
        encoder_sha256=encoder.sha256,
        out_dir=out,
        origin="learned",
    )

    manifest = (out / MANIFEST_FILE).read_text(encoding="utf-8")
    assert case_text not in manifest and _DISCLOSURES[0] in manifest
    assert json.loads(manifest)["data"]["cases"] == 1
    assert load_heads(out).description.endswith("(learned)")


def test_each_safeguarding_sub_kind_with_enough_disclosures_gets_a_part(heads_dir: Path) -> None:
    manifest = json.loads((heads_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["parts"]["names"] == {"safeguarding": ["domestic_abuse", "physical_abuse"]}
    heads = load_heads(heads_dir)
    texts = ["my husband hits me and takes my money", "see you tuesday"]
    probabilities = heads.probabilities(TinyEncoder().encode(texts), texts)
    column = heads.categories.index(Category.SAFEGUARDING)
    assert probabilities[0, column] > 0.5 > probabilities[1, column]


def test_a_kind_too_rare_for_a_part_never_names_a_disclosure(tmp_path: Path) -> None:
    # A dealing line that is also a disclosure names its own kind; it must not become a sub-kind.
    dealing = Example(
        text="he makes me carry the bag to the flats",
        categories=frozenset({Category.INCITEMENT, Category.SAFEGUARDING}),
        kind="drug_dealing",
    )
    manifest = json.loads((_train(tmp_path / "heads", [*_examples(), dealing]) / MANIFEST_FILE).read_text())
    assert manifest["subkinds"] == ["domestic_abuse", "physical_abuse"]


def test_heads_written_before_parts_existed_still_load_and_score_the_same(tmp_path: Path) -> None:
    # Heads of format 1 (a service's own, from `classmod learn` before an upgrade) have no parts.
    plain = _train(tmp_path / "plain", min_part=1000)
    old = tmp_path / "heads"
    old.mkdir()
    manifest = json.loads((plain / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["format"] = 1
    del manifest["parts"]
    (old / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    with np.load(plain / HEADS_FILE) as archive:
        arrays = {name: archive[name] for name in archive.files if name != "part_of"}
    np.savez_compressed(old / HEADS_FILE, **arrays)  # type: ignore[arg-type]

    encoder = TinyEncoder()
    texts = ["my stepdad hits me", "i will find you after class and hurt you", "see you tuesday"]
    embeddings = encoder.encode(texts)
    np.testing.assert_allclose(
        load_heads(old).probabilities(embeddings, texts), load_heads(plain).probabilities(embeddings, texts)
    )


def test_heads_whose_parts_name_no_category_are_refused(heads_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "heads"
    broken.mkdir()
    (broken / MANIFEST_FILE).write_text((heads_dir / MANIFEST_FILE).read_text())
    with np.load(heads_dir / HEADS_FILE) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["part_of"] = np.array([99], dtype=np.int32)
    arrays["intercept"] = np.append(arrays["intercept"], 0.0)
    arrays["coef"] = np.hstack([arrays["coef"], arrays["coef"][:, :1]])
    np.savez_compressed(broken / HEADS_FILE, **arrays)  # type: ignore[arg-type]
    with pytest.raises(ScorerError, match="damaged"):
        load_heads(broken)
