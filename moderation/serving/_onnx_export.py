"""Building an ONNX engine file: the torch export, int8 quantisation and the weights moved beside the graph.

Only the cold path (:func:`moderation.serving._onnx_engines.build_onnx_session`, with the model loaded)
comes here: it needs torch and the ``onnx`` package, which a warm start never imports.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["SAMPLE_TEXTS", "export_onnx", "externalise", "quantise"]

logger = logging.getLogger(__name__)

# Two texts of different lengths, so batch and sequence are traced as dynamic, not as 1.
SAMPLE_TEXTS = ["hello everyone, see you in class tomorrow", "hi"]
# The exporter logs each graph rewrite at INFO and each torchvision operator it skips at WARNING.
_EXPORT_LOGGERS = ("torch.onnx", "onnxscript", "onnx_ir")


def externalise(built: Path, data_name: str) -> Path:
    """The built graph saved again with its weights in a data file named ``data_name`` beside it.

    ONNX Runtime maps such a file instead of copying the weights out of the graph, so the copy made
    while loading goes, and the pages of weights no text touches (most of the vocabulary's embedding
    rows) stay on disk: beside Detoxify the sentence encoder costs 44 MB less (``bench/heads.py``).
    """
    onnx: Any = importlib.import_module("onnx")
    graph = built.with_name("graph.onnx")
    onnx.save_model(
        onnx.load(str(built)),
        str(graph),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data_name,
        size_threshold=1024,  # small constants stay in the graph: shape inference reads them
    )
    return graph


def export_onnx(model: Any, tokenizer: Any, input_names: list[str], destination: Path) -> None:
    torch: Any = importlib.import_module("torch")
    sample = tokenizer(SAMPLE_TEXTS, return_tensors="pt", padding=True, truncation=True)
    inputs = {input_name: sample[input_name].to(model.device) for input_name in input_names}
    dynamic = torch.export.Dim.DYNAMIC
    model.eval()
    with warnings.catch_warnings(), _quiet(*_EXPORT_LOGGERS), _eager_attention(model):
        # torch 2.13's own exporter trips over its pytree deprecation; nothing classmod can change.
        warnings.filterwarnings("ignore", r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning)
        torch.onnx.export(
            model,
            (),
            str(destination),
            kwargs=inputs,
            input_names=input_names,
            output_names=["logits"],
            dynamic_shapes={input_name: {0: dynamic, 1: dynamic} for input_name in input_names},
            dynamo=True,
            external_data=False,
            verbose=False,
        )


@contextlib.contextmanager
def _eager_attention(model: Any) -> Iterator[None]:
    """Export attention as plain matmul, mask and softmax rather than through torch's SDPA.

    SDPA exports with a guard that zeroes fully masked rows, run over every head's whole attention
    matrix: on a 512-token window it took about a sixth of ONNX Runtime's time, and the eager export
    scores such windows 8 to 14% faster on the same weights. The model is put back as it was.
    """
    previous = getattr(getattr(model, "config", None), "_attn_implementation", None)
    switch: Any = getattr(model, "set_attn_implementation", None)
    switched = False
    if previous not in (None, "eager") and switch is not None:
        try:
            switch("eager")
            switched = True
        except (ValueError, ImportError) as exc:  # a model without eager attention exports as it is
            logger.info("exporting with %s attention (%s)", previous, type(exc).__name__)
    try:
        yield
    finally:
        if switched:
            switch(previous)


def quantise(fp32: Path, destination: Path, workspace: Path) -> None:
    quantization: Any = importlib.import_module("onnxruntime.quantization")
    shape_inference: Any = importlib.import_module("onnxruntime.quantization.shape_inference")
    prepared = workspace / "prepared.onnx"
    # The weights back inside the graph: the quantiser's pre-processing copies the graph file alone.
    onnx: Any = importlib.import_module("onnx")
    whole = workspace / "fp32.onnx"
    onnx.save_model(onnx.load(str(fp32)), str(whole))
    # Symbolic shape inference cannot follow the torch exporter's dynamic shapes; ONNX's own can.
    root = logging.getLogger()
    chatter = _QuantiserChatter()
    # The quantiser logs a line per tensor through the root logger, at INFO.
    root.addFilter(chatter)
    try:
        shape_inference.quant_pre_process(str(whole), str(prepared), skip_symbolic_shape=True)
        quantization.quantize_dynamic(
            str(prepared), str(destination), weight_type=quantization.QuantType.QInt8
        )
    finally:
        root.removeFilter(chatter)


class _QuantiserChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or "onnxruntime" not in record.pathname


@contextlib.contextmanager
def _quiet(*logger_names: str) -> Iterator[None]:
    loggers = [logging.getLogger(logger_name) for logger_name in logger_names]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for each, level in zip(loggers, levels, strict=True):
            each.setLevel(level)
