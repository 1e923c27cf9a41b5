"""How far ONNX Runtime's int8 settings move the sentence encoder and the shipped heads, and their speed.

The encoder is exported to fp32 ONNX as the bot does (its engine cache), then quantised with each of
ONNX Runtime's dynamic int8 settings below; every engine encodes the same texts (the bench's generated
class chat by default) and is compared with fp32 ONNX: the lowest cosine between embeddings, the
largest change in any head's probability, and ms per text. ``--per-node`` also quantises one weight
product at a time, to show how sensitive the heads are to each.

    .venv/bin/python bench/encoder_int8.py [--texts 800] [--per-node]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from messages import DEFAULT_SEED, generate_messages

from moderation.heads.model import default_heads_dir, load_heads
from moderation.serving import _onnx_engines
from moderation.serving.encoder_engines import OnnxForward
from moderation.serving.sentence_encoder import (
    SentenceEncoder,
    TorchForward,
    load_tokenizer,
    unpack_default_encoder,
    verify_encoder,
)

SETTINGS: dict[str, dict[str, Any]] = {
    "default (what the bot builds)": {},
    "MatMul only": {"op_types_to_quantize": ["MatMul"]},
    "MatMul, per channel": {"op_types_to_quantize": ["MatMul"], "per_channel": True},
    "MatMul, per channel, reduced range": {
        "op_types_to_quantize": ["MatMul"],
        "per_channel": True,
        "reduce_range": True,
    },
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--texts", type=int, default=800, help="generated messages to encode (default 800)")
    parser.add_argument("--per-node", action="store_true", help="also quantise one weight product at a time")
    args = parser.parse_args(argv)
    import onnx
    from onnxruntime import quantization
    from onnxruntime.quantization import shape_inference

    texts = [item["text"] for item in generate_messages(args.texts, DEFAULT_SEED) if item["text"].strip()]
    with tempfile.TemporaryDirectory(prefix="classmod-int8-") as scratch_name:
        scratch = Path(scratch_name)
        path = unpack_default_encoder(scratch / "models")
        sha256 = verify_encoder(path)
        tokenizer = load_tokenizer(path)
        heads = load_heads(default_heads_dir(), encoder_sha256=sha256)
        torch_forward = TorchForward.load(path, threads=None)
        _onnx_engines.build_onnx_session(
            "onnx", torch_forward.model, torch_forward.tokenizer, device="cpu",
            checkpoint_sha256=sha256, cache_dir=scratch, threads=None,
        )  # fmt: skip
        fp32 = next(scratch.glob("onnx-*.onnx"))

        def encode(model_file: Path) -> tuple[np.ndarray, float]:
            session = _onnx_engines.load_onnx_session(model_file, device="cpu", threads=None)
            names = [each.name for each in session.get_inputs()]
            encoder = SentenceEncoder(path, sha256, tokenizer, OnnxForward(model_file.stem, session, names))
            encoder.encode(texts[:32])
            started = time.perf_counter()
            embeddings = encoder.encode(texts)
            return embeddings, (time.perf_counter() - started) * 1000 / len(texts)

        reference, reference_ms = encode(fp32)
        expected = heads.probabilities(reference, texts)

        def compare(model_file: Path) -> tuple[float, float, float]:
            found, ms = encode(model_file)
            cosine = float(np.min(np.sum(found * reference, axis=1)))
            moved = float(np.max(np.abs(heads.probabilities(found, texts) - expected)))
            return cosine, moved, ms

        prepared = scratch / "prepared.onnx"
        shape_inference.quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        print(f"{len(texts)} texts; fp32 ONNX {reference_ms:.2f} ms a text\n")
        print("| int8 setting | lowest cosine | largest head probability change | ms a text | speed-up |")
        print("|---|---|---|---|---|")
        for name, options in SETTINGS.items():
            target = scratch / "int8.onnx"
            quantization.quantize_dynamic(
                str(prepared), str(target), weight_type=quantization.QuantType.QInt8, **options
            )
            cosine, moved, ms = compare(target)
            speed = reference_ms / ms
            print(f"| {name} | {cosine:.4f} | {moved:.4f} | {ms:.2f} | ×{speed:.2f} |", flush=True)
        if args.per_node:
            model = onnx.load(str(prepared), load_external_data=False)
            weights = {initializer.name for initializer in model.graph.initializer}
            nodes = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
            print("\n| weight product quantised alone (per channel) | lowest cosine | largest head change |")
            print("|---|---|---|")
            for node in nodes:
                target = scratch / "one.onnx"
                quantization.quantize_dynamic(
                    str(prepared), str(target), weight_type=quantization.QuantType.QInt8,
                    per_channel=True, nodes_to_quantize=[node],
                )  # fmt: skip
                cosine, moved, _ = compare(target)
                print(f"| {node} | {cosine:.5f} | {moved:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
