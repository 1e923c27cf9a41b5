"""Serving a fake platform's aiohttp app on a local port, the same port again after a restart."""

from __future__ import annotations

import socket

from aiohttp import web

__all__ = ["serve_app"]


async def serve_app(app: web.Application, port: int, *, shutdown_timeout: float) -> tuple[web.AppRunner, int]:
    """Start ``app`` on 127.0.0.1 (``port`` 0: a free one); its runner and the port it listens on.

    ``SO_REUSEADDR`` lets a fake that stopped take its old port again at once, as a platform that was
    away comes back at the same address.
    """
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    return runner, port
