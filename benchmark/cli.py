"""The command line: `python run.py --model ernie`, `--list`, `--leaderboard`, `--smoke`."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import textwrap
import traceback
from pathlib import Path

from benchmark.config import RunConfig, check_config, config_fields, flag_name, value_type
from benchmark.errors import HarnessError

EPILOG = """\
examples:
  python run.py --list
  python run.py --model bert --smoke
  python run.py --model ernie
  python run.py --model macbert --model-path /models/chinese-macbert-base --data-dir data/thucnews
  python run.py --model roberta_wwm --data-dir my_data --text-col title --label-col category
  python run.py --model macbert --seeds 1 2 3
  python run.py --model bert ernie macbert --seeds 1 2 3    # a queue; a failed run does not stop the others
  python run.py --model all
  torchrun --nproc_per_node 4 run.py --model ernie --batch-size 32   # 4 GPUs: effective batch 4 x 32 = 128
  python run.py --leaderboard

A killed run resumes by itself when the same command is run again (see --resume); docs/cluster.md has
multi-GPU, multi-node and Slurm examples. Exit status: 0 when every run finished, 1 when a run of a queue
failed (the summary at the end says which), 2 for a usage or input error.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Fine-tune a Chinese backbone for text classification with early stopping, score the "
                    "test set, and save a self-describing results folder under results/.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_argument_group("what to do")
    actions.add_argument("--list", action="store_true", help="list the registered backbones and exit")
    actions.add_argument("--leaderboard", action="store_true",
                         help="rebuild results/leaderboard.{md,csv} and the plots from every saved run")
    actions.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                         help="run once per seed (overrides --seed), one results folder each")
    actions.add_argument("--skip-finished", action="store_true",
                         help="skip a run when a finished run of the same configuration is already in --results-dir "
                              "(for a queue submitted again after pre-emption)")

    serving = parser.add_argument_group("after fine-tuning")
    serving.add_argument("--predict", nargs="+", metavar=("RUN", "TEXT"),
                         help="label texts with a saved run: --predict results/RUN TEXT [TEXT ...]")
    serving.add_argument("texts", nargs="*", metavar="TEXT", help=argparse.SUPPRESS)
    serving.add_argument("--predict-file", metavar="FILE",
                         help="with --predict RUN: label every line of FILE (writes a CSV, see --output)")
    serving.add_argument("--output", metavar="CSV", help="where --predict-file writes its CSV")
    serving.add_argument("--export", metavar="RUN",
                         help="write serving variants of a saved run beside it, with accuracy and CPU latency")
    serving.add_argument("--int8", action=argparse.BooleanOptionalAction, default=True,
                         help="with --export: dynamic int8 quantisation of the linear layers")
    serving.add_argument("--onnx", action=argparse.BooleanOptionalAction, default=None,
                         help="with --export: also ONNX (and int8 ONNX) where onnxruntime is installed")

    run_options = parser.add_argument_group("run options (defaults reproduce the reference setup)")
    for spec in config_fields():
        flag = "--" + spec.name.replace("_", "-")
        # A None default is described by the help text itself (it depends on the device or the backbone).
        shown = spec.type != "bool" and spec.default is not None
        accepts = spec.metadata.get("range")
        facts = ([accepts.describe()] if accepts else []) + (["default: %(default)s"] if shown else [])
        help_text = spec.metadata["help"] + (f" ({'; '.join(facts)})" if facts else "")
        if spec.name == "model":  # several names make a queue of runs
            run_options.add_argument(flag, nargs="+", metavar="NAME",
                                     help="backbone name(s) from the registry (see --list), or all; several make "
                                          "a queue of runs that goes on when one fails")
        elif spec.name == "resume":  # a bare --resume means: there must be a run to continue
            run_options.add_argument(flag, nargs="?", const="latest", default=spec.default, metavar="RUN_FOLDER",
                                     help=spec.metadata["help"] + "; a bare --resume means latest "
                                          "(default: %(default)s)")
            run_options.add_argument("--no-resume", dest="resume", action="store_const", const="never",
                                     help="always start a new run folder (--resume never)")
        elif spec.type == "bool":
            run_options.add_argument(flag, action=argparse.BooleanOptionalAction, default=spec.default,
                                     help=spec.metadata["help"])
        else:
            run_options.add_argument(flag, type=value_type(spec), default=spec.default, help=help_text,
                                     choices=spec.metadata.get("choices"))
    return parser


def print_registry() -> None:
    from benchmark.registry import list_backbones

    rows = [(b.name, b.hub_id or "-", b.architecture,
             f"{b.reported_accuracy:.2f}" if b.reported_accuracy is not None else "-", b.description, b.note)
            for b in list_backbones()]
    widths = [max(len(r[i]) for r in [("name", "hub id", "arch", "reported", "", "")] + rows) for i in range(4)]
    print("  ".join(h.ljust(w) for h, w in zip(("name", "hub id", "arch", "reported"), widths, strict=True))
          + "  description")
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
        if row[5]:
            print(textwrap.fill(row[5], 100, initial_indent="      note: ", subsequent_indent="            "))
    print("\nreported: test accuracy (%) on THUCNews-10, full protocol, as reported by the reference course; "
          "not measured here.")


def report_error(message: str) -> None:
    """One line on stderr. A run that failed mid-training leaves its progress bar open: close it first, so the
    message starts a line of its own."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
    rank = int(os.environ.get("RANK", "0"))
    print(f"{f'[rank {rank}] ' if rank else ''}error: {message}", file=sys.stderr, flush=True)


def backbone_names(requested: list[str]) -> list[str]:
    """`all` is every registered backbone; any other name must be registered, checked before anything runs."""
    from benchmark.registry import get_backbone, list_backbones

    names = []
    for name in requested:
        for found in ([b.name for b in list_backbones()] if name == "all" else [get_backbone(name).name]):
            if found not in names:
                names.append(found)
    return names


def config_for(base: RunConfig, name: str, given: dict) -> RunConfig:
    """One backbone's settings: the backbone's recommended ones over the defaults, then the smoke preset, and
    whatever was written on the command line over both."""
    from benchmark.model.sources import smoke_config
    from benchmark.registry import apply_recommended, get_backbone

    config = apply_recommended(dataclasses.replace(base, model=name), get_backbone(name), set(given))
    if config.smoke:
        config = dataclasses.replace(smoke_config(config), **given)
    return config


def peer_failed(error: BaseException) -> bool:
    """A collective operation broken because another process of the group stopped; that process says why."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    import torch.distributed

    text = str(error)
    return isinstance(error, getattr(torch.distributed, "DistError", ())) or any(
        marker in text for marker in ("Connection closed by peer", "Connection reset by peer", "Broken pipe",
                                      "NCCL communicator", "ProcessGroupGloo"))


class Terminated(Exception):
    """The launcher (torchrun ending the others when one process failed, or a scheduler) sent SIGTERM."""


def _raise_terminated(signum, frame):
    raise Terminated("stopped by SIGTERM from the launcher or scheduler")


def describe_failure(error: Exception) -> str:
    """One line for a failed run; a traceback only for a failure no message foresaw (a bug to report)."""
    if isinstance(error, HarnessError | Terminated):
        return str(error)
    if peer_failed(error):
        return "stopped because another process of this run failed; its own message says why"
    traceback.print_exc()
    return f"{type(error).__name__}: {error}"


def run_queue(config: RunConfig, names: list[str], seeds: list[int], skip_finished: bool = False,
              given: dict | None = None) -> int:
    """Run every backbone with every seed. A failed run is reported and the queue goes on; the summary at the
    end lists each run's folder or error, and the exit status is 1 if any failed.
    With several processes (torchrun) the queue stops at the first failure instead: the processes may no
    longer be at the same point, and torchrun ends them all.
    """
    from benchmark.run.pipeline import log, run

    several_processes = int(os.environ.get("WORLD_SIZE", "1")) > 1
    queue = [(name, seed) for name in names for seed in seeds]
    outcomes = []  # (name, seed, run folder or None, error or None)
    for name, seed in queue:
        try:
            folder = run(dataclasses.replace(config_for(config, name, given or {}), seed=seed),
                         skip_finished=skip_finished)
            outcomes.append((name, seed, folder, None))
        except Exception as error:  # any failure of one run is reported, and the rest still run
            message = describe_failure(error)
            report_error(f"{name} seed {seed}: {message}")
            outcomes.append((name, seed, None, message))
            if several_processes:
                break
    finished = sum(message is None for *_, message in outcomes)
    lines = [f"\nqueue summary: {finished} of {len(queue)} runs finished"]
    for name, seed, folder, message in outcomes:
        lines.append(f"  ok      {name} seed {seed}: {folder}" if message is None
                     else f"  FAILED  {name} seed {seed}: {message}")
    lines += [f"  not run {name} seed {seed}" for name, seed in queue[len(outcomes):]]
    log("\n".join(lines))
    return 0 if finished == len(queue) else 1


def given_flags(argv: list[str] | None) -> set[str]:
    """The run options written on the command line, which win over a preset such as --smoke."""
    probe = build_parser()
    for action in probe._actions:  # parse again with no defaults: only what was written comes back
        action.default = argparse.SUPPRESS
    return set(vars(probe.parse_args(argv)))


ACTIONS = ("list", "leaderboard", "predict", "export")


def check_command(args, given: set[str]) -> None:
    """One thing to do per command, and no flag that the chosen action would silently ignore."""
    chosen = [name for name in ACTIONS if getattr(args, name)] + (["model"] if args.model else [])
    if len(chosen) > 1:
        raise HarnessError(f"{' and '.join('--' + name for name in chosen)} cannot be combined; run one at a time")
    if args.output and not args.predict_file:
        raise HarnessError("--output applies only with --predict RUN --predict-file FILE")
    if chosen and chosen[0] in ("list", "leaderboard", "predict", "export"):
        ignored = sorted(given - {"results_dir"} if chosen[0] == "leaderboard" else given)
        if ignored:
            raise HarnessError(f"--{chosen[0]} does not use {', '.join(flag_name(n) for n in ignored)}; drop "
                               f"{'it' if len(ignored) == 1 else 'them'}")


def check_dev_split(config: RunConfig, given: dict) -> None:
    """--dev-split carves dev out of train; with a dev file under the full protocol it would do nothing."""
    from benchmark.data.read import find_split_file

    if "dev_split" in given and config.protocol == "full" and not config.smoke and Path(config.data_dir).is_dir() \
            and find_split_file(Path(config.data_dir), "dev") is not None:
        raise HarnessError(f"--dev-split {config.dev_split} applies only when there is no dev file, but "
                           f"{config.data_dir} has one; drop --dev-split, or use --protocol mini")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = False  # until a run starts, every process fails alike and the main one speaks for all
    try:
        values = {spec.name: getattr(args, spec.name) for spec in config_fields()}
        given = {name: values[name] for name in given_flags(argv) if name in values and name != "model"}
        check_command(args, set(given))
        if args.list:
            print_registry()
            return 0
        if args.leaderboard:
            from benchmark.report.leaderboard import write_leaderboard

            for path in write_leaderboard(Path(args.results_dir)):
                print(path)
            return 0
        if args.texts and not args.predict:
            raise HarnessError("texts on the command line are classified with --predict RUN TEXT [TEXT ...]")
        if args.predict or args.predict_file:
            from benchmark.serve.predict import predict_command

            run_dir, texts = (args.predict[0], [*args.predict[1:], *args.texts]) if args.predict else (None, [])
            return predict_command(run_dir, texts, args.predict_file, args.output)
        if args.export:
            from benchmark.serve.export import export_run

            for folder in export_run(Path(args.export), int8=args.int8, onnx=args.onnx):
                print(folder)
            return 0
        if not args.model:
            raise HarnessError("choose a backbone with --model NAME (see --list), or --list / --leaderboard")
        names = backbone_names(args.model)
        seeds = args.seeds or [args.seed]
        base = RunConfig(**{**values, "model": names[0]})
        # Every run of the queue is checked before the first one starts.
        for name in names:
            for seed in seeds:
                config = dataclasses.replace(config_for(base, name, given), seed=seed)
                check_config(config, set(given))
                check_dev_split(config, given)
        config = config_for(base, names[0], given)
        if argv is None:  # from the command line; a caller in Python keeps the thread count it set
            from benchmark.run.device import set_cpu_threads

            set_cpu_threads()
        started = True
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            # torchrun ends the other processes with SIGTERM when one fails: end like an error, so a run folder
            # that holds nothing to continue from is removed rather than left behind.
            signal.signal(signal.SIGTERM, _raise_terminated)
        if len(names) * len(seeds) > 1:
            if config.resume not in ("auto", "latest", "never"):
                raise HarnessError("--resume RUN_FOLDER continues one run; give one --model and one seed")
            return run_queue(base, names, seeds, args.skip_finished, given)
        from benchmark.run.pipeline import run

        run(dataclasses.replace(config, seed=seeds[0]), skip_finished=args.skip_finished)
        return 0
    except HarnessError as error:
        if started or int(os.environ.get("RANK", "0")) == 0:
            report_error(str(error))
        return 2
    except KeyboardInterrupt:
        print("interrupted; no results file was written for the unfinished run. Running the same command again "
              "resumes it from its last checkpoint, if it saved one", file=sys.stderr)
        return 130
    except Exception as error:
        if not (peer_failed(error) or isinstance(error, Terminated)):
            raise
        report_error(describe_failure(error))
        return 1
