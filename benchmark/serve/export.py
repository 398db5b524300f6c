"""Serving variants of a finished run: int8 on the CPU, with their accuracy and latency measured here.

`python run.py --export results/<run> --int8` writes, beside the run:

- `<run>-int8/`: dynamic quantisation of every linear layer (`torch.ao.quantization.quantize_dynamic`: int8
  weights, activations quantised on the fly). Its `model/` holds the run's fp32 safetensors and
  `quantization.json`; loading re-quantises, which depends only on the weights, so nothing is pickled.
- `<run>-onnx-int8/`, where onnxruntime is installed (`pip install -e ".[serve]"`): the model exported to ONNX
  and its MatMul weights quantised to int8 by onnxruntime; `model/model.onnx` holds the graph and the weights.
- Without `--int8`, `<run>-onnx/`: the fp32 ONNX export.

Each folder is an ordinary results folder (metrics.json with the source run's task, so the leaderboard ranks it
beside the source; report.txt; predictions.csv; model/) whose backbone is named `<backbone>-int8` and so on.
Its test metrics come from scoring the variant on the run's own test texts (read from its predictions.csv),
and its timing holds, measured on this machine in this process:

- `latency_ms_p50`, `latency_ms_p95`: one headline at a time (batch 1), over the first test headlines;
- `batch64_examples_per_second`: the whole test set in batches of 64, in file order (also given as
  `eval_examples_per_second`, the leaderboard's inference-cost column).

`export.reference_fp32` holds the same figures for the fp32 model, measured the same way in the same process,
and `export.speedup` the ratios, so a variant is always compared with its source on equal terms.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from benchmark.environment import environment, peak_memory_mb
from benchmark.errors import HarnessError
from benchmark.metrics import cross_entropy, score
from benchmark.record import (
    ABSENT,
    METRICS_FILE,
    MODEL_FOLDER,
    MetricsRecord,
    RecordError,
    RunRecord,
    TimingRecord,
    model_folder,
    read_record,
    read_test_examples,
    write_results,
)

LATENCY_TEXTS = 200  # headlines timed one by one (after a short warm-up)
BATCH_SIZE = 64


def measure(predictor, texts: list[str], latency_texts: int = LATENCY_TEXTS, batch_size: int = BATCH_SIZE) -> dict:
    """Logits of every text (batches of 64, file order, timed) and the latency of single headlines."""
    began = time.perf_counter()
    predictor.logits(texts[:batch_size], batch_size, sort=False)  # warm-up: allocations, lazy initialisation
    started = time.perf_counter()
    logits = predictor.logits(texts, batch_size, sort=False)
    seconds = time.perf_counter() - started
    timed = texts[:latency_texts]
    for text in timed[:10]:
        predictor.logits([text], 1, sort=False)
    latencies = []
    for text in timed:
        started = time.perf_counter()
        predictor.logits([text], 1, sort=False)
        latencies.append(1000 * (time.perf_counter() - started))
    return {"logits": logits,
            "batch64_examples_per_second": len(texts) / seconds,
            "latency_ms_p50": float(np.percentile(latencies, 50)),
            "latency_ms_p95": float(np.percentile(latencies, 95)),
            "latency_texts": len(timed), "seconds": time.perf_counter() - began}


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
    axes = {"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
            "logits": {0: "batch"}}
    with warnings.catch_warnings():
        # The TorchScript-based exporter handles the harness's encoders with dynamic batch and length; torch
        # announces its retirement in favour of the dynamo exporter, whose graphs onnxruntime's quantiser
        # could not read here. Tracer warnings concern Python branches on shapes, which are re-checked below.
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (sample["input_ids"], sample["attention_mask"]), str(path),
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes=axes, dynamo=False)
    predictor.model.eval()  # the exporter restores the wrapper's (training) mode on everything inside it


def quantize_onnx(source: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # its pre-processing advice
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)


def _onnx_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _write_variant(run_dir: Path, source: RunRecord, suffix: str, description: str, texts: list[str],
                   gold: np.ndarray, measured: dict, reference: dict, fill_model, extra: dict, log) -> Path:
    """One results folder for one variant: the source run's record with this variant's scores and timing."""
    folder = run_dir.parent / f"{run_dir.name}-{suffix}"
    if (folder / METRICS_FILE).exists():
        raise HarnessError(f"{folder} exists already; remove it to export again")
    shutil.rmtree(folder, ignore_errors=True)  # an unfinished earlier attempt
    folder.mkdir(parents=True)
    logits = measured["logits"]
    predicted = logits.argmax(axis=1)
    metrics = {**score(gold, predicted, source.task.labels), "loss": cross_entropy(logits.astype(np.float64), gold)}
    fill_model(folder / MODEL_FOLDER)
    figures = {key: measured[key] for key in ("latency_ms_p50", "latency_ms_p95", "batch64_examples_per_second")}
    reference_figures = {key: reference[key] for key in figures}
    name = f"{source.backbone.name}-{suffix}"
    record = dataclasses.replace(
        source,
        run_id=folder.name,
        backbone=dataclasses.replace(source.backbone, name=name, source=f"{source.run_id} ({description})"),
        environment=environment(),
        timing=TimingRecord(wall_seconds=measured["seconds"], train_seconds=None, train_examples_per_second=None,
                            eval_examples_per_second=measured["batch64_examples_per_second"],
                            peak_memory_mb=peak_memory_mb(), **figures, latency_texts=measured["latency_texts"],
                            batch_size=BATCH_SIZE),
        metrics=MetricsRecord(**metrics),
        distillation=ABSENT,
        export={"from_run": source.run_id, "variant": suffix, "method": description,
                "reference_fp32": {"accuracy": reference["accuracy"], **reference_figures},
                "accuracy_change_points": 100 * (metrics["accuracy"] - reference["accuracy"]),
                "agreement_with_fp32": float((predicted == reference["logits"].argmax(axis=1)).mean()),
                "speedup": {"batch64_throughput": figures["batch64_examples_per_second"]
                            / reference_figures["batch64_examples_per_second"],
                            "latency_p50": reference_figures["latency_ms_p50"] / figures["latency_ms_p50"]},
                **extra},
    )
    header = f"{name} on {source.task.dataset} ({source.task.protocol}), {description}, from run {source.run_id}"
    write_results(folder, record, texts, gold, logits, header)
    log(f"{name}: accuracy {metrics['accuracy']:.4f} ({record.export['accuracy_change_points']:+.2f} points), "
        f"p50 {figures['latency_ms_p50']:.2f} ms, p95 {figures['latency_ms_p95']:.2f} ms, batch 64 "
        f"{figures['batch64_examples_per_second']:.0f}/s ({record.export['speedup']['batch64_throughput']:.2f}x "
        f"fp32); results in {folder}")
    return folder


def export_run(run_dir: Path, *, int8: bool = True, onnx: bool | None = None, latency_texts: int = LATENCY_TEXTS,
               log=print) -> list[Path]:
    """Write the serving variants of a finished run (see the module docstring) and return their folders.

    onnx: True requires onnxruntime, False skips ONNX, None exports ONNX where onnxruntime is installed.
    """
    import torch

    from benchmark.serve.predict import QUANTIZATION_FILE, TorchPredictor, load_predictor, quantize_int8

    run_dir = Path(run_dir)
    model_dir = model_folder(run_dir)
    if model_dir == run_dir:
        raise HarnessError(f"{run_dir}: give the run folder (with metrics.json, predictions.csv and model/), not "
                           f"its model folder")
    try:
        source = read_record(run_dir)
    except RecordError as error:
        raise HarnessError(f"{run_dir / METRICS_FILE}: {error}; --export needs a finished run") from None
    if (model_dir / QUANTIZATION_FILE).is_file() or not (model_dir / "model.safetensors").is_file():
        held = "an int8 variant already" if (model_dir / QUANTIZATION_FILE).is_file() else \
            "another kind of model (a tfidf model is a sparse linear model already; it needs no quantising)"
        raise HarnessError(f"{run_dir}: --export starts from a run's fp32 torch model (model/model.safetensors); "
                           f"this run holds {held}")
    if onnx is None:
        onnx = _onnx_available()
        if not onnx:
            log("onnxruntime is not installed: no ONNX variant (pip install -e \".[serve]\" adds it)")
    elif onnx and not _onnx_available():
        raise HarnessError("ONNX export needs onnx and onnxruntime: pip install -e \".[serve]\"")
    if not int8 and not onnx:
        raise HarnessError("nothing to export: --export RUN --int8 writes the int8 variant; without --int8 the "
                           "export is an fp32 ONNX model, which needs onnxruntime (pip install -e \".[serve]\")")

    planned = (["int8"] if int8 else []) + (["onnx-int8" if int8 else "onnx"] if onnx else [])
    for suffix in planned:  # before the minutes of measuring, not after
        if (run_dir.parent / f"{run_dir.name}-{suffix}" / "metrics.json").exists():
            raise HarnessError(f"{run_dir.parent / f'{run_dir.name}-{suffix}'} exists already; remove it to export "
                               f"again")
    texts, gold = read_test_examples(run_dir, source.task.labels)
    fp32 = load_predictor(run_dir)
    if not isinstance(fp32, TorchPredictor):
        raise HarnessError(f"{run_dir}: not a torch model; nothing to export")
    log(f"measuring fp32 {fp32.backbone} on {len(texts)} test texts ({torch.get_num_threads()} CPU threads)")
    reference = measure(fp32, texts, latency_texts)
    reference["accuracy"] = float((reference["logits"].argmax(axis=1) == gold).mean())
    log(f"fp32: accuracy {reference['accuracy']:.4f}, p50 {reference['latency_ms_p50']:.2f} ms, p95 "
        f"{reference['latency_ms_p95']:.2f} ms, batch 64 {reference['batch64_examples_per_second']:.0f}/s")
    written = []
    extra = {"threads": torch.get_num_threads()}

    def copy_model(quantization: dict | None):
        def fill(folder: Path) -> None:
            shutil.copytree(model_dir, folder)
            if quantization:
                (folder / QUANTIZATION_FILE).write_text(json.dumps(quantization, indent=1) + "\n", encoding="utf-8")
        return fill

    if int8:
        quantized = TorchPredictor(quantize_int8(copy.deepcopy(fp32.model)), fp32.tokenizer, fp32.labels,
                                   fp32.backbone, fp32.max_length)
        spec = {"method": "torch.ao.quantization.quantize_dynamic", "modules": ["torch.nn.Linear"],
                "dtype": "qint8", "note": "re-applied to the fp32 weights in model.safetensors at load time"}
        written.append(_write_variant(run_dir, source, "int8", "dynamic int8 quantisation of the linear layers "
                                      "(torch)", texts, gold, measure(quantized, texts, latency_texts), reference,
                                      copy_model(spec), {**extra, "engine": torch.backends.quantized.engine}, log))
    if onnx:
        written.extend(_export_onnx_variants(run_dir, source, model_dir, fp32, texts, gold, reference, int8,
                                             latency_texts, extra, log))
    return written


def _export_onnx_variants(run_dir, source, model_dir, fp32, texts, gold, reference, int8, latency_texts, extra,
                          log) -> list[Path]:
    import onnxruntime

    from benchmark.serve.predict import ONNX_FILE, OnnxPredictor, _onnx_session

    with tempfile.TemporaryDirectory(prefix="onnx-") as scratch:
        exported = Path(scratch) / "fp32.onnx"
        try:
            export_onnx(fp32, exported)
        except Exception as error:  # the exporter's failures are many and version-specific; int8 still stands
            log(f"ONNX export of {fp32.backbone} failed, no ONNX variant: {type(error).__name__}: "
                f"{str(error).splitlines()[0][:200]}")
            return []
        graph = exported
        if int8:
            graph = Path(scratch) / "int8.onnx"
            quantize_onnx(exported, graph)
        predictor = OnnxPredictor(_onnx_session(graph), fp32.tokenizer, fp32.labels, fp32.backbone,
                                  fp32.max_length)
        check = fp32.logits(texts[:64], sort=False)
        difference = float(np.abs(predictor.logits(texts[:64], sort=False) - check).max())
        if not int8 and difference > 1e-3:
            log(f"ONNX export of {fp32.backbone} does not reproduce the model (logits differ by {difference:.2g}); "
                f"no ONNX variant")
            return []

        def fill(folder: Path) -> None:
            folder.mkdir(parents=True)
            shutil.copyfile(graph, folder / ONNX_FILE)
            for name in model_dir.iterdir():  # tokenizer, labels and config; the weights are in the graph
                if name.is_file() and name.name != "model.safetensors":
                    shutil.copyfile(name, folder / name.name)

        suffix, description = ("onnx-int8", "ONNX, MatMul weights quantised to int8 by onnxruntime") if int8 \
            else ("onnx", "ONNX export, fp32")
        return [_write_variant(run_dir, source, suffix, description, texts, gold, measure(predictor, texts,
                                                                                           latency_texts),
                               reference, fill, {**extra, "onnxruntime": onnxruntime.__version__,
                                                 "max_logit_difference_first_64": difference}, log)]
