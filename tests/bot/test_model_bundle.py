from __future__ import annotations

import hashlib
import io
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
from rich.console import Console
from transformers import BertConfig

from bot.downloads import Downloader, RemoteFile, download_progress
from bot.encoder_bundle import ENCODER_FILES, ENCODER_REPO, install_encoder
from bot.model_bundle import export_offline, fetch_bundle
from moderation.errors import ScorerError
from moderation.serving.detoxify_bundle import CHECKPOINT_FILE, HF_DIR, MANIFEST_FILE, file_sha256
from moderation.serving.detoxify_scorer import DetoxifyScorer
from moderation.serving.loading import load_text_scorer
from moderation.serving.sentence_encoder import (
    DEFAULT_ENCODER,
    DEFAULT_ENCODER_REVISION,
    DEFAULT_ENCODER_SHA256,
    ENCODER_MANIFEST,
    encoder_path,
    unpack_default_encoder,
    verify_encoder,
)
from tests.fakes.file_server import FileServer, serving
from tests.tinymodel import TINY_VARIANT, UNBIASED_SMALL_LABELS, build_tiny_detoxify

SAMPLES = ["hello everyone", "you stupid idiot , shut up !", ""]
PAYLOAD = bytes(range(256)) * 2000  # 512 kB: large enough to be cut halfway
HALF = len(PAYLOAD) // 2
NO_RETRIES = Downloader(retry_delays_s=())


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

    with pytest.raises(ScorerError, match="does not match the hash in its name") as raised:
        fetch_bundle(TINY_VARIANT, tmp_path / "models")

    assert "\n" not in str(raised.value)
    assert list((tmp_path / "models").iterdir()) == []  # deleted, .part and all


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


# --- the downloader: progress, resume, retries, verification -------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FileServer]:
    with serving(tmp_path / "upstream") as files:
        yield files


def _sha256_etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest() + '"'


def _git_etag(data: bytes) -> str:
    return '"' + hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest() + '"'


def _weights(server: FileServer, **headers: str) -> RemoteFile:
    return RemoteFile(server.publish("weights.bin", PAYLOAD, **headers), what="the weights")


def test_progress_shows_size_rate_and_time_left_when_asked(tmp_path: Path, server: FileServer) -> None:
    screen = io.StringIO()
    progress = download_progress(Console(file=screen, width=120), is_wanted=True)
    assert progress is not None

    with progress:
        Downloader(progress=progress).fetch(_weights(server), tmp_path / "cache" / "weights.bin")

    shown = screen.getvalue()
    assert "weights.bin" in shown
    assert "512.0/512.0 kB" in shown  # bytes
    assert "/s" in shown  # transfer rate
    assert "0:00:00" in shown  # time left
    assert server.base_url not in shown  # file names, never URLs


def test_progress_on_a_terminal_redraws_as_bytes_arrive(tmp_path: Path, server: FileServer) -> None:
    screen = io.StringIO()
    progress = download_progress(Console(file=screen, width=120, force_terminal=True))
    assert progress is not None

    with progress:
        Downloader(progress=progress).fetch(_weights(server), tmp_path / "cache" / "weights.bin")

    assert "512.0/512.0 kB" in screen.getvalue()


@pytest.mark.parametrize("is_wanted", [None, False])
def test_no_progress_when_not_a_terminal_unless_asked(is_wanted: bool | None) -> None:
    screen = io.StringIO()

    assert download_progress(Console(file=screen), is_wanted=is_wanted) is None
    assert download_progress(Console(file=screen, force_terminal=True), is_wanted=False) is None


def test_a_dropped_download_resumes_from_the_partial_file_on_the_next_run(
    tmp_path: Path, server: FileServer
) -> None:
    remote = _weights(server)
    server.drop_after("weights.bin", HALF)
    target = tmp_path / "cache" / "weights.bin"

    with pytest.raises(
        ScorerError, match=r"could not download the weights from .*closed after 256000 of 512000"
    ):
        NO_RETRIES.fetch(remote, target)
    assert (tmp_path / "cache" / "weights.bin.part").stat().st_size == HALF
    assert not target.exists()

    NO_RETRIES.fetch(remote, target)

    assert server.ranges("weights.bin") == [None, f"bytes={HALF}-"]
    assert target.read_bytes() == PAYLOAD
    assert sorted(path.name for path in target.parent.iterdir()) == ["weights.bin"]


def test_a_dropped_download_is_retried_from_where_it_stopped(tmp_path: Path, server: FileServer) -> None:
    remote = _weights(server)
    server.drop_after("weights.bin", HALF)

    Downloader(retry_delays_s=(0,)).fetch(remote, tmp_path / "weights.bin")

    assert server.ranges("weights.bin") == [None, f"bytes={HALF}-"]
    assert (tmp_path / "weights.bin").read_bytes() == PAYLOAD


def test_a_server_without_range_support_starts_over(tmp_path: Path, server: FileServer) -> None:
    server.supports_range = False
    remote = _weights(server)
    server.drop_after("weights.bin", HALF)
    with pytest.raises(ScorerError, match="could not download"):
        NO_RETRIES.fetch(remote, tmp_path / "weights.bin")

    NO_RETRIES.fetch(remote, tmp_path / "weights.bin")

    assert server.ranges("weights.bin") == [None, f"bytes={HALF}-"]  # asked, answered 200
    assert (tmp_path / "weights.bin").read_bytes() == PAYLOAD


def test_a_missing_file_is_not_retried(tmp_path: Path, server: FileServer) -> None:
    with pytest.raises(ScorerError, match=r"could not download the weights from .*404"):
        Downloader(retry_delays_s=(0, 0)).fetch(
            RemoteFile(server.url("absent.bin"), what="the weights"), tmp_path / "absent.bin"
        )

    assert len(server.requests) == 1
    assert list(tmp_path.glob("absent.bin*")) == []


def test_a_complete_verified_file_is_not_downloaded_again(tmp_path: Path, server: FileServer) -> None:
    remote = RemoteFile(
        server.publish("weights.bin", PAYLOAD), what="the weights", sha256=hashlib.sha256(PAYLOAD).hexdigest()
    )
    NO_RETRIES.fetch(remote, tmp_path / "weights.bin")

    NO_RETRIES.fetch(remote, tmp_path / "weights.bin")

    assert len(server.requests) == 1


def test_a_large_file_that_does_not_match_the_sha256_the_hub_reports_is_refused_and_deleted(
    tmp_path: Path, server: FileServer
) -> None:
    server.publish("cdn/weights.bin", PAYLOAD)
    server.redirects["/resolve/weights.bin"] = "cdn/weights.bin"
    server.headers["/resolve/weights.bin"] = {"X-Linked-Etag": _sha256_etag(b"other")}
    _assert_refused_and_deleted(tmp_path, server)


def test_a_small_file_that_does_not_match_the_git_blob_id_the_hub_reports_is_refused_and_deleted(
    tmp_path: Path, server: FileServer
) -> None:
    server.publish("resolve/weights.bin", PAYLOAD, ETag=_git_etag(b"other"))
    _assert_refused_and_deleted(tmp_path, server)


def test_the_etag_of_the_hubs_storage_is_not_taken_for_a_hash(tmp_path: Path, server: FileServer) -> None:
    storage = server.publish("cdn/weights.bin", PAYLOAD, ETag=_git_etag(b"other"))  # its own kind of tag
    server.redirects["/resolve/weights.bin"] = storage.replace("127.0.0.1", "localhost")  # another host
    remote = RemoteFile(server.url("resolve/weights.bin"), what="the weights", is_on_hub=True)

    NO_RETRIES.fetch(remote, tmp_path / "weights.bin")

    assert (tmp_path / "weights.bin").read_bytes() == PAYLOAD


def _assert_refused_and_deleted(tmp_path: Path, server: FileServer) -> None:
    remote = RemoteFile(server.url("resolve/weights.bin"), what="the weights", is_on_hub=True)

    with pytest.raises(
        ScorerError, match=r"^the weights downloaded from \S+ was refused and deleted: it does not match the"
    ) as raised:
        NO_RETRIES.fetch(remote, tmp_path / "weights.bin")

    assert "\n" not in str(raised.value)
    assert list(tmp_path.glob("weights.bin*")) == []


def test_a_file_that_matches_the_hash_the_hub_reports_is_kept(tmp_path: Path, server: FileServer) -> None:
    server.publish("cdn/weights.bin", PAYLOAD)
    server.redirects["/resolve/weights.bin"] = "cdn/weights.bin"
    server.headers["/resolve/weights.bin"] = {"X-Linked-Etag": _sha256_etag(PAYLOAD)}
    server.publish("resolve/small.json", b"{}", ETag=_git_etag(b"{}"))

    for name in ("weights.bin", "small.json"):
        remote = RemoteFile(server.url(f"resolve/{name}"), what=name, is_on_hub=True)
        NO_RETRIES.fetch(remote, tmp_path / name)

    assert (tmp_path / "weights.bin").read_bytes() == PAYLOAD
    assert (tmp_path / "small.json").read_bytes() == b"{}"


def test_an_interrupted_checkpoint_download_resumes_on_the_next_fetch(
    tmp_path: Path, server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _publish_tiny_checkpoint(tmp_path, server.root, "tiny.ckpt")
    published = server.root / "tiny.ckpt"
    half = published.stat().st_size // 2
    server.drop_after("tiny.ckpt", half)
    monkeypatch.setitem(detoxify.detoxify.MODEL_URLS, TINY_VARIANT, server.url("tiny.ckpt"))
    with pytest.raises(ScorerError, match="could not download the Detoxify checkpoint"):
        fetch_bundle(TINY_VARIANT, tmp_path / "models", downloader=NO_RETRIES)

    bundle = fetch_bundle(TINY_VARIANT, tmp_path / "models", downloader=NO_RETRIES)

    assert server.ranges("tiny.ckpt") == [None, f"bytes={half}-"]
    assert (bundle / CHECKPOINT_FILE).read_bytes() == published.read_bytes()
    assert sorted(path.name for path in (tmp_path / "models").iterdir()) == [TINY_VARIANT]


# --- the sentence encoder: from its package, else from the Hub -------------------------------------


@pytest.fixture(scope="module")
def packaged_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack_default_encoder(tmp_path_factory.mktemp("package"))


def _without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("moderation.serving.sentence_encoder._PACKAGE", "no_such_package_here")


def _publish_encoder(hub: FileServer, source: Path, weights: bytes | None = None) -> None:
    """Serve the encoder as the Hub does: small files with their git blob id, the weights redirected."""
    for name in ENCODER_FILES:
        path = f"{ENCODER_REPO}/resolve/{DEFAULT_ENCODER_REVISION}/{name}"
        if name == "model.safetensors":
            data = weights if weights is not None else (source / name).read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            hub.publish(f"cdn/{digest}", data)
            hub.redirects[f"/{path}"] = f"cdn/{digest}"
            hub.headers[f"/{path}"] = {"X-Linked-Etag": _sha256_etag(data)}
            continue
        # The package carries no vocab.txt: tokenizer.json holds the vocabulary anyway.
        data = (source / name).read_bytes() if (source / name).is_file() else b"[PAD]\n[UNK]\n"
        hub.publish(path, data, ETag=_git_etag(data))


def test_the_encoder_is_installed_from_its_package_without_the_network(
    tmp_path: Path, server: FileServer
) -> None:
    encoder = install_encoder(tmp_path / "models", hub_url=server.base_url, downloader=NO_RETRIES)

    assert encoder == encoder_path(tmp_path / "models")
    assert verify_encoder(encoder) == DEFAULT_ENCODER_SHA256
    assert server.requests == []
    assert sorted(path.name for path in (tmp_path / "models").iterdir()) == ["encoders"]


def test_without_the_package_the_encoder_is_downloaded_from_the_hub_and_pinned(
    tmp_path: Path, server: FileServer, packaged_encoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_the_package(monkeypatch)
    _publish_encoder(server, packaged_encoder)

    encoder = install_encoder(tmp_path / "models", hub_url=server.base_url, downloader=NO_RETRIES)

    assert encoder == encoder_path(tmp_path / "models")
    assert verify_encoder(encoder) == DEFAULT_ENCODER_SHA256
    assert (encoder / "1_Pooling" / "config.json").read_bytes() == (
        packaged_encoder / "1_Pooling" / "config.json"
    ).read_bytes()
    manifest = json.loads((encoder / ENCODER_MANIFEST).read_text())
    assert manifest["revision"] == DEFAULT_ENCODER_REVISION
    assert ENCODER_REPO in manifest["source"]
    assert sorted(path.name for path in (tmp_path / "models").iterdir()) == ["encoders"]


def test_an_interrupted_encoder_download_resumes_on_the_next_fetch(
    tmp_path: Path, server: FileServer, packaged_encoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_the_package(monkeypatch)
    _publish_encoder(server, packaged_encoder)
    weights = f"cdn/{DEFAULT_ENCODER_SHA256}"
    server.drop_after(weights, 10_000_000)
    with pytest.raises(ScorerError, match=r"could not download the sentence encoder's model\.safetensors"):
        install_encoder(tmp_path / "models", hub_url=server.base_url, downloader=NO_RETRIES)

    encoder = install_encoder(tmp_path / "models", hub_url=server.base_url, downloader=NO_RETRIES)

    assert server.ranges(weights) == [None, "bytes=10000000-"]
    assert verify_encoder(encoder) == DEFAULT_ENCODER_SHA256


def test_a_hub_serving_other_weights_is_refused(
    tmp_path: Path, server: FileServer, packaged_encoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_the_package(monkeypatch)
    _publish_encoder(server, packaged_encoder, weights=b"not the official weights")

    with pytest.raises(ScorerError, match=f"does not match the official {DEFAULT_ENCODER} weights"):
        install_encoder(tmp_path / "models", hub_url=server.base_url, downloader=NO_RETRIES)

    assert not encoder_path(tmp_path / "models").exists()
    assert list((tmp_path / "models").rglob("model.safetensors*")) == []
