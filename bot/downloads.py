"""Model downloads: resumed after an interruption, retried, verified, with progress on a terminal.

Every model file classmod downloads (the Detoxify checkpoint, the sentence encoder's files) goes
through :meth:`Downloader.fetch`. It writes ``<file>.part`` beside the destination, so a run that is
cut off leaves what it had; the next one asks for the rest with ``Range: bytes=<size>-`` and appends
when the server answers 206, or starts over when it answers 200. Network errors are retried with a
backoff. Only a file that passes its check takes its final name; one that fails is deleted.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from moderation.errors import ScorerError
from moderation.serving.detoxify_bundle import file_sha256

__all__ = [
    "DOWNLOADS_DIR",
    "RETRY_DELAYS_S",
    "Downloader",
    "RemoteFile",
    "download_progress",
    "remove_if_empty",
]

logger = logging.getLogger(__name__)

DOWNLOADS_DIR = ".downloads"
"""The folder, inside the model folder, where unfinished downloads wait for the next run to resume them."""
RETRY_DELAYS_S = (2.0, 8.0, 30.0)
"""Seconds waited before each new try after a network error: four tries in all."""

_CHUNK = 1 << 16
_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_GIT_BLOB_ID = re.compile(r"[0-9a-f]{40}")
_ADVICE = (
    "check that this machine can reach it (proxy, firewall) and run `classmod model fetch` again, which "
    "resumes where it stopped; or fetch where internet exists and copy with `classmod model export-offline`"
)


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file to download and what it must match.

    Args:
        url: where it is.
        what: what it is, for messages (``the Detoxify checkpoint``).
        sha256: its SHA-256, or the leading hex digits of it (torch.hub names carry only those).
        pinned_by: where ``sha256`` comes from, for messages.
        is_on_hub: it is on a Hugging Face Hub, whose ``X-Linked-Etag`` (an LFS file's SHA-256) or
            ``ETag`` (a small file's git blob id) it must then also match.
    """

    url: str
    what: str
    sha256: str | None = None
    pinned_by: str = "the hash it is pinned to"
    is_on_hub: bool = False


def download_progress(console: Console, *, is_wanted: bool | None = None) -> Progress | None:
    """A progress display for downloads, or ``None`` where it would only clutter a log or a pipe.

    Args:
        console: where to draw it (standard error, so standard output stays for results).
        is_wanted: ``True`` shows it anywhere, ``False`` nowhere; ``None`` only on a terminal.
    """
    if is_wanted is False or (is_wanted is None and not console.is_terminal):
        return None
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def remove_if_empty(*folders: Path) -> None:
    """Remove each folder, in order, that is empty: a download cache with nothing left to resume."""
    for folder in folders:
        try:
            folder.rmdir()
        except FileNotFoundError:
            continue
        except OSError:
            return  # something waits there to be resumed


class _Interrupted(Exception):
    """A try failed in a way another try may not: the connection, a timeout, a busy server."""


@dataclass(frozen=True, slots=True)
class Downloader:
    """Downloads files resumably, with retries and a progress display (shown by its owner)."""

    progress: Progress | None = None
    retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S
    timeout_s: float = 60.0

    def fetch(self, remote: RemoteFile, destination: Path) -> Path:
        """Download ``remote`` to ``destination``, resuming ``destination.part``, and verify it.

        A verified file already at ``destination`` (it has a ``sha256`` to check) is kept as it is.

        Returns:
            ``destination``.

        Raises:
            ScorerError: the download failed after every try, the server refused it, the file cannot
                be written, or it does not match its hash (it is then deleted).
        """
        if destination.is_file():
            if remote.sha256 and file_sha256(destination).startswith(remote.sha256.lower()):
                return destination
            destination.unlink()
        part = destination.with_name(destination.name + ".part")
        task = self.progress.add_task(destination.name, total=None) if self.progress else None
        tries = len(self.retry_delays_s) + 1
        for number, delay in enumerate([*self.retry_delays_s, None], start=1):
            try:
                reported = self._transfer(remote, part, task)
                break
            except _Interrupted as exc:
                if delay is None:
                    stopped = f"{exc}; {_tries(tries)}"
                    raise ScorerError(
                        f"could not download {remote.what} from {remote.url} ({stopped}): {_ADVICE}"
                    ) from exc
                logger.warning(
                    "downloading %s stopped (%s); try %d of %d in %.0f s",
                    destination.name,
                    exc,
                    number + 1,
                    tries,
                    delay,
                )
                time.sleep(delay)
            except OSError as exc:  # the disk, not the network: those are _Interrupted
                raise ScorerError(
                    f"cannot write {part}: {exc}: free some space or choose another folder"
                ) from exc
        _verify(remote, part, reported)
        part.replace(destination)
        logger.info("downloaded %s (%d bytes)", destination.name, destination.stat().st_size)
        return destination

    def _transfer(self, remote: RemoteFile, part: Path, task: TaskID | None) -> tuple[str, str] | None:
        """One try: fetch what ``part`` lacks; return the hash the Hub reported, if any."""
        offset = part.stat().st_size if part.is_file() else 0
        headers = {"User-Agent": "classmod", "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        redirects = _HubHashRecorder()
        try:
            response = urllib.request.build_opener(redirects).open(
                urllib.request.Request(remote.url, headers=headers), timeout=self.timeout_s
            )
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:
                if exc.headers.get("Content-Range", "").strip() == f"bytes */{offset}":
                    return None  # the part was whole already; the check decides
                part.unlink()  # it is no prefix of this file
                raise _Interrupted("the server refused to resume; starting over") from exc
            if exc.code in _RETRYABLE_STATUS:
                raise _Interrupted(f"HTTP {exc.code}") from exc
            raise ScorerError(
                f"could not download {remote.what} from {remote.url} (HTTP Error {exc.code}: {exc.reason}): "
                "check the address; a mirror may not have it yet"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(cause, ConnectionRefusedError | socket.gaierror):
                # Nothing listens there, or the name is unknown: another try in a minute will not help.
                raise ScorerError(
                    f"could not download {remote.what} from {remote.url} ({_reason(exc)}): {_ADVICE}"
                ) from exc
            raise _Interrupted(_reason(exc)) from exc
        with response:
            start, total = _resumed_at(response.status, response.headers)
            if start is None or start not in (0, offset):
                part.unlink(missing_ok=True)
                raise _Interrupted("the server resumed at another place than asked; starting over")
            if start != offset:
                logger.info("the server cannot resume %s: downloading it again from the start", part.name)
            elif offset:
                logger.info("resuming %s at %d bytes", part.name, offset)
            reported = _hub_hash(remote.url, response, redirects.linked_etag) if remote.is_on_hub else None
            if self.progress is not None and task is not None:
                self.progress.reset(task, total=total, completed=start)
            part.parent.mkdir(parents=True, exist_ok=True)
            with part.open("ab" if start else "wb") as stream:
                received = start + self._copy(response, stream, task)
        if total is not None and received < total:
            raise _Interrupted(f"the connection closed after {received} of {total} bytes")
        return reported

    def _copy(self, response: IO[bytes], stream: IO[bytes], task: TaskID | None) -> int:
        copied = 0
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                raise _Interrupted(_reason(exc)) from exc
            if not chunk:
                return copied
            stream.write(chunk)
            copied += len(chunk)
            if self.progress is not None and task is not None:
                self.progress.advance(task, len(chunk))


class _HubHashRecorder(urllib.request.HTTPRedirectHandler):
    """Follows redirects, keeping the ``X-Linked-Etag`` the Hub states on its redirect to an LFS file."""

    def __init__(self) -> None:
        self.linked_etag: str | None = None

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        self.linked_etag = self.linked_etag or headers.get("X-Linked-Etag")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _resumed_at(status: int, headers: Message) -> tuple[int | None, int | None]:
    """Where this response's body starts in the file (``None``: unclear), and the file's size if known."""
    length = headers.get("Content-Length")
    size = int(length) if length and length.isdigit() else None
    if status != 206:
        return 0, size
    match = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", "").strip())
    if match is None:
        return None, None
    start, whole = int(match.group(1)), match.group(2)
    return start, int(whole) if whole.isdigit() else (start + size if size is not None else None)


def _hub_hash(
    url: str, response: http.client.HTTPResponse, linked_etag: str | None
) -> tuple[str, str] | None:
    """The file's hash as the Hub states it: the SHA-256 of an LFS file, the git blob id of another.

    An LFS file's comes in ``X-Linked-Etag``, on the redirect to its storage or on the answer; another's
    is the ``ETag`` of the Hub's own answer. A storage server's ``ETag`` means something else.
    """
    value = (linked_etag or response.headers.get("X-Linked-Etag") or "").strip()
    if not value and urlsplit(response.geturl()).netloc == urlsplit(url).netloc:
        value = (response.headers.get("ETag") or "").strip()
    if value.startswith("W/"):  # a weak ETag names a version, not the bytes
        return None
    value = value.strip('"').lower()
    if _SHA256.fullmatch(value):
        return "sha256", value
    if _GIT_BLOB_ID.fullmatch(value):
        return "git blob id", value
    return None


def _verify(remote: RemoteFile, part: Path, reported: tuple[str, str] | None) -> None:
    actual = file_sha256(part)
    if remote.sha256 is not None and not actual.startswith(remote.sha256.lower()):
        problem = f"{remote.pinned_by} (sha256 {actual[:12]}…, expected {remote.sha256[:12]}…)"
    elif reported is not None and _hash_as(reported[0], part, actual) != reported[1]:
        problem = f"the {reported[0]} the server reported ({reported[1][:12]}…)"
    else:
        return
    part.unlink()
    raise ScorerError(
        f"{remote.what} downloaded from {remote.url} was refused and deleted: it does not match {problem}; "
        "the download was damaged or intercepted: run `classmod model fetch` again"
    )


def _hash_as(kind: str, path: Path, sha256: str) -> str:
    if kind == "sha256":
        return sha256
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, str):
        exc = exc.reason
    return " ".join(f"{type(exc).__name__}: {exc}".split()) if str(exc) else type(exc).__name__


def _tries(count: int) -> str:
    return "1 try" if count == 1 else f"{count} tries"
