"""--tune N: the same N trials for every backbone, each an ordinary run, chosen on dev alone; a stopped sweep
continues without repeating a finished trial; the test set never chooses."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_DIR, one_error_line, run_flags, sample_copy, sample_lines, tiny_bert, wait_while_running

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
        dev = {number: record["tuning"]["dev"] for number, record in found.items()}
        best = found[max(dev, key=lambda n: (dev[n]["accuracy"], -dev[n]["loss"], -n))]  # ties: lower dev loss
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
    wait_while_running(
        child,
        lambda: (
            bool(list(results.glob("*seed0*/metrics.json")))
            and any(
                complete_checkpoints(folder) and not (folder / "metrics.json").exists()
                for folder in results.glob("*seed0*")
            )
        ),
        "checkpoint of the second trial",
    )
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


def failing_second_trial(monkeypatch, error: Exception) -> list:
    """driver.run raising `error` for trial 1 of tfidf, once; the calls it saw."""
    from benchmark.run import driver

    real, seen = driver.run, []

    def run(settings, **options):
        tuning = settings.tuning or {}
        seen.append((settings.config.model, tuning.get("trial"), tuning.get("chosen_trial")))
        if settings.config.model == "tfidf" and tuning.get("trial") == 1 and seen.count(seen[-1]) == 1:
            raise error
        return real(settings, **options)

    monkeypatch.setattr(driver, "run", run)
    return seen


def test_a_trial_whose_settings_diverge_counts_against_the_budget(tmp_path, monkeypatch, capsys):
    from benchmark.errors import Diverged

    results = tmp_path / "results"
    failing_second_trial(monkeypatch, Diverged("training loss", float("nan"), 3, 1.0))
    assert main([*classic(results), "--tune", "3", "--seeds", "1"]) == 0
    assert sorted(trials(results, "tfidf")) == [0, 2], "trial 1 failed, and no fourth trial took its place"
    (run,) = chosen(results, "tfidf")
    assert run["tuning"]["chosen_trial"] in (0, 2) and run["tuning"]["trials"] == 3
    assert "tfidf trial 1: the training loss became nan" in capsys.readouterr().err


def test_a_failure_that_is_not_the_settings_doing_stops_the_study_and_the_same_command_retries_it(
    tmp_path, monkeypatch, capsys
):
    from benchmark.errors import HarnessError

    results = tmp_path / "results"
    flags = [*classic(results), "--tune", "3", "--seeds", "1"]
    seen = failing_second_trial(monkeypatch, HarnessError("the data folder went away"))
    assert main(flags) == 1, "a study that chose nothing fails the command"
    err = capsys.readouterr().err
    assert "tfidf trial 1: the data folder went away" in err and "does not count" in err
    assert sorted(trials(results, "tfidf")) == [0] and not chosen(results, "tfidf")
    assert sorted(trials(results, "tfidf_lr")) == [0, 1, 2] and chosen(results, "tfidf_lr"), "the other went on"
    before = len(seen)
    assert main(flags) == 0
    found = trials(results, "tfidf")
    assert len(found) == 3 and 1 in found, "trial 1 asked again under its number, each trial once"
    assert seen.count(("tfidf", 1, None)) == 2, "the same trial ran again"
    assert not [key for key in seen[before:] if key[0] == "tfidf_lr" and key[1] is not None], "tfidf_lr was done"


def test_a_second_copy_of_a_running_sweep_is_refused(tmp_path, capsys):
    """It would take the first's running trials for lost ones and run them again."""
    from benchmark.tune import study as studies

    results = tmp_path / "results"
    flags = ["--model", "tfidf", "--data-dir", str(SAMPLE_DIR), "--results-dir", str(results), "--tune", "1"]
    assert main([*flags, "--seeds", "1"]) == 0
    (journal,) = (results / "studies").glob("*.journal")
    lock = studies.hold(results / "studies", journal.stem)  # the first copy, still running
    try:
        assert main([*flags, "--seeds", "2"]) == 2
        line = one_error_line(capsys.readouterr().err)
        assert f"study {journal.stem} is being run by another command" in line
    finally:
        lock.close()
    assert main([*flags, "--seeds", "2"]) == 0, "free again once the first copy ends"


def test_trials_equal_on_the_main_score_go_to_the_lower_dev_loss_then_the_earlier():
    import optuna

    from benchmark.tune import study as studies

    def trial(number, value, loss=None):
        made = optuna.trial.create_trial(
            value=value,
            user_attrs={} if loss is None else {studies.DEV_LOSS: loss},
            state=optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.FAIL,
        )
        made.number = number
        return made

    assert studies.best([trial(0, 0.858, 0.50), trial(1, 0.858, 0.48), trial(2, 0.85, 0.40)]).number == 1
    assert studies.best([trial(0, 0.858, 0.48), trial(1, 0.858, 0.48)]).number == 0
    assert studies.best([trial(0, 0.8, 0.5), trial(1, None), trial(2, 0.9)]).number == 2, "a loss missing: still best"
    assert studies.best([trial(0, None)]) is None


def test_an_interrupted_sweep_draws_what_an_uninterrupted_one_draws():
    """Random sampling, one trial at a time: a trial lost to a dead sweep and its retry take one seed, not two."""
    import optuna

    from benchmark.space import log
    from benchmark.tune import study as studies

    space = {"learning_rate": log(1e-5, 1e-4)}

    def draws(interrupt: bool) -> list[float]:
        storage = optuna.storages.InMemoryStorage()
        study = optuna.create_study(storage=storage, direction="maximize")
        found = []
        for number in range(4):
            trial = studies.ask(study, "random", 0, space)
            found.append(trial.params["learning_rate"])
            if interrupt and number == 2:  # the sweep dies while trial 2 runs; started again, it asks it again
                studies.ask_again_what_was_lost(study)
                trial = studies.ask(study, "random", 0, space)
                assert trial.params["learning_rate"] == found[-1]
            studies.tell(study, trial, 0.5)
        return found

    assert draws(interrupt=True) == draws(interrupt=False)


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
        (["--tune", "2", "--search", "batch_size=log:16:128"], ["--search batch_size", "takes whole numbers"]),
        (["--tune", "2", "--search", "batch_size=16,32.5"], ["--search batch_size", "takes whole numbers"]),
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


def test_a_sweep_under_torchrun_is_refused_before_any_trial(tmp_path, capsys, monkeypatch):
    """Each process would ask the study for a trial of its own."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    code = main(["--model", "tfidf", "--tune", "2", "--results-dir", str(tmp_path / "results")])
    assert code == 2
    assert "not torchrun" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "results" / "studies").exists()


def test_a_decoder_declares_its_space_for_lora_and_full_fine_tuning_draws_no_rank():
    from benchmark.registry import get_backbone
    from benchmark.settings import resolve_settings
    from benchmark.tune.sweep import Options, space_for

    qwen = get_backbone("qwen2_5_0_5b")
    lora = space_for(qwen, resolve_settings(qwen, {}).config, Options(budget=1))
    assert "lora_r" in lora and lora["learning_rate"].high == 5e-4
    full = space_for(qwen, resolve_settings(qwen, {"lora_r": 0}).config, Options(budget=1))
    assert set(full) == {"learning_rate", "batch_size", "epochs", "warmup"} and full["learning_rate"].high == 1e-4


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
