"""Run folders written by hand, following docs/results-format.md, for the leaderboard's tests."""

import csv
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

from benchmark.dataset import Reported

LABELS = ["finance", "realty", "stocks", "sports"]
N = 120
GOLD = np.arange(N) % len(LABELS)
MINI_SHA = "a" * 64
FULL_SHA = "b" * 64
REPORTED = [("thucnews", Reported("alpha", 99.87, "mini", "course figure", note="one GPU"))]


def write_run(
    results: Path,
    folder: str,
    *,
    backbone: str,
    seed: int,
    wrong=(),
    gold=GOLD,
    labels=LABELS,
    probability=None,
    dataset="thucnews",
    protocol="mini",
    sha=MINI_SHA,
    smoke=False,
    texts=None,
    eval_speed=1000.0,
    device="cpu",
    config=None,
    source=None,
    processes=None,
    train_sha=None,
    global_step=30,
    weights=None,
    main_score=None,
    tokenization=None,
    tuning=None,
) -> Path:
    """A run folder whose predictions are right except at the indices in `wrong`; `config` adds to its config;
    `tuning` is its tuning section (`trial_section`, `chosen_section`)."""
    k = len(labels)
    predicted = gold.copy()
    predicted[list(wrong)] = (gold[list(wrong)] + 1) % k
    probability = np.full(len(gold), 0.9) if probability is None else np.asarray(probability)
    texts = texts or [f"新闻 {i}" for i in range(len(gold))]
    ids = list(range(k))
    _, _, f1, support = precision_recall_fscore_support(gold, predicted, labels=ids, zero_division=0)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (gold, predicted), 1)
    metrics = {
        "schema_version": 1,
        "run_id": f"{folder}-run",
        "smoke": smoke,
        "backbone": {
            "name": backbone,
            "hub_id": f"org/{backbone}",
            "source": source or f"org/{backbone}",
            "architecture": "bert",
            "parameters": 102_000_000,
            **({"weights": weights} if weights else {}),
        },
        "task": {
            "dataset": dataset,
            "protocol": protocol,
            "labels": labels,
            "sizes": {"train": 10, "dev": 10, "test": len(gold)},
            "files": {
                "test": {"path": "data/x/test.txt", "sha256": sha, "lines": len(gold)},
                **({"train": {"sha256": train_sha}} if train_sha else {}),
            },
            **({"main_score": main_score} if main_score else {}),
        },
        "config": {"seed": seed, **(config or {})},
        **({"tokenization": tokenization} if tokenization else {}),
        "seed": seed,
        "environment": {"device": "cpu", "device_name": device, **({"num_processes": processes} if processes else {})},
        "timing": {
            "wall_seconds": 100.0,
            "train_seconds": 90.0 + seed,
            "train_examples_per_second": 50.0,
            "eval_examples_per_second": eval_speed,
            "peak_memory_mb": 800.0 + seed,
        },
        "training": {
            "global_step": global_step,
            "max_steps": 40,
            "best_step": 20,
            "best_dev_loss": 0.5,
            "stopped_early": True,
            "history": [
                {"step": 10, "train_loss": 1.2},
                {"step": 10, "dev_loss": 0.8, "dev_accuracy": 0.6},
                {"step": 20, "train_loss": 0.7},
                {"step": 20, "dev_loss": 0.5, "dev_accuracy": 0.8},
                {"step": 30, "train_loss": 0.4},
                {"step": 30, "dev_loss": 0.6, "dev_accuracy": 0.79},
            ],
        },
        "metrics": {
            "accuracy": float((gold == predicted).mean()),
            "loss": 0.3,
            "macro": {
                "precision": 0.0,
                "recall": 0.0,
                "f1": float(f1_score(gold, predicted, labels=ids, average="macro", zero_division=0)),
            },
            "weighted": {"precision": 0.0, "recall": 0.0, "f1": 0.0},
            "per_class": {
                name: {"precision": 0.0, "recall": 0.0, "f1": float(f1[i]), "support": int(support[i])}
                for i, name in enumerate(labels)
            },
            "confusion_matrix": confusion.tolist(),
        },
        **({"tuning": tuning} if tuning else {}),
    }
    run_dir = results / folder
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False), encoding="utf-8")
    with (run_dir / "predictions.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["index", "text", "gold", "predicted", "probability"])
        for i in range(len(gold)):
            writer.writerow([i, texts[i], labels[gold[i]], labels[predicted[i]], f"{probability[i]:.6f}"])
    return run_dir


SPACE = {"learning_rate": "log:1e-05:0.0001", "batch_size": "choice:16,32,64,128", "warmup": "float:0.0:0.1"}
RECOMMENDED = {"learning_rate": 5e-05, "batch_size": 128, "warmup": 0.05, "lr_scheduler_type": "linear"}


def trial_section(study: str, trial: int, budget: int, dev: float | None, sampled=None, main_score="accuracy") -> dict:
    """A trial's tuning section, its dev main score `dev` (None: a failed trial, whose section records no dev)."""
    section = {
        "study": study,
        "trial": trial,
        "budget": budget,
        "sampler": "tpe",
        "seed": 0,
        "space": SPACE,
        "sampled": sampled or {"learning_rate": 3e-05, "batch_size": 32, "warmup": 0.06},
        "main_score": main_score,
    }
    other = "macro_f1" if main_score == "accuracy" else "accuracy"
    return section if dev is None else {**section, "dev": {main_score: dev, other: dev - 0.001, "loss": 0.3}}


def chosen_section(study: str, chosen_trial: int, budget: int, sampled: dict, trials=None) -> dict:
    """The tuning section of a run of the settings a study chose."""
    return {
        "study": study,
        "budget": budget,
        "trials": budget if trials is None else trials,
        "chosen_trial": chosen_trial,
        "sampler": "tpe",
        "seed": 0,
        "space": SPACE,
        "sampled": sampled,
        "recommended": RECOMMENDED,
        "main_score": "accuracy",
    }


def write_failed_trial(results: Path, folder: str, *, backbone: str, tuning: dict, seed: int = 1) -> Path:
    """A trial whose loss diverged: failed.json and run_config.json, as a failed run leaves them."""
    run_dir = results / folder
    run_dir.mkdir(parents=True)
    message = "the training loss became nan at step 40 at learning rate 0.0001: the run diverged"
    failed = {"reason": "diverged", "what": "training loss", "value": "nan", "step": 40, "message": message}
    run_config = {
        "config": {"model": backbone, "seed": seed, **tuning["sampled"]},
        "data": {"test": MINI_SHA},
        "num_processes": 1,
        "tuning": tuning,
    }
    (run_dir / "failed.json").write_text(json.dumps(failed), encoding="utf-8")
    (run_dir / "run_config.json").write_text(json.dumps(run_config), encoding="utf-8")
    return run_dir
