"""What the driver (benchmark.run.driver) asks of every kind of run: one small interface, four methods.

A method turns a backbone and the splits into a classifier and says what it did:

| method | module | fits by |
|---|---|---|
| `FineTune` | finetune.py | Trainer: every weight, LoRA adapters, or a distilled student; one process or several |
| `LinearProbe` | probe.py | a logistic regression on a frozen encoder's cached vectors |
| `ClassicBaseline` | classic.py | a scikit-learn estimator over TF-IDF features, as its declaration names it |
| `ExportVariant` | export.py | quantising or converting a finished run's model, scored on its test texts |

The driver calls, in order: `read`, `finished` (with --skip-finished), `prepare`, `folder`, `fit`, `score`,
`save`, `inference_cost`, `record` (which assembles every run's record alike), `finish`. Everything a method
does not override is the plain single-process behaviour below, so a method is mostly its `fit` and `score`.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.atomic import write_json
from benchmark.console import log
from benchmark.metrics import score
from benchmark.phases import Phases
from benchmark.record import (
    ABSENT,
    METRICS_FILE,
    BackboneRecord,
    MetricsRecord,
    RunRecord,
    TimingRecord,
    TrainingRecord,
)
from benchmark.settings import Settings


@dataclass
class Fitted:
    """What fitting produced, for the record: the backbone as trained, what training did, and the record's
    method-specific sections (distillation, export) and timing figures."""

    backbone: BackboneRecord
    training: TrainingRecord
    train_seconds: float | None = None
    train_examples_per_second: float | None = None
    sections: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    summary: str = ""  # what the run's last line adds after the scores


@dataclass
class Scored:
    logits: np.ndarray  # (examples, labels), in the split's own order
    loss: float
    examples_per_second: float | None = None  # None: the timed model's speed (benchmark.serve.cost) is used
    sections: dict = field(default_factory=dict)  # record sections that need the scores (an export's comparison)
    timing: dict = field(default_factory=dict)
    labels: np.ndarray | None = None  # the gold labels in the logits' order, where not the split's own order


class Method:
    """The plain behaviour; subclasses override what differs."""

    # The run options this method reads; the record lists only these (None: all of them).
    options: frozenset[str] | None = None
    # Written after the backbone's name in a report header (" (linear probe)").
    title = ""

    def __init__(self, settings: Settings, backbone):
        self.settings, self.config, self.backbone = settings, settings.config, backbone
        self.phases: Phases | None = None  # the run's stopwatch, set by the driver as the run starts
        self.tokenization = ABSENT  # what tokenising the splits found, for methods that tokenise

    is_main = True  # the process that writes files and speaks (one of torchrun's processes: the first)
    num_processes = 1

    def read(self, splits=None):
        """The splits the settings name, read and validated (benchmark.data.load), or those already read for it (a
        fanned-out queue reads each dataset once); summarised for the log."""
        from benchmark.data.load import read_splits
        from benchmark.data.splits import summarize

        splits = read_splits(self.config) if splits is None else splits
        log(summarize(splits))
        return splits

    def finished(self, splits) -> Path | None:
        """A finished run of this same configuration in the results folder (--skip-finished), if any."""
        from benchmark.run.folder import finished_run, run_config_of

        return finished_run(
            Path(self.config.results_dir),
            run_config_of(self.config_record(), splits.files, self.num_processes, self.settings.tuning),
        )

    def prepare(self, splits) -> None:
        """Load and encode what fitting needs, before a run folder is made: a failure here leaves nothing."""
        self.splits = splits

    @contextlib.contextmanager
    def folder(self):
        """A new run folder, with run_config.json saying what it runs (so --skip-finished finds it)."""
        from benchmark.run.folder import RUN_CONFIG, new_run_dir, run_config_of

        config, splits = self.config, self.splits
        run_dir = new_run_dir(Path(config.results_dir), self.name, splits.protocol, config.seed)
        try:
            record = run_config_of(self.config_record(), splits.files, self.num_processes, self.settings.tuning)
            write_json(run_dir / RUN_CONFIG, record)
            log(f"run folder: {run_dir}")
            yield run_dir
        except BaseException:  # a run that did not finish leaves no folder behind: it holds nothing to resume
            if not (run_dir / METRICS_FILE).exists():
                shutil.rmtree(run_dir, ignore_errors=True)
            raise

    @property
    def name(self) -> str:
        """The run's name in its folder and on the leaderboard: a checkpoint of the user's own runs under its --name."""
        return self.config.name or self.backbone.name

    def fit(self, run_dir: Path) -> Fitted:
        raise NotImplementedError

    def encoder_record(self, mode: str, trainable: int) -> BackboneRecord:
        """What a run of a loaded encoder (`self.model`, from `self.classifier` and `self.source_record`) records of
        it: fine-tuned, adapted or probed."""
        return BackboneRecord(
            name=self.name,
            hub_id=self.backbone.hub_id,
            source=self.source_record,
            architecture=self.backbone.architecture,
            parameters=sum(p.numel() for p in self.model.parameters()),
            trainable_parameters=trainable,
            mode=mode,
            weights=self.classifier.weights.record(),
        )

    def score(self, name: str) -> Scored:
        """Logits of the split `name` (test, or dev), in its file order, and the mean loss."""
        raise NotImplementedError

    def predictor(self):
        """The fitted classifier as --predict serves it (benchmark.serve.predict.Predictor)."""
        raise NotImplementedError

    device = "cpu"  # where predictor() computes

    def inference_cost(self, texts: list[str]) -> dict:
        from benchmark.serve.cost import inference_cost

        return inference_cost(self.predictor(), texts, self.device)

    def config_record(self) -> dict:
        """The run options the record keeps: those this method reads."""
        config = self.config.to_dict()
        return config if self.options is None else {k: v for k, v in config.items() if k in self.options}

    def environment(self) -> dict:
        from benchmark.environment import environment

        return environment(offline=self.config.offline)

    def save(self, run_dir: Path) -> None:
        """Write model/; a write that fails says which folder and why."""
        raise NotImplementedError

    @property
    def selects_on_dev(self) -> bool:
        """A tuning trial: its study selects by its dev scores, so the best weights are scored on dev too."""
        return bool(self.settings.tuning and "trial" in self.settings.tuning)

    def record(self, run_dir: Path, splits, fitted: Fitted, scored: Scored, metrics: dict, inference: dict, dev=None):
        """The run's record, assembled here for every kind of run from what fitting and scoring returned."""
        from benchmark.environment import peak_memory_mb

        tuning = self.settings.tuning
        if tuning and dev is not None:
            labels = splits.dev.labels if dev.labels is None else dev.labels
            dev_scores = score(labels, dev.logits.argmax(axis=-1), splits.label_names)
            chosen = {"accuracy": dev_scores["accuracy"], "macro_f1": dev_scores["macro"]["f1"], "loss": dev.loss}
            tuning = tuning | {"dev": chosen}

        # A method that does not time its scoring (a probe's cached vectors) has the timed model's speed.
        speed = scored.examples_per_second or 1e6 / inference["ms_per_1000_texts_batch_64"]
        return RunRecord(
            run_id=run_dir.name,
            smoke=self.config.smoke,
            backbone=fitted.backbone,
            task=splits.record(),
            config=self.config_record(),
            seed=self.config.seed,
            environment=self.environment(),
            timing=TimingRecord(
                wall_seconds=self.phases.wall(),
                train_seconds=fitted.train_seconds,
                train_examples_per_second=fitted.train_examples_per_second,
                eval_examples_per_second=speed,
                peak_memory_mb=peak_memory_mb(),
                inference=inference,
                **fitted.timing,
                **scored.timing,
            ),
            tokenization=self.tokenization,
            training=fitted.training,
            metrics=MetricsRecord(**metrics),
            **fitted.sections,
            **scored.sections,
            **({"tuning": tuning} if tuning else {}),
        )

    def finish(self, run_dir: Path) -> None:
        """After metrics.json: remove what only an unfinished run needed."""
