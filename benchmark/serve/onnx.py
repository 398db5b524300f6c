"""ONNX variants of a finished run: the classifier exported to an ONNX graph, fp32 or with int8 MatMul weights."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np


def export_onnx(predictor, path: Path) -> None:
    """The classifier as an ONNX graph: input_ids and attention_mask in (any batch, any length), logits out."""
    import torch

    class Logits(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask)["logits"]

    wrapper = Logits(predictor.model).eval()
    # A padded and an unpadded row, so the traced graph keeps the attention-mask path.
    sample = predictor.encode(["央行宣布下调存款准备金率", "国足"])
    axes = {"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"}, "logits": {0: "batch"}}
    with warnings.catch_warnings():
        # The TorchScript-based exporter handles the harness's encoders with dynamic batch and length; torch
        # announces its retirement in favour of the dynamo exporter, whose graphs onnxruntime's quantiser
        # could not read here. Tracer warnings concern Python branches on shapes, which are re-checked below.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (sample["input_ids"], sample["attention_mask"]),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes=axes,
            dynamo=False,
        )
    predictor.model.eval()  # the exporter restores the wrapper's (training) mode on everything inside it


def quantize_onnx(source: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # its pre-processing advice
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)


def onnx_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def onnx_variant(fp32, model_dir: Path, int8: bool, texts: list[str], log):
    """(suffix, description, predictor, fill_model, extra figures) of the ONNX variant of a torch predictor, or
    None when the export fails or does not reproduce the model; its graph lives as long as the context."""
    import onnxruntime

    from benchmark.serve.predict import ONNX_FILE, OnnxPredictor, onnx_session

    with tempfile.TemporaryDirectory(prefix="onnx-") as scratch:
        exported = Path(scratch) / "fp32.onnx"
        try:
            export_onnx(fp32, exported)
        except Exception as error:  # the exporter's failures are many and version-specific; int8 still stands
            log(
                f"ONNX export of {fp32.backbone} failed, no ONNX variant: {type(error).__name__}: "
                f"{str(error).splitlines()[0][:200]}"
            )
            yield None
            return
        graph = exported
        if int8:
            graph = Path(scratch) / "int8.onnx"
            quantize_onnx(exported, graph)
        predictor = OnnxPredictor(
            onnx_session(graph), fp32.tokenizer, fp32.labels, fp32.backbone, fp32.max_length, fp32.truncation
        )
        check = fp32.logits(texts[:64], sort=False)
        difference = float(np.abs(predictor.logits(texts[:64], sort=False) - check).max())
        if not int8 and difference > 1e-3:
            log(
                f"ONNX export of {fp32.backbone} does not reproduce the model (logits differ by {difference:.2g}); "
                f"no ONNX variant"
            )
            yield None
            return

        def fill(folder: Path) -> None:
            folder.mkdir(parents=True)
            shutil.copyfile(graph, folder / ONNX_FILE)
            for name in model_dir.iterdir():  # tokenizer, labels and config; the weights are in the graph
                if name.is_file() and name.name != "model.safetensors":
                    shutil.copyfile(name, folder / name.name)

        suffix, description = (
            ("onnx-int8", "ONNX, MatMul weights quantised to int8 by onnxruntime")
            if int8
            else ("onnx", "ONNX export, fp32")
        )
        extra = {"onnxruntime": onnxruntime.__version__, "max_logit_difference_first_64": difference}
        yield suffix, description, predictor, fill, extra
