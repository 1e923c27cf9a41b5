"""The moderators' review: a button press is checked, then becomes a verdict on the case.

Platform-neutral: an adapter turns a native button press into :class:`Press`, asks :meth:`Review.press`,
and carries out the :class:`~adapters.base.ReviewRequest` steps it gets back. Every press is checked
(a forged or replayed button from a modified client does nothing), and a case is closed once, so a
double tap acts once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from adapters.base import Card, ReviewAction, ReviewRequest
from bot.cards import build_card, parse_button
from bot.store import CaseRecord, Store
from moderation.policy import Policy
from moderation.types import Category, Route, Strike

__all__ = ["Press", "Review", "Staff", "Verdict"]

logger = logging.getLogger(__name__)

_STATUS = {
    "uphold": "upheld",
    "restore": "restored",
    "warn": "warned",
    "mute1h": "muted",
    "mute24h": "muted",
    "remove": "removed",
    "refer": "referred",
}
_MUTE = {"mute1h": timedelta(hours=1), "mute24h": timedelta(hours=24)}


@dataclass(frozen=True, slots=True)
class Staff:
    """Who may press which buttons, on one platform, and where the cards live."""

    moderators: frozenset[str]
    safeguarding_officers: frozenset[str]
    moderators_chat: str | None
    safeguarding_chat: str | None
    moderator_roles: frozenset[str] = frozenset()
    staff_roles: frozenset[str] = frozenset()

    def chat_for(self, route: Route) -> str | None:
        """The chat where cards for this route are posted."""
        return self.safeguarding_chat if route is Route.SAFEGUARDING else self.moderators_chat


@dataclass(frozen=True, slots=True)
class Press:
    """A button press, as the adapter saw it: who pressed what, on a card in which chat."""

    platform: str
    data: str
    presser_id: str
    presser_name: str
    chat_id: str
    presser_roles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to a press: refused with a reason, or accepted with the steps to carry out."""

    accepted: bool
    message: str
    case: CaseRecord | None = None
    verb: str | None = None
    steps: tuple[ReviewRequest, ...] = ()


class Review:
    """Checks presses and records verdicts."""

    def __init__(self, *, store: Store, policy: Policy, staff: Staff, platform: str) -> None:
        self.store = store
        self.policy = policy
        self.staff = staff
        self.platform = platform

    def press(self, press: Press, now: datetime) -> Verdict:
        """Check a press and, if allowed, close the case with the verdict (blocking: run it in a thread)."""
        refusal, case, verb = self._check(press)
        if refusal is not None or case is None or verb is None:
            logger.warning(
                "refused button press by %s in chat %s (%s)", press.presser_id, press.chat_id, refusal
            )
            return Verdict(accepted=False, message=refusal or "not allowed")
        if not self.store.claim_case(case.id, _STATUS[verb], actor=press.presser_id, at=now):
            return Verdict(accepted=False, message="Someone has already acted on this case.", case=case)
        self.store.record_action(case.id, verb, "ok", actor=press.presser_id, at=now)
        if verb == "warn":
            category = case.flagged[0] if case.flagged else Category.CIVILITY
            clause = case.clauses[0] if case.clauses else "?"
            self.store.add_strike(case.platform, case.author_id, Strike(category, clause, now), case.id)
        logger.info("case %s: %s by %s", case.id, verb, press.presser_id)
        closed = self.store.get_case(case.id) or case
        return Verdict(
            accepted=True, message=f"Done: {verb}.", case=closed, verb=verb, steps=self._steps(closed, verb)
        )

    def record_step(
        self, case_id: int, step: ReviewAction, error: str | None, *, actor: str, now: datetime
    ) -> None:
        """Record how a step of a verdict went on the platform."""
        self.store.record_action(
            case_id, f"{step.value}-done", "failed" if error else "ok", actor=actor, detail=error, at=now
        )

    def _check(self, press: Press) -> tuple[str | None, CaseRecord | None, str | None]:
        parsed = parse_button(press.data)
        if parsed is None or press.platform != self.platform:
            return "This button is not one of ours.", None, None
        case_id, verb = parsed
        case = self.store.get_case(case_id)
        if case is None or case.platform != self.platform:
            return "There is no such case.", None, None
        route = case.route or Route.MODERATORS
        if press.chat_id != self.staff.chat_for(route):
            return "This case does not belong to this chat.", None, None
        if route is Route.SAFEGUARDING:
            allowed = press.presser_id in self.staff.safeguarding_officers
        else:
            allowed = press.presser_id in self.staff.moderators | self.staff.safeguarding_officers or bool(
                press.presser_roles & self.staff.moderator_roles
            )
        if not allowed:
            who = "the safeguarding officer" if route is Route.SAFEGUARDING else "listed moderators"
            return f"Only {who} can act on this case.", None, None
        if route is Route.SAFEGUARDING and verb == "refer":
            return "This case is already with the safeguarding officer.", None, None
        if not case.is_open:
            return f"This case is already closed ({case.status}).", None, None
        return None, case, verb

    def _steps(self, case: CaseRecord, verb: str) -> tuple[ReviewRequest, ...]:
        action: ReviewAction | None = None
        if verb == "restore":
            action, text = ReviewAction.RESTORE, case.text
        elif verb == "warn":
            action, text = ReviewAction.WARN, self._warning(case)
        else:
            text = None
        if verb in _MUTE:
            action = ReviewAction.MUTE
        elif verb == "remove":
            action = ReviewAction.REMOVE
        elif verb == "refer":
            action = ReviewAction.REFER
        if action is None:
            return ()
        return (
            ReviewRequest(
                action,
                case_id=case.id,
                chat_id=case.chat_id,
                author_id=case.author_id,
                author_name=case.author_name,
                text=text,
                duration=_MUTE.get(verb),
                card=self.referral_card(case) if action is ReviewAction.REFER else None,
            ),
        )

    def _warning(self, case: CaseRecord) -> str:
        reminder = case.reminder or "Please follow the group's rules."
        return f"A moderator has reviewed your message and given you a formal warning. {reminder}"

    def referral_card(self, case: CaseRecord) -> Card:
        """The card the safeguarding officer gets when moderators refer a case (no buttons: it is closed)."""
        card = build_card(
            case_id=case.id,
            policy=self.policy,
            author_name=case.author_name,
            author_role=case.author_role.value,
            author_id=case.author_id,
            chat_title=case.chat_id,
            when=case.created_at,
            text=case.text,
            flagged=case.flagged,
            clauses=case.clauses,
            evidence=[(item.kind, item.source, item.score) for item in case.evidence],
            scores=case.scores,
            explanation=f"referred by moderators; {case.explanation}",
            scorer=case.scorer,
            done=[],
            route=Route.SAFEGUARDING,
            was_hidden=False,
        )
        return replace(card, buttons=())
