"""Chat messages that an engine and fp32 torch both score before the engine is trusted."""

from __future__ import annotations

__all__ = ["DEFAULT_PROBE_TEXTS", "PROBE_BATCH"]

PROBE_BATCH = 8
"""Probe texts scored together in the equivalence check, cold or warm: small, so the check never grows
the memory arena past what scoring itself needs."""

_LONG_CALM = (
    "Thanks for today's lesson. I went through the worksheet again at home and I think I finally "
    "understand how the past perfect works, but I am still not sure when to use it instead of the "
    "simple past. Could we go over a few more examples next week? Also, my daughter has a school "
    "play on Thursday evening, so I might arrive ten minutes late. Sorry about that, and see you all soon!"
)
_LONG_RUDE_END = (
    "I read the whole chapter like you said and did every exercise, and I stayed late to finish the "
    "essay even though I was tired after work and the bus was late again. "
    * 3
    + "And then you mark me down in front of everyone? You are a useless teacher and a stupid idiot."
)

DEFAULT_PROBE_TEXTS: tuple[str, ...] = (
    "hello everyone",
    "see you in class tomorrow",
    "thanks for the lesson today!",
    "Can someone share the homework from Monday?",
    "I will be late, the bus is stuck in traffic",
    "ok",
    "",
    "What page are we on?",
    "Happy birthday Maria!! 🎉",
    "Is the exam on Friday or next week?",
    "I don't understand question 4, can you explain it again please",
    "you stupid idiot",
    "shut up, nobody asked you",
    "this class is shit and so are you",
    "what the fuck is wrong with you",
    "go back to your own country",
    "women like you should not be allowed to study",
    "I hate all of you",
    "I will kill you if you say that again",
    "wait until I find you after class, you will regret it",
    "someone should burn this school down",
    "send me nudes",
    "my number is 07700 900123, text me",
    "email me at jo.bloggs@example.com",
    "I live at 12 Station Road, flat 3",
    "YOU ARE ALL LOSERS!!!!!!",
    "u r so dumb lol",
    "stop being such a baby",
    _LONG_CALM,
    _LONG_RUDE_END,
)
