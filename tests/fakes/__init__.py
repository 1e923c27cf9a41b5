"""Fakes of outside services for tests: a local Telegram Bot API server."""

from tests.fakes.telegram_api import ApiCall, FakeBotAPI, running_application

__all__ = ["ApiCall", "FakeBotAPI", "running_application"]
