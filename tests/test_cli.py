"""The command line's exit codes and messages, and the atomic writes and run folders of the results."""

from __future__ import annotations

import os

import pytest
from conftest import data_folder, one_error_line

from benchmark.atomic import write_text as write_atomic
from benchmark.cli import main
from benchmark.errors import HarnessError
from benchmark.run.folder import new_run_dir


def test_an_unknown_model_is_one_error_line_naming_close_matches(tmp_path, capsys, no_model_loading):
    folder = data_folder(tmp_path / "data")
    code = main(["--model", "bertt", "--data-dir", str(folder), "--results-dir", str(tmp_path / "results")])
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    assert "unknown backbone 'bertt'" in line
    suggestion = line.split("Did you mean: ")[1].split("?")[0].split(", ")
    assert suggestion[0] == "bert"
    assert "Registered: " in line and "ernie" in line
    assert not (tmp_path / "results").exists()


def test_no_model_is_an_error_pointing_at_list(capsys, no_model_loading):
    assert main([]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--model NAME" in line and "--list" in line


def test_list_shows_every_registered_backbone(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    first_words = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert {"bert", "ernie", "roberta_wwm", "macbert", "mengzi"} <= first_words
    assert "google-bert/bert-base-chinese" in out
    assert any(line.split()[:3] == ["name", "hub", "id"] for line in out.splitlines() if line.strip())


def test_help_exits_zero_and_documents_the_main_flags(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--model-path", "--smoke", "--data-dir", "--protocol", "--text-col", "--offline"):
        assert flag in out, flag
    assert "python run.py --list" in out  # the examples epilog


def test_a_missing_data_folder_is_one_error_line_naming_it(tmp_path, capsys, no_model_loading):
    missing = tmp_path / "no-such-data"
    code = main(
        ["--model", "bert", "--data-dir", str(missing), "--offline", "--results-dir", str(tmp_path / "results")]
    )
    assert code == 2
    assert one_error_line(capsys.readouterr().err) == f"error: {missing}: no such data folder"
    assert not (tmp_path / "results").exists()


def test_a_malformed_data_file_is_one_error_line_naming_file_and_line(tmp_path, capsys, no_model_loading):
    folder = data_folder(tmp_path / "data", train="央行宣布降准\t0\n北京房价回升\t1\n没有标签的一行\n")
    code = main(["--model", "bert", "--data-dir", str(folder), "--offline", "--results-dir", str(tmp_path / "results")])
    assert code == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert line.startswith(f"error: {folder / 'train.txt'}:3: expected 'text<TAB>label'")
    assert "loading" not in captured.out  # stopped before any model was looked for
    assert not (tmp_path / "results").exists()


# --- results files ---------------------------------------------------------------------------------------------


def test_write_atomic_writes_the_text_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "run" / "report.txt"
    write_atomic(target, "第一版\n")
    write_atomic(target, "第二版\r\nline two\n")  # replaces, newlines kept as given
    assert target.read_bytes() == "第二版\r\nline two\n".encode()
    assert os.listdir(target.parent) == ["report.txt"]


def test_write_atomic_under_a_regular_file_is_a_harness_error_naming_the_path(tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("not a folder", encoding="utf-8")
    target = blocker / "run" / "metrics.json"
    with pytest.raises(HarnessError) as info:
        write_atomic(target, "{}")
    assert str(info.value).startswith(f"cannot write {target}: ")
    assert sorted(os.listdir(tmp_path)) == ["results"]


def test_write_atomic_onto_a_folder_removes_its_temporary_file(tmp_path):
    target = tmp_path / "report.txt"
    target.mkdir()  # the rename fails after the temporary file was written
    with pytest.raises(HarnessError) as info:
        write_atomic(target, "text")
    assert str(info.value).startswith(f"cannot write {target}: ")
    assert os.listdir(tmp_path) == ["report.txt"]
    assert target.is_dir() and not any(target.iterdir())


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_write_atomic_into_a_read_only_folder_is_a_harness_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(HarnessError) as info:
            write_atomic(folder / "metrics.json", "{}")
        assert str(info.value).startswith(f"cannot write {folder / 'metrics.json'}: ")
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o700)


def test_new_run_dir_never_returns_the_same_folder_twice(tmp_path):
    results = tmp_path / "results"
    folders = [new_run_dir(results, "bert", "full", 1) for _ in range(50)]
    assert len(set(folders)) == 50
    assert all(f.is_dir() and f.parent == results for f in folders)
    assert all(f.name.startswith("bert-full-seed1-") for f in folders)
    assert len(list(results.iterdir())) == 50


def test_new_run_dir_takes_another_random_part_when_a_name_is_taken(tmp_path, monkeypatch):
    from benchmark.run import folder as results_module

    parts = iter(["0001", "0001", "0002", "0001", "0002", "0003"])
    monkeypatch.setattr(results_module.time, "strftime", lambda fmt: "20250101-120000")
    monkeypatch.setattr(results_module.secrets, "token_hex", lambda n: next(parts))
    folders = [new_run_dir(tmp_path, "ernie", "mini", 3) for _ in range(3)]
    assert [f.name for f in folders] == [f"ernie-mini-seed3-20250101-120000-000{i}" for i in (1, 2, 3)]


def test_new_run_dir_gives_up_with_a_harness_error(tmp_path, monkeypatch):
    from benchmark.run import folder as results_module

    monkeypatch.setattr(results_module.time, "strftime", lambda fmt: "20250101-120000")
    monkeypatch.setattr(results_module.secrets, "token_hex", lambda n: "0000")
    new_run_dir(tmp_path, "bert", "full", 1)
    with pytest.raises(HarnessError) as info:
        new_run_dir(tmp_path, "bert", "full", 1)
    assert str(info.value) == f"cannot create a new run folder in {tmp_path}"


HEAVY = ("torch", "transformers", "sklearn", "accelerate")


@pytest.mark.parametrize(
    "argv, code",
    [
        (["--help"], 0),
        (["--list"], 0),
        (["--list", "ernie3*"], 0),
        (["--list-datasets"], 0),
        (["--model", "bertt"], 2),
        (["--model", "bert", "--learning-rate", "-1"], 2),
        (["--model", "bert", "--smoke", "--model-path", "x"], 2),
        (["--model", "textcnn", "--gradient-checkpointing"], 2),
        (["--model", "bert", "--epochs", "0"], 2),
        (["--leaderboard", "--seed", "2"], 2),
        ([], 2),
    ],
)
def test_help_listings_and_usage_errors_answer_without_importing_torch_or_transformers(argv, code):
    """The command line answers these before any heavy import: what it needs is the declarations, which name
    their classes as text. Run in a fresh interpreter, since this one has long imported torch."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    probe = (
        "import json, sys\nfrom benchmark.cli import main\ntry:\n    code = main(json.loads(sys.argv[1]))\n"
        "except SystemExit as exit:\n    code = exit.code\n"
        f"print(json.dumps([code, sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))]))"
    )
    child = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(argv)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found_code, imported = json.loads(child.stdout.strip().splitlines()[-1])
    assert found_code == code, child.stderr
    assert imported == [], f"{' '.join(argv) or '(no flags)'} imported {imported}"
    if code == 2:
        assert len(child.stderr.strip().splitlines()) == 1 and "Traceback" not in child.stderr
