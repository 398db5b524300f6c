"""A linear probe (--linear-probe): the frozen encoder's vectors and a logistic regression, no Trainer.

The encoder is run once over each split (the vectors are cached), and the regression is fitted in seconds. The
regression's weights become the classifier's head, so prediction and export treat the saved model like any
other.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from benchmark.baselines.probe import embed, embedding_key, embedding_path, fit_probe
from benchmark.config import PROBE_OPTIONS
from benchmark.console import log
from benchmark.data.coverage import tokenisation_report
from benchmark.data.encode import cache_key, encode_split
from benchmark.errors import HarnessError
from benchmark.loading.classifier import create_classifier, save_classifier, serving_settings
from benchmark.loading.sources import encoder_source, load_options
from benchmark.loading.tokenizer import normalisation
from benchmark.metrics import cross_entropy
from benchmark.phases import size_of
from benchmark.record import TrainingRecord
from benchmark.run.method import Fitted, Method, Scored
from benchmark.serve.predict import TorchPredictor


class LinearProbe(Method):
    options = PROBE_OPTIONS  # no optimiser option applies to it
    title = " (linear probe)"

    def prepare(self, splits) -> None:
        if int(os.environ.get("WORLD_SIZE", 1)) > 1:
            raise HarnessError(
                "--linear-probe runs in one process (the encoder is run once and the regression fitted in "
                "seconds); start it with python run.py, not torchrun or accelerate launch"
            )
        config, backbone, phases = self.config, self.backbone, self.phases
        self.splits = splits
        self.source, self.source_record = encoder_source(config, backbone, splits)
        log(f"loading {backbone.name} ({backbone.architecture}) from {self.source_record}, frozen for a linear probe")
        options = load_options(config, backbone)
        with phases("model_load"):
            self.classifier = create_classifier(
                backbone, len(splits.label_names), source=self.source, seed=config.seed, options=options
            )
            self.model, self.tokenizer = self.classifier.model, self.classifier.tokenizer
            self.model.requires_grad_(False)
            if torch.cuda.is_available():
                self.model.cuda()
        names = ("train", "dev", "test")
        with phases("encode"):
            self.encoded = {
                name: encode_split(
                    self.tokenizer,
                    getattr(splits, name).texts,
                    getattr(splits, name).labels,
                    config.max_length,
                    truncation=config.truncation,
                )
                for name in names
            }
        self.tokenization = tokenisation_report(
            self.tokenizer,
            {name: (self.encoded[name], getattr(splits, name).texts) for name in names},
            normalisation(self.tokenizer),
            log,
            self.config.allow_high_unk,
        )

    def _key(self, name: str) -> str:
        """What a split's vectors depend on: the weights, the tokenizer, the texts, the length, the pooling."""
        texts_key = cache_key(
            self.tokenizer, self.config.max_length, getattr(self.splits, name).texts, self.config.truncation
        )
        weights = self.classifier.weights
        return embedding_key([Path(weights.folder) / file for file in weights.files], self.model.pooling, texts_key)

    def _vectors(self, name: str) -> np.ndarray:
        return embed(
            self.model, self.encoded[name], self.tokenizer.pad_token_id, self._key(name), self.backbone.padding_side
        )

    def fit(self, run_dir: Path) -> Fitted:
        splits = self.splits
        # Train seconds cover the vectors of train and dev (read from the cache where they were computed before)
        # and the fit; the inference speed comes from timing the whole model, cache or not.
        cached = all(embedding_path(self._key(name)).is_file() for name in ("train", "dev"))
        started = time.perf_counter()
        with self.phases("training"):
            self.weight, self.bias, history = fit_probe(
                self._vectors("train"),
                splits.train.labels,
                self._vectors("dev"),
                splits.dev.labels,
                len(splits.label_names),
                **({"c_grid": (self.config.regularization,)} if self.config.regularization else {}),
                log=log,
            )
        seconds = time.perf_counter() - started
        with torch.no_grad():  # the regression is the head: the saved model serves like any other
            self.model.head.weight.copy_(torch.from_numpy(self.weight))
            self.model.head.bias.copy_(torch.from_numpy(self.bias))
        best = min(history, key=lambda h: (h["dev_loss"], h["step"]))
        return Fitted(
            # Trained: the regression alone.
            backbone=self.encoder_record("probe", sum(p.numel() for p in self.model.head.parameters())),
            training=TrainingRecord.of_grid(
                history,
                best,
                {
                    "classifier": "logistic regression on the frozen encoder's pooled vectors",
                    "C": best["C"],
                    "encoder_frozen": self.source_record,
                    "pooling": self.model.pooling,
                    "dimensions": int(self.weight.shape[1]),
                    "vectors_cached": cached,
                },
            ),
            train_seconds=seconds,
            train_examples_per_second=len(splits.train.texts) / seconds,
            summary=f" (C={best['C']:g})",
        )

    def score(self, name: str) -> Scored:
        logits = self._vectors(name) @ self.weight.T + self.bias
        return Scored(logits, cross_entropy(logits, getattr(self.splits, name).labels))

    @property
    def device(self) -> str:
        return str(next(self.model.parameters()).device)

    def predictor(self) -> TorchPredictor:
        config = self.config
        return TorchPredictor(
            self.model.eval(),
            self.tokenizer,
            self.splits.label_names,
            self.backbone.name,
            config.max_length,
            config.truncation,
        )

    def save(self, run_dir: Path) -> None:
        with self.phases("model_write"):
            save_classifier(
                self.model,
                self.tokenizer,
                self.backbone,
                self.splits.label_names,
                run_dir / "model",
                serving=serving_settings(self.config),
                mode="probe",
                base=self.source,
            )
        self.phases.note("model_write", bytes=size_of(run_dir / "model"))
