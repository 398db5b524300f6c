"""Serving variants of a finished run: int8 on the CPU, with their accuracy and latency measured here.

`python run.py --export results/<run> --int8` writes, beside the run:

- `<run>-int8/`: dynamic quantisation of every linear layer (`torch.ao.quantization.quantize_dynamic`: int8
  weights, activations quantised on the fly). Its `model/` holds the run's fp32 safetensors and
  `quantization.json`; loading re-quantises, which depends only on the weights, so nothing is pickled.
- `<run>-onnx-int8/`, where onnxruntime is installed (`pip install -e ".[serve]"`): the model exported to ONNX
  and its MatMul weights quantised to int8 by onnxruntime; `model/model.onnx` holds the graph and the weights.
- Without `--int8`, `<run>-onnx/`: the fp32 ONNX export.

Each variant is a run of its own through the driver (benchmark.run.driver), method `ExportVariant`: an ordinary
results folder (metrics.json with the source run's task, so the leaderboard ranks it beside the source;
report.txt; predictions.csv; model/) whose backbone is named `<backbone>-int8` and so on. Its test metrics come
from scoring the variant on the run's own test texts (read from its predictions.csv), and its timing holds,
measured on this machine in this process:

- `latency_ms_p50`, `latency_ms_p95`: one headline at a time (batch 1), over the first test headlines;
- `batch64_examples_per_second`: the whole test set in batches of 64, in file order (also given as
  `eval_examples_per_second`, the leaderboard's inference-cost column).

`export.reference_fp32` holds the same figures for the fp32 model, measured the same way in the same process,
and `export.speedup` the ratios, so a variant is always compared with its source on equal terms.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np

from benchmark.config import RunConfig, config_fields
from benchmark.data.splits import Split, Splits
from benchmark.errors import HarnessError
from benchmark.metrics import cross_entropy
from benchmark.record import METRICS_FILE, MODEL_FOLDER, RecordError, model_folder, read_record, read_test_examples
from benchmark.run.driver import run_method
from benchmark.run.method import Fitted, Method, Scored
from benchmark.serve.onnx import onnx_available, onnx_variant
from benchmark.serve.variant import BATCH_SIZE, LATENCY_TEXTS, measure
from benchmark.settings import Settings


class ExportVariant(Method):
    """One serving form of a finished run's model, scored on the run's own test texts."""

    def __init__(
        self,
        run_dir: Path,
        source,
        suffix: str,
        description: str,
        predictor,
        fill_model,
        extra: dict,
        reference: dict,
        latency_texts: int,
        log=print,
    ):
        known = {spec.name for spec in config_fields()}
        config = RunConfig(**{k: v for k, v in source.config.items() if k in known})
        # A variant of a tuning trial stays a trial (never ranked), one of chosen settings stays tuned.
        super().__init__(Settings(config, {}, tuning=source.tuning or None), backbone=None)
        self.run_dir, self.source, self.suffix, self.description = run_dir, source, suffix, description
        self.variant, self.reference, self.fill_model, self.extra = predictor, reference, fill_model, extra
        self.latency_texts, self.log = latency_texts, log
        self.title = f" ({description}, from run {source.run_id})"

    @property
    def name(self) -> str:
        return f"{self.source.backbone.name}-{self.suffix}"

    @property
    def selects_on_dev(self) -> bool:
        return False  # a variant is scored on the test texts alone; a trial's dev scores are its source's

    def read(self, splits=None) -> Splits:
        texts, gold = read_test_examples(self.run_dir, self.source.task.labels)
        none = Split([], np.zeros(0, dtype=np.int64), "")
        task = self.source.task
        return Splits(
            task.dataset,
            task.protocol,
            task.labels,
            none,
            none,
            Split(texts, gold, str(self.run_dir)),
            task.files,
            recorded=task,
        )

    @contextlib.contextmanager
    def folder(self):
        folder = self.run_dir.parent / f"{self.run_dir.name}-{self.suffix}"
        if (folder / METRICS_FILE).exists():
            raise HarnessError(f"{folder} exists already; remove it to export again")
        shutil.rmtree(folder, ignore_errors=True)  # an unfinished earlier attempt
        folder.mkdir(parents=True)
        try:
            yield folder
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def fit(self, run_dir: Path) -> Fitted:
        source = self.source
        return Fitted(
            backbone=dataclasses.replace(
                source.backbone, name=self.name, source=f"{source.run_id} ({self.description})"
            ),
            training=source.training,
        )

    def score(self, name: str) -> Scored:
        split = getattr(self.splits, name)
        self.measured = measured = measure(self.variant, split.texts, self.latency_texts)
        logits, reference = measured["logits"], self.reference
        predicted = logits.argmax(axis=1)
        accuracy = float((predicted == split.labels).mean())
        figures = {key: measured[key] for key in ("latency_ms_p50", "latency_ms_p95", "batch64_examples_per_second")}
        reference_figures = {key: reference[key] for key in figures}
        export = {
            "from_run": self.source.run_id,
            "variant": self.suffix,
            "method": self.description,
            "reference_fp32": {"accuracy": reference["accuracy"], **reference_figures},
            "accuracy_change_points": 100 * (accuracy - reference["accuracy"]),
            "agreement_with_fp32": float((predicted == reference["logits"].argmax(axis=1)).mean()),
            "speedup": {
                "batch64_throughput": figures["batch64_examples_per_second"]
                / reference_figures["batch64_examples_per_second"],
                "latency_p50": reference_figures["latency_ms_p50"] / figures["latency_ms_p50"],
            },
            **self.extra,
        }
        self.log(
            f"{self.name}: accuracy {accuracy:.4f} ({export['accuracy_change_points']:+.2f} points), p50 "
            f"{figures['latency_ms_p50']:.2f} ms, p95 {figures['latency_ms_p95']:.2f} ms, batch 64 "
            f"{figures['batch64_examples_per_second']:.0f}/s ({export['speedup']['batch64_throughput']:.2f}x fp32)"
        )
        return Scored(
            logits,
            cross_entropy(logits.astype(np.float64), split.labels),
            measured["batch64_examples_per_second"],
            sections={"export": export},
            timing={**figures, "latency_texts": measured["latency_texts"], "batch_size": BATCH_SIZE},
        )

    def predictor(self):
        return self.variant

    def inference_cost(self, texts: list[str]) -> dict:
        return self.measured["inference"]  # timed while scoring, on this machine's CPU

    def config_record(self) -> dict:
        return self.source.config

    def environment(self) -> dict:
        from benchmark.environment import environment

        return environment()

    def save(self, run_dir: Path) -> None:
        self.fill_model(run_dir / MODEL_FOLDER)


def export_run(
    run_dir: Path, *, int8: bool = True, onnx: bool | None = None, latency_texts: int = LATENCY_TEXTS, log=print
) -> list[Path]:
    """Write the serving variants of a finished run (see the module docstring) and return their folders.

    onnx: True requires onnxruntime, False skips ONNX, None exports ONNX where onnxruntime is installed.
    """
    import copy

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
        if (run_dir.parent / f"{run_dir.name}-{suffix}" / METRICS_FILE).exists():
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
    extra = {"threads": torch.get_num_threads()}
    variants = []
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

        def copy_model(folder: Path) -> None:
            shutil.copytree(model_dir, folder)
            (folder / QUANTIZATION_FILE).write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")

        variants.append(
            (
                "int8",
                "dynamic int8 quantisation of the linear layers (torch)",
                quantized,
                copy_model,
                {**extra, "engine": torch.backends.quantized.engine},
            )
        )
    written = [
        run_method(ExportVariant(run_dir, source, *variant, reference, latency_texts, log)) for variant in variants
    ]
    if onnx:
        with onnx_variant(fp32, model_dir, int8, texts, log) as found:
            if found is not None:
                suffix, description, predictor, fill, more = found
                written.append(
                    run_method(
                        ExportVariant(
                            run_dir,
                            source,
                            suffix,
                            description,
                            predictor,
                            fill,
                            {**extra, **more},
                            reference,
                            latency_texts,
                            log,
                        )
                    )
                )
    return written
