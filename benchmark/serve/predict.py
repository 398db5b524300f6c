"""Classify new texts with any saved run: `python run.py --predict RUN "text" ...` or `--predict-file FILE`.

A run folder's `model/` is loaded by what it holds, never by unpickling:

| model/ holds | what it is | loaded as |
|---|---|---|
| `model.safetensors` | a fine-tuned transformer or TextCNN | `benchmark.loading.classifier.load_classifier` |
| the same and `quantization.json` | an `--export --int8` variant | the fp32 weights, re-quantised (deterministic) |
| `model.onnx` | an ONNX export | onnxruntime (`pip install -e ".[serve]"`) |
| `tfidf.json`, `tfidf.safetensors` | the tfidf baseline | `benchmark.baselines.TfidfModel` |

Every loader returns a `Predictor`: label names and a `logits(texts)` method, which is all that distillation
(teacher logits), export (timing) and the command line need.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

from benchmark.atomic import write_text
from benchmark.errors import HarnessError
from benchmark.record import METRICS_FILE, MODEL_FOLDER, model_folder
from benchmark.utf8 import read_utf8

QUANTIZATION_FILE = "quantization.json"
ONNX_FILE = "model.onnx"


class Predictor:
    """Label names and logits for a list of texts; subclasses hold the model."""

    labels: list[str]
    backbone: str
    kind: str

    def logits(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        raise NotImplementedError

    def probabilities(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        from benchmark.metrics import probabilities

        return probabilities(self.logits(texts, batch_size))


def _chunks(texts: list[str], batch_size: int, sort: bool):
    """Batches of (positions, texts); sorted by length, batches carry little padding (positions restore order)."""
    order = np.argsort([len(t) for t in texts], kind="stable") if sort else np.arange(len(texts))
    for start in range(0, len(texts), batch_size):
        positions = order[start : start + batch_size]
        yield positions, [texts[i] for i in positions]


class TorchPredictor(Predictor):
    kind = "torch"

    def __init__(self, model, tokenizer, labels: list[str], backbone: str, max_length: int, truncation: str = "head"):
        self.model, self.tokenizer, self.labels = model, tokenizer, labels
        self.backbone, self.max_length, self.truncation = backbone, max_length, truncation

    def encode(self, texts: list[str]) -> dict:
        """The texts as the run encoded them: cut to its length the way it cut them (head, tail or both)."""
        if self.truncation != "head":
            return self._encode_cut(texts)
        encoded = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
            return_token_type_ids=False,
        )
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

    def _encode_cut(self, texts: list[str]) -> dict:
        from benchmark.data.encode import PaddingCollator, special_tokens_around, truncate

        rows = self.tokenizer(texts, truncation=False, return_token_type_ids=False)["input_ids"]
        offsets = np.concatenate([[0], np.cumsum([len(row) for row in rows])]).astype(np.int64)
        ids = np.concatenate([np.asarray(row, dtype=np.int64) for row in rows])
        around = special_tokens_around(self.tokenizer)
        ids, offsets, _ = truncate(ids, offsets, self.max_length, self.truncation, around)
        pad = PaddingCollator(self.tokenizer.pad_token_id, padding_side=self.tokenizer.padding_side)
        batch = pad([{"input_ids": ids[a:b], "labels": 0} for a, b in zip(offsets[:-1], offsets[1:], strict=True)])
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}

    def logits(self, texts: list[str], batch_size: int = 64, sort: bool = True) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            for positions, chunk in _chunks(texts, batch_size, sort):
                batch = {name: tensor.to(device) for name, tensor in self.encode(chunk).items()}
                out[positions] = self.model(**batch)["logits"].float().cpu().numpy()
        return out


class OnnxPredictor(TorchPredictor):
    kind = "onnx"

    def __init__(self, session, tokenizer, labels: list[str], backbone: str, max_length: int, truncation: str = "head"):
        super().__init__(None, tokenizer, labels, backbone, max_length, truncation)
        self.session = session

    def logits(self, texts: list[str], batch_size: int = 64, sort: bool = True) -> np.ndarray:
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for positions, chunk in _chunks(texts, batch_size, sort):
            feed = {name: tensor.numpy() for name, tensor in self.encode(chunk).items()}
            out[positions] = self.session.run(["logits"], feed)[0]
        return out


class TfidfPredictor(Predictor):
    kind = "tfidf"

    def __init__(self, model, labels: list[str], backbone: str):
        self.model, self.labels, self.backbone = model, labels, backbone

    def logits(self, texts: list[str], batch_size: int = 64, sort: bool = False) -> np.ndarray:
        return self.model.logits(texts).astype(np.float32)


def trained_input(folder: Path, saved: dict) -> tuple[int, str]:
    """The input length and truncation the model in `folder` was trained with: from its labels.json (`saved`),
    or, for a folder written before labels.json held them, from the metrics.json of the run beside it."""
    if "max_length" in saved:
        return int(saved["max_length"]), str(saved.get("truncation") or "head")
    path = folder.parent / METRICS_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8")).get("config") or {} if path.is_file() else {}
    except (OSError, ValueError, AttributeError):
        config = {}
    if not config.get("max_length"):
        raise HarnessError(
            f"{folder / 'labels.json'} does not say the input length the model was trained with, and no run's "
            f'{METRICS_FILE} is beside the folder; add "max_length" (and "truncation") to labels.json'
        )
    return int(config["max_length"]), str(config.get("truncation") or "head")


def onnx_session(path: Path):
    try:
        import onnxruntime
    except ImportError:
        raise HarnessError(
            f"{path} is an ONNX model and onnxruntime is not installed; install the serving extra: "
            f'pip install -e ".[serve]"'
        ) from None
    import torch

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initialisers are noise to a user
    # As many threads as torch uses (OMP_NUM_THREADS or all cores), so torch and ONNX timings compare fairly.
    options.intra_op_num_threads = torch.get_num_threads()
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def quantize_int8(model):
    """Dynamic int8 quantisation of every nn.Linear (weights int8 per tensor, activations quantised per batch).

    It depends only on the fp32 weights, so re-quantising a saved fp32 model gives the same int8 model every
    time; that is how an int8 variant is stored without pickling a quantised module.
    """
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        # torch deprecates its quantised tensors in favour of torchao; they still work here, and nothing a user
        # can act on follows from the warning.
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def load_predictor(path: Path) -> Predictor:
    """A Predictor for a run folder (or its model folder), whatever kind of model it holds."""
    folder = model_folder(path)
    try:
        saved = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
        labels, backbone = list(saved["labels"]), str(saved["backbone"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise HarnessError(
            f'{folder / "labels.json"}: unreadable ({error}); expected {{"backbone": NAME, "labels": [...]}}'
        ) from None
    if (folder / "tfidf.json").is_file():
        from benchmark.baselines.tfidf import TfidfModel

        model, labels = TfidfModel.load(folder)
        return TfidfPredictor(model, labels, backbone)

    max_length, truncation = trained_input(folder, saved)
    from benchmark.registry import get_backbone

    if (folder / ONNX_FILE).is_file():
        from benchmark.loading.checkpoint import load_tokenizer

        tokenizer = load_tokenizer(get_backbone(backbone), folder)
        return OnnxPredictor(onnx_session(folder / ONNX_FILE), tokenizer, labels, backbone, max_length, truncation)
    from benchmark.loading.classifier import load_classifier

    model, tokenizer, labels = load_classifier(folder)
    if (folder / QUANTIZATION_FILE).is_file():
        model = quantize_int8(model)
    return TorchPredictor(model, tokenizer, labels, backbone, max_length, truncation)


def read_texts(path: Path) -> list[str]:
    """One text a line; a THUCNews-layout line (`text<TAB>label`) gives its text. Blank lines are errors."""
    path = Path(path)
    content = read_utf8(path, "a text file with one text a line")
    texts = []
    for number, line in enumerate(content.splitlines(), 1):
        text = line.rsplit("\t", 1)[0] if "\t" in line else line
        if not text.strip():
            raise HarnessError(f"{path}:{number}: empty text; expected one non-empty text a line")
        texts.append(text)
    if not texts:
        raise HarnessError(f"{path}: the file holds no texts; expected one text a line")
    return texts


def check_texts(texts: list[str]) -> list[str]:
    for number, text in enumerate(texts, 1):
        if not text.strip():
            raise HarnessError(f"text {number} on the command line is empty; expected a non-empty text to classify")
    return texts


# The first line of every predictions CSV written here: an existing file that starts with it may be replaced.
PREDICTIONS_HEADER = "index,text,predicted,probability"


def predictions_table(texts: list[str], labels: list[str], probabilities: np.ndarray) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PREDICTIONS_HEADER.split(","))
    for i, (text, row) in enumerate(zip(texts, probabilities, strict=True)):
        writer.writerow([i, text, labels[int(row.argmax())], f"{row.max():.6f}"])
    return buffer.getvalue()


def _written_here(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.readline(len(PREDICTIONS_HEADER) + 3).rstrip(b"\r\n") == PREDICTIONS_HEADER.encode()
    except OSError:
        return False


def check_output(target: Path, given: bool, source: Path, run: Path, force: bool) -> None:
    """Nothing the user owns is overwritten: the CSV never replaces the texts read nor a file of the run (paths
    compared resolved, through symlinks and hard links), and an existing file only when it is a predictions CSV
    written here or `force` says so."""
    named = f"--output {target}" if given else f"the predictions file {target}"
    if target.resolve() == source.resolve() or (target.exists() and source.exists() and target.samefile(source)):
        raise HarnessError(f"{named} is the input file {source}: its texts would be replaced; choose another --output")
    if run.resolve() in (target.resolve(), *target.resolve().parents):
        raise HarnessError(
            f"{named} is inside the run folder {run}, whose files are never replaced; choose another --output"
        )
    if target.is_dir():
        raise HarnessError(f"{named} is a folder; expected the name of the CSV file to write")
    if target.exists() and not force and not _written_here(target):
        raise HarnessError(
            f"{target} exists and is not a predictions file written by --predict-file; --force replaces it"
        )


def predict_command(
    run: str | None,
    texts: list[str],
    file: str | None = None,
    output: str | None = None,
    out=None,
    force: bool = False,
) -> int:
    """What `--predict` does: texts on the command line are printed as `label<TAB>probability<TAB>text`; a file's
    predictions go to a CSV (`--output PATH`, default FILE's name with `.predictions.csv`; `-` for stdout), which
    replaces an existing file only as check_output allows."""
    out = out or sys.stdout
    if not run:
        raise HarnessError("--predict-file needs the run to predict with: --predict RUN --predict-file FILE")
    if texts and file:
        raise HarnessError("give texts on the command line or --predict-file FILE, not both")
    if not texts and not file:
        raise HarnessError("nothing to classify: give texts after --predict RUN, or --predict-file FILE")
    folder = model_folder(Path(run))  # a missing run is reported before the texts are read
    target = Path(output) if output else Path(file).with_suffix(".predictions.csv") if file else None
    if target is not None and output != "-":
        check_output(target, bool(output), Path(file), folder.parent if folder.name == MODEL_FOLDER else folder, force)
    texts = read_texts(Path(file)) if file else check_texts(list(texts))
    predictor = load_predictor(Path(run))
    probabilities = predictor.probabilities(texts)
    if not file:
        for text, row in zip(texts, probabilities, strict=True):
            print(f"{predictor.labels[int(row.argmax())]}\t{row.max():.4f}\t{text}", file=out)
        return 0
    table = predictions_table(texts, predictor.labels, probabilities)
    if output == "-":
        out.write(table)
        return 0
    write_text(target, table)  # atomically: a reader sees the old file or the new one
    counts = np.bincount(probabilities.argmax(axis=1), minlength=len(predictor.labels))
    shown = ", ".join(f"{name} {count}" for name, count in zip(predictor.labels, counts, strict=True) if count)
    print(f"{len(texts)} texts classified with {predictor.backbone} ({shown}); predictions in {target}", file=out)
    return 0
