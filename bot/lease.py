"""One process per platform: a lease in the store, so a second process waits as a hot standby.

Two bot processes on one platform (a deploy's overlap, an orphan left running) would handle every
message twice. Before it connects, ``classmod run telegram|discord`` takes the platform's lease
(a row in the store, on SQLite and PostgreSQL alike) and renews it while it runs; a second process
finds it held, says so once, and polls. When the first stops cleanly it gives the lease up at once;
when it dies, the lease expires after ``CLASSMOD_LEASE_SECONDS`` and the standby takes over. A
process that finds its lease taken from it (it stalled longer than the lease) stops itself
gracefully, so two never run on.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from bot.errors import StorageError
from bot.store import Store

__all__ = ["Lease"]

logger = logging.getLogger(__name__)


def _stop_this_process() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # the bot's own graceful stop


class Lease:
    """The lease on one platform's bot, held by this process.

    Args:
        store: where the lease lives.
        name: what is leased, e.g. ``telegram``.
        seconds: how long the lease lasts unrenewed; it is renewed every third of that.
        on_lost: called (from the renewing thread) when another process has taken the lease.
    """

    def __init__(
        self,
        store: Store,
        name: str,
        *,
        seconds: float,
        on_lost: Callable[[], None] = _stop_this_process,
    ) -> None:
        self.store = store
        self.name = name
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.duration = timedelta(seconds=seconds)
        self.on_lost = on_lost
        self._stopped = threading.Event()

    def try_take(self) -> bool:
        """Take (or renew) the lease now; False while another process holds it."""
        now = datetime.now(UTC)
        return self.store.take_lease(self.name, self.holder, now=now, until=now + self.duration)

    def wait(self, poll: float | None = None) -> None:
        """Block until this process holds the lease (at once, unless another process runs the bot)."""
        poll = poll if poll is not None else max(0.2, self.duration.total_seconds() / 5)
        said = False
        while not self._taken():
            if not said:
                logger.warning(
                    "another classmod process is running the %s bot; waiting as a hot standby "
                    "(taking over within about %.0f s of it stopping)",
                    self.name,
                    self.duration.total_seconds(),
                )
                said = True
            time.sleep(poll)
        if said:
            logger.warning("took over the %s bot", self.name)

    @contextmanager
    def held(self) -> Iterator[None]:
        """While the body runs, renew the lease in the background; give it up after."""
        renewing = threading.Thread(target=self._renew, name=f"lease-{self.name}", daemon=True)
        renewing.start()
        try:
            yield
        finally:
            self._stopped.set()
            renewing.join(timeout=5)
            try:
                self.store.release_lease(self.name, self.holder)
            except StorageError as exc:
                logger.warning("could not give up the %s lease (it expires by itself): %s", self.name, exc)

    def _taken(self) -> bool:
        try:
            return self.try_take()
        except StorageError as exc:
            logger.error("could not take the %s lease: %s", self.name, exc)
            return False

    def _renew(self) -> None:
        interval = self.duration.total_seconds() / 3
        while not self._stopped.wait(interval):
            try:
                if self.try_take():
                    continue
            except StorageError as exc:  # keep going: the pipeline reports the store's state itself
                logger.error("could not renew the %s lease: %s", self.name, exc)
                continue
            logger.error("another process took over the %s bot; stopping this one", self.name)
            self.on_lost()
            return
