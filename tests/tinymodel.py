"""A tiny, deterministic BERT in Detoxify's checkpoint format, written as an offline bundle.

Its weights are random (seeded), so its scores mean nothing, but it goes through exactly the same
loader as the real models: ``detoxify.Detoxify`` with a checkpoint and local Hugging Face files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    BertTokenizer,
    BertTokenizerFast,
)

from bot.model_bundle import write_manifest
from moderation.serving.detoxify_bundle import CHECKPOINT_FILE, HF_DIR
from moderation.serving.sentence_encoder import pin_encoder

__all__ = [
    "TINY_ENCODER",
    "TINY_VARIANT",
    "UNBIASED_SMALL_LABELS",
    "build_tiny_detoxify",
    "build_tiny_encoder",
]

TINY_VARIANT = "tiny"
TINY_ENCODER = "tiny-bert-encoder"
UNBIASED_SMALL_LABELS = (
    "toxicity",
    "severe_toxicity",
    "obscene",
    "identity_attack",
    "insult",
    "threat",
    "sexual_explicit",
)

_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_WORDS = """
a about above after again all almost also always am an and angry another any anyone anything are
around as ask asked at away back bad be because been before being best better between big book
both but by bye call came can cannot class classes come coming could course day days did do does
doing done dont down each early easy end enough even evening ever every everyone everything exam
face fact family feel few find fine first for found free friday friend friends from fun get gets
give go going good got great group had happy hard has hate have he hear hello help her here hey
hi him his home homework hope how i idea idiot if in is it its job just keep kill kind know last
late later learn learning leave left lesson let life like little long look lot love made make
many may me mean meet might mine miss monday more morning most much must my name need never new
next nice night no not nothing now of off ok okay old on once one only or other our out over
own people please point problem put question quite read ready really right room said same saturday
say school see seen she should shut sick since so some someone something sorry start still stop
stupid such sunday sure take talk teacher tell thank thanks that the their them then there these
they thing things think this those thought through thursday time to today together told tomorrow
too tuesday two under until up us use very wait want was way we wednesday week weekend well went
were what when where which while who why will with without word words work would write wrong
yeah year yes yet you your yours
""".split()
_PUNCTUATION = (".", ",", "!", "?", "'", "-", ":")


def build_tiny_detoxify(
    directory: Path,
    labels: Sequence[str] = UNBIASED_SMALL_LABELS,
    max_length: int = 32,
    *,
    variant: str = TINY_VARIANT,
    model_type: str | None = None,
) -> Path:
    """Write a tiny BERT Detoxify bundle to ``directory/variant`` and return that bundle.

    ``model_type`` is what the checkpoint records as its Hugging Face model (real checkpoints say
    e.g. ``albert-base-v2``); by default the bundle's own ``hf`` folder, so ``fetch_bundle`` can
    "fetch" it offline. The loader replaces it with the bundle's folder either way.
    """
    bundle = directory / variant
    hf_dir = bundle / HF_DIR
    hf_dir.mkdir(parents=True, exist_ok=True)
    vocabulary = [*_SPECIAL_TOKENS, *_PUNCTUATION, *_WORDS]
    (hf_dir / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    tokenizer_config = {
        "do_lower_case": True,
        "model_max_length": max_length,
        "tokenizer_class": "BertTokenizer",
    }
    (hf_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config), encoding="utf-8")
    BertTokenizer.from_pretrained(str(hf_dir), local_files_only=True).save_pretrained(hf_dir)

    config = BertConfig(
        vocab_size=len(vocabulary),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_length,
        num_labels=len(labels),
        # Wider than BERT's 0.02, so random weights give scores that differ between texts.
        initializer_range=0.2,
    )
    config.save_pretrained(hf_dir)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    checkpoint = {
        "config": {
            "arch": {
                "args": {
                    "model_type": model_type or str(hf_dir.resolve()),
                    "model_name": "BertForSequenceClassification",
                    "tokenizer_name": "BertTokenizer",
                    "num_classes": len(labels),
                }
            },
            "dataset": {"args": {"classes": list(labels)}},
        },
        "state_dict": model.state_dict(),
    }
    torch.save(checkpoint, bundle / CHECKPOINT_FILE)
    write_manifest(bundle, variant=variant, labels=labels, source_url="tests/tinymodel.py")
    return bundle


def build_tiny_encoder(directory: Path, name: str = TINY_ENCODER) -> Path:
    """Write a tiny BERT sentence-transformers folder to ``directory/name``, pinned, and return it.

    The same shape of folder as all-MiniLM-L6-v2 (``config.json``, ``model.safetensors``,
    ``tokenizer.json``), so it loads through the same code and exports to ONNX in a second or two.
    """
    path = directory / name
    path.mkdir(parents=True, exist_ok=True)
    vocabulary = [*_SPECIAL_TOKENS, *_PUNCTUATION, *_WORDS]
    (path / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True).save_pretrained(path)
    config = BertConfig(
        vocab_size=len(vocabulary),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        initializer_range=0.2,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(path)
    pin_encoder(path, source="tests/tinymodel.py")
    return path
