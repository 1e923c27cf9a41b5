"""Fakes of outside services for tests: a local Telegram Bot API server."""

from tests.fakes.telegram_api import ApiCall, FakeBotAPI, running_application

__all__ = ["ApiCall", "FakeBotAPI", "running_application"]

# Discord: a local REST API and gateway websocket for the real discord.py.
from tests.fakes.discord_api import (
    DiscordCall,
    DiscordError,
    FakeDiscord,
    GatewayEvent,
    running_client,
)

__all__ += ["DiscordCall", "DiscordError", "FakeDiscord", "GatewayEvent", "running_client"]
