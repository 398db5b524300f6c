"""--tune N: the same N trials for every backbone, each an ordinary run, chosen on dev alone; a stopped sweep
continues without repeating a finished trial; the test set never chooses."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLE_DIR, one_error_line, run_flags, sample_copy, sample_lines, tiny_bert

from benchmark.cli import main
from benchmark.run.resume import complete_checkpoints

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    __import__("importlib").util.find_spec("optuna") is None, reason="Optuna is the optional [tune] extra"
)


def records(results: Path) -> list[dict]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(results.glob("*/metrics.json"))]


def trials(results: Path, backbone: str) -> dict[int, dict]:
    found = {}
    for record in records(results):
        tuning = record.get("tuning", {})
        if record["backbone"]["name"] == backbone and "trial" in tuning:
            assert tuning["trial"] not in found, "a trial was run twice"
            found[tuning["trial"]] = record
    return found


def chosen(results: Path, backbone: str) -> list[dict]:
    return [r for r in records(results) if r["backbone"]["name"] == backbone and "chosen_trial" in r.get("tuning", {})]


def classic(results: Path, data: Path = SAMPLE_DIR) -> list[str]:
    return ["--model", "tfidf", "tfidf_lr", "--data-dir", str(data), "--results-dir", str(results)]


def test_every_backbone_gets_the_same_trials_chosen_on_dev_then_run_with_each_seed(tmp_path, capsys, one_torch_thread):
    """A 4-trial sweep of two tiny backbones end to end: a classic baseline and a tiny BERT."""
    results = tmp_path / "results"
    model, data = tiny_bert(tmp_path / "tiny"), sample_copy(tmp_path / "data")
    bert = run_flags(model, data, "--max-steps 12 --eval-every 4 --batch-size 16")
    space = ["--search", "learning_rate=log:1e-3:1e-2", "batch_size=16", "warmup=0:0.1"]
    assert main([*bert, "--results-dir", str(results), "--tune", "4", "--seeds", "1", "2", *space]) == 0
    assert main([*classic(results, data), "--tune", "4", "--seeds", "1", "2"]) == 0
    out = capsys.readouterr().out
    assert "trial 4/4 of bert:" in out and "trial 4/4 of tfidf:" in out
    for name in ("tiny-bert", "tfidf", "tfidf_lr"):
        found = trials(results, name)
        assert sorted(found) == [0, 1, 2, 3], name
        for record in found.values():
            tuning = record["tuning"]
            assert (
                tuning["budget"] == 4 and record["seed"] == 0 and set(tuning["dev"]) == {"accuracy", "macro_f1", "loss"}
            )
            assert all(record["config"][key] == value for key, value in tuning["sampled"].items())
        best = max(found.values(), key=lambda r: (r["tuning"]["dev"]["accuracy"], -r["tuning"]["trial"]))
        finals = chosen(results, name)
        assert sorted(r["seed"] for r in finals) == [1, 2], name
        for final in finals:
            assert final["tuning"]["chosen_trial"] == best["tuning"]["trial"] and final["tuning"]["trials"] == 4
            assert final["tuning"]["sampled"] == best["tuning"]["sampled"]
            assert set(final["tuning"]["recommended"]) == set(final["tuning"]["space"])
    bert_trials = trials(results, "tiny-bert")
    assert all(
        1e-3 <= r["config"]["learning_rate"] <= 1e-2 and r["config"]["batch_size"] == 16 for r in bert_trials.values()
    )
    assert (results / "studies").is_dir() and len(list((results / "studies").glob("*.journal"))) == 3


def shuffled_test_labels(source: Path, target: Path, seed: int = 7) -> Path:
    lines = sample_lines("test")
    labels = [line.rsplit("\t", 1)[1] for line in lines]
    random.Random(seed).shuffle(labels)
    return sample_copy(
        target, test=[f"{line.rsplit(chr(9), 1)[0]}\t{label}" for line, label in zip(lines, labels, strict=True)]
    )


def test_the_test_set_never_chooses(tmp_path):
    """The same sweep on the same train and dev, with the test labels shuffled: the same trials, the same dev
    scores, the same choice; only the test scores differ."""
    runs = {}
    for name, data in (
        ("plain", sample_copy(tmp_path / "plain")),
        ("shuffled", shuffled_test_labels(SAMPLE_DIR, tmp_path / "shuffled")),
    ):
        results = tmp_path / f"results-{name}"
        assert main([*classic(results, data), "--tune", "5", "--seeds", "1"]) == 0
        runs[name] = results
    for backbone in ("tfidf", "tfidf_lr"):
        plain, shuffled = (trials(runs[name], backbone) for name in ("plain", "shuffled"))
        assert [t["tuning"]["sampled"] for _, t in sorted(plain.items())] == [
            t["tuning"]["sampled"] for _, t in sorted(shuffled.items())
        ]
        assert [t["tuning"]["dev"] for _, t in sorted(plain.items())] == [
            t["tuning"]["dev"] for _, t in sorted(shuffled.items())
        ]
        (a,), (b,) = chosen(runs["plain"], backbone), chosen(runs["shuffled"], backbone)
        assert a["tuning"]["chosen_trial"] == b["tuning"]["chosen_trial"] and a["config"] == {
            **b["config"],
            "data_dir": a["config"]["data_dir"],
            "results_dir": a["config"]["results_dir"],
        }
        assert a["metrics"]["accuracy"] != b["metrics"]["accuracy"], "the test labels did change"


def test_a_sweep_continues_where_it_stopped_and_a_budget_stays_the_same_for_all(tmp_path):
    results = tmp_path / "results"
    flags = ["--model", "tfidf", "--data-dir", str(SAMPLE_DIR), "--results-dir", str(results), "--seeds", "1"]
    assert main([*flags, "--tune", "2"]) == 0
    first = trials(results, "tfidf")
    assert main([*flags, "--tune", "4"]) == 0  # two more trials; the first two are not run again
    found = trials(results, "tfidf")
    assert sorted(found) == [0, 1, 2, 3] and all(found[k]["run_id"] == first[k]["run_id"] for k in first)
    assert main([*flags, "--tune", "2"]) == 0  # a budget of 2 chooses among the first two trials only
    (of_two,) = [r for r in chosen(results, "tfidf") if r["tuning"]["budget"] == 2]  # the first command's, kept
    (of_four,) = [r for r in chosen(results, "tfidf") if r["tuning"]["budget"] == 4]
    assert of_two["tuning"]["chosen_trial"] in (0, 1) and of_four["tuning"]["trials"] == 4


def test_a_trial_lost_when_the_sweep_died_is_run_again_with_its_settings_and_counted_once(tmp_path):
    """The sweep is killed while a trial runs (a smoke BERT, slowed to seconds); started again, it asks that trial
    again with the same settings, resumes its run folder, and never repeats a finished trial."""
    results = tmp_path / "results"
    flags = ["--model", "bert", "--smoke", "--results-dir", str(results), "--tune", "3", "--seeds", "1"]
    flags += ["--eval-every", "10", "--save-every", "10"]  # a checkpoint early, for the lost trial to resume from
    slow = ["--search", "epochs=40:60", "learning_rate=log:1e-4:1e-3", "warmup=0.1", "batch_size=16"]
    child = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *flags, *slow], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 180
    while len(list(results.glob("*seed0*/metrics.json"))) < 1 or not [
        folder
        for folder in results.glob("*seed0*")
        if complete_checkpoints(folder) and not (folder / "metrics.json").exists()
    ]:
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the sweep did not reach its second trial within three minutes"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    lost = [p for p in results.glob("*seed0*") if not (p / "metrics.json").is_file()]
    assert len(lost) == 1
    lost_trial = json.loads((lost[0] / "run_config.json").read_text(encoding="utf-8"))["tuning"]
    assert main([*flags, *slow]) == 0
    found = trials(results, "bert")  # numbered as Optuna asked them: the retry took a number, the run kept its own
    assert len(found) == 3 and lost_trial["trial"] in found, "three trials, each once"
    assert found[lost_trial["trial"]]["tuning"]["sampled"] == lost_trial["sampled"]
    assert found[lost_trial["trial"]]["run_id"] == lost[0].name, "the lost trial's own folder was finished"


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--search", "learning_rate=log:1e-5:5e-5"], ["--search shapes a tuning sweep: add --tune N"]),
        (["--tune", "0"], ["--tune 0: expected a whole number at least 1"]),
        (["--tune", "2", "--search", "learning_rate=log:-1:5"], ["--search learning_rate", "not a range"]),
        (["--tune", "2", "--search", "results_dir=a,b"], ["--search results_dir: not a run option a trial can vary"]),
        (["--tune", "2", "--search", "dropout=0:1.5"], ["--search dropout=0:1.5", "1.5 is not a value of --dropout"]),
        (["--tune", "2", "--sampler", "grid"], ["--sampler grid", "learning_rate is the range", "a list of values"]),
        (["--tune", "9", "--sampler", "grid", "--search-space", "SPACE"], ["--tune 9", "grid holds fewer settings"]),
    ],
)
def test_a_space_or_budget_out_of_place_is_one_line(flags, words, tmp_path, capsys):
    (tmp_path / "space.json").write_text('{"learning_rate": "1e-5,2e-5", "batch_size": "16,32"}', encoding="utf-8")
    flags = [str(tmp_path / "space.json") if flag == "SPACE" else flag for flag in flags]
    code = main(["--model", "bert", "--smoke", "--results-dir", str(tmp_path / "results"), *flags])
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    for word in words:
        assert word in line, line
    assert not list((tmp_path / "results").glob("*/metrics.json"))


def test_a_space_file_replaces_the_space_and_search_narrows_it(tmp_path):
    from benchmark.registry import get_backbone
    from benchmark.settings import resolve_settings
    from benchmark.tune.sweep import Options, space_for

    bert = get_backbone("bert")
    config = resolve_settings(bert, {}).config
    assert set(space_for(bert, config, Options(budget=1))) == {"learning_rate", "batch_size", "epochs", "warmup"}
    narrowed = space_for(bert, config, Options(budget=1, search=("learning_rate=log:2e-5:4e-5",)))
    assert narrowed["learning_rate"].text() == "log:2e-05:4e-05" and narrowed["epochs"].text() == "2:4"
    (tmp_path / "space.json").write_text('{"dropout": "0.1:0.3"}', encoding="utf-8")
    assert set(space_for(bert, config, Options(budget=1, search_space=str(tmp_path / "space.json")))) == {"dropout"}
