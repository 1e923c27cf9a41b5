"""The Telegram bot: python-telegram-bot's Application wired to the pipeline, the review and the store.

Handlers route updates; the adapter translates them and carries out actions. Every handler's
errors end in ``_on_error``, which logs ids (never text) and keeps the bot running.

Every kind of Telegram update is routed here (group messages, joins, membership, buttons, errors,
start-up checks, the stop); PTB's Application is built beside it (``application``), and so are the
commands (``commands``), the inbound journal (``journal``) and the adapter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from telegram import CallbackQuery, Chat, Message, Update, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import Conflict, InvalidToken, NetworkError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from adapters.base import Button
from adapters.telegram.adapter import PLATFORM, TelegramAdapter, message_from_telegram
from adapters.telegram.application import build_application
from adapters.telegram.commands import Commands
from adapters.telegram.journal import UpdateJournal
from bot.app import Services, desk_and_scheduler, make_pipeline
from bot.cards import case_id_in
from bot.config import ConfigError, Settings
from bot.errors import AdapterError
from bot.ordering import InOrder
from bot.redaction import Redaction
from bot.review import Press

__all__ = ["TelegramBot", "build_application", "prepare"]

logger = logging.getLogger(__name__)
_MEMBER = {ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
_GONE = {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}
_MODERATION = -1  # PTB handler group: before the commands' group 0, so every message is moderated
_WELCOME_ONCE_S = 300.0  # a join can come as a service message and as a chat_member update
_CONFLICT_REPORT_INTERVAL_S = 60.0


def prepare(settings: Settings) -> Callable[[Services], None]:
    """Check the Telegram settings (the token, the Bot API URL) before anything opens; then the runner.

    Raises:
        ConfigError: the token is missing or the Bot API URL unusable (one line, never the token).
    """
    application = build_application(settings)
    return lambda services: TelegramBot(services, application).run()


class TelegramBot:
    """Moderates authorised Telegram groups and runs the moderators' review."""

    def __init__(self, services: Services, application: Application) -> None:  # type: ignore[type-arg]
        settings = services.settings
        self.services = services
        self.settings = settings
        self.application = application
        self.adapter = TelegramAdapter(
            application.bot,
            moderators_chat=settings.telegram_moderators_chat,
            safeguarding_chat=settings.telegram_safeguarding_chat,
            notice_lifetime=settings.notice_lifetime_seconds,
        )
        self.pipeline = make_pipeline(services, self.adapter)
        self.desk, self.scheduler = desk_and_scheduler(services, self.adapter)
        self._reported: set[int] = set()
        self._welcomed: dict[tuple[int, int], float] = {}
        self._in_order = InOrder()
        self._conflict_reported_at: float | None = None
        self.journal = UpdateJournal(services.store, application.bot)
        self.journal.attach(application)
        self.commands = Commands(self)
        self._register()

    # --- wiring ------------------------------------------------------------------------------

    def _register(self) -> None:
        app = self.application
        groups = filters.ChatType.GROUPS
        # Every group message is moderated first, in a handler group of its own, whether or not it is
        # also a command: "/policy I will find you" is hidden as well as answered.
        content = filters.TEXT | filters.CAPTION | filters.PHOTO | filters.Document.ALL | filters.VIDEO
        app.add_handler(MessageHandler(groups & content, self._group_message), group=_MODERATION)
        self.commands.register(app)
        app.add_handler(CallbackQueryHandler(self._button))
        rooms = [
            chat
            for chat in (self.settings.telegram_safeguarding_chat, self.settings.telegram_moderators_chat)
            if chat is not None
        ]
        if rooms:  # a reply to a card in a staff chat is a note on its case
            staff_rooms = filters.Chat(chat_id=rooms)
            app.add_handler(
                MessageHandler(staff_rooms & filters.REPLY & filters.TEXT & ~filters.COMMAND, self._note)
            )
        app.add_handler(ChatMemberHandler(self._membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_handler(ChatMemberHandler(self._member_joined, ChatMemberHandler.CHAT_MEMBER))
        app.add_handler(MessageHandler(groups & filters.StatusUpdate.NEW_CHAT_MEMBERS, self._joined))
        app.add_error_handler(self._on_error)
        app.post_init = self._startup_checks
        app.post_shutdown = self._shutdown

    async def _shutdown(self, application: Application) -> None:  # type: ignore[type-arg]
        await self.scheduler.stop()
        await self.adapter.close()
        await self.pipeline.close()

    def run(self) -> None:
        """Run until interrupted: long polling by default, or a webhook when configured.

        Raises:
            ConfigError: Telegram refused the token, or the Bot API cannot be reached at start-up.
        """
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # run_polling runs on (and finally closes) this loop
        try:
            # Check the token and the connection first, closing the connection pool whatever
            # happens: PTB leaves it open when its own start-up fails.
            loop.run_until_complete(self._preflight())
        except InvalidToken as exc:
            loop.close()
            raise ConfigError(
                "Telegram refused the token (getMe failed): check CLASSMOD_TELEGRAM_TOKEN with @BotFather"
            ) from exc
        except NetworkError as exc:
            loop.close()
            reason = Redaction.of(self.settings)(_short(exc))  # the library's words may quote the URL
            raise ConfigError(
                f"cannot reach the Telegram Bot API at {self.settings.telegram_api_url} ({reason}): "
                "check the network or CLASSMOD_TELEGRAM_API_URL"
            ) from exc
        self._run()

    async def _preflight(self) -> None:
        bot = self.application.bot
        try:
            await bot.initialize()
        finally:
            await bot.shutdown()

    def _run(self) -> None:
        settings = self.settings
        if settings.telegram_mode == "webhook":
            if not settings.telegram_webhook_url:
                raise ConfigError(
                    "CLASSMOD_TELEGRAM_MODE=webhook needs CLASSMOD_TELEGRAM_WEBHOOK_URL (public HTTPS)"
                )
            secret = settings.telegram_webhook_secret
            self.application.run_webhook(
                listen=settings.telegram_webhook_listen,
                port=settings.telegram_webhook_port,
                url_path=urlsplit(settings.telegram_webhook_url).path.lstrip("/"),
                webhook_url=settings.telegram_webhook_url,
                secret_token=secret.get_secret_value() if secret else None,
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            self.application.run_polling(allowed_updates=Update.ALL_TYPES)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else "?"
        error = context.error
        if isinstance(error, Conflict):
            self._report_conflict()
            return
        logger.error("update %s failed: %s: %s", update_id, type(error).__name__, _short(error))

    def _report_conflict(self) -> None:
        # Telegram answers getUpdates with 409 while another process polls with this token; PTB
        # retries with back-off (1 s growing to 30 s). One line a minute says why.
        now = time.monotonic()
        if (
            self._conflict_reported_at is not None
            and now - self._conflict_reported_at < _CONFLICT_REPORT_INTERVAL_S
        ):
            logger.debug("409 Conflict again: retrying")
            return
        self._conflict_reported_at = now
        logger.warning(
            "409 Conflict: another process is polling Telegram with this bot's token (is a second classmod "
            "running?); stop it. Retrying with back-off meanwhile."
        )

    # --- start-up ----------------------------------------------------------------------------

    async def _startup_checks(self, application: Application) -> None:  # type: ignore[type-arg]
        # What a stopped process left in the journal goes first, before PTB fetches anything new.
        await self.journal.replay(application)
        await self.startup_checks()
        # Finish what a stopped bot left half done in the last 48 hours (hide, remind, card).
        self.pipeline.resume_in_background(PLATFORM)
        self.scheduler.start()  # the safeguarding rota, the moderators' reminders, the daily digest

    async def startup_checks(self) -> None:
        """Check privacy mode and the bot's rights in every authorised group; tell the moderators."""
        me = await self.application.bot.get_me()
        problems: list[str] = []
        if not me.can_read_all_group_messages:
            problems.append(
                f"Privacy mode is on for @{me.username}: in groups it only sees commands and replies to it. "
                "Turn it off with @BotFather (/setprivacy, Disable) or make the bot an admin of each group."
            )
        if self.settings.telegram_moderators_chat is None:
            logger.warning("CLASSMOD_TELEGRAM_MODERATORS_CHAT is not set: escalations cannot be posted")
        if self.settings.telegram_safeguarding_chat is None:
            logger.warning(
                "CLASSMOD_TELEGRAM_SAFEGUARDING_CHAT is not set: safeguarding cases cannot be posted"
            )
        groups = await asyncio.to_thread(self.services.store.groups)
        for group in groups:
            if group.platform != PLATFORM or not group.is_authorised:
                continue
            problems.extend(await self._rights_problems(int(group.chat_id), group.title or group.chat_id))
        for problem in problems:
            logger.warning("%s", problem)
            await self.tell_moderators(problem)

    async def _rights_problems(self, chat_id: int, title: str) -> list[str]:
        try:
            missing = await self.adapter.missing_rights(chat_id)
        except AdapterError as exc:
            return [f"In {title}: could not check the bot's rights ({exc})."]
        if not missing:
            return []
        return [
            f"In {title} the bot lacks {', '.join(missing)}. It will keep sending reminders and escalations, "
            "but cannot hide messages or mute until an admin grants these rights."
        ]

    # --- group messages ----------------------------------------------------------------------

    async def _group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        # In the group's turn, taken before anything else, so its messages keep their order.
        await self._in_order.run(chat.id, lambda settled: self._moderate(update, chat, settled))

    async def _moderate(self, update: Update, chat: Chat, settled: asyncio.Event) -> None:
        message = update.effective_message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return
        if self.desk.is_staff_room(str(chat.id)):
            return
        if not await self.desk.is_authorised(str(chat.id)):
            if not (message.text or "").startswith("/"):  # a command may be staff's /authorise
                await self._unauthorised(chat, message.from_user)
            return
        role = await self.desk.role_of(str(message.from_user.id))
        chat_message = message_from_telegram(message, role, is_edit=update.edited_message is not None)
        outcome = await self.pipeline.handle(chat_message, settled=settled)
        if outcome.error:
            logger.error(
                "message %s in chat %s not moderated: %s", message.message_id, chat.id, outcome.error
            )

    async def _joined(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        for member in message.new_chat_members:
            await self._welcome(chat.id, member)

    async def _member_joined(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.chat_member
        if change is None or change.chat.type == ChatType.PRIVATE:
            return
        was, now = change.old_chat_member.status, change.new_chat_member.status
        if was in _GONE and now in _MEMBER:
            await self._welcome(change.chat.id, change.new_chat_member.user)

    async def _welcome(self, chat_id: int, member: User) -> None:
        """Welcome a newcomer to an authorised group once, however Telegram told us they joined."""
        if member.is_bot or not await self.desk.is_authorised(str(chat_id)):
            return
        now = asyncio.get_running_loop().time()
        self._welcomed = {key: at for key, at in self._welcomed.items() if now - at < _WELCOME_ONCE_S}
        if (chat_id, member.id) in self._welcomed:
            return
        self._welcomed[(chat_id, member.id)] = now
        language = await self.desk.language_of(str(member.id), str(chat_id), locale=member.language_code)
        welcome = self.desk.welcome_text(member.first_name, language)
        if not await self.adapter.send_private(str(member.id), welcome):
            await self.attempt(
                self.adapter.post(str(chat_id), self.desk.public_welcome(member.first_name, language))
            )

    async def _membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None or change.chat.type == ChatType.PRIVATE:
            return
        was, now = change.old_chat_member.status, change.new_chat_member.status
        if not (was in _GONE and now in _MEMBER):
            return
        chat, adder = change.chat, change.from_user
        if self.desk.is_staff_room(str(chat.id)) or await self.desk.is_authorised(str(chat.id)):
            return
        if self.desk.is_staff(str(adder.id)):
            await self.adapter.post(
                str(chat.id),
                "Thank you. A listed staff member must send /authorise here before I moderate this group.",
            )
            return
        await self._unauthorised(chat, adder)

    async def _unauthorised(self, chat: Chat, by: User | None) -> None:
        if chat.id in self._reported:
            return
        self._reported.add(chat.id)
        who = f"{by.full_name} (id {by.id})" if by else "someone"
        reply = await self.desk.unauthorised(str(chat.id), chat.title or str(chat.id), who)
        await self.attempt(self.adapter.post(str(chat.id), reply.text))
        await self.tell_moderators(reply.notice)
        await self.attempt(self.adapter.leave(str(chat.id)))

    async def authorised(self, chat_id: int, title: str) -> None:
        """A group was just authorised: report it again if it is ever unauthorised; check the bot's rights."""
        self._reported.discard(chat_id)
        for problem in await self._rights_problems(chat_id, title):
            await self.tell_moderators(problem)

    # --- officers' notes ------------------------------------------------------------------------

    async def _note(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.from_user is None or message.reply_to_message is None:
            return
        card = message.reply_to_message
        is_ours = card.from_user is not None and card.from_user.id == self.application.bot.id
        reply = await self.desk.add_note(
            case_id_in(card.text or "") if is_ours else None,
            message.text or "",
            by_id=str(message.from_user.id),
            by_name=message.from_user.full_name,
        )
        await self.attempt(message.reply_text(reply.text))

    # --- buttons -----------------------------------------------------------------------------

    async def _button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        card = query.message if isinstance(query.message, Message) else None
        press = Press(
            platform=PLATFORM,
            data=query.data or "",
            presser_id=str(query.from_user.id),
            presser_name=query.from_user.full_name,
            chat_id=str(card.chat_id) if card else "",
            is_private=card is not None and card.chat.type == ChatType.PRIVATE,
        )
        await self.desk.decide(press, self.adapter, _CardPress(self, query, card))

    # --- helpers -----------------------------------------------------------------------------

    async def tell_moderators(self, text: str | None) -> None:
        """Post a notice in the moderators' chat, when there is one and something to say."""
        chat = self.settings.telegram_moderators_chat
        if chat is not None and text:
            await self.attempt(self.adapter.post(str(chat), text))

    async def attempt(self, call: Awaitable[object]) -> None:
        """Await a Bot API call whose failure must not stop the handler; log a short reason, never text."""
        try:
            await call
        except Exception as exc:  # a notice that cannot be sent must not stop the handler
            logger.warning("could not complete a Telegram call: %s", _short(exc))


class _CardPress:
    """A button press on Telegram: the callback query is answered once, the card edited in place."""

    def __init__(self, bot: TelegramBot, query: CallbackQuery, card: Message | None) -> None:
        self._bot, self._query, self._card = bot, query, card

    async def refused(self, message: str) -> None:
        await self._bot.attempt(self._query.answer(message, show_alert=True))

    async def accepted(self) -> None:
        """Nothing yet: the query is answered once, with what was done."""

    async def carried_out(self, message: str) -> None:
        await self._bot.attempt(self._query.answer(message))

    async def show_outcome(self, outcome: str, buttons: tuple[Button, ...]) -> None:
        card = self._card
        if card is not None:
            update = self._bot.adapter.update_card(
                card.chat_id, card.message_id, card.text or "", outcome, buttons
            )
            await self._bot.attempt(update)


def _now() -> datetime:
    return datetime.now(UTC)


def _short(error: BaseException | None) -> str:
    return str(error).splitlines()[0][:200] if error else ""
