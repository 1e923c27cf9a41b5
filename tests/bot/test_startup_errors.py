"""``classmod run telegram|discord`` failing at start-up: a clear error, and never the token.

Each case runs the real command in its own process against local fakes, with both platforms' tokens in
the environment, and reads what a user would see on standard output and standard error.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.threaded import served_in_thread

ROOT = Path(__file__).resolve().parents[2]
TELEGRAM_TOKEN = "123456:AAE-telegram-start-up-secret"
DISCORD_TOKEN = "MTIzNDU2.discord-start-up-secret.xyz"
#: Nothing listens here (the discard port): connections are refused at once.
UNREACHABLE = "http://127.0.0.1:9"
# The console script, in a fresh interpreter; Discord is pointed at the fake by its own settings.
MAIN = "import sys; from bot.cli import app; sys.exit(app())"


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def error_line(self) -> str:
        return next(line for line in self.stderr.splitlines() if line.startswith("error:"))


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeBotAPI]:
    with served_in_thread(FakeBotAPI(token=TELEGRAM_TOKEN)) as fake:
        yield fake


@pytest.fixture(scope="module")
def discord_api() -> Iterator[FakeDiscord]:
    # The portal's privileged-intent switches are off: a right token still cannot start.
    with served_in_thread(FakeDiscord(token=DISCORD_TOKEN, privileged_intents=0, redirect=False)) as fake:
        fake.add_guild(3001, "ESOL Entry 3", channels=[(3002, "general")])
        yield fake


def _run(
    tmp_path: Path, platform: str, settings: dict[str, str], *, discord_at: str = UNREACHABLE
) -> Outcome:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CLASSMOD_") or name == "CLASSMOD_HEADS"
    }
    environment |= {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "CLASSMOD_DATABASE_URL": f"sqlite:///{tmp_path / 'classmod.db'}",
        "CLASSMOD_MODEL_DIR": str(tmp_path / "models"),
        "CLASSMOD_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "CLASSMOD_DISCORD_TOKEN": DISCORD_TOKEN,
        "CLASSMOD_DISCORD_API_URL": discord_at,
        "CLASSMOD_DISCORD_GATEWAY_URL": discord_at.replace("http", "ws", 1) + "/gateway",
        "COLUMNS": "80",  # what a pipe to a log file gets
    }
    for name, value in settings.items():
        if value:
            environment[name] = value
        else:
            environment.pop(name, None)
    completed = subprocess.run(
        [sys.executable, "-c", MAIN, "run", platform],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Outcome(completed.returncode, completed.stdout, completed.stderr)


def _assert_no_secret(outcome: Outcome) -> None:
    unwrapped = "".join(outcome.output.split())  # a token folded across lines is still a leak
    for token in (TELEGRAM_TOKEN, DISCORD_TOKEN):
        assert token not in outcome.output
        assert token not in unwrapped
        # The secret half alone (the bot id before a Telegram token's colon is public).
        assert token.split(":")[-1] not in unwrapped


def _assert_clear_error(outcome: Outcome, expected: str) -> None:
    assert outcome.code == 2, outcome.output
    assert expected in outcome.error_line, outcome.stderr
    assert "Traceback" not in outcome.output  # Python's, or Rich's panel


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param({"CLASSMOD_TELEGRAM_TOKEN": ""}, "CLASSMOD_TELEGRAM_TOKEN is not set", id="no token"),
        pytest.param(
            {"CLASSMOD_TELEGRAM_API_URL": "ftp://127.0.0.1:18081/bot"},
            "CLASSMOD_TELEGRAM_API_URL",
            id="not http",
        ),
        pytest.param({"CLASSMOD_TELEGRAM_API_URL": "http:///bot"}, "CLASSMOD_TELEGRAM_API_URL", id="no host"),
        pytest.param(
            {"CLASSMOD_TELEGRAM_API_URL": "http://127.0.0.1:99999/bot"},
            "CLASSMOD_TELEGRAM_API_URL",
            id="bad port",
        ),
        pytest.param(
            {"CLASSMOD_TELEGRAM_API_URL": f"https://api.telegram.org/bot{TELEGRAM_TOKEN}"},
            "CLASSMOD_TELEGRAM_TOKEN",  # says where the token belongs instead
            id="token in the url",
        ),
        pytest.param(
            {"CLASSMOD_TELEGRAM_API_URL": UNREACHABLE}, "cannot reach the Telegram Bot API", id="unreachable"
        ),
        pytest.param(
            {"CLASSMOD_TELEGRAM_API_URL": f"{UNREACHABLE}/bot"},
            "cannot reach the Telegram Bot API",
            id="unreachable with /bot",
        ),
    ],
)
def test_telegram_start_up_failures_are_one_clear_line_without_the_token(
    tmp_path: Path, settings: dict[str, str], expected: str
) -> None:
    outcome = _run(tmp_path, "telegram", settings)

    _assert_clear_error(outcome, expected)
    _assert_no_secret(outcome)


@pytest.mark.parametrize("suffix", ["", "/", "/bot", "/bot/"])
def test_a_telegram_api_url_with_or_without_bot_reaches_the_server(
    tmp_path: Path, telegram: FakeBotAPI, suffix: str
) -> None:
    # The right token gets past getMe; webhook mode without its URL is then the (missing-setting) error.
    server = telegram.base_url.removesuffix("/bot")
    outcome = _run(
        tmp_path,
        "telegram",
        {"CLASSMOD_TELEGRAM_API_URL": server + suffix, "CLASSMOD_TELEGRAM_MODE": "webhook"},
    )

    _assert_clear_error(outcome, "CLASSMOD_TELEGRAM_WEBHOOK_URL")
    _assert_no_secret(outcome)


def test_a_refused_telegram_token_is_named_but_not_shown(tmp_path: Path, telegram: FakeBotAPI) -> None:
    outcome = _run(
        tmp_path,
        "telegram",
        {
            "CLASSMOD_TELEGRAM_API_URL": telegram.base_url.removesuffix("/bot"),
            "CLASSMOD_TELEGRAM_TOKEN": "999999:AAE-a-token-telegram-refuses",
        },
    )

    _assert_clear_error(outcome, "Telegram refused the token")
    assert "a-token-telegram-refuses" not in "".join(outcome.output.split())
    _assert_no_secret(outcome)


@pytest.mark.parametrize(
    ("settings", "at_fake", "expected"),
    [
        pytest.param(
            {"CLASSMOD_DISCORD_TOKEN": ""}, False, "CLASSMOD_DISCORD_TOKEN is not set", id="no token"
        ),
        pytest.param({}, False, "cannot reach Discord", id="unreachable"),
        pytest.param(
            {"CLASSMOD_DISCORD_TOKEN": "MTIz.a-token-discord-refuses.abc"},
            True,
            "Discord refused the token",
            id="refused token",
        ),
        pytest.param({}, True, "MESSAGE CONTENT INTENT", id="intents off"),
    ],
)
def test_discord_start_up_failures_are_one_clear_line_without_the_token(
    tmp_path: Path, discord_api: FakeDiscord, settings: dict[str, str], at_fake: bool, expected: str
) -> None:
    outcome = _run(tmp_path, "discord", settings, discord_at=discord_api.base_url if at_fake else UNREACHABLE)

    _assert_clear_error(outcome, expected)
    assert "a-token-discord-refuses" not in "".join(outcome.output.split())
    _assert_no_secret(outcome)


def test_an_unforeseen_failure_is_logged_and_reported_without_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever a platform library may raise one day: here, an error that quotes a request URL.
    from adapters.telegram.app import TelegramBot

    def fail(self: TelegramBot) -> None:
        raise RuntimeError(f"unexpected reply from /bot{TELEGRAM_TOKEN}/getMe\n<html>")

    monkeypatch.setattr(TelegramBot, "run", fail)
    for name in list(os.environ):
        if name.startswith("CLASSMOD_") and name != "CLASSMOD_HEADS":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLASSMOD_DATABASE_URL", f"sqlite:///{tmp_path / 'classmod.db'}")
    monkeypatch.setenv("CLASSMOD_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("CLASSMOD_TELEGRAM_TOKEN", TELEGRAM_TOKEN)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    try:
        result = CliRunner().invoke(app, ["run", "telegram"])
    finally:
        root.handlers[:], root.level = handlers, level
        logging.getLogger("httpx").setLevel(logging.NOTSET)

    outcome = Outcome(result.exit_code, result.stdout, result.stderr)
    assert outcome.code == 1, outcome.output
    assert outcome.error_line.startswith("error: stopped on an unexpected RuntimeError: unexpected reply")
    logged = next(line for line in outcome.stderr.splitlines() if " CRITICAL bot.cli: " in line)
    assert "Traceback (most recent call last):" in logged  # the whole traceback, on the one line
    assert "/bot***/getMe" in logged
    _assert_no_secret(outcome)


@pytest.mark.parametrize("log_level", ["INFO", "DEBUG"])
def test_a_bot_api_error_page_that_echoes_the_request_path_does_not_show_the_token(
    tmp_path: Path, log_level: str
) -> None:
    # A proxy's 500 page repeats the path (/bot<token>/getMe), raw and URL-encoded, in the error
    # that ends up in the log record and in the final error line.
    import http.server
    import threading
    from urllib.parse import quote

    class EchoingError(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = f"<h1>500</h1><p>failed: {self.path} ({quote(self.path, safe='')})</p>".encode()
            self.send_response(500)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoingError)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        outcome = _run(
            tmp_path,
            "telegram",
            {
                "CLASSMOD_TELEGRAM_API_URL": f"http://127.0.0.1:{server.server_address[1]}",
                "CLASSMOD_LOG_LEVEL": log_level,
            },
        )
    finally:
        server.shutdown()
        server.server_close()

    assert outcome.code == 2
    assert "cannot reach the Telegram Bot API" in outcome.error_line
    _assert_no_secret(outcome)
    assert "/bot***/getMe" in outcome.error_line  # the page was echoed, and masked
