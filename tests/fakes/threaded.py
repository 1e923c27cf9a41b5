"""Serve a fake from a background thread, for tests of code that runs its own event loop.

``TelegramBot.run()`` and ``DiscordBot.run()`` block and own their event loop, as in production;
the fake they talk to then needs a loop of its own in another thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

__all__ = ["served_in_thread"]


class _Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


F = TypeVar("F", bound=_Startable)


@contextmanager
def served_in_thread(fake: F) -> Iterator[F]:
    """Start ``fake`` on an event loop in a daemon thread; stop it and the loop afterwards."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fake.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    if not ready.wait(5):
        raise RuntimeError("the fake did not start within 5 s")
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
