"""Discord, all of it.

The bot and its event routing (``app``), the client with its URLs and buttons (``client``), the
adapter that turns events into messages and the core's actions into API calls (``adapter``), and
reading back what was missed while the bot was away (``history``).
"""
