"""The "Config" half of the Config/Model interface: every hyper-parameter and path of one run.

Each field is a command-line flag (`max_length` is `--max-length`); its
default and help live here and nowhere else. The defaults reproduce the
reference setup: length 32, batch 128, lr 5e-5, 3 epochs, evaluate every 100
steps, stop after 1000 steps without dev-loss improvement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from benchmark.ranges import COUNT, FRACTION, POSITIVE, SEED, Range

DEFAULT_DATASET = "thucnews"
DATA_ROOT = "data"  # a registered dataset's files go to data/<name> unless --data-dir says otherwise
DEFAULT_MAX_LENGTH = 32  # for a folder of your own; a registered dataset declares its own
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"


def _flag(default, help: str, accepts: Range | None = None, **extra):
    return field(default=default, metadata={"help": help, "range": accepts, **extra})


@dataclass
class RunConfig:
    model: str = _flag(None, "backbone name from the registry (see --list)")
    model_path: str | None = _flag(None, "load the backbone from this local folder instead of its hub id")
    name: str | None = _flag(
        None,
        "run the checkpoint (--model-path, or the hub id) as one of its own, of --model's architecture, under this "
        "name: a small or home-trained model whose layers, width or vocabulary differ from the published "
        "backbone's. Its row carries this name and how it differs, and never pools with the published backbone",
    )
    cache_dir: str | None = _flag(None, "Hugging Face cache folder for hub downloads (default: HF_HOME)")
    offline: bool = _flag(
        False, "never use the network: models from the hub cache or --model-path, datasets from their folder"
    )

    dataset: str | None = _flag(
        None, "a registered dataset (see --list-datasets); thucnews unless --data-dir names a folder of your own"
    )
    data_dir: str | None = _flag(
        None,
        "a folder of your own with train/dev/test (.txt, .tsv, .csv or .jsonl) and "
        "class.txt, or with one labelled file (or that file itself), from which test and dev are carved; with "
        "--dataset, where that dataset's files are (default: data/<dataset>, downloaded there on first use)",
    )
    protocol: str | None = _flag(
        None,
        "which files become train, dev and test: see --list-datasets (default: the "
        "dataset's first); for a folder of your own, full (train/dev/test files), mini "
        "(train on dev with a held-out part, score on test) or one-file (test and dev carved from one labelled "
        "file; the default where that is all the folder holds)",
    )
    text_col: str = _flag("text", "text column of CSV/TSV/JSONL files")
    label_col: str = _flag("label", "label column of CSV/TSV/JSONL files (names or ids)")
    dev_split: float = _flag(
        0.1,
        "fraction held out for early stopping when there is no dev file (or under mini)",
        Range(0, 1, low_open=True, high_open=True),
    )
    test_split: float = _flag(
        0.1,
        "fraction of one labelled file held out as the test split (a folder holding one file, or --data-dir naming "
        "it: the one-file protocol); dev is then held out of the rest (--dev-split)",
        Range(0, 1, low_open=True, high_open=True),
    )
    split_seed: int = _flag(1, "seed of the held-out splits; fixed so every run is scored on the same split", SEED)

    # The upper bound is the model's: its config's max_position_embeddings (checked once the config is read).
    max_length: int | None = _flag(
        None,
        "maximum tokens per text, [CLS] and [SEP] included; at most the model's position limit (default: the "
        "dataset's, 32 for headlines; 32 for a folder of your own)",
        Range(2),
    )
    truncation: str | None = _flag(
        None,
        "which tokens a longer text keeps: head, tail, or head+tail (the first quarter and the last three "
        "quarters of the budget, best for long documents in Sun et al. 2019) (default: the dataset's, head)",
        choices=("head", "tail", "head+tail"),
    )
    on_bad_line: str = _flag(
        "error",
        "a malformed or empty row: error stops the run naming file and line; warn drops it and says so; skip "
        "drops it, printing how many and the first few (both are recorded)",
        choices=("error", "warn", "skip"),
    )
    dedupe: bool = _flag(False, "remove from train the texts that also appear in dev or test")
    batch_size: int = _flag(
        128,
        "training examples per device per forward pass; one optimiser step sees "
        "batch-size x processes x grad-accum examples (the effective batch)",
        COUNT,
    )
    eval_batch_size: int | None = _flag(
        None,
        "examples per evaluation batch per device (default: 512 on a GPU, "
        "64 on a CPU, where larger batches evaluate slower)",
        COUNT,
    )
    grad_accum: int = _flag(1, "gradient accumulation steps", COUNT)
    learning_rate: float = _flag(5e-5, "peak learning rate (AdamW)", POSITIVE)
    weight_decay: float = _flag(0.01, "AdamW weight decay", Range(0))
    warmup: float = _flag(0.05, "linear warm-up, as a fraction of all steps, then linear decay to 0", FRACTION)
    epochs: float = _flag(3.0, "training epochs (--max-steps, when given, decides the length instead)", POSITIVE)
    max_steps: int = _flag(-1, "stop after this many optimiser steps (overrides --epochs when > 0)", Range(1, unset=-1))
    dropout: float = _flag(0.1, "dropout before the classification layer", FRACTION)
    regularization: float | None = _flag(
        None,
        "inverse regularisation strength C of a classic baseline's or a linear probe's classifier (default: each "
        "value of its grid tried, the one with the lowest dev loss kept)",
        POSITIVE,
    )
    eval_every: int = _flag(100, "evaluate on dev every N steps", COUNT)
    patience_steps: int = _flag(1000, "stop after this many steps without improvement of --select-by", COUNT)
    select_by: str = _flag(
        "loss",
        "the dev score early stopping follows and the kept checkpoint is best at: loss, accuracy, or macro_f1 "
        "(for imbalanced classes)",
        choices=("loss", "accuracy", "macro_f1"),
    )
    class_weights: str = _flag(
        "none",
        "none, or balanced: each class's loss weighted by n / (classes x its train count), for imbalanced classes",
        choices=("none", "balanced"),
    )
    seed: int = _flag(1, "seed for initialisation and data order", SEED)

    # How the backbone is trained: every weight (the default), low-rank adapters, or a frozen encoder probed.
    lora_r: int = _flag(
        0,
        "train low-rank adapters of this rank on the encoder's attention and feed-forward projections, and the "
        "head fully, instead of every weight (LoRA; 0: off)",
        Range(0),
    )
    lora_alpha: float | None = _flag(None, "LoRA scaling alpha, with --lora-r (default: twice the rank)", POSITIVE)
    lora_dropout: float = _flag(0.05, "dropout on the LoRA adapters' input, with --lora-r", FRACTION)
    linear_probe: bool = _flag(
        False,
        "freeze the encoder, compute its text vectors once (cached), and fit a logistic regression on them, as "
        "C-MTEB scores classification",
    )
    gradient_checkpointing: bool = _flag(
        False, "recompute activations in the backward pass: less memory for more time (large models, long texts)"
    )

    teacher: str | None = _flag(None, "distil from this finished run folder: the student learns from its soft labels")
    temperature: float = _flag(4.0, "distillation temperature T (with --teacher)", POSITIVE)
    alpha: float = _flag(
        0.7,
        "distillation weight: alpha * T^2 * KL(teacher || student) + (1 - alpha) * CE (with --teacher)",
        Range(0, 1),
    )

    precision: str = _flag(
        "auto",
        "auto: bf16 on GPUs that support it, else fp16 on GPU, fp32 on CPU; bf16 on "
        "a CPU with bf16 instructions is faster but changes numerics, so it is opt-in",
        choices=("auto", "fp32", "bf16", "fp16"),
    )
    compile: bool = _flag(False, "torch.compile the model (GPU; pair with --pad-to-max-length)")
    pad_to_max_length: bool = _flag(False, "pad every batch to --max-length instead of its longest text")
    group_by_length: bool = _flag(True, "batch texts of similar length together in training (randomised)")
    num_workers: int | None = _flag(
        None,
        "data-loading worker processes (default: 2 on a GPU, none on a CPU, "
        "where they would take cores from the computation)",
        Range(0),
    )
    deterministic: bool = _flag(False, "deterministic kernels where the backend has them (slower on GPU)")

    results_dir: str = _flag("results", "where run folders are written")
    report_to: str = _flag(
        "none",
        "also send the training curves to an experiment tracker: none (nothing is contacted), tensorboard (event "
        "files in the run folder's tensorboard/), wandb or mlflow; needs that package installed",
        choices=("none", "tensorboard", "wandb", "mlflow"),
    )
    keep_checkpoints: bool = _flag(False, "keep the training checkpoints (optimiser state) after the run")
    save_every_minutes: float = _flag(
        10.0,
        "write a resumable checkpoint at the first dev evaluation M or more minutes of training after the "
        "previous one, so a killed run loses at most about M minutes; a run shorter than M writes none, its best "
        "weights being kept in memory (0: not by time)",
        Range(0),
    )
    save_every: int = _flag(
        0,
        "also write one at the first dev evaluation N or more steps after the previous one (0: not by steps; "
        "with --save-every-minutes 0 too, no checkpoint at all)",
        Range(0),
    )
    resume: str = _flag(
        "auto",
        "auto: continue the newest unfinished run of this same configuration from its last "
        "checkpoint, else start a new one; latest: the same, but fail if there is none; never: "
        "always start a new run folder; or the path of an unfinished run folder to continue",
    )
    smoke: bool = _flag(
        False,
        "offline end-to-end check on the bundled sample with a tiny random model; its numbers are not a benchmark",
    )
    allow_missing_weights: bool = _flag(
        False,
        "go on when the checkpoint lacks encoder weights (they start random); "
        "the run is recorded as incomplete and never ranked",
    )
    allow_high_unk: bool = _flag(
        False,
        "go on when more than a tenth of the training tokens are [UNK] (the vocabulary does not cover the texts); "
        "the run is recorded as such and never ranked",
    )

    @property
    def patience_evaluations(self) -> int:
        """Early stopping counts evaluations, so the step budget is converted once, rounding up."""
        return max(1, -(-self.patience_steps // self.eval_every))

    def to_dict(self) -> dict:
        return asdict(self)


# Flags that say where and how files are written, not what is trained: a run resumed or compared with
# different values of these is still the same run (benchmark.run.folder.identity, benchmark.report.runs.settings_of).
OUTPUT_ONLY = frozenset(
    {
        "results_dir",
        "keep_checkpoints",
        "save_every",
        "save_every_minutes",
        "resume",
        "num_workers",
        "cache_dir",
        "offline",
        "report_to",
    }
)

# The run options a scikit-learn baseline (tfidf) reads: which data and how it is split and cleaned, whether it
# may be downloaded, where the run folder goes, and the seed that names the run. Fitted outside Trainer, it
# ignores every other option, so its record lists only these (benchmark.run.baseline).
SKLEARN_OPTIONS = frozenset(
    {
        "model",
        "dataset",
        "data_dir",
        "protocol",
        "text_col",
        "label_col",
        "dev_split",
        "test_split",
        "split_seed",
        "on_bad_line",
        "dedupe",
        "offline",
        "results_dir",
        "seed",
        "smoke",
        "regularization",
    }
)

# A linear probe reads those and what loads and encodes its frozen encoder; no optimiser option applies to it.
PROBE_OPTIONS = SKLEARN_OPTIONS | {
    "model_path",
    "name",
    "cache_dir",
    "allow_missing_weights",
    "allow_high_unk",
    "max_length",
    "truncation",
    "linear_probe",
}


def config_fields():
    return fields(RunConfig)


def default_of(name: str):
    """A run option's default, as RunConfig declares it (the only place a default is written)."""
    return RunConfig.__dataclass_fields__[name].default


def value_type(spec) -> type:
    """What a field's command-line text is read as: int, float or str ("int | None" is an int that may be unset;
    bool fields are on/off switches, not read from text)."""
    return {"int": int, "float": float}.get(str(spec.type).split(" ")[0], str)


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")
