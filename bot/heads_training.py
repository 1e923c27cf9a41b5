"""`classmod model train`: rebuild the policy heads from the project's data and write their model card.

The heads are trained on ``policies/training/train/`` (lines that also occur in the held-out split are
dropped first), their thresholds come from the policy's targets over the cross-validated curves, and
only then is the held-out split scored, once, for the model card. Nothing measured on the held-out
split feeds back into training or thresholds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from bot.config import Settings
from moderation.heads.dataset import Example, default_training_dir, load_examples, read_examples
from moderation.heads.evaluation import HeadScore, evaluate, format_table
from moderation.heads.features import FeatureSpec
from moderation.heads.model import CurvePoint, load_heads
from moderation.heads.names import NAMES, NameSwap
from moderation.heads.training import TrainingReport, train_heads
from moderation.policy import Policy
from moderation.scorers.semantic import SemanticScorer, TextEncoder, head_thresholds

__all__ = [
    "HELDOUT_FILE",
    "MODEL_CARD",
    "HeadsEncoder",
    "TrainedHeads",
    "heldout_examples",
    "train_and_measure",
]

MODEL_CARD = "MODEL_CARD.md"
HELDOUT_FILE = Path("heldout") / "heldout.jsonl"


class HeadsEncoder(TextEncoder, Protocol):
    """The sentence encoder heads are trained over (``SentenceEncoder``, or a test's tiny one)."""

    @property
    def sha256(self) -> str:
        """The encoder's weights' hash; heads refuse to load over any other."""
        ...


@dataclass(frozen=True, slots=True)
class TrainedHeads:
    """A training run's heads and what they measured."""

    report: TrainingReport
    heldout: list[HeadScore]
    cross_validated: dict[str, CurvePoint]


def heldout_examples(data_dir: Path) -> list[Example]:
    """The held-out split (empty when the folder has none)."""
    path = data_dir / HELDOUT_FILE
    return read_examples(path) if path.is_file() else []


def train_and_measure(
    settings: Settings,
    policy: Policy,
    encoder: HeadsEncoder,
    out_dir: Path,
    *,
    data_dir: Path | None = None,
    extra: Sequence[Example] = (),
    origin: str = "shipped",
    spec: FeatureSpec | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> TrainedHeads:
    """Train heads on the training split plus ``extra`` (as given), then measure them on the held-out one."""
    data_dir = data_dir or default_training_dir()
    heldout = heldout_examples(data_dir)
    examples = [*load_examples(data_dir / "train", exclude=[example.text for example in heldout]), *extra]
    if (data_dir / NAMES).is_dir():  # no name decides a category (moderation/heads/names.py)
        examples = NameSwap.shipped(data_dir / NAMES).examples(examples)
    report = train_heads(
        examples,
        encoder.encode,
        encoder_name=encoder.name,
        encoder_sha256=encoder.sha256,
        out_dir=out_dir,
        origin=origin,
        spec=spec,
        progress=progress,
    )
    heads = load_heads(out_dir, encoder_sha256=encoder.sha256)
    thresholds = head_thresholds(heads, policy)
    chosen = {
        category.value: next(point for point in heads.curves[category] if point.threshold == threshold)
        for category, threshold in thresholds.items()
    }
    measured: list[HeadScore] = []
    if heldout:
        progress(f"measuring on the {len(heldout)} held-out examples")
        measured = evaluate(SemanticScorer(encoder, heads, thresholds), heldout)
    trained = TrainedHeads(report=report, heldout=measured, cross_validated=chosen)
    (out_dir / MODEL_CARD).write_text(
        model_card(trained, encoder, policy, cases=len(extra)), encoding="utf-8"
    )
    return trained


def model_card(trained: TrainedHeads, encoder: HeadsEncoder, policy: Policy, *, cases: int = 0) -> str:
    """The heads' model card: data, method, thresholds, measured results and limits."""
    report = trained.report
    cv_rows = "\n".join(
        f"| {name} | {point.threshold:.2f} | {point.precision:.3f} | {point.recall:.3f} | "
        f"{point.false_positive_rate:.3f} |"
        for name, point in trained.cross_validated.items()
    )
    targets = "\n".join(
        f"- {category.value}: "
        + (f"precision ≥ {rule.head_precision:.2f}" if rule.head_precision is not None else "")
        + (
            f"false positives on ordinary messages ≤ {rule.head_false_positive_rate:.2f}"
            if rule.head_false_positive_rate is not None
            else ""
        )
        for category, rule in policy.categories.items()
        if category.value in trained.cross_validated
    )
    heldout = format_table(trained.heldout) if trained.heldout else "(no held-out split was given)"
    positives = ", ".join(f"{name} {count}" for name, count in report.positives.items())
    command = "classmod learn" if cases else "classmod model train"
    learned = (
        f"\nOf them, {cases} are moderators' verdicts on cases (`classmod learn`); their texts are not kept"
        " in the heads."
        if cases
        else ""
    )
    return f"""# Model card: classmod policy heads

Trained {datetime.now(UTC):%Y-%m-%d} in {report.seconds:.0f} s by `{command}`.

## What they are
One logistic-regression head per policy category over the sentence encoder **{encoder.name}**
(weights sha256 `{encoder.sha256[:16]}…`) and hashed, TF-IDF-weighted word and character n-grams.
Safeguarding has one more head, a *part*, for each sub-kind with enough examples (that kind's
disclosures against every message that is no disclosure): its score blends the head's probability
with its best part's, half and half. Each head's out-of-fold margins (5-fold cross-validation, parts
blended in) are calibrated by Platt scaling; the threshold is the lowest one that meets the policy's
target on those out-of-fold probabilities.
A message is scored whole and sentence by sentence; the highest sentence is the evidence.
Safeguarding sub-kinds (named on the officer's card) come from a multinomial classifier over the
embedding, trained on the sub-kinds that have parts.
Every head but safeguarding learns from its own breaches against messages that breach nothing or are
disclosures, not against other categories' breaches (an insult aimed at a person is civility and
harassment, and writers seldom named both); safeguarding learns against every other message.
The staff-conduct head learns from staff's messages and anyone's ordinary ones, not from learners'
breaches (a learner's insult is civility, the same words from a tutor are staff conduct), and is measured,
and its threshold chosen, on staff's messages (it never judges learners).

## Data
{report.examples} training examples from `policies/training/train/` ({positives}; the rest ordinary),
see `policies/training/DATASHEET.md`. Lines that also occur in the held-out split are dropped.{learned}

## Targets (policy file)
{targets}

## Cross-validated, at the chosen thresholds (training data, out of fold)
Precision here is among the messages each head learns from (so, but for safeguarding, not counting
other categories' breaches it flags).
| category | threshold | precision | recall | false positives on ordinary messages |
|---|---|---|---|---|
{cv_rows}

## Held-out split (`policies/training/heldout/`, written apart, never trained or tuned on)
{heldout}

## Limits
- The data is written for this project, not collected: real learners' wording will differ.
  The held-out split, by a separate writer, measures how far the heads generalise; it is small
  (tens of examples per category), so each figure has a margin of several points.
- Non-English and mixed-language messages are few in the data; all-MiniLM-L6-v2 is an English
  encoder. A multilingual encoder (configured with `CLASSMOD_ENCODER`) needs heads trained over it.
- A head alone never sanctions: where the policy's ladder would hide or warn, its finding goes to a
  moderator's review and nothing is sent to the learner; a disclosure goes to the safeguarding officer
  (see the README).
"""
