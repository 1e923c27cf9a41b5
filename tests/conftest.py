"""Session fixtures: a tiny Detoxify bundle, and a guard that keeps every test on loopback.

Tests marked ``slow`` (the kill tests' extra runs, the rarer cases of slow parametrised tests) are
skipped unless ``CLASSMOD_TEST_SLOW=1`` is set or ``-m`` names them: ``make test`` runs Telegram's kill test
once per kill point (3) and Discord's once, ``make test-slow`` the extra runs (10 and 12).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from moderation.serving.detoxify_scorer import DetoxifyScorer

# huggingface_hub reads these when it is first imported, so they are set before any test module
# imports transformers; the session fixture below sets them again so they show in its scope.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# PTB 22 warns when it builds RetryAfter unless durations are timedeltas; warnings are errors here.
os.environ["PTB_TIMEDELTA"] = "true"
# Most tests are about the rest of the bot and run with the profanity fallback; the encoder and the
# policy heads have their own tests, which turn them on (loading the encoder takes seconds).
os.environ.setdefault("CLASSMOD_HEADS", "false")
# Where they are on, on torch: a fresh model folder's first ONNX export takes 15-20 s. The ONNX engines are
# tested in tests/moderation/serving/test_encoder_engines.py and, end to end, by the status test in test_cli.
os.environ.setdefault("CLASSMOD_ENCODER_ENGINE", "torch")
# The daily digest posts in the staff chats within an hour of its time of day, which would add a message to
# whichever scenario runs then; the digest has its own tests (tests/bot/test_reminders.py), which set it.
os.environ.setdefault("CLASSMOD_DIGEST_TIME", "off")


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%", 1)[0].lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _refuse(address: Any) -> None:
    host = address[0] if isinstance(address, tuple) and address else address
    if not _is_loopback(host):
        pytest.fail(f"a test tried to open a connection beyond loopback, to {address!r}")


def _guard_method(original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(self: socket.socket, address: Any, *args: Any, **kwargs: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _refuse(address)
        return original(self, address, *args, **kwargs)

    return guarded


def _guard_function(original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(address: Any, *args: Any, **kwargs: Any) -> Any:
        _refuse(address)
        return original(address, *args, **kwargs)

    return guarded


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``slow`` unless ``-m`` names them or CLASSMOD_TEST_SLOW=1 is set."""
    if os.environ.get("CLASSMOD_TEST_SLOW") == "1" or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with CLASSMOD_TEST_SLOW=1 or -m slow")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        patch.setattr(socket.socket, "connect", _guard_method(socket.socket.connect))
        patch.setattr(socket.socket, "connect_ex", _guard_method(socket.socket.connect_ex))
        patch.setattr(socket, "create_connection", _guard_function(socket.create_connection))
        yield


@pytest.fixture(scope="session")
def tiny_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding the tiny bundle as ``tiny/``: pass it as ``bundle_dir``."""
    from tests.tinymodel import build_tiny_detoxify  # torch and transformers: only when a test needs them

    directory = tmp_path_factory.mktemp("models")
    build_tiny_detoxify(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_scorer(tiny_bundle_dir: Path) -> DetoxifyScorer:
    """The tiny bundle loaded through Detoxify, shared by the session (scoring does not change it)."""
    from moderation.serving.detoxify_scorer import DetoxifyScorer
    from tests.tinymodel import TINY_VARIANT

    return DetoxifyScorer(TINY_VARIANT, bundle=tiny_bundle_dir / TINY_VARIANT)
