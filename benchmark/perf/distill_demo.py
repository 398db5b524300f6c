"""Does distillation help? A teacher, and two students with the same budget: one on gold labels, one distilled.

`python -m benchmark.perf.distill_demo --data-dir DIR` trains a full-size TextCNN teacher on the mini protocol
(or takes --teacher RUN), then per seed a TextCNN fifteen times smaller twice, from the same initialisation,
and compares the two arms with McNemar's test on the test set. Every run lands in --results-dir as usual.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from benchmark.perf.workload import measurement
from benchmark.run.distill import teacher_record

# Teacher: full-size TextCNN. Students: a TextCNN fifteen times smaller, trained once on gold labels and once
# distilled, with the same initialisation, data order, steps, learning-rate schedule and early stopping. The
# settings suit the small student (a higher learning rate, little dropout) and are the same for both arms.
STUDENT_SHAPE = {"embedding_size": 32, "num_filters": 32}
STUDENT_SETTINGS = {"learning_rate": 2e-3, "dropout": 0.1}


def demo(
    data_dir: str,
    results_dir: str,
    seeds: list[int],
    student_steps: int,
    temperature: float,
    alpha: float,
    teacher: str | None = None,
) -> dict:
    from benchmark.data.load import read_splits
    from benchmark.loading.sources import write_tiny_model
    from benchmark.registry import get_backbone
    from benchmark.report.stats import mcnemar
    from benchmark.run.driver import run
    from benchmark.settings import resolve_settings

    textcnn = get_backbone("textcnn")
    given = {"data_dir": data_dir, "protocol": "mini", "results_dir": results_dir}
    if teacher:
        teacher = Path(teacher)
        print(f"== teacher: {teacher}", flush=True)
    else:
        print("== teacher: textcnn, full size, recommended settings", flush=True)
        teacher = run(resolve_settings(textcnn, given), show_progress=False)
    task = read_splits(resolve_settings(textcnn, given).config)
    outcome = {"teacher": teacher_record(teacher), "students": []}
    # One initial student per seed, shared by both arms, so only the loss differs. Always the same folder, so
    # the runs' settings (model_path among them) differ only in the seed and the leaderboard pools the seeds.
    folder = Path(results_dir) / "student-init"
    for seed in seeds:
        shutil.rmtree(folder, ignore_errors=True)
        write_tiny_model(textcnn, task.train.texts, folder, seed, shape=STUDENT_SHAPE)
        student = {
            **given,
            **STUDENT_SETTINGS,
            "model_path": str(folder),
            "seed": seed,
            "max_steps": student_steps,
            "patience_steps": student_steps,
        }
        for arm, extra in (
            ("gold labels", {}),
            ("distilled", {"teacher": str(teacher), "temperature": temperature, "alpha": alpha}),
        ):
            print(f"== student ({STUDENT_SHAPE}), seed {seed}, {arm}", flush=True)
            run_dir = run(resolve_settings(textcnn, {**student, **extra}), show_progress=False)
            metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
            outcome["students"].append(
                {
                    "seed": seed,
                    "arm": arm,
                    "run_id": metrics["run_id"],
                    "parameters": metrics["backbone"]["parameters"],
                    "accuracy": metrics["metrics"]["accuracy"],
                    "macro_f1": metrics["metrics"]["macro"]["f1"],
                    "correct": _correct(run_dir),
                }
            )
        gold, distilled = (r.pop("correct") for r in outcome["students"][-2:])
        test = mcnemar(gold, distilled)
        outcome["students"][-1]["mcnemar_vs_gold"] = {
            "only_gold": test.only_first,
            "only_distilled": test.only_second,
            "p_value": test.p_value,
        }
    shutil.rmtree(folder, ignore_errors=True)
    return outcome


def _correct(run_dir: Path) -> np.ndarray:
    import csv

    with open(run_dir / "predictions.csv", encoding="utf-8", newline="") as handle:
        return np.array([row["gold"] == row["predicted"] for row in csv.DictReader(handle)])


def print_demo(outcome: dict) -> None:
    teacher = outcome["teacher"]
    print(
        f"\nteacher {teacher['run_id']}: {teacher['parameters']} parameters, test accuracy "
        f"{teacher['metrics']['accuracy']:.4f}"
    )
    print("arm           seed  parameters  accuracy  macro-F1  McNemar vs gold labels, same seed")
    for row in outcome["students"]:
        test = row.get("mcnemar_vs_gold")
        versus = f"  {test['only_gold']}/{test['only_distilled']}, p = {test['p_value']:.2g}" if test else ""
        print(
            f"{row['arm']:<13} {row['seed']:>4}  {row['parameters']:>10}  {row['accuracy']:.4f}    "
            f"{row['macro_f1']:.4f}{versus}"
        )
    for arm in ("gold labels", "distilled"):
        values = [r["accuracy"] for r in outcome["students"] if r["arm"] == arm]
        print(f"mean accuracy, {arm}: {np.mean(values):.4f} over {len(values)} seed(s)")


@measurement
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.perf.distill_demo",
        description="Distillation demonstration on the mini protocol (see the "
        "module docstring); the runs land in --results-dir.",
    )
    parser.add_argument("--demo", action="store_true", help="run the demonstration")
    parser.add_argument("--data-dir", default="data/thucnews", help="THUCNews-10 folder with dev.txt and test.txt")
    parser.add_argument("--results-dir", default="results/distill-demo", help="where the demo's runs are written")
    parser.add_argument(
        "--teacher",
        help="a finished mini-protocol run to use as the teacher (default: train a full-size textcnn first)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="student seeds")
    parser.add_argument(
        "--student-steps",
        type=int,
        default=3000,
        help="training steps of each student (the best dev-loss checkpoint is scored)",
    )
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.7)
    args = parser.parse_args(argv)
    if not args.demo:
        parser.print_help()
        return 0
    outcome = demo(
        args.data_dir, args.results_dir, args.seeds, args.student_steps, args.temperature, args.alpha, args.teacher
    )
    print_demo(outcome)
    summary = Path(args.results_dir) / "distill-demo.json"
    summary.write_text(json.dumps(outcome, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"summary in {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
