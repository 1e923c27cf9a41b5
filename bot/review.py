"""The moderators' review: a button press is checked, then becomes a decision on the case.

Platform-neutral: an adapter turns a native button press into :class:`Press`, asks :meth:`Review.press`,
and carries out the :class:`~adapters.base.ReviewRequest` steps it gets back. Every press is checked
(a forged or replayed button from a modified client does nothing): who may press (the safeguarding
officer alone on safeguarding cases), in which chat, and whether the case allows that decision at
all (:func:`moderation.verdicts.offered_verbs`: a disclosure is never met with a sanction). A case
is closed once, so a double tap acts once. A referral moves an open case to the safeguarding officer
(a new card in the safeguarding chat, with the officer's buttons, climbing the rota until someone
acknowledges it); the officer's No concern on a conduct case moves it back to the moderators, who
decide the conduct. An appeal is decided here too, by its own card's buttons or by any decision on
its case, and its author is told the outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from adapters.base import Button, Card, ReviewAction, ReviewRequest
from bot import texts
from bot.buttons import parse_case_button
from bot.cards import button, card_of, posted_detail, shown_text
from bot.errors import StorageError
from bot.languages import ENGLISH, language_of
from bot.store import ActionRecord, CaseRecord, Store
from moderation.policy import Policy
from moderation.types import Route
from moderation.verdicts import (
    APPEAL_VERBS,
    HANDED_BACK,
    CaseKind,
    Verb,
    appeal_status,
    case_kind,
    closing_status,
    is_officers_decision,
    offered_verbs,
    reroute_for,
    strike_for,
)

__all__ = ["CaseState", "Press", "Review", "Staff", "Verdict", "case_state"]

logger = logging.getLogger(__name__)

_MUTE = {Verb.MUTE_1H: timedelta(hours=1), Verb.MUTE_24H: timedelta(hours=24)}
_STEP = {
    Verb.RESTORE: ReviewAction.RESTORE,
    Verb.WARN: ReviewAction.WARN,
    Verb.MUTE_1H: ReviewAction.MUTE,
    Verb.MUTE_24H: ReviewAction.MUTE,
    Verb.REMOVE: ReviewAction.REMOVE,
    Verb.HIDE: ReviewAction.HIDE,
}


@dataclass(frozen=True, slots=True)
class Staff:
    """Who may press which buttons, on one platform, and where the cards live."""

    moderators: frozenset[str]
    safeguarding_officers: frozenset[str]
    moderators_chat: str | None
    safeguarding_chat: str | None
    moderator_roles: frozenset[str] = frozenset()
    staff_roles: frozenset[str] = frozenset()
    staff: frozenset[str] = frozenset()
    """Listed staff (tutors) by id, beside the moderators and officers (who are staff too)."""

    @classmethod
    def of(
        cls,
        *,
        moderators: Iterable[int | str],
        safeguarding_officers: Iterable[int | str],
        moderators_chat: int | str | None,
        safeguarding_chat: int | str | None,
        staff: Iterable[int | str] = (),
        moderator_roles: Iterable[str] = (),
        staff_roles: Iterable[str] = (),
    ) -> Staff:
        """From a platform's settings: its numeric ids as the strings the core compares."""
        return cls(
            moderators=frozenset(str(user) for user in moderators),
            safeguarding_officers=frozenset(str(user) for user in safeguarding_officers),
            moderators_chat=None if moderators_chat is None else str(moderators_chat),
            safeguarding_chat=None if safeguarding_chat is None else str(safeguarding_chat),
            moderator_roles=frozenset(role for role in moderator_roles if role),
            staff_roles=frozenset(role for role in staff_roles if role),
            staff=frozenset(str(user) for user in staff),
        )

    def chat_for(self, route: Route) -> str | None:
        """The chat where cards for this route are posted."""
        return route.pick(moderators=self.moderators_chat, safeguarding=self.safeguarding_chat)


@dataclass(frozen=True, slots=True)
class Press:
    """A button press, as the adapter saw it: who pressed what, on a card in which chat."""

    platform: str
    data: str
    presser_id: str
    presser_name: str
    chat_id: str
    presser_roles: frozenset[str] = frozenset()
    is_private: bool = False
    """Pressed in the presser's private chat with the bot (a rota alert): only Acknowledge is taken there."""
    from_console: bool = False
    """Pressed in the web console, which signed the presser in (there is no chat to check)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to a press: refused with a reason, or accepted with the steps to carry out.

    ``keeps_open``: the card stays open after this press (an acknowledgement or a hide), offering
    what :meth:`Review.buttons_for` says once the steps are carried out.
    """

    accepted: bool
    message: str
    case: CaseRecord | None = None
    verb: Verb | None = None
    steps: tuple[ReviewRequest, ...] = ()
    keeps_open: bool = False


@dataclass(frozen=True, slots=True)
class CaseState:
    """What a case's action log says about it, for the buttons its card offers."""

    is_hidden: bool
    """The message is no longer in the group (hidden by the bot or by staff)."""
    is_acknowledged: bool
    """The safeguarding officer acknowledged it."""
    was_handed_back: bool
    """The officer found no concern and handed it back to the moderators."""


def case_state(actions: list[ActionRecord]) -> CaseState:
    """A case's state, from its action log."""
    is_hidden = any(
        item.outcome == "ok"
        and (item.action == "hide-done" or (item.action == "hide" and item.actor == "bot"))
        for item in actions
    )
    return CaseState(
        is_hidden=is_hidden,
        is_acknowledged=any(item.action == Verb.ACKNOWLEDGE.value for item in actions),
        was_handed_back=any(item.action == HANDED_BACK and item.outcome == "ok" for item in actions),
    )


@dataclass(frozen=True, slots=True)
class _Allowed:
    """A press that passed the checks: its case, its decision, the case's state (``None``: an appeal)."""

    case: CaseRecord
    verb: Verb
    state: CaseState | None


class Review:
    """Checks presses and records decisions."""

    def __init__(self, *, store: Store, policy: Policy, staff: Staff, platform: str) -> None:
        self.store = store
        self.policy = policy
        self.staff = staff
        self.platform = platform

    def press(self, press: Press, now: datetime) -> Verdict:
        """Check a press and, if allowed, record the decision (blocking: run it in a thread)."""
        checked = self._check(press)
        if isinstance(checked, str):
            logger.warning(
                "refused button press by %s in chat %s (%s)", press.presser_id, press.chat_id, checked
            )
            return Verdict(accepted=False, message=checked)
        case, verb, state = checked.case, checked.verb, checked.state
        if state is None:  # an appeal's decision
            return self._decide_appeal(case, verb, press, now)
        route = reroute_for(verb, case.flagged)
        if route is not None:  # a referral, or the officer's hand-back: the case moves, still open
            return self._reroute(case, verb, route, press, now, state)
        status = closing_status(verb)
        if status is None:  # acknowledge or hide: the officer's card stays open for the decision
            return self._keep_open(case, verb, press, now, state)
        if not self.store.claim_case(case.id, status, actor=press.presser_id, at=now):
            return Verdict(accepted=False, message="Someone has already acted on this case.", case=case)
        self.store.record_action(case.id, verb.value, "ok", actor=press.presser_id, at=now)
        if verb is Verb.WARN:
            strike = strike_for(case.flagged, case.clauses, case.author_role, self.policy, now)
            if strike is not None:
                self.store.add_strike(case.platform, case.author_id, strike, case.id)
        logger.info("case %s: %s by %s", case.id, verb.value, press.presser_id)
        closed = self.store.get_case(case.id) or case
        steps = list(self._steps(closed, verb))
        appeal = self.store.open_appeal(case.id)
        if appeal is not None:  # a decision on the case answers the appeal against it
            outcome = appeal_status(verb)
            if self.store.decide_appeal(appeal.id, outcome, actor=press.presser_id, at=now):
                steps.append(
                    self._notify(
                        closed, texts.appeal_outcome(closed.id, outcome == "granted", self._language(closed))
                    )
                )
        return Verdict(
            accepted=True, message=f"Done: {verb.value}.", case=closed, verb=verb, steps=tuple(steps)
        )

    def record_step(
        self,
        case_id: int,
        step: ReviewRequest,
        error: str | None,
        *,
        actor: str,
        now: datetime,
        posted: str | None = None,
    ) -> None:
        """Record how a step of a decision went on the platform (``posted``: the id of the card it posted)."""
        detail = error or posted_detail(posted, None if step.card is None else step.card.route)
        self.store.record_action(
            case_id,
            f"{step.action.value}-done",
            "failed" if error else "ok",
            actor=actor,
            detail=detail,
            at=now,
        )

    def _keep_open(
        self, case: CaseRecord, verb: Verb, press: Press, now: datetime, state: CaseState
    ) -> Verdict:
        if verb is Verb.ACKNOWLEDGE and state.is_acknowledged:
            return Verdict(accepted=False, message="This case is already acknowledged.", case=case)
        if verb is Verb.HIDE and state.is_hidden:
            return Verdict(accepted=False, message="The message is already hidden.", case=case)
        self.store.record_action(case.id, verb.value, "ok", actor=press.presser_id, at=now)
        logger.info("case %s: %s by %s", case.id, verb.value, press.presser_id)
        return Verdict(
            accepted=True,
            message="Acknowledged." if verb is Verb.ACKNOWLEDGE else "Hiding the message.",
            case=case,
            verb=verb,
            steps=self._steps(case, verb),
            keeps_open=True,
        )

    def _reroute(
        self, case: CaseRecord, verb: Verb, route: Route, press: Press, now: datetime, state: CaseState
    ) -> Verdict:
        if not self.store.reroute_case(case.id, from_route=case.route, to_route=route):
            return Verdict(accepted=False, message="Someone has already acted on this case.", case=case)
        is_referral = route is Route.SAFEGUARDING
        self.store.record_action(
            case.id, verb.value if is_referral else HANDED_BACK, "ok", actor=press.presser_id, at=now
        )
        logger.info(
            "case %s: %s by %s, now on the %s route", case.id, verb.value, press.presser_id, route.value
        )
        moved = self.store.get_case(case.id) or replace(case, route=route)
        why = (
            "referred by moderators"
            if is_referral
            else "the safeguarding officer found no safeguarding concern: the moderators decide the conduct"
        )
        card = card_of(
            moved,
            self.policy,
            explanation=f"{why}; {case.explanation}",
            is_hidden=state.is_hidden,
            is_acknowledged=state.is_acknowledged,
            was_handed_back=not is_referral,
        )
        posted = _request(
            moved,
            ReviewAction.POST_CARD,
            card=replace(card, key=f"{'refer' if is_referral else 'back'}-{case.id}"),
        )
        message = "Referred to the safeguarding officer." if is_referral else "Handed back to the moderators."
        return Verdict(accepted=True, message=message, case=moved, verb=verb, steps=(posted,))

    def buttons_for(self, verdict: Verdict) -> tuple[Button, ...]:
        """What the card offers once the verdict's steps are done (and recorded): none once decided."""
        if not verdict.keeps_open or verdict.case is None:
            return ()
        case = verdict.case
        state = case_state(self.store.case_actions(case.id))
        verbs = offered_verbs(
            case.flagged,
            case.route,
            is_hidden=state.is_hidden,
            is_acknowledged=state.is_acknowledged,
            was_handed_back=state.was_handed_back,
        )
        return tuple(button(case.id, verb) for verb in verbs)

    def _decide_appeal(self, case: CaseRecord, verb: Verb, press: Press, now: datetime) -> Verdict:
        appeal = self.store.open_appeal(case.id)
        if appeal is None or not self.store.decide_appeal(
            appeal.id, appeal_status(verb), actor=press.presser_id, at=now
        ):
            return Verdict(accepted=False, message="This appeal has already been decided.", case=case)
        is_granted = verb is Verb.GRANT
        steps: list[ReviewRequest] = []
        if is_granted:
            is_hidden = case_state(self.store.case_actions(case.id)).is_hidden
            was_restored = case.status == "restored"
            self.store.overturn_case(case.id, actor=press.presser_id, at=now)
            if is_hidden and not was_restored and case.text is not None:
                steps.extend(self._steps(case, Verb.RESTORE))
        elif case.is_open and not is_officers_decision(case.flagged, case.route):
            # The bot was right: the case is upheld. An officer's case stays open for the officer's decision.
            self.store.claim_case(case.id, "upheld", actor=press.presser_id, at=now)
        logger.info("case %s: appeal %s by %s", case.id, verb.value, press.presser_id)
        decided = self.store.get_case(case.id) or case
        steps.append(
            self._notify(decided, texts.appeal_outcome(case.id, is_granted, self._language(decided)))
        )
        message = "Appeal granted." if is_granted else "Appeal denied."
        return Verdict(accepted=True, message=message, case=decided, verb=verb, steps=tuple(steps))

    def _check(self, press: Press) -> str | _Allowed:
        """The press allowed (its case, verb and the case's state), or why it is refused."""
        parsed = parse_case_button(press.data)
        if parsed is None or press.platform != self.platform:
            return "This button is not one of ours."
        case_id, verb = parsed
        case = self.store.get_case(case_id)
        if case is None or case.platform != self.platform:
            return "There is no such case."
        route = case.route or Route.MODERATORS
        if press.is_private:
            # A rota alert's one button: anything else is decided on the card in the safeguarding chat.
            if verb is not Verb.ACKNOWLEDGE or route is not Route.SAFEGUARDING:
                return "Decide this case on its card in the safeguarding chat."
        elif not press.from_console and press.chat_id != self.staff.chat_for(route):
            return "This case does not belong to this chat."
        if route is Route.SAFEGUARDING:
            allowed = press.presser_id in self.staff.safeguarding_officers
        else:
            allowed = press.presser_id in self.staff.moderators | self.staff.safeguarding_officers or bool(
                press.presser_roles & self.staff.moderator_roles
            )
        if not allowed:
            who = "the safeguarding officer" if route is Route.SAFEGUARDING else "listed moderators"
            return f"Only {who} can act on this case."
        if verb in APPEAL_VERBS:
            return _Allowed(case, verb, None)
        state = case_state(self.store.case_actions(case.id))
        was_handed_back = state.was_handed_back
        possible = {
            *offered_verbs(case.flagged, case.route, is_hidden=False, was_handed_back=was_handed_back),
            *offered_verbs(case.flagged, case.route, is_hidden=True, was_handed_back=was_handed_back),
        }
        if verb not in possible:
            # A forged press (no card of this case ever offered it): a sanction on a disclosure, say.
            kind = case_kind(case.flagged)
            what = (
                "a case with the safeguarding officer"
                if kind is CaseKind.CONDUCT and route is Route.SAFEGUARDING
                else f"a {kind.value.replace('_', ' ')} case"
            )
            logger.warning(
                "refused %s on case %s (%s) pressed by %s", verb.value, case.id, what, press.presser_id
            )
            return f"{verb.value} is not a decision for {what}."
        if not case.is_open:
            return f"This case is already closed ({case.status})."
        return _Allowed(case, verb, state)

    def _steps(self, case: CaseRecord, verb: Verb) -> tuple[ReviewRequest, ...]:
        action = _STEP.get(verb)
        if action is None:
            return ()
        text: str | None = None
        language = ENGLISH
        if action is ReviewAction.RESTORE and case.text is not None:
            text = shown_text(case.text, case.flagged)
        elif action is ReviewAction.WARN:
            language = self._language(case)
            text = texts.moderator_warning(
                self.policy, case.reminder_keys, language=language, fallback=case.reminder
            )
        return (_request(case, action, text=text, duration=_MUTE.get(verb), language=language),)

    def _notify(self, case: CaseRecord, text: str) -> ReviewRequest:
        return _request(case, ReviewAction.NOTIFY, text=text, language=self._language(case))

    def _language(self, case: CaseRecord) -> str:
        try:
            return language_of(self.store, case.platform, case.author_id, case.chat_id)
        except StorageError:
            logger.warning("could not read case %s's author's language; writing in English", case.id)
            return ENGLISH


def _request(
    case: CaseRecord,
    action: ReviewAction,
    *,
    text: str | None = None,
    duration: timedelta | None = None,
    card: Card | None = None,
    language: str = ENGLISH,
) -> ReviewRequest:
    return ReviewRequest(
        action,
        case_id=case.id,
        chat_id=case.chat_id,
        author_id=case.author_id,
        author_name=case.author_name,
        message_id=case.message_id,
        text=text,
        duration=duration,
        card=card,
        language=language,
    )
