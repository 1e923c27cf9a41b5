"""Fast scoring (issue 5): plain per-message Detoxify against the scoring service with each engine.

Run it with ``.venv/bin/python bench/scoring.py`` (``--quick`` for a smaller smoke run,
``--variant original|unbiased-small|both``, ``--json PATH`` to also write the results as JSON).

Once, cached under ``bench/.cache/scoring/``, it builds a random-weight Detoxify checkpoint with the
real architecture of each variant and a synthetic vocabulary trained here, offline:

- ``original``: ``BertForSequenceClassification`` in the bert-base-uncased shape (12 layers, hidden
  768, 12 heads, FFN 3072, 512 positions), 6 outputs with Detoxify's original class names, and a
  30,522-entry WordPiece vocabulary (``BertTokenizer``, lower-cased) trained with ``tokenizers``;
- ``unbiased-small``: ``AlbertForSequenceClassification`` in the albert-base-v2 shape (embeddings
  128, hidden 768, 12 layers sharing one set of weights, 12 heads, FFN 3072, gelu_new), the 7
  unbiased labels, and a 30,000-piece SentencePiece unigram model (``AlbertTokenizer``).

The vocabularies are trained on generated class chat (``bench/messages.py``, another seed) plus a
synthetic Zipf-distributed lexicon that fills the vocabulary to its real size. The weights are
random (seeded): the scores mean nothing, but the speed, memory and int8 drift come from the real
shapes. Each bundle loads through ``detoxify.Detoxify`` via ``DetoxifyScorer(bundle=...)``, and the
ONNX engines are exported once into the bundle's ``.engines/`` cache.

On the same 1,000 messages (``generate_messages(1000)``), per variant, each in a fresh process:

- baseline: the Detoxify object as loaded, fp32, ``predict([text])`` one message at a time, on a
  stratified sample (every 5th short and every 5th long message), scaled to messages per second;
- the scoring service, ``ScoringService(DetoxifyScorer(engine=E), max_batch=32, window_ms=5)`` with
  its default long lane (texts over 400 characters are scored in a second worker thread) and its
  remembered scores (``--cache-size``, default as the bot; every measured run starts with none, so a
  run reuses only its own repeated texts, and the notes say how many), for
  E in torch, torch-int8, onnx, onnx-int8: burst throughput (messages submitted at once with
  ``asyncio.gather``; a pilot burst on the stratified sample first, then all 1,000, ``--burst-repeats``
  times (default 3, the median reported), unless the pilot projects more than ``--burst-budget``
  seconds), latency from scheduled arrival to result at a
  steady 20/s and 50/s (seeded Poisson arrivals), RSS (the load's peak, after load, the peak while
  serving) and the largest score difference from the fp32 torch engine over all messages and labels.

Around every row it also probes the machine's speed (a numpy matmul), since a shared host's speed drifts
between rows that run minutes apart. It is a benchmark, not a test: it fails only when something does
not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import errno
import gc
import hashlib
import importlib.metadata
import io
import itertools
import json
import os
import platform
import random
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.messages import DEFAULT_SEED, generate_messages  # noqa: E402
from moderation.serving.batching import DEFAULT_CACHE_SIZE, DEFAULT_LONG_TEXT_CHARS  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "scoring"
BUILD_FORMAT = 1  # bump when the bundles or vocabularies change, so cached ones are rebuilt
ENGINES = ("torch", "torch-int8", "onnx", "onnx-int8")
LONG_BYTES = 1000
MAX_BATCH = 32
WINDOW_MS = 5.0
RATES = (20.0, 50.0)
WINDOW_TOKENS = 512
CHILD_KINDS = ("build", "prepare", "baseline", "engine", "headcheck")

# The targets, for the bert-base shape on this 2-core machine.
TARGET_BURST_X = 10.0
TARGET_P95_MS_AT_20 = 60.0
TARGET_PEAK_MB = 500.0
TARGET_DRIFT = 0.02
BUSY_WARNING_CORES = 0.25

UNBIASED_CLASSES = (
    "toxicity",
    "severe_toxicity",
    "obscene",
    "identity_attack",
    "insult",
    "threat",
    "sexual_explicit",
)
# The real unbiased checkpoints have 16 outputs: the 7 labels, then 9 identity heads that Detoxify ignores.
UNBIASED_IDENTITY_CLASSES = (
    "male",
    "female",
    "homosexual_gay_or_lesbian",
    "christian",
    "jewish",
    "muslim",
    "black",
    "white",
    "psychiatric_or_mental_illness",
)


@dataclass(frozen=True)
class Variant:
    name: str
    family: str  # "bert" or "albert"
    model_type: str  # what a real checkpoint records (the loader points it at the bundle's hf/)
    model_name: str
    tokenizer_name: str
    classes: tuple[str, ...]
    identity_classes: tuple[str, ...]
    shape: str


VARIANTS = {
    "original": Variant(
        name="original",
        family="bert",
        model_type="bert-base-uncased",
        model_name="BertForSequenceClassification",
        tokenizer_name="BertTokenizer",
        classes=("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"),
        identity_classes=(),
        shape="bert-base-uncased: 12 layers, hidden 768, 12 heads, FFN 3072; WordPiece vocab 30,522",
    ),
    "unbiased-small": Variant(
        name="unbiased-small",
        family="albert",
        model_type="albert-base-v2",
        model_name="AlbertForSequenceClassification",
        tokenizer_name="AlbertTokenizer",
        classes=UNBIASED_CLASSES,
        identity_classes=UNBIASED_IDENTITY_CLASSES,
        shape=(
            "albert-base-v2: embeddings 128, hidden 768, 12 shared layers, 12 heads, FFN 3072; "
            "SentencePiece unigram vocab 30,000"
        ),
    ),
}


# --- helpers --------------------------------------------------------------------------------------


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _status_mb(field: str) -> float:
    """A field of /proc/self/status (VmRSS, VmHWM) in MB."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def _maxrss_mb() -> float:
    """This process's peak RSS in MB: VmHWM, which belongs to this process's memory alone.

    ``ru_maxrss`` is not used where VmHWM exists: Linux carries it across ``exec``, so a child forked
    from a large benchmark process reports its parent's peak.
    """
    peak = _status_mb("VmHWM")
    if peak == peak:  # not NaN
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (and so ru_maxrss) to the current RSS (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def _trim() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def stratified(texts: Sequence[str], step: int, offset: int = 0) -> list[int]:
    """Every ``step``-th short and every ``step``-th long message, in stream order: the same mix."""
    long_ones = [i for i, text in enumerate(texts) if len(text.encode("utf-8")) >= LONG_BYTES]
    short_ones = [i for i, text in enumerate(texts) if len(text.encode("utf-8")) < LONG_BYTES]
    return sorted(long_ones[offset::step] + short_ones[offset::step])


def machine_info(device: str = "cpu") -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    cores: set[tuple[str, str]] = set()
    physical = ("0", "")
    flags: set[str] = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "model name":
                cpu = value
            elif key == "flags":
                flags = set(value.split())
            elif key == "physical id":
                physical = (value, "")
            elif key == "core id":
                cores.add((physical[0], value))
    logical = os.cpu_count() or 0
    return {
        "cpu": cpu,
        "logical_cores": logical,
        "physical_cores": len(cores) or logical,
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else logical,
        "memory_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "int8_units": int8_units(flags),
        "versions": {
            package: _version(package)
            for package in ("torch", "onnxruntime", "onnx", "transformers", "tokenizers", "detoxify")
        },
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "gpu": _gpu_name() if device != "cpu" else None,
    }


def int8_units(flags: set[str]) -> str:
    """The CPU's int8 matrix instructions, from /proc/cpuinfo's flags: what onnx-int8's speed rests on.

    ONNX Runtime multiplies int8 matrices with AMX tiles where the CPU has them (Intel Xeon since
    Sapphire Rapids), else with AVX-512 VNNI or AVX-VNNI, else with plain AVX2.
    """
    found = [
        name
        for name, flag in (("AMX", "amx_int8"), ("AVX-512 VNNI", "avx512_vnni"), ("AVX-VNNI", "avx_vnni"))
        if flag in flags
    ]
    if not found:
        found = ["AVX2, no VNNI"] if "avx2" in flags else ["unknown"]
    return " + ".join(found)


# Linux x86-64: arch_prctl(ARCH_REQ_XCOMP_PERM, ...) is how a process asks to use AMX tiles, and
# ONNX Runtime (like oneDNN) uses AMX only when the kernel grants it. A seccomp filter that answers
# EPERM to that one request makes them fall back to AVX-512 VNNI, as on a CPU without AMX.
_SYS_ARCH_PRCTL = 158
_ARCH_REQ_XCOMP_PERM = 0x1023
_AUDIT_ARCH_X86_64 = 0xC000003E


def refuse_amx() -> None:
    """Refuse AMX to this process and every process it starts (``--refuse-amx``).

    Raises:
        SystemExit: not Linux on x86-64, or the kernel refused the filter.

    """
    if sys.platform != "linux" or platform.machine() != "x86_64":
        raise SystemExit("--refuse-amx works on Linux x86-64 only")
    load, jump_if_equal, answer = 0x20, 0x15, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_RET|K

    def op(code: int, if_true: int, if_false: int, value: int) -> bytes:
        return struct.pack("HBBI", code, if_true, if_false, value)

    # seccomp_data: nr at offset 0, arch at 4, the first argument's low word at 16.
    program = b"".join(
        (
            op(load, 0, 0, 4),
            op(jump_if_equal, 0, 5, _AUDIT_ARCH_X86_64),
            op(load, 0, 0, 0),
            op(jump_if_equal, 0, 3, _SYS_ARCH_PRCTL),
            op(load, 0, 0, 16),
            op(jump_if_equal, 0, 1, _ARCH_REQ_XCOMP_PERM),
            op(answer, 0, 0, 0x00050000 | errno.EPERM),  # SECCOMP_RET_ERRNO
            op(answer, 0, 0, 0x7FFF0000),  # SECCOMP_RET_ALLOW
        )
    )

    class _Program(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

    code = ctypes.create_string_buffer(program)
    fprog = _Program(len(program) // 8, ctypes.addressof(code))
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0 or libc.prctl(
        pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0
    ):
        raise SystemExit(f"--refuse-amx: the kernel refused the filter ({os.strerror(ctypes.get_errno())})")
    if libc.syscall(_SYS_ARCH_PRCTL, _ARCH_REQ_XCOMP_PERM, 18) != -1:  # 18: XFEATURE_XTILEDATA
        raise SystemExit("--refuse-amx: AMX is still granted")


def _gpu_name() -> str:
    try:
        found = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown GPU"
    return found.stdout.strip().splitlines()[0] if found.stdout.strip() else "unknown GPU"


# --- building the bundles (in a child process) -----------------------------------------------------

_ONSETS = (
    "",
    *"bcdfghjklmnprstvwyz",
    *("bl", "br", "ch", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "pl", "pr", "sc", "sh"),
    *("sk", "sl", "sm", "sn", "sp", "st", "sw", "th", "tr", "wh"),
)
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ee", "oo", "ou", "y")
_CODAS = ("", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "nt", "st", "ck", "rd", "ll")
_SUFFIXES = ("", "", "", "s", "ed", "ing", "er", "ly", "tion", "ness", "ment", "able")


def training_corpus(seed: int = 7) -> list[str]:
    """Lower-cased class chat (another seed than the benchmark's) plus a synthetic Zipf lexicon.

    The chat alone has too few distinct words for a 30k vocabulary; the lexicon (pronounceable
    made-up words, frequency 1/rank) fills it, as the long tail of English does in the real ones.
    """
    rng = random.Random(seed)
    lexicon: set[str] = set()
    while len(lexicon) < 50_000:
        syllables = rng.choice((1, 2, 2, 3, 3, 4))
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
        )
        lexicon.add(word + rng.choice(_SUFFIXES))
    words = sorted(lexicon)
    rng.shuffle(words)
    weights = list(itertools.accumulate(1 / rank for rank in range(1, len(words) + 1)))
    lines = [item["text"].lower() for item in generate_messages(40_000, seed)]
    lines += [" ".join(rng.choices(words, cum_weights=weights, k=rng.randint(4, 20))) for _ in range(30_000)]
    return lines


def _build_bert_tokenizer(hf_dir: Path, corpus: list[str]) -> None:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertTokenizer

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    # bert-base-uncased's layout: [PAD] 0, [unused0..98], [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103.
    special = ["[PAD]", *(f"[unused{i}]" for i in range(99)), "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(
        vocab_size=30_522,
        special_tokens=special,
        min_frequency=2,
        limit_alphabet=1000,
        continuing_subword_prefix="##",
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer)
    vocabulary = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    hf_dir.mkdir(parents=True, exist_ok=True)
    (hf_dir / "vocab.txt").write_text("".join(token + "\n" for token, _ in vocabulary), encoding="utf-8")
    config = {"do_lower_case": True, "model_max_length": WINDOW_TOKENS, "tokenizer_class": "BertTokenizer"}
    (hf_dir / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    BertTokenizer.from_pretrained(str(hf_dir), local_files_only=True).save_pretrained(hf_dir)


def _build_albert_tokenizer(hf_dir: Path, corpus: list[str], seed: int) -> None:
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2
    from transformers import AlbertTokenizer

    sentencepiece.set_random_generator_seed(seed)
    model = io.BytesIO()
    # albert-base-v2's layout: <pad> 0, <unk> 1, [CLS] 2, [SEP] 3, [MASK] 4; NFKC, lower-cased text.
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=model,
        vocab_size=30_000,
        model_type="unigram",
        pad_id=0,
        unk_id=1,
        bos_id=-1,
        eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        normalization_rule_name="nmt_nfkc",
        input_sentence_size=0,
        shuffle_input_sentence=False,
        num_threads=1,  # one thread: the same model on every run
        minloglevel=2,
    )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    hf_dir.mkdir(parents=True, exist_ok=True)
    (hf_dir / "spiece.model").write_bytes(model.getvalue())
    tokenizer = AlbertTokenizer(
        vocab=[(piece.piece, piece.score) for piece in proto.pieces],
        _spm_precompiled_charsmap=proto.normalizer_spec.precompiled_charsmap,
        model_max_length=WINDOW_TOKENS,
    )
    tokenizer.save_pretrained(hf_dir)


def _model_config(variant: Variant, outputs: int) -> Any:
    import transformers

    if variant.family == "bert":
        # BertConfig's defaults are bert-base-uncased.
        return transformers.BertConfig(vocab_size=30_522, num_labels=outputs)
    # AlbertConfig's defaults are albert-xxlarge; these are albert-base-v2's.
    return transformers.AlbertConfig(
        vocab_size=30_000,
        embedding_size=128,
        hidden_size=768,
        num_hidden_layers=12,
        num_hidden_groups=1,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu_new",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=512,
        num_labels=outputs,
    )


def _bundle_dir(variant: str, outputs: int) -> Path:
    return CACHE / "models" / f"{variant}-{outputs}-outputs" / variant


def _build_stamp(variant: Variant, outputs: int) -> dict[str, Any]:
    stamp = {
        "format": BUILD_FORMAT,
        "variant": asdict(variant),
        "outputs": outputs,
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "tokenizers": _version("tokenizers"),
        "sentencepiece": _version("sentencepiece"),
    }
    return dict(json.loads(json.dumps(stamp)))  # as it reads back from build.json (lists, not tuples)


def bundle_is_built(variant: Variant, outputs: int) -> bool:
    from moderation.errors import ScorerError
    from moderation.serving.detoxify_bundle import verify_bundle

    bundle = _bundle_dir(variant.name, outputs)
    try:
        stamp = json.loads((bundle.parent / "build.json").read_text(encoding="utf-8"))
        verify_bundle(bundle, variant.name)
    except (OSError, ValueError, ScorerError):
        return False
    return bool(stamp.get("stamp") == _build_stamp(variant, outputs))


def build_bundle(variant: Variant, outputs: int) -> dict[str, Any]:
    """Write ``<cache>/models/<variant>-<outputs>-outputs/<variant>/`` (checkpoint.ckpt, hf/, bundle.json)."""
    import torch

    from bot.model_bundle import write_manifest
    from moderation.serving.detoxify_bundle import CHECKPOINT_FILE, HF_DIR

    started = time.perf_counter()
    tokenizer_dir = CACHE / "tokenizers" / variant.family
    tokenizer_stamp = {"format": BUILD_FORMAT, "family": variant.family, **_build_stamp(variant, 0)}
    stamp_file = tokenizer_dir / "build.json"
    if not stamp_file.is_file() or json.loads(stamp_file.read_text(encoding="utf-8")) != tokenizer_stamp:
        shutil.rmtree(tokenizer_dir, ignore_errors=True)
        corpus = training_corpus()
        if variant.family == "bert":
            _build_bert_tokenizer(tokenizer_dir, corpus)
        else:
            _build_albert_tokenizer(tokenizer_dir, corpus, seed=7)
        stamp_file.write_text(json.dumps(tokenizer_stamp), encoding="utf-8")
    tokenizer_s = time.perf_counter() - started

    target = _bundle_dir(variant.name, outputs).parent
    staging = target.with_name(target.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    bundle = staging / variant.name
    hf_dir = bundle / HF_DIR
    shutil.copytree(tokenizer_dir, hf_dir, ignore=shutil.ignore_patterns("build.json"))
    config = _model_config(variant, outputs)
    config.save_pretrained(hf_dir)
    torch.manual_seed(0)
    model_class = getattr(importlib.import_module("transformers"), variant.model_name)
    model = model_class(config).eval()
    parameters = sum(parameter.numel() for parameter in model.parameters())
    dataset_args: dict[str, Any] = {"classes": list(variant.classes)}
    if outputs > len(variant.classes):
        dataset_args["identity_classes"] = list(variant.identity_classes[: outputs - len(variant.classes)])
    checkpoint = {
        "config": {
            "arch": {
                "args": {
                    "model_type": variant.model_type,
                    "model_name": variant.model_name,
                    "tokenizer_name": variant.tokenizer_name,
                    "num_classes": outputs,
                }
            },
            "dataset": {"args": dataset_args},
        },
        "state_dict": model.state_dict(),
    }
    torch.save(checkpoint, bundle / CHECKPOINT_FILE)
    labels = [
        {"toxic": "toxicity", "severe_toxic": "severe_toxicity", "identity_hate": "identity_attack"}.get(
            label, label
        )
        for label in variant.classes
    ]
    write_manifest(
        bundle,
        variant=variant.name,
        labels=labels,
        source_url=f"bench/scoring.py (random {variant.model_type})",
    )
    (staging / "build.json").write_text(
        json.dumps({"stamp": _build_stamp(variant, outputs), "parameters": parameters}), encoding="utf-8"
    )
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return {
        "built": True,
        "tokenizer_s": tokenizer_s,
        "build_s": time.perf_counter() - started,
        "parameters": parameters,
    }


def bundle_facts(variant: Variant, outputs: int) -> dict[str, Any]:
    bundle = _bundle_dir(variant.name, outputs)
    facts = json.loads((bundle.parent / "build.json").read_text(encoding="utf-8"))
    return {
        "path": str(bundle.relative_to(ROOT)),
        "parameters": facts["parameters"],
        "checkpoint_mb": (bundle / "checkpoint.ckpt").stat().st_size / 1e6,
        "outputs": outputs,
    }


def engines_cached(bundle: Path) -> bool:
    cache = bundle / ".engines"
    return all(any(cache.glob(f"{name}-*.onnx.json")) for name in ("onnx", "onnx-int8"))


# --- the measurements (each in a child process) ---------------------------------------------------


def _load_plain_detoxify(bundle: Path, device: str = "cpu") -> Any:
    """Detoxify as a user loads it: the same patch as DetoxifyScorer (model_type -> the bundle's hf/)."""
    import detoxify
    import torch

    loaded = torch.load(bundle / "checkpoint.ckpt", map_location="cpu", weights_only=False)
    loaded["config"]["arch"]["args"]["model_type"] = str((bundle / "hf").resolve())
    buffer = io.BytesIO()
    torch.save(loaded, buffer)
    del loaded
    buffer.seek(0)
    return detoxify.Detoxify(
        checkpoint=buffer, device=device, huggingface_config_path=str((bundle / "hf").resolve())
    )


def child_baseline(
    bundle: Path, texts: list[str], indices: list[int], threads: int | None, device: str = "cpu"
) -> dict[str, Any]:
    import numpy as np
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    import detoxify  # noqa: F401  (imported before measuring the imports' RSS, as in the engine runs)

    from moderation.serving.detoxify_scorer import DetoxifyScorer  # noqa: F401

    if threads is not None:
        torch.set_num_threads(threads)
    imports = _status_mb("VmRSS")
    started = time.perf_counter()
    model = _load_plain_detoxify(bundle, device)
    load_s = time.perf_counter() - started
    load_peak = _maxrss_mb()
    _trim()
    after_load = _status_mb("VmRSS")
    reset = _reset_peak_rss()
    labels = list(model.class_names)
    sample = [texts[i] for i in indices]
    for text in sample[:3]:
        model.predict([text])
    scores = np.full((len(texts), len(labels)), np.nan)
    each: list[float] = []
    began = time.perf_counter()
    for index, text in zip(indices, sample, strict=True):
        start = time.perf_counter()
        result = model.predict([text])
        each.append(time.perf_counter() - start)
        scores[index] = [result[label] for label in labels]
    elapsed = time.perf_counter() - began
    tokens = [len(model.tokenizer(text, truncation=False, verbose=False)["input_ids"]) for text in texts]
    return {
        "scores": scores,
        "result": {
            "messages": len(sample),
            "seconds": elapsed,
            "msgs_per_s": len(sample) / elapsed,
            "p50_ms": _percentile(each, 0.5) * 1000,
            "p95_ms": _percentile(each, 0.95) * 1000,
            "imports_mb": imports,
            "load_s": load_s,
            "load_peak_mb": load_peak,
            "after_load_mb": after_load,
            "serving_peak_mb": _maxrss_mb() if reset else float("nan"),
            "torch_threads": torch.get_num_threads(),
            "labels": labels,
            "tokens": tokens,
        },
    }


class _Tracked:
    """Passes batches to the scorer, timing each call and telling when no call is in flight.

    The service's two lanes may call it from two threads at once.
    """

    def __init__(self, scorer: Any) -> None:
        self._scorer = scorer
        self.calls: list[tuple[int, bool, float]] = []  # (texts, holds a 1-3 kB message, seconds)
        self.idle = threading.Event()
        self.idle.set()
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def name(self) -> str:
        return str(self._scorer.name)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self._scorer.labels)

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        with self._lock:
            self._in_flight += 1
            self.idle.clear()
        started = time.perf_counter()
        try:
            return list(self._scorer.score_batch(texts))
        finally:
            long_one = any(len(text.encode("utf-8")) >= LONG_BYTES for text in texts)
            with self._lock:
                self.calls.append((len(texts), long_one, time.perf_counter() - started))
                self._in_flight -= 1
                if not self._in_flight:
                    self.idle.set()


async def _burst(service: Any, tracked: _Tracked, texts: list[str]) -> dict[str, Any]:
    service.forget()  # each run starts with no remembered scores: it reuses only its own repeats
    first = len(tracked.calls)
    reused = service.stats.reused
    started = time.perf_counter()
    results = await asyncio.gather(*(service.score(text) for text in texts))
    elapsed = time.perf_counter() - started
    calls = tracked.calls[first:]
    with_long = [seconds for _, long_one, seconds in calls if long_one]
    without = [seconds for _, long_one, seconds in calls if not long_one]
    return {
        "messages": len(texts),
        "seconds": elapsed,
        "reused": service.stats.reused - reused,
        "results": list(results),
        "batches": len(calls),
        "mean_batch": len(texts) / len(calls) if calls else 0.0,
        "batches_with_long": len(with_long),
        "mean_s_with_long": statistics.fmean(with_long) if with_long else 0.0,
        "mean_s_without_long": statistics.fmean(without) if without else 0.0,
    }


async def _steady(
    service: Any, tracked: _Tracked, texts: list[str], rate: float, seed: int, grace_s: float
) -> dict[str, Any]:
    """Seeded Poisson arrivals at ``rate``/s; latency from each message's scheduled arrival to its result.

    An engine that falls behind (a message waits more than ``grace_s``) stops the run: no more
    arrivals, the service is stopped, and unfinished messages count with the wait so far (a lower bound).
    """
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    service.forget()
    first = len(tracked.calls)
    reused = service.stats.reused
    finished: dict[int, float] = {}

    async def one(position: int, text: str, due: float) -> None:
        await service.score(text)
        finished[position] = time.perf_counter() - due

    started = time.perf_counter()
    due = 0.0
    submitted: list[tuple[float, asyncio.Task[None]]] = []
    oldest = 0
    fell_behind = False
    for position, text in enumerate(texts):
        due += rng.expovariate(rate)
        delay = started + due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        while oldest < len(submitted) and submitted[oldest][1].done():
            oldest += 1
        if oldest < len(submitted) and time.perf_counter() - submitted[oldest][0] > grace_s:
            fell_behind = True
            break
        submitted.append((started + due, asyncio.create_task(one(position, text, started + due))))
    tasks = [task for _, task in submitted]
    last_due = submitted[-1][0] if submitted else started
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, last_due + grace_s - time.perf_counter()))
    if pending:
        fell_behind = True
        await service.close()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await loop.run_in_executor(None, tracked.idle.wait)  # the batch in flight, if any
    now = time.perf_counter()
    latencies = [finished.get(position, now - at) for position, (at, _) in enumerate(submitted)]
    calls = tracked.calls[first:]
    return {
        "rate": rate,
        "messages": len(texts),
        "submitted": len(submitted),
        "completed": len(finished),
        "fell_behind": fell_behind,
        "arrivals_s": last_due - started,
        "seconds": now - started,
        "p50_ms": _percentile(latencies, 0.5) * 1000,
        "p95_ms": _percentile(latencies, 0.95) * 1000,
        "max_ms": max(latencies, default=0.0) * 1000,
        "batches": len(calls),
        "mean_batch": statistics.fmean(size for size, _, _ in calls) if calls else 0.0,
        "reused": service.stats.reused - reused,
    }


def child_engine(
    bundle: Path,
    engine: str,
    texts: list[str],
    burst_sample: list[int],
    steady_set: list[int],
    *,
    threads: int | None,
    device: str = "cpu",
    budget_s: float,
    burst_repeats: int = 1,
    full_burst: bool,
    all_scores: bool,
    grace_s: float,
    cache_size: int = DEFAULT_CACHE_SIZE,
) -> dict[str, Any]:
    import numpy as np
    from transformers.utils import logging as hf_logging

    from moderation.serving.batching import ScoringService
    from moderation.serving.detoxify_scorer import DetoxifyScorer

    if engine.startswith("torch"):
        import torch  # noqa: F401  (imported before measuring the imports' RSS, as in the baseline)
    # The ONNX engines start as the bot does: from the engine cache, without torch (the warm start).
    hf_logging.set_verbosity_error()
    imports = _status_mb("VmRSS")
    started = time.perf_counter()
    scorer = DetoxifyScorer(None, bundle=bundle, engine=engine, threads=threads, device=device)
    load_s = time.perf_counter() - started
    load_peak = _maxrss_mb()
    _trim()
    after_load = _status_mb("VmRSS")
    reset = _reset_peak_rss()
    labels = list(scorer.labels)
    scores = np.full((len(texts), len(labels)), np.nan)
    tracked = _Tracked(scorer)
    service = ScoringService(tracked, max_batch=MAX_BATCH, window_ms=WINDOW_MS, cache_size=cache_size)

    def keep(indices: Sequence[int], results: list[dict[str, float]]) -> None:
        for index, result in zip(indices, results, strict=True):
            scores[index] = [result[label] for label in labels]

    async def measure() -> dict[str, Any]:
        await _burst(service, tracked, texts[:8])  # warm-up
        burst = await _burst(service, tracked, [texts[i] for i in burst_sample])
        keep(burst_sample, burst.pop("results"))
        burst["sampled"] = True
        burst["projected_full_s"] = burst["seconds"] * len(texts) / len(burst_sample)
        if full_burst and burst["projected_full_s"] <= budget_s:
            # Several bursts, the median reported: one run on a shared 2-core machine varies by 10-20%.
            bursts = [await _burst(service, tracked, texts) for _ in range(max(1, burst_repeats))]
            keep(range(len(texts)), bursts[0]["results"])
            for each in bursts:
                each.pop("results")
            burst = sorted(bursts, key=lambda each: each["seconds"])[len(bursts) // 2]
            burst["all_seconds"] = [each["seconds"] for each in bursts]
            burst["sampled"] = False
        burst["msgs_per_s"] = burst["messages"] / burst["seconds"]
        steady_texts = [texts[i] for i in steady_set]
        steady = [
            await _steady(service, tracked, steady_texts, rate, seed=int(rate), grace_s=grace_s)
            for rate in RATES
        ]
        await service.close()
        return {"burst": burst, "steady": steady}

    measured = asyncio.run(measure())
    serving_peak = _maxrss_mb() if reset else float("nan")
    # Scores for the messages the burst did not cover, for the drift over all 1,000 (not timed):
    # sorted by length, so long messages share batches with long ones.
    missing = [i for i in range(len(texts)) if np.isnan(scores[i, 0])] if all_scores else []
    missing.sort(key=lambda i: len(texts[i]))
    for begin in range(0, len(missing), MAX_BATCH):
        chunk = missing[begin : begin + MAX_BATCH]
        keep(chunk, scorer.score_batch([texts[i] for i in chunk]))
    return {
        "scores": scores,
        "result": {
            "engine": engine,
            "used": scorer.engine,
            "probe_drift": scorer.engine_drift,
            "note": scorer.engine_note,
            "imports_mb": imports,
            "load_s": load_s,
            "load_peak_mb": load_peak,
            "after_load_mb": after_load,
            "serving_peak_mb": serving_peak,
            "torch_threads": _torch_threads(),
            "labels": labels,
            "long_lane_texts": service.stats.long_texts,
            **measured,
        },
    }


def _torch_threads() -> int | None:
    """torch's thread count, or ``None`` when this process never imported torch."""
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else None


def child_prepare(bundle: Path, threads: int | None) -> dict[str, Any]:
    """Export and quantise the ONNX engines once, into the bundle's .engines/ cache."""
    from transformers.utils import logging as hf_logging

    from moderation.serving.detoxify_scorer import DetoxifyScorer

    hf_logging.set_verbosity_error()
    started = time.perf_counter()
    scorer = DetoxifyScorer(None, bundle=bundle, engine="onnx-int8", threads=threads)
    return {
        "result": {
            "seconds": time.perf_counter() - started,
            "used": scorer.engine,
            "note": scorer.engine_note,
        }
    }


def child_headcheck(bundle: Path, threads: int | None) -> dict[str, Any]:
    """Load a checkpoint with the real unbiased head (16 outputs) with a non-torch engine."""
    import torch
    from transformers.utils import logging as hf_logging

    from moderation.serving.detoxify_scorer import DetoxifyScorer

    hf_logging.set_verbosity_error()
    scorer = DetoxifyScorer(None, bundle=bundle, engine="torch-int8", threads=threads)
    loaded = torch.load(bundle / "checkpoint.ckpt", map_location="cpu", weights_only=False)
    return {
        "result": {
            "asked": "torch-int8",
            "used": scorer.engine,
            "note": scorer.engine_note,
            "labels": len(scorer.labels),
            "outputs": int(loaded["config"]["arch"]["args"]["num_classes"]),
        }
    }


def _cpu_sample() -> tuple[float, float, float, float]:
    """(wall s, the machine's busy CPU s, steal CPU s, this process's children's CPU s)."""
    busy = steal = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = [int(value) for value in Path("/proc/stat").read_text(encoding="ascii").split()[1:9]]
        hertz = os.sysconf("SC_CLK_TCK")
        user, nice, system, _idle, _iowait, irq, softirq, stolen = fields
        busy = (user + nice + system + irq + softirq) / hertz
        steal = stolen / hertz
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), busy, steal, children.ru_utime + children.ru_stime


def _speed_probe(seconds: float = 0.3) -> float:
    """How fast the machine is right now: GFLOP/s of a bert-base-sized fp32 matmul (numpy, all cores).

    A shared machine's speed drifts by 10-30% over minutes (other guests on the host, clocks), and each
    row runs minutes apart: probed around every row, the drift shows instead of hiding in a ratio.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    left = rng.standard_normal((384, 768), dtype=np.float32)
    right = rng.standard_normal((768, 3072), dtype=np.float32)
    left @ right
    runs = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or not runs:
        left @ right
        runs += 1
    return runs * 2 * 384 * 768 * 3072 / elapsed / 1e9


def code_digest() -> dict[str, Any]:
    """What the measured code was: a digest of the service and scorer sources, and their newest change."""
    files = sorted(
        [*(ROOT / "moderation" / "serving").glob("*.py"), *(ROOT / "moderation" / "scorers").glob("*.py")]
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    newest = max(path.stat().st_mtime for path in files)
    return {
        "sha256": digest.hexdigest()[:12],
        "newest_change": datetime.fromtimestamp(newest, UTC).isoformat(timespec="seconds"),
    }


def run_child(kind: str, **options: Any) -> tuple[dict[str, Any], Any]:
    """Run one measurement in a fresh process; return its result and its scores (or None)."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="classmod-bench-scoring-") as scratch:
        out = Path(scratch)
        command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--child-out", str(out)]
        command += ["--child-options", json.dumps(options)]
        speed_before = _speed_probe()
        before = _cpu_sample()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        after = _cpu_sample()
        speed_after = _speed_probe()
        if done.returncode != 0:
            raise SystemExit(f"the {kind} run {options} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        result = json.loads((out / "result.json").read_text(encoding="utf-8"))
        wall = after[0] - before[0]
        # Cores kept busy by other processes while the child ran (the machine's busy time less the
        # child's own CPU time), and time the hypervisor gave to other guests (steal).
        result["other_cores"] = max(0.0, (after[1] - before[1]) - (after[3] - before[3])) / wall
        result["steal_cores"] = (after[2] - before[2]) / wall
        result["speed_gflops"] = [speed_before, speed_after]
        scores = np.load(out / "scores.npy") if (out / "scores.npy").exists() else None
    return result, scores


def child_main(kind: str, out: Path, options: dict[str, Any]) -> int:
    import numpy as np

    variant = VARIANTS[options["variant"]]
    outputs = int(options["outputs"])
    bundle = _bundle_dir(variant.name, outputs)
    threads = options.get("threads")
    if kind == "build":
        answer = {"result": build_bundle(variant, outputs)}
    elif kind == "prepare":
        answer = child_prepare(bundle, threads)
    elif kind == "headcheck":
        answer = child_headcheck(bundle, threads)
    else:
        texts = [item["text"] for item in generate_messages(options["messages"], options["seed"])]
        if kind == "baseline":
            answer = child_baseline(
                bundle, texts, options["baseline_sample"], threads, options.get("device", "cpu")
            )
        else:
            answer = child_engine(
                bundle,
                options["engine"],
                texts,
                options["burst_sample"],
                options["steady_set"],
                threads=threads,
                device=options.get("device", "cpu"),
                budget_s=options["budget_s"],
                burst_repeats=options.get("burst_repeats", 1),
                full_burst=options["full_burst"],
                all_scores=options["all_scores"],
                grace_s=options["grace_s"],
                cache_size=options.get("cache_size", DEFAULT_CACHE_SIZE),
            )
    if "scores" in answer:
        np.save(out / "scores.npy", answer["scores"])
    (out / "result.json").write_text(json.dumps(answer["result"]), encoding="utf-8")
    return 0


# --- the run --------------------------------------------------------------------------------------


def bench_variant(console: Console, name: str, args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    import numpy as np

    variant = VARIANTS[name]
    outputs = args.unbiased_outputs if variant.family == "albert" else len(variant.classes)
    began = time.perf_counter()
    result: dict[str, Any] = {"variant": name, "shape": variant.shape, "cache_size": args.cache_size}
    setup: dict[str, Any] = {"built": False, "build_s": 0.0, "export_s": 0.0}
    needed = [outputs]
    if variant.family == "albert" and outputs != 16 and not args.quick:
        needed.append(16)  # for the head check
    for each in needed:
        if not bundle_is_built(variant, each):
            console.print(f"[dim]{name}: building the {each}-output bundle (once)...[/dim]")
            built, _ = run_child("build", variant=name, outputs=each)
            setup["built"] = True
            setup["build_s"] += built["build_s"]
    bundle = _bundle_dir(name, outputs)
    if not engines_cached(bundle):
        console.print(f"[dim]{name}: exporting and quantising the ONNX engines (once)...[/dim]")
        prepared, _ = run_child("prepare", variant=name, outputs=outputs, threads=args.threads)
        setup["export_s"] = prepared["seconds"]
    result["setup"] = setup
    result["bundle"] = bundle_facts(variant, outputs)

    base = {
        "variant": name,
        "outputs": outputs,
        "threads": args.threads,
        "device": args.device,
        "messages": len(texts),
        "seed": args.seed,
    }
    baseline_sample = stratified(texts, 20 if args.quick else 5)
    burst_sample = stratified(texts, 20 if args.quick else 10)
    steady_set = stratified(texts, 4, offset=2)[: 60 if args.quick else 200]
    console.print(f"[dim]{name}: plain Detoxify, one message at a time ({len(baseline_sample)})...[/dim]")
    baseline, baseline_scores = run_child("baseline", **base, baseline_sample=baseline_sample)
    tokens = baseline.pop("tokens")
    result["tokens"] = {
        "mean": statistics.fmean(tokens),
        "p50": _percentile(tokens, 0.5),
        "max": max(tokens),
        "over_window": sum(1 for count in tokens if count > WINDOW_TOKENS),
    }
    result["baseline"] = baseline

    runs: list[dict[str, Any]] = []
    scores: dict[str, Any] = {}
    for engine in args.engines:
        console.print(f"[dim]{name}: the scoring service on {engine}...[/dim]")
        run, engine_scores = run_child(
            "engine",
            **base,
            engine=engine,
            burst_sample=burst_sample,
            steady_set=steady_set,
            budget_s=args.burst_budget,
            burst_repeats=args.burst_repeats,
            full_burst=not args.quick,
            all_scores=not args.quick,
            grace_s=args.grace,
            cache_size=args.cache_size,
        )
        run.pop("labels")
        scores[engine] = engine_scores
        runs.append(run)
    reference = scores.get("torch")
    if reference is None:  # --engines without torch: drift against plain Detoxify's sample instead
        reference = baseline_scores
    for run in runs:
        both = ~np.isnan(reference[:, 0]) & ~np.isnan(scores[run["engine"]][:, 0])
        run["drift_messages"] = int(both.sum())
        run["drift"] = float(np.max(np.abs(scores[run["engine"]][both] - reference[both]), initial=0.0))
    # Plain per-message Detoxify against the service's fp32 torch, on the messages that fit one window.
    fits = np.array([count <= WINDOW_TOKENS for count in tokens])
    both = fits & ~np.isnan(baseline_scores[:, 0]) & ~np.isnan(reference[:, 0])
    baseline["drift_messages"] = int(both.sum())
    baseline["drift"] = float(np.max(np.abs(baseline_scores[both] - reference[both]), initial=0.0))
    result["runs"] = runs
    result["burst_sample"] = len(burst_sample)
    result["steady_messages"] = len(steady_set)

    if 16 in needed and outputs != 16:
        console.print(f"[dim]{name}: loading the real 16-output head with torch-int8...[/dim]")
        result["headcheck"], _ = run_child("headcheck", variant=name, outputs=16, threads=args.threads)
    result["seconds"] = time.perf_counter() - began
    return result


# --- output ---------------------------------------------------------------------------------------


def _mb(value: float) -> str:
    return "n/a" if value != value else f"{value:,.0f}"


def _rss(run: dict[str, Any]) -> str:
    parts = ("imports_mb", "load_peak_mb", "after_load_mb", "serving_peak_mb")
    return " / ".join(_mb(run[part]) for part in parts)


def _latency(steady: dict[str, Any]) -> str:
    # A run stopped because the engine fell behind: unfinished messages count with their wait so far.
    mark = "≥" if steady["fell_behind"] else ""
    return f"{mark}{steady['p50_ms']:,.0f} / {mark}{steady['p95_ms']:,.0f}"


def _verdict(ok: bool) -> str:
    return "[green]met[/green]" if ok else "[red]NOT MET[/red]"


def render_variant(console: Console, result: dict[str, Any], primary: bool) -> None:
    baseline = result["baseline"]
    bundle = result["bundle"]
    tokens = result["tokens"]
    setup = result["setup"]
    console.print()
    console.print(
        f"[bold]{result['variant']}[/bold] · {result['shape']} · {bundle['parameters'] / 1e6:.1f} M "
        f"parameters, {bundle['outputs']} outputs, checkpoint {bundle['checkpoint_mb']:.0f} MB · tokens per "
        f"message: mean {tokens['mean']:.1f}, median {tokens['p50']:.0f}, max {tokens['max']}, "
        f"{tokens['over_window']} over the {WINDOW_TOKENS}-token window",
        highlight=False,
    )
    if setup["built"] or setup["export_s"]:
        console.print(
            f"built in this run: bundle(s) {setup['build_s']:.0f} s, ONNX export + int8 quantisation "
            f"{setup['export_s']:.0f} s",
            highlight=False,
        )
    table = Table(
        title=(
            f"{result['variant']}: plain Detoxify vs ScoringService(max_batch={MAX_BATCH}, "
            f"window_ms={WINDOW_MS:g}, long lane over {DEFAULT_LONG_TEXT_CHARS} chars, "
            f"cache_size={result['cache_size']}), "
            "each row a fresh process"
        )
    )
    columns = (
        "engine asked",
        "used (probe drift)",
        "load s",
        escape("burst msg/s [n]"),
        "× plain",
        "20/s p50 / p95 ms",
        "50/s p50 / p95 ms",
        "RSS MB: imports / load peak / after load / serving peak",
        "max drift",
    )
    for column in columns:
        table.add_column(column, justify="left" if column.startswith(("engine", "used")) else "right")
    table.add_row(
        escape("plain predict([text])"),
        "fp32 torch",
        f"{baseline['load_s']:.1f}",
        escape(f"{baseline['msgs_per_s']:.1f} [{baseline['messages']}]"),
        "1.0",
        f"{baseline['p50_ms']:.0f} / {baseline['p95_ms']:.0f} per call",
        "",
        _rss(baseline),
        f"{baseline['drift']:.1e}",
    )
    for run in result["runs"]:
        burst = run["burst"]
        used = run["used"] + (f" ({run['probe_drift']:.4f})" if run["probe_drift"] is not None else "")
        if run["used"] != run["engine"]:
            used = f"[yellow]{used}, fell back[/yellow]"
        sampled = "*" if burst["sampled"] else ""
        steady = {each["rate"]: each for each in run["steady"]}
        table.add_row(
            run["engine"],
            used,
            f"{run['load_s']:.1f}",
            escape(f"{burst['msgs_per_s']:.1f} [{burst['messages']}{sampled}]"),
            f"{burst['msgs_per_s'] / baseline['msgs_per_s']:.1f}",
            *(_latency(steady[rate]) for rate in RATES),
            _rss(run),
            f"{run['drift']:.4f}",
        )
    console.print(table)
    notes = [
        f"plain: the Detoxify object as loaded, fp32, {escape('predict([text])')} one message at a time, "
        "on a "
        f"stratified sample of {baseline['messages']} (the same share of 1-3 kB messages), messages/s scaled "
        f"from it; p50/p95 per call. Its max drift is against the service's fp32 torch engine, over the "
        f"{baseline['drift_messages']} sampled messages that fit one window.",
        "burst: messages submitted at once with asyncio.gather, the median of the bursts run (notes below); "
        "* = a stratified sample of "
        f"{result['burst_sample']} only (a stratified sample of the 1,000), because of --quick or because it "
        "projected more than the burst budget for all 1,000. 20/s, 50/s: seeded Poisson arrivals, "
        f"{result['steady_messages']} messages (stratified), latency from scheduled arrival to result; "
        "≥: the "
        "engine fell behind and the run was stopped (unfinished messages count with their wait so far).",
        "RSS: VmRSS after the imports (torch, transformers and detoxify for plain and the torch engines; "
        "the ONNX engines start as the bot does, from the engine cache without torch), ru_maxrss after "
        "loading (the load's peak), "
        "VmRSS after load, ru_maxrss of the measured runs (high-water mark reset after load). max drift: "
        f"largest |score - fp32 torch engine| over {result['runs'][-1]['drift_messages']} messages × all "
        "labels.",
    ]
    for run in result["runs"]:
        burst = run["burst"]
        line = (
            f"{run['engine']}: burst in {burst['batches']} batches of {burst['mean_batch']:.1f} on average, "
            f"{burst['batches_with_long']} of them holding a 1-3 kB message: "
            f"{burst['mean_s_with_long']:.2f} s "
            "each"
        )
        if burst["batches_with_long"] < burst["batches"]:
            line += f", the others {burst['mean_s_without_long']:.2f} s"
        if burst["sampled"]:
            line += f"; all 1,000 would take about {burst['projected_full_s']:.0f} s"
        elif len(burst.get("all_seconds", ())) > 1:
            runs = ", ".join(f"{seconds:.1f}" for seconds in burst["all_seconds"])
            line += f"; the median of {len(burst['all_seconds'])} bursts ({runs} s)"
        behind = [
            f"{each['rate']:.0f}/s stopped after {each['submitted']} of {each['messages']} arrivals"
            for each in run["steady"]
            if each["fell_behind"]
        ]
        if behind:
            line += "; fell behind at " + ", ".join(behind)
        batches = "/".join(f"{each['mean_batch']:.1f}" for each in run["steady"])
        line += f"; mean batch at 20/s / 50/s {batches}"
        reused = "/".join(str(each.get("reused", 0)) for each in (burst, *run["steady"]))
        notes.append(f"{line}; repeated texts answered without the model (burst / 20/s / 50/s) {reused}.")
        if run["note"]:
            notes.append(f"{run['engine']}: {run['note']}")
    others = [("plain", baseline), *((run["engine"], run) for run in result["runs"])]
    notes.append(
        "other processes kept busy, on average while each row ran (cores): "
        + ", ".join(f"{label} {each['other_cores']:.2f}" for label, each in others)
        + "; hypervisor steal: "
        + ", ".join(f"{each['steal_cores']:.2f}" for _, each in others)
        + "."
    )
    notes.append(
        "the machine's speed before / after each row (numpy fp32 matmul, GFLOP/s; a shared host drifts): "
        + ", ".join(
            f"{label} {each['speed_gflops'][0]:.0f}/{each['speed_gflops'][1]:.0f}"
            for label, each in others
            if "speed_gflops" in each
        )
        + "."
    )
    for note in notes:
        console.print(note, highlight=False)
    if "headcheck" in result:
        check = result["headcheck"]
        if check["used"] == check["asked"]:
            outcome = "used"
        else:
            outcome = f"[red]refused, scoring with {check['used']}[/red]"
        console.print(
            f"real head: Detoxify's unbiased checkpoints have {check['outputs']} outputs for "
            f"{check['labels']} labels (9 identity heads Detoxify ignores); such a checkpoint with engine "
            f"{check['asked']}: {outcome}" + (f" ({escape(check['note'])})" if check["note"] else ""),
            highlight=False,
        )

    title = "the issue's targets (bert-base shape)" if primary else "the same targets, for reference only"
    console.print(f"[bold]{title}[/bold]")
    for run in result["runs"]:
        burst_x = run["burst"]["msgs_per_s"] / baseline["msgs_per_s"]
        at_20 = next(each for each in run["steady"] if each["rate"] == RATES[0])
        p95 = at_20["p95_ms"]
        peak = max(run["load_peak_mb"], run["serving_peak_mb"])
        checks = [
            f"burst ≥{TARGET_BURST_X:.0f}× plain: {_verdict(burst_x >= TARGET_BURST_X)} ({burst_x:.1f}×)",
            f"p95 at 20/s <{TARGET_P95_MS_AT_20:.0f} ms: {_verdict(p95 < TARGET_P95_MS_AT_20)} "
            f"({'≥' if at_20['fell_behind'] else ''}{p95:,.0f} ms)",
            f"peak RSS <{TARGET_PEAK_MB:.0f} MB: {_verdict(peak < TARGET_PEAK_MB)} ({peak:,.0f})",
            f"drift ≤{TARGET_DRIFT}: {_verdict(run['drift'] <= TARGET_DRIFT)} ({run['drift']:.4f})",
        ]
        console.print(f"  {run['engine']:<10} " + " · ".join(checks), highlight=False)


def render(console: Console, results: dict[str, Any]) -> None:
    machine = results["machine"]
    versions = machine["versions"]
    threads = results["threads"]
    runs = [run for result in results["variants"] for run in result["runs"]]
    torch_threads = sorted({run["torch_threads"] for run in runs if run["torch_threads"] is not None})
    torch_note = "/".join(map(str, torch_threads)) or "?"
    console.print(
        f"[bold]classmod scoring benchmark[/bold] · {results['messages']} messages (seed {results['seed']}, "
        f"{results['long_messages']} of 1–3 kB, mean {results['mean_chars']:.0f} chars)"
        + (" · QUICK smoke run" if results["quick"] else "")
    )
    console.print(
        f"machine: {machine['cpu']} · {machine['physical_cores']} physical / {machine['logical_cores']} "
        f"logical cores ({machine['usable_cores']} usable) · int8: {machine.get('int8_units', '?')}"
        + (" (AMX refused: --refuse-amx)" if results.get("amx_refused") else "")
        + f" · {machine['memory_gb']:.0f} GB · Python "
        f"{machine['python']} · torch {versions['torch']} ({torch_note} threads) · "
        f"onnxruntime {versions['onnxruntime']} (intra-op {threads or 'default = physical cores'}, "
        f"inter-op 1) · transformers {versions['transformers']} · detoxify {versions['detoxify']} · "
        f"{machine['platform']}" + (f" · device cuda: {machine['gpu']}" if machine.get("gpu") else ""),
        highlight=False,
    )
    code = results["code"]
    console.print(
        f"code measured: moderation/serving/*.py + moderation/scorers/*.py, sha256 {code['sha256']}, "
        f"last changed {code['newest_change']}"
        + (
            f" [red](changed during the run, now {code['changed_during_run']['sha256']}: rerun)[/red]"
            if "changed_during_run" in code
            else ""
        ),
        highlight=False,
    )
    for result in results["variants"]:
        render_variant(console, result, primary=result["variant"] == "original")
    spent = results["bench_seconds"]
    setup = sum(each["setup"]["build_s"] + each["setup"]["export_s"] for each in results["variants"])
    console.print()
    timings = ", ".join(f"{each['variant']} {each['seconds']:.0f} s" for each in results["variants"])
    cached = f"of which building and exporting {setup:.0f} s, skipped when cached" if setup else "all cached"
    console.print(f"whole benchmark: {spent:.0f} s ({timings}; {cached})", highlight=False)
    busy = [
        f"{result['variant']} {label}"
        for result in results["variants"]
        for label, each in [("plain", result["baseline"]), *((run["engine"], run) for run in result["runs"])]
        if each["other_cores"] + each["steal_cores"] > BUSY_WARNING_CORES
    ]
    if busy:
        console.print(
            f"[yellow]warning: other work took more than {BUSY_WARNING_CORES} cores during: "
            f"{', '.join(busy)}; those numbers are pessimistic, rerun on a quiet machine[/yellow]",
            highlight=False,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--variant", choices=(*VARIANTS, "both"), default="both", help="default: both")
    parser.add_argument("--quick", action="store_true", help="a smaller smoke run (samples, no full burst)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the message generator's seed")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch / ONNX Runtime threads (default: the libraries' own)"
    )
    parser.add_argument(
        "--burst-budget",
        type=float,
        default=60.0,
        metavar="S",
        help="burst all 1,000 only when the sample's burst projects at most S seconds (default 60)",
    )
    parser.add_argument(
        "--burst-repeats",
        type=int,
        default=3,
        metavar="N",
        help="bursts of all 1,000 per engine; the median is reported (default 3)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=5.0,
        metavar="S",
        help="stop a steady-arrival run once a message has waited S seconds (default 5)",
    )
    parser.add_argument(
        "--unbiased-outputs",
        type=int,
        choices=(7, 16),
        default=7,
        help="outputs of the unbiased-small head: 7 (its labels, default) or 16 (as the real checkpoint)",
    )
    parser.add_argument(
        "--engines",
        type=lambda value: tuple(value.split(",")),
        default=ENGINES,
        metavar="E,E",
        help=f"the engines to measure (default: {','.join(ENGINES)}); drift is against torch when it is one",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where plain Detoxify and the engines run (cuda: a GPU; the int8 engines are CPU-only)",
    )
    parser.add_argument(
        "--cache-size",
        type=int,
        default=DEFAULT_CACHE_SIZE,
        metavar="N",
        help=f"the service's remembered scores (default {DEFAULT_CACHE_SIZE}, as the bot; 0: every message "
        "is scored, repeats too)",
    )
    parser.add_argument(
        "--refuse-amx",
        action="store_true",
        help="measure as on a CPU without AMX: every run is refused AMX tiles (Linux x86-64), so "
        "ONNX Runtime and torch fall back to AVX-512 VNNI",
    )
    parser.add_argument("--child", choices=CHILD_KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-options", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}: choose from {', '.join(ENGINES)}")
    if args.child is not None:
        return child_main(args.child, args.child_out, json.loads(args.child_options))

    if args.refuse_amx:
        refuse_amx()  # before any run starts: each child process inherits the filter
    began = time.perf_counter()
    console = Console(width=None if sys.stdout.isatty() else 180)
    texts = [item["text"] for item in generate_messages(1000, args.seed)]
    names = list(VARIANTS) if args.variant == "both" else [args.variant]
    results: dict[str, Any] = {
        "machine": machine_info(args.device),
        "code": code_digest(),
        "messages": len(texts),
        "seed": args.seed,
        "quick": args.quick,
        "threads": args.threads,
        "amx_refused": args.refuse_amx,
        "long_messages": sum(1 for text in texts if len(text.encode("utf-8")) >= LONG_BYTES),
        "mean_chars": statistics.fmean(len(text) for text in texts),
        "variants": [],
    }
    for name in names:
        results["variants"].append(bench_variant(console, name, args, texts))
    results["bench_seconds"] = time.perf_counter() - began
    if code_digest()["sha256"] != results["code"]["sha256"]:  # the content, not the files' times
        results["code"]["changed_during_run"] = code_digest()
    render(console, results)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        console.print(f"results written to {args.json}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
