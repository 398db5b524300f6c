"""A classic baseline's run: TF-IDF features and the scikit-learn estimator its declaration names, fitted
outside Trainer in seconds, written as the same results folder as every other run."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from benchmark.baselines.tfidf import fit_tfidf
from benchmark.config import SKLEARN_OPTIONS
from benchmark.console import log
from benchmark.errors import HarnessError
from benchmark.metrics import cross_entropy
from benchmark.phases import size_of
from benchmark.record import BackboneRecord, TrainingRecord
from benchmark.run.method import Fitted, Method, Scored
from benchmark.serve.predict import TfidfPredictor


class ClassicBaseline(Method):
    options = SKLEARN_OPTIONS  # learning rate, dropout, batch sizes and the like do not apply to it

    def prepare(self, splits) -> None:
        config = self.config
        if config.teacher:
            raise HarnessError(
                f"{self.backbone.name} cannot be a distillation student (it learns from gold labels only); choose "
                f"a torch student such as rbt3_student or textcnn, or drop --teacher"
            )
        if config.report_to != "none":  # refusing would stop a queue (--model all) that is fine for every other run
            log(
                f"--report-to {config.report_to} ignored: {self.backbone.name} is fitted outside Trainer, with no "
                f"curves to send"
            )
        self.splits = splits

    @property
    def grid(self) -> tuple[float, ...]:
        """The values of C tried: --regularization alone when given (a tuning sweep draws it), else the grid."""
        return (self.config.regularization,) if self.config.regularization else self.backbone.grid

    def fit(self, run_dir: Path) -> Fitted:
        splits, backbone = self.splits, self.backbone
        with self.phases("model_load"):  # jieba reads its dictionary on first use: counted here, not as fitting
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
        started = time.perf_counter()
        with self.phases("training"):
            self.model, history = fit_tfidf(
                splits.train.texts,
                splits.train.labels,
                splits.dev.texts,
                splits.dev.labels,
                len(splits.label_names),
                estimator=backbone.estimator,
                grid=self.grid,
                log=log,
            )
        seconds = time.perf_counter() - started
        best = min(history, key=lambda h: (h["dev_loss"], h["step"]))
        return Fitted(
            backbone=BackboneRecord(
                name=backbone.name,
                hub_id=None,
                source="fitted from the training texts",
                architecture=backbone.architecture,
                parameters=self.model.parameters,
                trainable_parameters=self.model.parameters,
                mode="finetune",
            ),
            training=TrainingRecord.of_grid(
                history,
                best,
                {
                    "classifier": f"{self.model.estimator}, margins scaled to logits on dev",
                    "C": best["C"],
                    "scale": best["scale"],
                    "features": len(self.model.terms),
                    **self.model.settings.to_dict(),
                },
            ),
            train_seconds=seconds,
            train_examples_per_second=len(splits.train.texts) / seconds,
            summary=f" (C={best['C']:g}, {seconds:.1f} s to fit)",
        )

    def score(self, name: str) -> Scored:
        split = getattr(self.splits, name)
        started = time.perf_counter()
        logits = self.model.logits(split.texts)
        seconds = time.perf_counter() - started
        return Scored(logits, cross_entropy(logits, split.labels), len(split.texts) / seconds)

    def predictor(self) -> TfidfPredictor:
        return TfidfPredictor(self.model, self.splits.label_names, self.backbone.name)

    def environment(self) -> dict:
        from benchmark.environment import environment

        return environment(extra_packages=("jieba",), offline=self.config.offline)

    def save(self, run_dir: Path) -> None:
        try:
            with self.phases("model_write"):
                self.model.save(run_dir / "model", self.backbone.name, self.splits.label_names)
            self.phases.note("model_write", bytes=size_of(run_dir / "model"))
        except OSError as error:
            raise HarnessError(f"cannot write the model to {run_dir / 'model'}: {error.strerror or error}") from None
