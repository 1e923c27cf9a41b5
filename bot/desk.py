"""The front desk every platform shares: who is who, which groups are moderated, and the commands.

A platform's bot translates its native events, asks the desk, and says or does what comes back.
Nothing here knows Telegram or Discord; the replies are plain text and the moderators' notices are
returned for the platform to post in its moderators' channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from adapters.base import Button, Card, Platform, ReviewRequest
from bot import texts
from bot.cards import appeal_card, outcome_line
from bot.errors import AdapterError, StorageError
from bot.languages import ENGLISH, catalogue, language_of
from bot.review import Press, Review, Staff, Verdict
from bot.store import Store
from bot.store.groups import GROUP_MODES
from bot.store.notes import MAX_NOTE
from moderation.policy import Policy
from moderation.types import Role, Route
from moderation.verdicts import Verb, is_officers_only

logger = logging.getLogger(__name__)

__all__ = ["MAX_NOTE", "Carried", "Desk", "PressAnswer", "Reply"]


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer the person who asked, and what (if anything) to tell or show the moderators.

    ``card`` (an appeal) is posted where its case's cards go, with its buttons.
    """

    text: str
    notice: str | None = None
    is_done: bool = False
    card: Card | None = None


@dataclass(frozen=True, slots=True)
class Carried:
    """A verdict carried out: the problems met, and the buttons its card offers now (none once decided)."""

    problems: list[str]
    buttons: tuple[Button, ...]


class PressAnswer(Protocol):
    """How a platform answers the moderator who pressed a case button, and shows the outcome on the card.

    Each method does its best and never raises: a card that cannot be edited must not undo a verdict.
    """

    async def refused(self, message: str) -> None:
        """Tell the presser, and only them, why nothing was done."""
        ...

    async def accepted(self) -> None:
        """The verdict is recorded and about to be carried out (Discord must hear within 3 s)."""
        ...

    async def carried_out(self, message: str) -> None:
        """Tell the presser what was done, or what failed."""
        ...

    async def show_outcome(self, outcome: str, buttons: tuple[Button, ...]) -> None:
        """Add the outcome line to the card; its buttons become ``buttons`` (none once decided)."""
        ...


class Desk:
    """Commands, roles and authorisation for one platform."""

    def __init__(
        self,
        *,
        platform: str,
        store: Store,
        policy: Policy,
        staff: Staff,
        console_links: Callable[[str, datetime], str] | None = None,
    ) -> None:
        self.platform = platform
        self.console_links = console_links
        """Makes a person's one-time sign-in link to the web console (``None``: no console configured)."""
        self.store = store
        self.policy = policy
        self.staff = staff
        self.staff_ids = staff.staff | staff.moderators | staff.safeguarding_officers
        self.review = Review(store=store, policy=policy, staff=staff, platform=platform)

    # --- who is who ---------------------------------------------------------------------------

    async def role_of(self, user_id: str, roles: frozenset[str] = frozenset()) -> Role:
        """Moderators and officers, then listed staff, then the store's record; learners otherwise."""
        if (
            user_id in self.staff.moderators | self.staff.safeguarding_officers
            or roles & self.staff.moderator_roles
        ):
            return Role.MODERATOR
        if user_id in self.staff_ids or roles & self.staff.staff_roles:
            return Role.STAFF
        stored = await asyncio.to_thread(self.store.role_of, self.platform, user_id)
        return stored or Role.LEARNER

    def is_staff(self, user_id: str, roles: frozenset[str] = frozenset()) -> bool:
        """Whether someone may authorise groups and record consents."""
        return user_id in self.staff_ids or bool(
            roles & (self.staff.staff_roles | self.staff.moderator_roles)
        )

    def is_staff_room(self, chat_id: str) -> bool:
        """The moderators' and safeguarding chats are never moderated themselves."""
        return chat_id in {self.staff.moderators_chat, self.staff.safeguarding_chat}

    # --- groups -------------------------------------------------------------------------------

    async def is_authorised(self, chat_id: str) -> bool:
        """Whether staff have authorised this group (policy clause 4.6)."""
        return await asyncio.to_thread(self.store.is_authorised, self.platform, chat_id)

    async def unauthorised(self, chat_id: str, title: str, added_by: str) -> Reply:
        """Note a group nobody authorised; the reply is its notice, the notice the moderators' report."""
        await asyncio.to_thread(self.store.record_group, self.platform, chat_id, title=title, at=_now())
        return Reply(
            text=texts.unauthorised_notice(),
            notice=f"Added to unauthorised group {title} (id {chat_id}) by {added_by}; leaving.",
        )

    async def authorise(
        self, chat_id: str, title: str, *, by_id: str, by_name: str, roles: frozenset[str] = frozenset()
    ) -> Reply:
        """Authorise a group, if the person asking is staff."""
        if not self.is_staff(by_id, roles):
            return Reply("Only listed staff can authorise a group.")
        group = await asyncio.to_thread(
            lambda: self.store.authorise_group(
                self.platform,
                chat_id,
                title=title,
                authorised_by=by_id,
                at=_now(),
                mode=self.policy.new_group_mode,
            )
        )
        if group.mode == "shadow":
            return Reply(
                f"{title} is authorised in shadow mode: I record what I would do and do nothing to anyone "
                "yet (a disclosure still reaches the safeguarding officer). Staff: /mode enforce when ready.",
                notice=f"{title} (id {chat_id}) authorised by {by_name}, in shadow mode.",
                is_done=True,
            )
        return Reply(
            f"{title} is now moderated under the social media policy.",
            notice=f"{title} (id {chat_id}) authorised by {by_name}.",
            is_done=True,
        )

    async def set_mode(
        self, chat_id: str, mode: str | None, *, by_id: str, roles: frozenset[str] = frozenset()
    ) -> Reply:
        """``/mode enforce|shadow`` in a group, from staff: act on its messages, or only record."""
        if not self.is_staff(by_id, roles):
            return Reply("Only listed staff can change how this group is moderated.")
        if mode not in GROUP_MODES:
            current = await asyncio.to_thread(self.store.group_mode, self.platform, chat_id)
            return Reply(f"This group is in {current} mode. Staff: /mode enforce or /mode shadow.")
        if not await asyncio.to_thread(self.store.set_group_mode, self.platform, chat_id, mode):
            return Reply("I do not know this group yet: authorise it first.")
        said = (
            "I now act on breaches of the policy here."
            if mode == "enforce"
            else "Shadow mode: I record what I would do and do nothing to anyone (a disclosure still reaches "
            "the safeguarding officer)."
        )
        return Reply(said, notice=f"Group {chat_id} put in {mode} mode by {by_id}.", is_done=True)

    # --- learners' and tutors' commands ---------------------------------------------------------

    async def my_cases(self, user_id: str, language: str = ENGLISH) -> Reply:
        """A learner's own cases and strikes, nobody else's."""
        cases = await asyncio.to_thread(self.store.cases_for_author, self.platform, user_id)
        lifetime = timedelta(days=self.policy.strike_lifetime_days)
        history = await asyncio.to_thread(
            self.store.author_history, self.platform, user_id, now=_now(), strike_lifetime=lifetime
        )
        appeals = await asyncio.to_thread(self.store.latest_appeals, [case.id for case in cases])
        return Reply(
            texts.case_list(cases, len(history.strikes), appeals, platform=self.platform, language=language)
        )

    async def appeal(
        self, user_id: str, user_name: str, case_text: str, reason: str | None, language: str = ENGLISH
    ) -> Reply:
        """Record an appeal on one of the learner's own cases; the reply carries its card for review.

        One appeal per case at a time: a second while the first is open is answered, not posted again.
        """
        if not case_text.lstrip("#").isdigit() or len(case_text) > 12:
            return Reply(texts.appeal_usage(self.platform, language))
        case_id = int(case_text.lstrip("#"))
        case = await asyncio.to_thread(self.store.get_case, case_id)
        if case is None or case.platform != self.platform or case.author_id != user_id:
            return Reply(texts.appeal_not_found(case_id, language))
        reason = (reason or "").strip()[:1000] or None
        appeal = await asyncio.to_thread(self.store.add_appeal, case_id, user_id, reason, _now())
        if appeal is None:
            return Reply(texts.appeal_already(case_id, language))
        card = appeal_card(
            appeal_id=appeal.id,
            case_id=case.id,
            author_name=user_name,
            author_id=user_id,
            flagged=case.flagged,
            status=case.status,
            text=case.text,
            reason=reason,
            route=case.route or Route.MODERATORS,
        )
        return Reply(texts.appeal_sent(case_id, language), is_done=True, card=card)

    async def consent(
        self, target_id: str, target_name: str, *, by_id: str, roles: frozenset[str] = frozenset()
    ) -> Reply:
        """Record a learner's written photo consent, if the person asking is a tutor or staff."""
        if not self.is_staff(by_id, roles):
            return Reply("Only tutors and staff can record photo consent.")
        await asyncio.to_thread(
            self.store.add_consent, self.platform, target_id, recorded_by=by_id, at=_now()
        )
        return Reply(f"Written photo consent recorded for {target_name}.", is_done=True)

    def policy_text(self, language: str = ENGLISH) -> str:
        """The policy in brief."""
        return texts.policy_brief(self.policy, language)

    def start_text(self, language: str = ENGLISH) -> str:
        """What the bot is."""
        return texts.start_text(self.policy, language, platform=self.platform)

    def welcome_text(self, name: str, language: str = ENGLISH) -> str:
        """A new member's welcome."""
        return texts.welcome_text(self.policy, name, language)

    def public_welcome(self, name: str, language: str = ENGLISH) -> str:
        """A new member's short welcome in the group, where they cannot be written to privately."""
        return texts.public_welcome(self.platform, name, language)

    # --- languages ------------------------------------------------------------------------------

    async def language_of(
        self, user_id: str, chat_id: str | None = None, *, locale: str | None = None
    ) -> str:
        """The language someone reads: their choice, their app's (``locale``), the group's, else English.

        ``locale`` is kept, so later notes (a moderator's warning) follow the app's language too.
        """
        try:
            if locale:
                await asyncio.to_thread(self.store.note_locale, self.platform, user_id, locale)
            return await asyncio.to_thread(
                language_of, self.store, self.platform, user_id, chat_id, locale=locale
            )
        except StorageError:
            logger.warning("could not read a language; writing in English")
            return ENGLISH

    async def choose_language(self, user_id: str, code: str | None, *, locale: str | None = None) -> Reply:
        """``/language [code]`` from a learner: show the language in use, or choose one."""
        current = await self.language_of(user_id, locale=locale)
        if not code:
            return Reply(texts.language_current(current))
        language = catalogue().resolve(code)
        if language is None:
            return Reply(texts.language_unknown(current))
        await asyncio.to_thread(self.store.set_language, self.platform, user_id, language)
        return Reply(texts.language_chosen(language), is_done=True)

    async def set_group_language(
        self, chat_id: str, code: str | None, *, by_id: str, roles: frozenset[str] = frozenset()
    ) -> Reply:
        """``/language code`` in a group, from staff: the language its learners get unless they choose."""
        if not self.is_staff(by_id, roles):
            return Reply(texts.language_group_staff_only(await self.language_of(by_id, chat_id)))
        language = catalogue().resolve(code)
        if language is None:
            return Reply(texts.language_unknown(ENGLISH))
        if not await asyncio.to_thread(self.store.set_group_language, self.platform, chat_id, language):
            return Reply("I do not know this group yet: authorise it first.")
        return Reply(texts.language_group_set(language), is_done=True)

    # --- the web console ------------------------------------------------------------------------

    async def console_link(self, user_id: str) -> Reply:
        """``/console`` in a private chat: a one-time sign-in link for listed moderators and officers."""
        if self.console_links is None:
            return Reply("The web console is not set up here.")
        links = self.console_links
        try:
            url = await asyncio.to_thread(links, user_id, _now())
        except PermissionError:
            return Reply("The web console is for listed moderators and safeguarding officers.")
        return Reply(
            f"Your sign-in link to the console (one use, for 10 minutes; keep it to yourself):\n{url}"
        )

    # --- officers' notes -----------------------------------------------------------------------

    async def add_note(
        self, case_id: int | None, text: str, *, by_id: str, by_name: str, roles: frozenset[str] = frozenset()
    ) -> Reply:
        """A note on a case from its card: officers on any case, moderators on theirs; kept with the case."""
        is_officer = by_id in self.staff.safeguarding_officers
        is_moderator = by_id in self.staff.moderators or bool(roles & self.staff.moderator_roles)
        if not (is_officer or is_moderator):
            return Reply("Only moderators and the safeguarding team can add notes to a case.")
        case = None if case_id is None else await asyncio.to_thread(self.store.get_case, case_id)
        if case is None or case.platform != self.platform:
            return Reply("That is not a case card: reply to a case's card to add a note to it.")
        if not is_officer and is_officers_only(case.flagged, case.route, case.status):
            return Reply("Only the safeguarding team can add notes to this case.")
        try:
            await asyncio.to_thread(
                lambda: self.store.add_note(case.id, actor=by_id, actor_name=by_name, text=text, at=_now())
            )
        except ValueError:
            return Reply("A note needs some text.")
        logger.info("case %s: note added by %s", case.id, by_id)
        return Reply(f"Note added to case #{case.id}'s chronology.", is_done=True)

    # --- moderators' buttons -------------------------------------------------------------------

    async def press(self, press: Press, now: datetime) -> Verdict:
        """Check a button press and record the verdict."""
        return await asyncio.to_thread(self.review.press, press, now)

    async def decide(self, press: Press, platform: Platform, answer: PressAnswer) -> None:
        """The verdict loop of every platform: check a press, carry out its steps, answer, update the card."""
        now = _now()
        verdict = await self.press(press, now)
        if not verdict.accepted or verdict.case is None or verdict.verb is None:
            await answer.refused(verdict.message)
            return
        await answer.accepted()
        carried = await self.carry_out(verdict, press, now, platform.apply_review)
        problems = carried.problems
        await answer.carried_out(verdict.message if not problems else "Recorded, but: " + "; ".join(problems))
        await answer.show_outcome(
            outcome_line(verdict.verb, press.presser_name, now, problems), carried.buttons
        )
        chat = self.staff.safeguarding_chat
        if press.is_private and verdict.verb is Verb.ACKNOWLEDGE and chat is not None:
            # Acknowledged from a rota alert: the team sees the climb has stopped, and who has it.
            notice = (
                f"Case #{verdict.case.id} acknowledged by {press.presser_name} (rota alert): the rota stops."
            )
            try:
                await platform.post(chat, notice)
            except AdapterError as exc:
                logger.warning("could not tell the safeguarding chat of an acknowledgement: %s", exc)

    async def carry_out(
        self,
        verdict: Verdict,
        press: Press,
        now: datetime,
        apply: Callable[[ReviewRequest], Awaitable[str | None]],
    ) -> Carried:
        """Carry out an accepted verdict's steps on the platform, each recorded; what the card shows next."""
        problems: list[str] = []
        if verdict.case is None:
            return Carried(problems, ())
        for step in verdict.steps:
            error = posted = None
            try:
                posted = await apply(step)
            except AdapterError as exc:
                error = str(exc)
                problems.append(f"{step.action.value} failed: {exc}")
            await asyncio.to_thread(
                self.review.record_step,
                verdict.case.id,
                step,
                error,
                actor=press.presser_id,
                now=now,
                posted=posted,
            )
        return Carried(problems, await asyncio.to_thread(self.review.buttons_for, verdict))


def _now() -> datetime:
    return datetime.now(UTC)
