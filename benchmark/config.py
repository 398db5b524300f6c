"""The "Config" half of the Config/Model interface: every hyper-parameter and path of one run.

Each field is a command-line flag (`max_length` is `--max-length`); its
default and help live here and nowhere else. The defaults reproduce the
reference setup: length 32, batch 128, lr 5e-5, 3 epochs, evaluate every 100
steps, stop after 1000 steps without dev-loss improvement.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from benchmark.errors import HarnessError

SEED_LIMIT = 2**32  # numpy's seeds are unsigned 32-bit integers
DEFAULT_DATA_DIR = "data/thucnews"
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"
# full: train/dev/test files; mini: train on dev with a held-out part; smoke: the bundled sample (the preset's).
USER_PROTOCOLS = ("full", "mini")
PROTOCOLS = (*USER_PROTOCOLS, "smoke")


@dataclass(frozen=True)
class Range:
    """The values a numeric flag accepts; an open end excludes its bound. `unset` is a value meaning "not given"."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    unset: object = None

    def admits(self, value) -> bool:
        if value is None or value == self.unset:
            return True
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def describe(self) -> str:
        def bound(value):
            return f"{value:g}" if isinstance(value, float) else f"{value:,}".replace(",", "")

        parts = []
        if self.low is not None:
            parts.append(f"{'above' if self.low_open else 'at least'} {bound(self.low)}")
        if self.high is not None:
            parts.append(f"{'below' if self.high_open else 'at most'} {bound(self.high)}")
        text = " and ".join(parts)
        return text + (f" (or {self.unset} for unset)" if self.unset is not None else "")


POSITIVE = Range(0, low_open=True)
COUNT = Range(1)
FRACTION = Range(0, 1, high_open=True)  # [0, 1)
SEED = Range(0, SEED_LIMIT, high_open=True)


def _flag(default, help: str, accepts: Range | None = None, **extra):
    return field(default=default, metadata={"help": help, "range": accepts, **extra})


@dataclass
class RunConfig:
    model: str = _flag(None, "backbone name from the registry (see --list)")
    model_path: str | None = _flag(None, "load the backbone from this local folder instead of its hub id")
    cache_dir: str | None = _flag(None, "Hugging Face cache folder for hub downloads (default: HF_HOME)")
    offline: bool = _flag(False, "never contact the hub; use the cache or --model-path only")

    data_dir: str = _flag(
        DEFAULT_DATA_DIR,
        "folder with train/dev/test (.txt, .tsv, .csv or .jsonl) and class.txt; "
        "THUCNews-10 is downloaded here on first use when the folder is the default",
    )
    protocol: str = _flag(
        "full",
        "full: train/dev/test files; mini: train on dev with a held-out part, "
        "score on test (for machines without the 180k train split)",
        choices=USER_PROTOCOLS,
    )
    text_col: str = _flag("text", "text column of CSV/TSV/JSONL files")
    label_col: str = _flag("label", "label column of CSV/TSV/JSONL files (names or ids)")
    dev_split: float = _flag(
        0.1,
        "fraction held out for early stopping when there is no dev file (or under mini)",
        Range(0, 1, low_open=True, high_open=True),
    )
    split_seed: int = _flag(1, "seed of that held-out split; fixed so every run is scored on the same split", SEED)

    # The upper bound is the model's: its config's max_position_embeddings (checked once the config is read).
    max_length: int = _flag(
        32, "maximum tokens per text, [CLS] and [SEP] included; at most the model's position limit", Range(2)
    )
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
    epochs: float = _flag(3.0, "training epochs (ignored when --max-steps is given)", POSITIVE)
    max_steps: int = _flag(-1, "stop after this many optimiser steps (overrides --epochs when > 0)", Range(1, unset=-1))
    dropout: float = _flag(0.1, "dropout before the classification layer", FRACTION)
    eval_every: int = _flag(100, "evaluate on dev every N steps", COUNT)
    patience_steps: int = _flag(1000, "stop after this many steps without dev-loss improvement", COUNT)
    seed: int = _flag(1, "seed for initialisation and data order", SEED)

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
    keep_checkpoints: bool = _flag(False, "keep the training checkpoints (optimiser state) after the run")
    save_every: int = _flag(
        500,
        "besides the best, keep a checkpoint at the first dev evaluation N or more steps "
        "after the previous one, so a killed run loses at most about N steps (0: only the best)",
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

    @property
    def patience_evaluations(self) -> int:
        """Early stopping counts evaluations, so the step budget is converted once, rounding up."""
        return max(1, -(-self.patience_steps // self.eval_every))

    def to_dict(self) -> dict:
        return asdict(self)


# Flags that say where and how files are written, not what is trained: a run resumed or compared with
# different values of these is still the same run (results.identity, runs.settings_of).
OUTPUT_ONLY = frozenset(
    {"results_dir", "keep_checkpoints", "save_every", "resume", "num_workers", "cache_dir", "offline"}
)


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


# Flags the smoke preset decides itself: it always runs the bundled sample with a tiny random model.
SMOKE_DECIDES = ("model_path", "data_dir", "protocol", "teacher")
# Flags that only mean something beside another one.
ONLY_WITH = {"temperature": "teacher", "alpha": "teacher"}


def check_config(config: RunConfig, given: frozenset[str] | set[str] = frozenset()) -> None:
    """Refuse, before any work, a value out of its range or flags that cannot apply together.

    `given` names the fields written on the command line: a preset or a backbone's recommendation is never
    in conflict with anything, a user's explicit flag can be. One line names the flag, the value and what
    was expected.
    """
    if config.max_steps <= 0 and not config.epochs > 0:
        raise HarnessError(
            f"--epochs {config.epochs:g}: nothing would be trained; expected a number above 0, or a "
            f"positive --max-steps"
        )
    for spec in config_fields():
        accepts, value = spec.metadata.get("range"), getattr(config, spec.name)
        if accepts is None or (spec.name == "epochs" and config.max_steps > 0):
            continue
        if not accepts.admits(value):
            kind = "a whole number" if value_type(spec) is int else "a number"
            shown = f"{value:g}" if isinstance(value, float) else value
            raise HarnessError(f"{flag_name(spec.name)} {shown}: expected {kind} {accepts.describe()}")
    if config.smoke:
        for name in SMOKE_DECIDES:
            if name in given:
                raise HarnessError(
                    f"{flag_name(name)} cannot apply with --smoke, which always runs the bundled sample "
                    f"with a tiny random model; drop one of the two"
                )
    for name, needed in ONLY_WITH.items():
        if name in given and not getattr(config, needed):
            raise HarnessError(
                f"{flag_name(name)} {getattr(config, name)} applies only with {flag_name(needed)}; "
                f"add {flag_name(needed)} or drop it"
            )
    if config.text_col == config.label_col:
        raise HarnessError(f"--text-col and --label-col both name {config.text_col!r}; expected two columns")


# ---------------------------------------------------------------- the layers a run's settings come from

DEFAULT, COMMAND_LINE = "default", "command line"
# Named sets of settings over the defaults and a backbone's recommendation. smoke: the whole pipeline, offline,
# on the bundled sample with a tiny random model; sized for a few hundred examples, well under a minute on two
# CPU cores.
PRESETS = {
    "smoke": {
        "data_dir": str(SAMPLE_DIR),
        "protocol": "smoke",
        "batch_size": 16,
        "eval_batch_size": 128,
        "learning_rate": 1e-3,
        "epochs": 30,
        "eval_every": 15,
        "patience_steps": 150,
        "warmup": 0.1,
        "smoke": True,
    },
}


@dataclass
class Settings:
    """A run's settings and, for each, the layer that set it."""

    config: RunConfig
    origins: dict[str, str]

    @property
    def given(self) -> set[str]:
        return {name for name, origin in self.origins.items() if origin == COMMAND_LINE}

    def describe(self) -> str:
        """The values that differ from the defaults, each with where it came from."""
        changed = [
            f"{flag_name(name)} {getattr(self.config, name)} ({origin})"
            for name, origin in self.origins.items()
            if origin != DEFAULT and name != "model"
        ]
        return "settings: " + (", ".join(changed) if changed else "the defaults")


def resolve_settings(backbone, given: dict, preset: str | None = None) -> Settings:
    """One backbone's settings, layer over layer: the defaults, the backbone's recommended ones (a model trained
    from scratch needs others than fine-tuning), a preset (`--smoke` names one), then the command line."""
    preset = preset or ("smoke" if given.get("smoke") else None)
    layers = [
        (f"{backbone.name} recommends", backbone.recommended),
        (f"{preset} preset", PRESETS[preset] if preset else {}),
        (COMMAND_LINE, given),
    ]
    values, origins = {"model": backbone.name}, {spec.name: DEFAULT for spec in config_fields()}
    for origin, layer in layers:
        unknown = set(layer) - set(origins)
        if unknown:
            raise ValueError(f"{origin}: unknown settings {', '.join(sorted(unknown))}")
        values.update(layer)
        origins.update(dict.fromkeys(layer, origin))
    values["model"] = backbone.name
    return Settings(RunConfig(**values), origins)
