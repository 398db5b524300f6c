"""Do the two pipelines learn alike? The same number of steps from the same start, several seeds each."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmark.perf.workload import QUICK_SHAPE, harness_config, log, make_harness_trainer, make_model

# Accuracy: the same number of steps, several seeds, both pipelines


ARMS = {
    "reference": "the reference loop",
    "harness": "the harness as it runs",
    "harness-ungrouped": "the harness with --no-group-by-length (random batches, still padded to their longest)",
    "harness-bf16": "the harness with --precision bf16",
}


def accuracy_check(task, tokenizer, args) -> dict:
    from benchmark.data.encode import encode_split
    from benchmark.perf import reference
    from benchmark.run.evaluate import predict_logits

    splits = {name: getattr(task, name) for name in ("train", "dev", "test")}
    encoded = {name: encode_split(tokenizer, s.texts, s.labels, 32, cache_dir=None) for name, s in splits.items()}
    examples = {name: reference.encode_lines(tokenizer, s.texts, s.labels) for name, s in splits.items()}
    arms = getattr(args, "accuracy_arms", None) or ["reference", "harness", "harness-ungrouped"]
    results = {
        "steps": args.accuracy_steps,
        "learning_rate": args.learning_rate,
        "seeds": args.seeds,
        "shape": QUICK_SHAPE,
        "arms": {arm: ARMS[arm] for arm in arms},
        "accuracy": {arm: [] for arm in arms},
        "best_step": {arm: [] for arm in arms},
    }
    for seed in args.seeds:
        for arm in arms:
            with tempfile.TemporaryDirectory(prefix="speed-accuracy-") as folder:
                model = make_model(QUICK_SHAPE, len(task.label_names), seed)  # the same start in every arm
                started = time.perf_counter()
                if arm == "reference":
                    run = reference.train(
                        model,
                        examples["train"],
                        examples["dev"],
                        args.accuracy_steps,
                        learning_rate=args.learning_rate,
                        checkpoint=Path(folder) / "best.pt",
                    )
                    accuracy, best = reference.evaluate(model, examples["test"])[0], run["best_step"]
                else:
                    config = harness_config(
                        max_steps=args.accuracy_steps,
                        eval_every=100,
                        seed=seed,
                        save_every=0,
                        learning_rate=args.learning_rate,
                        group_by_length=arm != "harness-ungrouped",
                        precision="bf16" if arm == "harness-bf16" else "auto",
                    )
                    trainer = make_harness_trainer(model, encoded["train"], encoded["dev"], config, folder)
                    trainer.train()
                    logits, _, _ = predict_logits(trainer, encoded["test"])
                    accuracy = float((logits.argmax(axis=-1) == task.test.labels).mean())
                    checkpoint = trainer.state.best_model_checkpoint
                    best = int(checkpoint.rsplit("-", 1)[1]) if checkpoint else None
            results["accuracy"][arm].append(accuracy)
            results["best_step"][arm].append(best)
            log(f"  seed {seed}: {arm:17} {accuracy:.4f} (best step {best}, {time.perf_counter() - started:.0f} s)")
    return results
