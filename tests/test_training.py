"""Early stopping stops on time and the weights scored are the best dev-loss weights, not the last."""

from __future__ import annotations

import numpy as np
import torch
from transformers import BertConfig, BertModel, TrainerCallback

from benchmark.config import RunConfig
from benchmark.data.encode import EncodedSplit, PaddingCollator
from benchmark.loading.classifier import TextClassifier
from benchmark.run.train import build_trainer, training_summary

VOCAB = 40


class WeightSnapshots(TrainerCallback):
    """The model's weights at every dev evaluation, by step."""

    def __init__(self):
        self.by_step = {}

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        self.by_step[state.global_step] = {k: v.detach().clone() for k, v in model.state_dict().items()}


def random_split(labels: np.ndarray, seed: int) -> EncodedSplit:
    """Each example is one token whose id encodes its label, so the task is learnable in a few steps."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 6, size=len(labels))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    ids = np.concatenate([[5 + 2 * y + rng.integers(0, 2)] * n for y, n in zip(labels, lengths, strict=True)])
    return EncodedSplit(ids.astype(np.int32), offsets.astype(np.int64), labels.astype(np.int64))


def test_early_stopping_restores_the_best_weights(tmp_path):
    torch.manual_seed(0)
    train_labels = np.arange(64) % 4
    train = random_split(train_labels, seed=0)
    # The dev set asks for the *opposite* mapping, so dev loss rises as soon as the model learns the train set:
    # the best dev loss comes early and patience runs out long before the step budget.
    dev = random_split(train_labels[:32], seed=1)
    dev.labels = (dev.labels + 2) % 4
    config = RunConfig(
        model="bert",
        batch_size=8,
        eval_batch_size=32,
        learning_rate=5e-3,
        warmup=0.0,
        max_steps=400,
        eval_every=5,
        patience_steps=15,
        seed=3,
        group_by_length=False,
    )
    encoder = BertModel(
        BertConfig(
            vocab_size=VOCAB,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=16,
        )
    )
    model = TextClassifier(encoder, num_labels=4, dropout=0.0)
    trainer, stopwatch = build_trainer(model, train, dev, PaddingCollator(0), config, str(tmp_path), False)
    snapshots = WeightSnapshots()
    trainer.add_callback(snapshots)
    trainer.train()
    summary = training_summary(trainer, stopwatch)

    dev_losses = {h["step"]: h["dev_loss"] for h in summary["history"] if "dev_loss" in h}
    best_step = min(dev_losses, key=dev_losses.get)
    assert summary["best_step"] == best_step
    # Patience is 15 steps = 3 evaluations: training ends at the third evaluation without improvement.
    assert summary["global_step"] == best_step + 15
    assert summary["stopped_early"] and summary["global_step"] < 400

    restored = trainer.model.state_dict()
    last = snapshots.by_step[summary["global_step"]]
    best = snapshots.by_step[best_step]
    assert any(not torch.equal(restored[k].cpu(), last[k]) for k in restored), "the last weights were kept"
    for name, tensor in restored.items():
        torch.testing.assert_close(tensor.cpu(), best[name], rtol=0, atol=0, msg=f"{name} is not the best step's")


def test_every_private_trainer_method_the_harness_relies_on_is_still_there():
    """Private methods are not covered by transformers' deprecation policy: each one the harness overrides or
    calls is listed with why (benchmark.run.train.PRIVATE_TRAINER_API), and an upgrade that drops or reshapes
    one fails here, by name, before any run does."""
    import inspect

    from transformers import Trainer, TrainingArguments

    from benchmark.run.train import PRIVATE_TRAINER_API, BenchmarkTrainer

    for name, (parameters, why) in PRIVATE_TRAINER_API.items():
        assert name.startswith("_") and why, name
        method = getattr(Trainer, name, None)
        assert method is not None, f"transformers' Trainer no longer has {name}, which the harness needs: {why}"
        found = [p for p in inspect.signature(method).parameters if p != "self"]
        assert found[: len(parameters)] == list(parameters), f"Trainer.{name} now takes {found}; the harness: {why}"
    # And nothing private beyond the list is overridden.
    ours = {name for name in vars(BenchmarkTrainer) if name.startswith("_") and not name.startswith("__")}
    for base in BenchmarkTrainer.__mro__[1:]:
        if base is not Trainer and base.__module__.startswith("benchmark"):
            ours |= {name for name in vars(base) if name.startswith("_") and not name.startswith("__")}
    assert ours <= set(PRIVATE_TRAINER_API), f"private overrides not listed: {sorted(ours - set(PRIVATE_TRAINER_API))}"
    # warmup_steps below 1 is a fraction of all steps in transformers 5 (the harness hands it --warmup).
    assert TrainingArguments(output_dir="unused", warmup_steps=0.05).get_warmup_steps(1000) == 50


def test_without_a_terminal_progress_is_a_few_lines_with_the_scores_and_the_time_left(tmp_path, capsys, monkeypatch):
    """In a file or a Slurm log a redrawn bar is one line of thousands of carriage returns; lines come instead,
    one per tenth of the steps (or per minute)."""
    import io

    from benchmark.run import progress
    from benchmark.run.progress import LiveProgress, ProgressLines, progress_for_output

    monkeypatch.setattr(progress, "LINE_EVERY_SECONDS", 3600.0)  # only the tenths, however slow the machine

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert isinstance(progress_for_output(Terminal()), LiveProgress)
    assert isinstance(progress_for_output(io.StringIO()), ProgressLines)
    torch.manual_seed(0)
    labels = np.arange(64) % 4
    config = RunConfig(model="bert", batch_size=8, learning_rate=5e-3, warmup=0.0, max_steps=200, eval_every=20)
    encoder = BertModel(
        BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    )
    model = TextClassifier(encoder, num_labels=4, dropout=0.0)
    trainer, _ = build_trainer(
        model, random_split(labels, 0), random_split(labels[:32], 1), PaddingCollator(0), config, str(tmp_path)
    )
    trainer.train()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step ")]
    assert "\r" not in "".join(lines)
    assert [line.split()[1] for line in lines] == [f"{step}/200" for step in range(20, 201, 20)]
    assert "train loss" in lines[-1] and "dev loss" in lines[-1] and "best" in lines[-1]
    assert "left" in lines[0] and "left" not in lines[-1]
