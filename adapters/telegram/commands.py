"""Telegram's commands: /start, /policy, /mycases, /appeal, /language, /authorise, /consent, /mode, /console.

What each answers comes from the desk every platform shares; this is Telegram's side of it (who may
send what where, replying in the chat, the private-only commands sent in a group).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler, ContextTypes, filters

from bot import texts
from bot.desk import Reply
from bot.languages import ENGLISH

if TYPE_CHECKING:
    from adapters.telegram.app import TelegramBot

__all__ = ["Commands"]

logger = logging.getLogger(__name__)


class Commands:
    """The bot's commands on Telegram."""

    def __init__(self, bot: TelegramBot) -> None:
        self._bot = bot

    def register(self, app: Any) -> None:
        """Add the command handlers to the application."""
        private = filters.ChatType.PRIVATE
        groups = filters.ChatType.GROUPS
        app.add_handler(CommandHandler("start", self._start, filters=private))
        app.add_handler(CommandHandler("policy", self._policy))
        app.add_handler(CommandHandler("mycases", self._my_cases, filters=private))
        app.add_handler(CommandHandler("appeal", self._appeal, filters=private))
        app.add_handler(CommandHandler(["mycases", "appeal"], self._private_only, filters=groups))
        app.add_handler(CommandHandler("authorise", self._authorise))
        app.add_handler(CommandHandler("consent", self._consent))
        app.add_handler(CommandHandler("language", self._language, filters=private))
        app.add_handler(CommandHandler("console", self._console, filters=private))
        app.add_handler(CommandHandler("mode", self._mode, filters=groups))
        app.add_handler(CommandHandler("language", self._group_language, filters=groups))

    async def _reader(self, update: Update) -> str:
        """The language of the person who sent this command: their choice, their app's, the group's."""
        user, chat = update.effective_user, update.effective_chat
        if user is None:
            return ENGLISH
        in_group = chat is not None and chat.type != ChatType.PRIVATE
        return await self._bot.desk.language_of(
            str(user.id), str(chat.id) if in_group and chat else None, locale=user.language_code
        )

    async def _start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, self._bot.desk.start_text(await self._reader(update)))

    async def _policy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, self._bot.desk.policy_text(await self._reader(update)))

    async def _my_cases(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_user is not None:
            language = await self._reader(update)
            await self._answer(update, await self._bot.desk.my_cases(str(update.effective_user.id), language))

    async def _appeal(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user, args = update.effective_user, context.args or [""]
        if user is not None:
            language = await self._reader(update)
            reply = await self._bot.desk.appeal(
                str(user.id), user.full_name, args[0], " ".join(args[1:]), language
            )
            await self._answer(update, reply)

    async def _language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/language [code] in a private chat: the learner's own language."""
        user = update.effective_user
        if user is not None:
            code = context.args[0] if context.args else None
            reply = await self._bot.desk.choose_language(str(user.id), code, locale=user.language_code)
            await self._answer(update, reply)

    async def _group_language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/language code in a group, from staff: the group's default language."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        code = context.args[0] if context.args else None
        reply = await self._bot.desk.set_group_language(str(chat.id), code, by_id=str(user.id))
        await self._answer(update, reply)

    async def _mode(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/mode enforce|shadow in a group, from staff: act on its messages, or only record."""
        user, chat = update.effective_user, update.effective_chat
        if user is not None and chat is not None:
            mode = context.args[0].lower() if context.args else None
            await self._answer(update, await self._bot.desk.set_mode(str(chat.id), mode, by_id=str(user.id)))

    async def _console(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/console in a private chat: a sign-in link to the web console, for moderators and officers."""
        if update.effective_user is not None:
            await self._answer(update, await self._bot.desk.console_link(str(update.effective_user.id)))

    async def _private_only(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/mycases or /appeal in a group: tell the learner, privately where possible, to ask in private."""
        user, message = update.effective_user, update.effective_message
        if user is None or message is None or not message.text:
            return
        command = message.text.split()[0].split("@")[0]
        note = texts.private_only(command, await self._reader(update))
        if not await self._bot.adapter.send_private(str(user.id), note):
            await self._bot.attempt(
                self._bot.adapter.post_notice(message.chat_id, f"{user.first_name}: {note}")
            )

    async def _authorise(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        target, title = str(chat.id), chat.title or str(chat.id)
        if self._bot.desk.is_staff_room(target) or chat.type == ChatType.PRIVATE:
            if not context.args or not context.args[0].lstrip("-").isdigit():
                await self._reply(update, "Send /authorise in the class group, or here: /authorise CHAT_ID")
                return
            target = title = context.args[0]
        reply = await self._bot.desk.authorise(target, title, by_id=str(user.id), by_name=user.full_name)
        if not reply.is_done:
            logger.warning("refused /authorise by %s in chat %s", user.id, chat.id)
        await self._answer(update, reply)
        if reply.is_done:
            await self._bot.authorised(int(target), title)

    async def _consent(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user, message = update.effective_user, update.effective_message
        if user is None or message is None:
            return
        target = message.reply_to_message.from_user if message.reply_to_message else None
        if target is None:
            await self._reply(
                update,
                "Reply to one of the learner's messages with /consent once their written consent is on file.",
            )
            return
        await self._answer(
            update, await self._bot.desk.consent(str(target.id), target.full_name, by_id=str(user.id))
        )

    async def _answer(self, update: Update, reply: Reply) -> None:
        await self._reply(update, reply.text)
        await self._bot.tell_moderators(reply.notice)
        if reply.card is not None:
            await self._bot.attempt(self._bot.adapter.post_card(reply.card))

    async def _reply(self, update: Update, text: str) -> None:
        chat = update.effective_chat
        if chat is not None:
            await self._bot.attempt(self._bot.adapter.post(str(chat.id), text))
