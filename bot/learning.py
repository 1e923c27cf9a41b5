"""`classmod learn`: refit the policy heads with the moderators' verdicts, and install them only if no worse.

Verdicts are labels. Of the cases a person decided whose text is still kept (``Store.reviewed_cases``):

* restored or no concern: the bot was wrong, the text is an ordinary message (label ``none``);
* upheld, warned, muted or removed: the bot was right, the case's flagged categories are the labels;
* action taken or referred on by the officer: ``safeguarding`` for a disclosure, and for a case
  moderators referred to the officer (the officer confirmed their concern); for a concern about staff,
  or conduct the policy routes to the officer, the flagged categories;
* closed as referred (how a moderators' referral ended before referrals stayed open): ``safeguarding``.

A referral the officer has not decided is no verdict yet; one the officer found no concern in goes
back to the moderators, and their decision on the conduct is the label.

Only the categories the heads score count: a case flagged for personal data or a photo alone is
skipped. A text in the held-out split is set aside (it must not train what that split measures), and
of cases with the same text the latest decision counts. A purged case has no text, so it leaves the
training data at the next ``classmod learn``; case texts are never kept in the heads' files.

The new heads are measured on the held-out split beside the heads in use and refused when they are
worse, that is when, for any category:

* safeguarding recall is lower at all, or
* recall is lower by more than 0.02, or
* the false-positive rate on ordinary messages is higher by more than 0.01.

Otherwise they are installed as ``<model_dir>/heads``, the learned heads they replace kept as
``<model_dir>/heads.previous`` (one generation); ``rollback`` swaps the two back.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.app import heads_folder
from bot.config import Settings
from bot.heads_training import HeadsEncoder, heldout_examples, train_and_measure
from bot.store import CaseRecord, Store
from moderation.errors import PolicyError, ScorerError
from moderation.heads.dataset import HEAD_CATEGORIES, NONE_LABEL, Example, default_training_dir, text_key
from moderation.heads.evaluation import HeadScore, evaluate
from moderation.heads.features import FeatureSpec
from moderation.heads.model import load_heads
from moderation.policy import Policy
from moderation.scorers.semantic import SemanticScorer, head_thresholds
from moderation.types import Category
from moderation.verdicts import OVERTURNED, Verb

__all__ = [
    "FALSE_POSITIVE_TOLERANCE",
    "RECALL_TOLERANCE",
    "Learning",
    "Verdicts",
    "learn",
    "learned_heads_dir",
    "previous_heads_dir",
    "regressions",
    "rollback",
    "verdict_examples",
]

logger = logging.getLogger(__name__)

RECALL_TOLERANCE = 0.02
"""How much lower a category's held-out recall may be (safeguarding's may not be lower at all)."""
FALSE_POSITIVE_TOLERANCE = 0.01
"""How much higher a category's held-out false-positive rate on ordinary messages may be."""

_CONFIRMED = frozenset({"upheld", "warned", "muted", "removed"})
_REFERRED = "referred"
_OFFICER_ACTED = frozenset({"actioned", "referred_on"})
_SAFEGUARDING = frozenset({Category.SAFEGUARDING})
_HEADS = frozenset(HEAD_CATEGORIES)


@dataclass(frozen=True, slots=True)
class Verdicts:
    """The moderators' verdicts as training examples, with counts for the report (never texts)."""

    examples: tuple[Example, ...]
    used: dict[str, int]
    """Cases used per label (``none`` for ordinary); a case with two labels counts under both."""
    skipped: dict[str, int]
    """Cases left out, per reason."""


@dataclass(frozen=True, slots=True)
class Learning:
    """What one `classmod learn` did."""

    verdicts: Verdicts
    before: tuple[HeadScore, ...] | None
    """The heads in use, on the held-out split; ``None`` when none load over this encoder."""
    before_name: str
    after: tuple[HeadScore, ...]
    regressions: tuple[str, ...]
    installed: Path | None

    @property
    def is_trained(self) -> bool:
        """Whether there were verdicts to learn from (nothing is trained without any)."""
        return bool(self.after)

    @property
    def is_worse(self) -> bool:
        """Whether the new heads were refused as worse than those in use."""
        return bool(self.regressions)


def learned_heads_dir(settings: Settings) -> Path:
    """Where `classmod learn` installs heads."""
    return settings.model_dir / "heads"


def previous_heads_dir(settings: Settings) -> Path:
    """Where the learned heads they replaced are kept, for a rollback."""
    return settings.model_dir / "heads.previous"


def verdict_examples(
    cases: Sequence[CaseRecord], *, heldout_texts: Sequence[str] = (), referred: Collection[int] = ()
) -> Verdicts:
    """Turn reviewed cases (oldest first) into labelled examples, by the rules in this module's docstring.

    ``referred``: the ids of the cases moderators referred to the safeguarding officer.
    """
    held = {text_key(text) for text in heldout_texts}
    skipped: Counter[str] = Counter()
    latest: dict[str, Example] = {}
    for case in cases:
        categories = _labels(case, is_referred=case.id in referred)
        if categories is None or not case.text:
            skipped["no verdict on a category the heads score"] += 1
            continue
        key = text_key(case.text)
        if key in held:
            skipped["same text as a held-out example"] += 1
            continue
        if key in latest:
            skipped["same text as a later case"] += 1
        latest[key] = Example(
            text=case.text, categories=categories, role=case.author_role.value, source=f"case:{case.id}"
        )
    examples = tuple(latest.values())
    used: Counter[str] = Counter()
    for example in examples:
        used.update([category.value for category in example.categories] or [NONE_LABEL])
    return Verdicts(examples=examples, used=dict(used), skipped=dict(skipped))


def regressions(before: Sequence[HeadScore], after: Sequence[HeadScore]) -> list[str]:
    """Why ``after`` is worse than ``before`` on the same examples (empty: it is not).

    Worse: safeguarding recall lower at all; any category's recall lower by more than
    ``RECALL_TOLERANCE``; any category's false-positive rate on ordinary messages higher by more than
    ``FALSE_POSITIVE_TOLERANCE``; a category the heads in use score and the new ones do not.
    """
    new = {score.category: score for score in after}
    reasons = []
    for old in before:
        name = old.category.value
        score = new.get(old.category)
        if score is None:
            reasons.append(f"{name} is no longer scored")
            continue
        recall_drop = round(old.recall - score.recall, 9)
        allowed = 0.0 if old.category is Category.SAFEGUARDING else RECALL_TOLERANCE
        if recall_drop > allowed:
            reasons.append(f"{name} recall {old.recall:.3f} → {score.recall:.3f}")
        if round(score.false_positive_rate - old.false_positive_rate, 9) > FALSE_POSITIVE_TOLERANCE:
            reasons.append(
                f"{name} false positives on ordinary messages "
                f"{old.false_positive_rate:.3f} → {score.false_positive_rate:.3f}"
            )
    return reasons


def learn(
    settings: Settings,
    policy: Policy,
    store: Store,
    load_encoder: Callable[[], HeadsEncoder],
    *,
    data_dir: Path | None = None,
    is_dry_run: bool = False,
    spec: FeatureSpec | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Learning:
    """Refit the heads from the project's data plus the moderators' verdicts; install them if no worse.

    Args:
        settings: where the heads in use and the learned heads live.
        policy: the targets the thresholds are chosen by.
        store: the cases.
        load_encoder: gives the sentence encoder the heads run over; called only when there are
            verdicts to learn from (loading and encoding take the time).
        data_dir: the training data (``train/`` and ``heldout/``); the project's own when unset.
        is_dry_run: measure and compare, install nothing.
        spec: the feature settings (the default suits chat; tests use narrower, faster ones).
        progress: told each step, for the command line.

    Raises:
        PolicyError: the training data is unreadable, or has no held-out split to compare on.
        ScorerError: the new heads could not be written, read back or installed.
        StorageError: the cases could not be read.
    """
    data_dir = data_dir or default_training_dir()
    heldout = heldout_examples(data_dir)
    if not heldout:
        raise PolicyError(
            "no held-out split (heldout/heldout.jsonl): learned heads are installed only once "
            "measured against the heads in use",
            path=str(data_dir),
        )
    reviewed = store.reviewed_cases()
    verdicts = verdict_examples(
        reviewed,
        heldout_texts=[example.text for example in heldout],
        referred=store.cases_with_action([case.id for case in reviewed], Verb.REFER.value),
    )
    if not verdicts.examples:
        return Learning(verdicts, None, "", (), (), None)
    encoder = load_encoder()
    before_name, before = _measure_in_use(settings, policy, encoder, heldout, progress)
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".heads-learning-", dir=settings.model_dir))
    try:
        progress(f"training on the project's data and {len(verdicts.examples)} reviewed cases")
        trained = train_and_measure(
            settings,
            policy,
            encoder,
            staging / "heads",
            data_dir=data_dir,
            extra=verdicts.examples,
            origin="learned",
            spec=spec,
            progress=progress,
        )
        after = tuple(trained.heldout)
        worse = tuple(regressions(before, after)) if before is not None else ()
        installed = None
        if not worse and not is_dry_run:
            installed = _install(staging / "heads", settings)
            logger.info("learned heads installed at %s from %d cases", installed, len(verdicts.examples))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Learning(verdicts, before, before_name, after, worse, installed)


def rollback(settings: Settings) -> str:
    """Swap the learned heads with those they replaced; return the description of the heads now installed.

    Raises:
        ScorerError: there are no previous learned heads, they are damaged, or the folders cannot be moved.
    """
    current, previous = learned_heads_dir(settings), previous_heads_dir(settings)
    if not previous.is_dir():
        raise ScorerError(
            f"no previous learned heads at {previous}: nothing to roll back to "
            f"(remove {current} to use the heads shipped with classmod)"
        )
    description = load_heads(previous).description
    try:
        if current.exists():
            swap = settings.model_dir / ".heads-rollback"
            shutil.rmtree(swap, ignore_errors=True)
            current.replace(swap)
            previous.replace(current)
            swap.replace(previous)
        else:
            previous.replace(current)
    except OSError as exc:
        raise ScorerError(f"cannot roll back the learned heads in {settings.model_dir}: {exc}") from exc
    logger.info("learned heads rolled back: %s", description)
    return description


def _labels(case: CaseRecord, *, is_referred: bool) -> frozenset[Category] | None:
    flagged = frozenset(case.flagged) & _HEADS
    if not flagged:
        return None
    if case.status in OVERTURNED:
        return frozenset()
    if case.status in _CONFIRMED:
        return flagged
    if case.status == _REFERRED:
        return _SAFEGUARDING
    if case.status in _OFFICER_ACTED:
        return _SAFEGUARDING if Category.SAFEGUARDING in flagged or is_referred else flagged
    return None


def _measure_in_use(
    settings: Settings,
    policy: Policy,
    encoder: HeadsEncoder,
    heldout: Sequence[Example],
    progress: Callable[[str], None],
) -> tuple[str, tuple[HeadScore, ...] | None]:
    path = heads_folder(settings)
    try:
        heads = load_heads(path, encoder_sha256=encoder.sha256)
    except ScorerError as exc:
        # The bot runs without heads then: anything that loads is no worse than that.
        logger.warning("the heads in use do not load, nothing to compare with: %s", exc)
        return f"none: the heads at {path} do not load over this encoder", None
    progress(f"measuring the heads in use ({heads.description}) on the {len(heldout)} held-out examples")
    scorer = SemanticScorer(encoder, heads, head_thresholds(heads, policy))
    return heads.description, tuple(evaluate(scorer, heldout))


def _install(staged: Path, settings: Settings) -> Path:
    current, previous = learned_heads_dir(settings), previous_heads_dir(settings)
    try:
        if current.exists():
            shutil.rmtree(previous, ignore_errors=True)
            current.replace(previous)
        staged.replace(current)
    except OSError as exc:
        raise ScorerError(f"cannot install the learned heads at {current}: {exc}") from exc
    return current
