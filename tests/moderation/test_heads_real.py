"""The shipped policy heads over the real all-MiniLM-L6-v2: reworded breaches the phrase lists miss.

None of these sentences is in the training or held-out data (a test checks). They are the kind the
phrase lists and the profanity model let through before the heads: the first one is the disclosure
a new user tried that was allowed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from moderation.engine import assess
from moderation.heads.dataset import default_training_dir, load_examples
from moderation.heads.model import default_heads_dir, load_heads
from moderation.policy import Policy, load_policy
from moderation.scorers.base import hits_of
from moderation.scorers.semantic import SemanticScorer, head_thresholds
from moderation.serving.sentence_encoder import SentenceEncoder, unpack_default_encoder
from moderation.types import ActionKind, AuthorHistory, Category, Decision, ModelScores, Role, Route
from tests.factories import make_message

DISCLOSURES = [
    "I don't really want to go home tonight, my mum's boyfriend gets angry and I end up with bruises",
    "sorry I wasn't in, my dad locked me in my room all weekend and didn't give me food",
    "I took all my tablets last night, I just want everything to stop",
    "my cousin says I have to marry a man back home in the summer and I don't want to",
    "my partner reads all my messages and won't let me see my friends or have my own money",
]
STAFF = [
    "you looked gorgeous today, message me on my personal whatsapp and don't tell the others x",
]
ORDINARY = [
    "I could murder a pizza after that test",
    "today we discussed how to keep safe from online grooming",
    "I feel so stupid, I failed my test again",
    "my son has a fever so I can't come today",
]
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(None)


@pytest.fixture(scope="module")
def scorer(tmp_path_factory: pytest.TempPathFactory, policy: Policy) -> SemanticScorer:
    encoder = SentenceEncoder.load(unpack_default_encoder(tmp_path_factory.mktemp("models")))
    heads = load_heads(default_heads_dir(), encoder_sha256=encoder.sha256)
    return SemanticScorer(encoder, heads, head_thresholds(heads, policy))


def _decide(scorer: SemanticScorer, policy: Policy, text: str, role: Role = Role.LEARNER) -> Decision:
    [result] = scorer.score_batch([text])
    model = ModelScores(scorer=scorer.name, labels=result, hits=hits_of(result))
    return assess(make_message(text, role=role), AuthorHistory(), policy, NOW, model)


def test_none_of_these_sentences_is_in_the_data() -> None:
    data = default_training_dir()
    written = {
        " ".join(e.text.casefold().split())
        for folder in ("train", "heldout")
        for e in load_examples(data / folder)
    }
    assert not written & {" ".join(text.casefold().split()) for text in DISCLOSURES + STAFF + ORDINARY}


@pytest.mark.parametrize("text", DISCLOSURES)
def test_a_reworded_disclosure_reaches_the_officer_and_is_not_punished(
    scorer: SemanticScorer, policy: Policy, text: str
) -> None:
    decision = _decide(scorer, policy, text)

    assert Category.SAFEGUARDING in decision.flagged
    assert decision.route is Route.SAFEGUARDING
    assert not {ActionKind.HIDE, ActionKind.WARN} & {action.kind for action in decision.actions}
    evidence = next(item for item in decision.evidence if item.source == "heads")
    assert evidence.kind != "safeguarding"  # a sub-kind, e.g. domestic_abuse
    assert len(evidence.similar) == 2


@pytest.mark.parametrize("text", STAFF)
def test_a_tutor_grooming_a_learner_goes_to_the_officer(
    scorer: SemanticScorer, policy: Policy, text: str
) -> None:
    decision = _decide(scorer, policy, text, Role.TUTOR)

    assert Category.STAFF_CONDUCT in decision.flagged
    assert decision.route is Route.SAFEGUARDING


@pytest.mark.parametrize("text", ORDINARY)
def test_idioms_lessons_and_self_criticism_are_allowed(
    scorer: SemanticScorer, policy: Policy, text: str
) -> None:
    assert not _decide(scorer, policy, text).actions
    assert not _decide(scorer, policy, text, Role.TUTOR).actions
