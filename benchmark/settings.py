"""A run's settings: layered (defaults, the backbone's recommendation, a preset, the command line), each value
with the layer that set it, and checked before any work."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass

from benchmark.config import (
    DEFAULT_DATASET,
    DEFAULT_MAX_LENGTH,
    SAMPLE_DIR,
    RunConfig,
    config_fields,
    flag_name,
    value_type,
)
from benchmark.errors import HarnessError

# Flags the smoke preset decides itself: it always runs the bundled sample with a tiny random model.
SMOKE_DECIDES = ("model_path", "dataset", "data_dir", "protocol", "teacher")
# Flags that only mean something beside another one.
ONLY_WITH = {"temperature": "teacher", "alpha": "teacher", "lora_alpha": "lora_r", "lora_dropout": "lora_r"}
# Training modes that exclude each other: (field, field, why).
EXCLUSIVE = (
    ("lora_r", "linear_probe", "a probe trains no encoder weight, adapters included"),
    ("lora_r", "teacher", "a distilled student trains every weight"),
    ("linear_probe", "teacher", "a probe learns from gold labels only"),
)
# The modules each --report-to tracker needs, the one to install first (Trainer also writes TensorBoard files
# with tensorboardX).
TRACKER_MODULES = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",), "mlflow": ("mlflow",)}


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
        if accepts is None:  # a value out of range is refused even where another flag makes it moot
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
    for first, second, why in EXCLUSIVE:
        if getattr(config, first) and getattr(config, second):
            raise HarnessError(f"{flag_name(first)} and {flag_name(second)} cannot apply together: {why}; drop one")
    if config.text_col == config.label_col:
        raise HarnessError(f"--text-col and --label-col both name {config.text_col!r}; expected two columns")
    check_tracker(config.report_to)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install or a module without a spec
        return False


def check_tracker(report_to: str) -> None:
    """A --report-to tracker whose package is not installed stops the run before any work, in one line naming
    what to install (Trainer would fail only once data and model were loaded)."""
    modules = TRACKER_MODULES.get(report_to, ())
    if modules and not any(_installed(module) for module in modules):
        extra = ' (or pip install -e ".[track]")' if report_to == "tensorboard" else ""
        raise HarnessError(
            f"--report-to {report_to}: the {modules[0]} package is not installed; pip install {modules[0]}{extra}, "
            f"or drop --report-to"
        )


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
    # A tuning sweep's run (benchmark.tune): its study, its trial or the trial chosen, the settings drawn; it goes
    # into the run's identity and its record.
    tuning: dict | None = None

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
    """One backbone's settings, layer over layer: the defaults, the dataset's input length and truncation
    (within what the backbone is meant for), the backbone's recommended settings (a model trained from scratch
    needs others than fine-tuning), a preset (`--smoke` names one), then the command line. Every value is set
    here; nothing downstream defaults one again."""
    preset = preset or ("smoke" if given.get("smoke") else None)
    layers = [
        (f"{backbone.name} recommends", _recommended_for_mode(backbone.recommended, given)),
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
    dataset, length, truncation = dataset_defaults(values)
    for name, value in (("max_length", min(length, backbone.max_length or length)), ("truncation", truncation)):
        if values.get(name) is None:
            values[name] = value
            origins[name] = f"{dataset} declares" + (
                f", within {backbone.name}'s {backbone.max_length}"
                if name == "max_length" and backbone.max_length and backbone.max_length < length
                else ""
            )
    settings = Settings(RunConfig(**values), origins)
    check_mode(backbone, settings.config)
    return settings


def dataset_defaults(values: dict) -> tuple[str, int, str]:
    """The dataset the settings name, its default input length and its truncation: a registered dataset's
    declaration, or 32 tokens from the head for a folder of your own."""
    if values.get("data_dir") and not values.get("dataset"):
        return "a folder of your own", DEFAULT_MAX_LENGTH, "head"
    from benchmark.registry import get_dataset

    dataset = get_dataset(values.get("dataset") or DEFAULT_DATASET)
    return dataset.name, dataset.max_length, dataset.truncation


LORA_SETTINGS = ("lora_r", "lora_alpha", "lora_dropout")


def _recommended_for_mode(recommended: dict, given: dict) -> dict:
    """A backbone's recommendation for LoRA (its rank, alpha and learning rate) yields to a mode chosen on the
    command line: a probe or full fine-tuning drops all of it, and a rank given alone takes alpha 2 x rank."""
    if not recommended.get("lora_r"):
        return recommended
    if given.get("linear_probe") or given.get("lora_r") == 0:
        return {k: v for k, v in recommended.items() if k not in (*LORA_SETTINGS, "learning_rate")}
    if "lora_r" in given:
        return {k: v for k, v in recommended.items() if k != "lora_alpha"}
    return recommended


def training_mode(config: RunConfig) -> str:
    return "lora" if config.lora_r else "probe" if config.linear_probe else "finetune"


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def check_mode(backbone, config: RunConfig) -> None:
    """Refuse a training mode the backbone does not declare (a scikit-learn baseline has no adapters), and a name
    of its own (--name) where there is no checkpoint of the user's to run under it."""
    if config.name is not None:
        from benchmark.registry import BACKBONES

        if backbone.kind != "pretrained" or config.smoke or config.teacher:
            why = (
                "--smoke and --teacher make their own" if backbone.kind == "pretrained" else f"{backbone.name} has none"
            )
            raise HarnessError(
                f"--name {config.name}: names a checkpoint of the user's run as {backbone.name}'s architecture; {why}"
            )
        if not NAME.fullmatch(config.name):
            raise HarnessError(f"--name {config.name!r}: expected letters, digits and _ . + - (it names run folders)")
        if config.name in BACKBONES.names():
            raise HarnessError(
                f"--name {config.name}: that is a registered backbone's name, and the runs would pool with its; "
                f"choose a name of this checkpoint's own"
            )
    mode = training_mode(config)
    if config.gradient_checkpointing and not backbone.gradient_checkpointing:
        raise HarnessError(f"--gradient-checkpointing: {backbone.name}'s model cannot recompute its activations")
    if mode not in backbone.modes:
        flag = {"lora": "--lora-r", "probe": "--linear-probe"}[mode]
        raise HarnessError(
            f"{flag}: {backbone.name} cannot be trained that way; it supports {', '.join(backbone.modes)}"
        )
