"""PTB's Application for the settings: the token, the Bot API URL, Telegram's rate limits and the journal."""

from __future__ import annotations

from telegram.ext import Application, ApplicationBuilder

from adapters.telegram.adapter import ModerationRateLimiter
from adapters.telegram.journal import JournalledApplication, JournallingQueue, JournalProcessor
from bot.config import ConfigError, Settings

__all__ = ["build_application"]

_CONCURRENT_UPDATES = 256  # PTB's own number for concurrent_updates(True)


def build_application(
    settings: Settings, *, group_max_rate: int = 20, group_time_period: float = 60
) -> Application:  # type: ignore[type-arg]
    """PTB's Application for these settings: token, Bot API URL, and Telegram's rate limits.

    ``group_max_rate`` is Telegram's limit of messages per ``group_time_period`` seconds in one
    group (20 a minute); tests change them.

    Raises:
        ConfigError: no token is set.
    """
    if settings.telegram_token is None:
        raise ConfigError(
            "CLASSMOD_TELEGRAM_TOKEN is not set: create a bot with @BotFather and set its token"
        )
    base = settings.telegram_api_url  # validated: it ends in /bot, and PTB appends the token
    file_base = base.removesuffix("/bot") + "/file/bot"
    return (
        ApplicationBuilder()
        .application_class(JournalledApplication)
        .token(settings.telegram_token.get_secret_value())
        .base_url(base)
        .base_file_url(file_base)
        .rate_limiter(
            ModerationRateLimiter(
                group_max_rate=group_max_rate, group_time_period=group_time_period, max_retries=5
            )
        )
        # Every update is journalled before Telegram is told it arrived, and forgotten once handled
        # (adapters/telegram/journal.py). Groups are handled concurrently (their messages share model
        # batches); each group's own messages stay in order (TelegramBot serialises them per chat).
        .update_queue(JournallingQueue())
        .concurrent_updates(JournalProcessor(_CONCURRENT_UPDATES, grace=settings.shutdown_grace_seconds))
        .build()
    )
