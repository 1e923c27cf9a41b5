from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import detoxify.detoxify
import pytest
from transformers import BertConfig

from bot.model_bundle import export_offline, fetch_bundle
from moderation.errors import ScorerError
from moderation.scorers.detoxify_scorer import (
    CHECKPOINT_FILE,
    HF_DIR,
    MANIFEST_FILE,
    DetoxifyScorer,
    file_sha256,
    load_text_scorer,
)
from tests.tinymodel import TINY_VARIANT, UNBIASED_SMALL_LABELS, build_tiny_detoxify

SAMPLES = ["hello everyone", "you stupid idiot , shut up !", ""]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on loopback, standing in for Detoxify's release downloads."""
    served = tmp_path / "upstream"
    served.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _load(bundle_dir: Path) -> DetoxifyScorer:
    loaded = load_text_scorer(
        variant=TINY_VARIANT, bundle_dir=bundle_dir, device="cpu", threads=None, require_detoxify=True
    )
    assert isinstance(loaded.scorer, DetoxifyScorer)
    return loaded.scorer


def _assert_same_scores(left: DetoxifyScorer, right: DetoxifyScorer) -> None:
    for mine, theirs in zip(left.score_batch(SAMPLES), right.score_batch(SAMPLES), strict=True):
        assert mine == pytest.approx(theirs, abs=1e-6)


def _publish_tiny_checkpoint(tmp_path: Path, served: Path, name: str) -> None:
    # The checkpoint records a local folder as its Hugging Face model, so fetching it needs no hub.
    source = build_tiny_detoxify(tmp_path / "build")
    shutil.copy(source / CHECKPOINT_FILE, served / name)


def test_an_exported_bundle_loads_where_it_was_copied_to(tmp_path: Path, tiny_scorer: DetoxifyScorer) -> None:
    build_tiny_detoxify(tmp_path / "models")

    exported = export_offline(tmp_path / "models", TINY_VARIANT, tmp_path / "usb")
    shutil.rmtree(tmp_path / "models")

    assert exported == tmp_path / "usb" / TINY_VARIANT
    assert sorted(path.name for path in exported.iterdir()) == sorted(
        [CHECKPOINT_FILE, MANIFEST_FILE, HF_DIR]
    )
    _assert_same_scores(_load(tmp_path / "usb"), tiny_scorer)


def test_exporting_again_replaces_the_earlier_copy(tmp_path: Path) -> None:
    build_tiny_detoxify(tmp_path / "models")
    export_offline(tmp_path / "models", TINY_VARIANT, tmp_path / "usb")

    export_offline(tmp_path / "models", TINY_VARIANT, tmp_path / "usb")

    assert sorted(path.name for path in (tmp_path / "usb").iterdir()) == [TINY_VARIANT]


def test_exporting_a_missing_bundle_says_to_fetch_it(tmp_path: Path) -> None:
    with pytest.raises(ScorerError, match=r"no Detoxify bundle for tiny at .*run `classmod model fetch`"):
        export_offline(tmp_path / "models", TINY_VARIANT, tmp_path / "usb")

    assert not (tmp_path / "usb").exists()


def test_exporting_a_corrupt_bundle_is_refused(tmp_path: Path) -> None:
    bundle = build_tiny_detoxify(tmp_path / "models")
    with (bundle / CHECKPOINT_FILE).open("ab") as stream:
        stream.write(b"tampered")

    with pytest.raises(ScorerError, match="does not match the sha256"):
        export_offline(tmp_path / "models", TINY_VARIANT, tmp_path / "usb")

    assert not (tmp_path / "usb" / TINY_VARIANT).exists()


def test_fetch_downloads_a_bundle_that_loads_offline(
    tmp_path: Path,
    upstream: tuple[Path, str],
    tiny_scorer: DetoxifyScorer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served, base_url = upstream
    _publish_tiny_checkpoint(tmp_path, served, "tiny.ckpt")
    monkeypatch.setitem(detoxify.detoxify.MODEL_URLS, TINY_VARIANT, f"{base_url}/tiny.ckpt")

    bundle = fetch_bundle(TINY_VARIANT, tmp_path / "models")
    shutil.rmtree(tmp_path / "build")

    assert bundle == tmp_path / "models" / TINY_VARIANT
    assert sorted(path.name for path in (tmp_path / "models").iterdir()) == [TINY_VARIANT]
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    assert manifest == {
        "variant": TINY_VARIANT,
        "labels": list(UNBIASED_SMALL_LABELS),
        "source_url": f"{base_url}/tiny.ckpt",
        "sha256": file_sha256(bundle / CHECKPOINT_FILE),
    }
    assert BertConfig.from_pretrained(bundle / HF_DIR).num_labels == len(UNBIASED_SMALL_LABELS)
    assert json.loads((bundle / HF_DIR / "tokenizer_config.json").read_text())["model_max_length"] == 32
    _assert_same_scores(_load(tmp_path / "models"), tiny_scorer)


def test_fetch_replaces_an_older_bundle(
    tmp_path: Path, upstream: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    served, base_url = upstream
    _publish_tiny_checkpoint(tmp_path, served, "tiny.ckpt")
    monkeypatch.setitem(detoxify.detoxify.MODEL_URLS, TINY_VARIANT, f"{base_url}/tiny.ckpt")
    (tmp_path / "models" / TINY_VARIANT).mkdir(parents=True)
    (tmp_path / "models" / TINY_VARIANT / "stale").write_text("old")

    bundle = fetch_bundle(TINY_VARIANT, tmp_path / "models")

    assert not (bundle / "stale").exists()
    assert sorted(path.name for path in (tmp_path / "models").iterdir()) == [TINY_VARIANT]


def test_fetch_refuses_a_checkpoint_that_does_not_match_the_hash_in_its_name(
    tmp_path: Path, upstream: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    served, base_url = upstream
    _publish_tiny_checkpoint(tmp_path, served, "tiny-deadbeef.ckpt")
    monkeypatch.setitem(detoxify.detoxify.MODEL_URLS, TINY_VARIANT, f"{base_url}/tiny-deadbeef.ckpt")

    with pytest.raises(ScorerError, match="does not match the hash in its name"):
        fetch_bundle(TINY_VARIANT, tmp_path / "models")

    assert list((tmp_path / "models").iterdir()) == []


def test_fetch_with_no_server_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tiny.ckpt"
    monkeypatch.setitem(detoxify.detoxify.MODEL_URLS, TINY_VARIANT, url)

    with pytest.raises(
        ScorerError, match=r"could not download the Detoxify checkpoint from .*export-offline"
    ) as raised:
        fetch_bundle(TINY_VARIANT, tmp_path / "models")

    assert url in str(raised.value)
    assert list((tmp_path / "models").iterdir()) == []


def test_fetch_of_a_missing_file_gives_a_clear_error(
    tmp_path: Path, upstream: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(detoxify.detoxify.MODEL_URLS, TINY_VARIANT, f"{upstream[1]}/absent.ckpt")

    with pytest.raises(ScorerError, match=r"could not download .*404"):
        fetch_bundle(TINY_VARIANT, tmp_path / "models")


def test_fetch_without_the_hugging_face_files_gives_a_clear_error(
    tmp_path: Path, upstream: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    served, base_url = upstream
    build_tiny_detoxify(tmp_path / "build", model_type="unitary/no-such-model")
    shutil.copy(tmp_path / "build" / TINY_VARIANT / CHECKPOINT_FILE, served / "tiny.ckpt")
    monkeypatch.setitem(detoxify.detoxify.MODEL_URLS, TINY_VARIANT, f"{base_url}/tiny.ckpt")

    with pytest.raises(
        ScorerError, match="could not fetch the Hugging Face config and tokenizer of unitary/no-such"
    ):
        fetch_bundle(TINY_VARIANT, tmp_path / "models")

    assert list((tmp_path / "models").iterdir()) == []


def test_fetch_of_an_unknown_variant_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(
        ScorerError, match="unknown Detoxify variant 'huge': choose one of multilingual, original"
    ):
        fetch_bundle("huge", tmp_path / "models")


def test_the_loopback_guard_stops_a_download_from_the_internet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(detoxify.detoxify.MODEL_URLS, TINY_VARIANT, "http://192.0.2.1/tiny.ckpt")

    with pytest.raises(pytest.fail.Exception, match="beyond loopback"):
        fetch_bundle(TINY_VARIANT, tmp_path / "models")
