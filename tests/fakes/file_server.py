"""A loopback file server for download tests: Range requests, dropped connections, Hub-style hashes.

It serves the files under a folder, like a release page or the Hugging Face Hub's ``resolve`` URLs,
and can misbehave on purpose: ignore ``Range`` (answer 200 with the whole file), close the
connection after some bytes, or redirect with the headers the Hub puts on its redirects
(``X-Linked-Etag``). Every request is recorded with its headers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["FileServer", "SeenRequest", "serving"]

_RANGE = re.compile(r"bytes=(\d+)-")


@dataclass(frozen=True)
class SeenRequest:
    """A request the server received: its path and the ``Range`` header, if any."""

    path: str
    range: str | None


@dataclass
class FileServer:
    """What the server serves and how it behaves; change it between requests as a test goes."""

    root: Path
    supports_range: bool = True
    base_url: str = ""
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)  # path to a path here, or to a URL
    drops: dict[str, int] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)

    def publish(self, path: str, data: bytes, **headers: str) -> str:
        """Serve ``data`` at ``path`` (with extra response headers); return its URL."""
        file = self.root / path.lstrip("/")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data)
        if headers:
            self.headers["/" + path.lstrip("/")] = {
                name.replace("_", "-"): value for name, value in headers.items()
            }
        return self.url(path)

    def drop_after(self, path: str, sent: int) -> None:
        """Close the connection after ``sent`` bytes of the body, on the next request for ``path``."""
        self.drops["/" + path.lstrip("/")] = sent

    def url(self, path: str) -> str:
        """The URL of ``path`` on this server."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def ranges(self, path: str) -> list[str | None]:
        """The ``Range`` header of each request for ``path``, in order."""
        return [seen.range for seen in self.requests if seen.path == "/" + path.lstrip("/")]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        fake = self.server.fake
        path = unquote(urlsplit(self.path).path)
        fake.requests.append(SeenRequest(path, self.headers.get("Range")))
        extra = fake.headers.get(path, {})
        if path in fake.redirects:
            self.send_response(302)
            target = fake.redirects[path]
            self.send_header("Location", target if "://" in target else fake.url(target))
            self._send_headers(extra, length=0)
            return
        file = fake.root / path.lstrip("/")
        if not file.is_file():
            self.send_error(404)
            return
        data = file.read_bytes()
        start = 0
        wanted = _RANGE.fullmatch(self.headers.get("Range", ""))
        if wanted and fake.supports_range:
            start = int(wanted.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self._send_headers({}, length=0)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self._send_headers(extra, length=len(body))
        sent = fake.drops.pop(path, None)
        if sent is None:
            self.wfile.write(body)
            return
        self.wfile.write(body[:sent])
        self.wfile.flush()
        self.close_connection = True

    def _send_headers(self, extra: dict[str, str], *, length: int) -> None:
        if self.server.fake.supports_range:
            self.send_header("Accept-Ranges", "bytes")
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FileServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


@contextmanager
def serving(root: Path, *, supports_range: bool = True) -> Iterator[FileServer]:
    """Serve ``root`` on loopback from a background thread for the duration of the block."""
    root.mkdir(parents=True, exist_ok=True)
    fake = FileServer(root, supports_range=supports_range)
    server = _Server(fake)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
