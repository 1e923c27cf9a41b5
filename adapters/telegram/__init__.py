"""Telegram, all of it.

The bot's application and event routing (``app``), the adapter that turns updates into messages and
the core's actions into Bot API calls (``adapter``), and the inbound journal that keeps every update
until it is handled (``journal``).
"""
