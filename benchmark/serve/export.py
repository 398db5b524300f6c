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
import json
import shutil
from pathlib import Path

from benchmark.errors import HarnessError
from benchmark.record import (
    METRICS_FILE,
    RecordError,
    model_folder,
    read_record,
    read_test_examples,
)
from benchmark.serve.onnx import export_onnx_variants, onnx_available
from benchmark.serve.variant import LATENCY_TEXTS, measure, write_variant


def export_run(
    run_dir: Path, *, int8: bool = True, onnx: bool | None = None, latency_texts: int = LATENCY_TEXTS, log=print
) -> list[Path]:
    """Write the serving variants of a finished run (see the module docstring) and return their folders.

    onnx: True requires onnxruntime, False skips ONNX, None exports ONNX where onnxruntime is installed.
    """
    import torch

    from benchmark.serve.predict import QUANTIZATION_FILE, TorchPredictor, load_predictor, quantize_int8

    run_dir = Path(run_dir)
    model_dir = model_folder(run_dir)
    if model_dir == run_dir:
        raise HarnessError(
            f"{run_dir}: give the run folder (with metrics.json, predictions.csv and model/), not its model folder"
        )
    try:
        source = read_record(run_dir)
    except RecordError as error:
        raise HarnessError(f"{run_dir / METRICS_FILE}: {error}; --export needs a finished run") from None
    if (model_dir / QUANTIZATION_FILE).is_file() or not (model_dir / "model.safetensors").is_file():
        held = (
            "an int8 variant already"
            if (model_dir / QUANTIZATION_FILE).is_file()
            else "another kind of model (a tfidf model is a sparse linear model already; it needs no quantising)"
        )
        raise HarnessError(
            f"{run_dir}: --export starts from a run's fp32 torch model (model/model.safetensors); this run holds {held}"
        )
    if onnx is None:
        onnx = onnx_available()
        if not onnx:
            log('onnxruntime is not installed: no ONNX variant (pip install -e ".[serve]" adds it)')
    elif onnx and not onnx_available():
        raise HarnessError('ONNX export needs onnx and onnxruntime: pip install -e ".[serve]"')
    if not int8 and not onnx:
        raise HarnessError(
            "nothing to export: --export RUN --int8 writes the int8 variant; without --int8 the "
            'export is an fp32 ONNX model, which needs onnxruntime (pip install -e ".[serve]")'
        )

    planned = (["int8"] if int8 else []) + (["onnx-int8" if int8 else "onnx"] if onnx else [])
    for suffix in planned:  # before the minutes of measuring, not after
        if (run_dir.parent / f"{run_dir.name}-{suffix}" / "metrics.json").exists():
            raise HarnessError(
                f"{run_dir.parent / f'{run_dir.name}-{suffix}'} exists already; remove it to export again"
            )
    texts, gold = read_test_examples(run_dir, source.task.labels)
    fp32 = load_predictor(run_dir)
    if not isinstance(fp32, TorchPredictor):
        raise HarnessError(f"{run_dir}: not a torch model; nothing to export")
    log(f"measuring fp32 {fp32.backbone} on {len(texts)} test texts ({torch.get_num_threads()} CPU threads)")
    reference = measure(fp32, texts, latency_texts)
    reference["accuracy"] = float((reference["logits"].argmax(axis=1) == gold).mean())
    log(
        f"fp32: accuracy {reference['accuracy']:.4f}, p50 {reference['latency_ms_p50']:.2f} ms, p95 "
        f"{reference['latency_ms_p95']:.2f} ms, batch 64 {reference['batch64_examples_per_second']:.0f}/s"
    )
    written = []
    extra = {"threads": torch.get_num_threads()}

    def copy_model(quantization: dict | None):
        def fill(folder: Path) -> None:
            shutil.copytree(model_dir, folder)
            if quantization:
                (folder / QUANTIZATION_FILE).write_text(json.dumps(quantization, indent=1) + "\n", encoding="utf-8")

        return fill

    if int8:
        quantized = TorchPredictor(
            quantize_int8(copy.deepcopy(fp32.model)),
            fp32.tokenizer,
            fp32.labels,
            fp32.backbone,
            fp32.max_length,
            fp32.truncation,
        )
        spec = {
            "method": "torch.ao.quantization.quantize_dynamic",
            "modules": ["torch.nn.Linear"],
            "dtype": "qint8",
            "note": "re-applied to the fp32 weights in model.safetensors at load time",
        }
        written.append(
            write_variant(
                run_dir,
                source,
                "int8",
                "dynamic int8 quantisation of the linear layers (torch)",
                texts,
                gold,
                measure(quantized, texts, latency_texts),
                reference,
                copy_model(spec),
                {**extra, "engine": torch.backends.quantized.engine},
                log,
            )
        )
    if onnx:
        written.extend(
            export_onnx_variants(
                run_dir, source, model_dir, fp32, texts, gold, reference, int8, latency_texts, extra, log
            )
        )
    return written
