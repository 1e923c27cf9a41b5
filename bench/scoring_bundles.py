"""The benchmark's model variants and their random-weight Detoxify bundles, built once and cached."""

from __future__ import annotations

import importlib.metadata
import io
import itertools
import json
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.messages import generate_messages
from bench.scoring_machine import package_version

ROOT = Path(__file__).resolve().parent.parent

CACHE = ROOT / "bench" / ".cache" / "scoring"


BUILD_FORMAT = 1  # bump when the bundles or vocabularies change, so cached ones are rebuilt


WINDOW_TOKENS = 512


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


def bundle_dir(variant: str, outputs: int) -> Path:
    return CACHE / "models" / f"{variant}-{outputs}-outputs" / variant


def _build_stamp(variant: Variant, outputs: int) -> dict[str, Any]:
    stamp = {
        "format": BUILD_FORMAT,
        "variant": asdict(variant),
        "outputs": outputs,
        "torch": package_version("torch"),
        "transformers": package_version("transformers"),
        "tokenizers": package_version("tokenizers"),
        "sentencepiece": package_version("sentencepiece"),
    }
    return dict(json.loads(json.dumps(stamp)))  # as it reads back from build.json (lists, not tuples)


def bundle_is_built(variant: Variant, outputs: int) -> bool:
    from moderation.errors import ScorerError
    from moderation.serving.detoxify_bundle import verify_bundle

    bundle = bundle_dir(variant.name, outputs)
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

    target = bundle_dir(variant.name, outputs).parent
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
    bundle = bundle_dir(variant.name, outputs)
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
