"""The command line: `python run.py --model ernie`, `--list`, `--leaderboard`, `--smoke`."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from benchmark.config import config_fields, default_of, flag_name, value_type
from benchmark.console import log, report_error
from benchmark.errors import HarnessError, Terminated
from benchmark.listing import print_backbones, print_datasets
from benchmark.registry import get_backbone, list_backbones
from benchmark.settings import Settings, check_config, resolve_settings

RUN_OPTIONS = {spec.name for spec in config_fields()}

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
    actions.add_argument(
        "--list",
        nargs="?",
        const="*",
        metavar="PATTERN",
        help="list the registered backbones by family and size (or those matching PATTERN, e.g. 'ernie3*') and exit",
    )
    actions.add_argument(
        "--list-datasets",
        action="store_true",
        help="list the registered datasets, their protocols and published figures, and exit",
    )
    actions.add_argument(
        "--leaderboard",
        action="store_true",
        help="rebuild results/leaderboard.{html,md,csv} and the plots from every saved run; open the .html",
    )
    actions.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        metavar="SEED",
        help="run once per seed (overrides --seed), one results folder each",
    )
    actions.add_argument(
        "--skip-finished",
        action="store_true",
        help="skip a run when a finished run of the same configuration is already in --results-dir "
        "(for a queue submitted again after pre-emption)",
    )

    serving = parser.add_argument_group("after fine-tuning")
    serving.add_argument(
        "--predict",
        nargs="+",
        metavar=("RUN", "TEXT"),
        help="label texts with a saved run: --predict results/RUN TEXT [TEXT ...]",
    )
    serving.add_argument("texts", nargs="*", metavar="TEXT", help=argparse.SUPPRESS)
    serving.add_argument(
        "--predict-file",
        metavar="FILE",
        help="with --predict RUN: label every line of FILE (writes a CSV, see --output)",
    )
    serving.add_argument("--output", metavar="CSV", help="where --predict-file writes its CSV")
    serving.add_argument(
        "--force",
        action="store_true",
        help="with --predict-file: replace an existing --output file that is not a predictions CSV of this harness",
    )
    serving.add_argument(
        "--export", metavar="RUN", help="write serving variants of a saved run beside it, with accuracy and CPU latency"
    )
    serving.add_argument(
        "--int8",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --export: dynamic int8 quantisation of the linear layers",
    )
    serving.add_argument(
        "--onnx",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="with --export: also ONNX (and int8 ONNX) where onnxruntime is installed",
    )

    # Run options carry no argparse default: only what was written comes back, to be layered over the defaults,
    # the dataset's, the backbone's recommended settings and a preset (benchmark.settings.resolve_settings). The
    # help shows the defaults.
    run_options = parser.add_argument_group(
        "run options (defaults reproduce the reference setup)", argument_default=argparse.SUPPRESS
    )
    for spec in config_fields():
        flag = flag_name(spec.name)
        # A None default is described by the help text itself (it depends on the device or the backbone).
        accepts = spec.metadata.get("range")
        facts = ([accepts.describe()] if accepts else []) + (
            [f"default: {spec.default}"] if spec.type != "bool" and spec.default is not None else []
        )
        help_text = spec.metadata["help"] + (f" ({'; '.join(facts)})" if facts else "")
        if spec.name == "model":  # several names make a queue of runs
            run_options.add_argument(
                flag,
                nargs="+",
                metavar="NAME",
                help="backbone name(s) from the registry (see --list), a pattern such as 'ernie3*', or all; "
                "several make a queue of runs that goes on when one fails",
            )
        elif spec.name == "resume":  # a bare --resume means: there must be a run to continue
            run_options.add_argument(
                flag,
                nargs="?",
                const="latest",
                metavar="RUN_FOLDER",
                help=f"{spec.metadata['help']}; a bare --resume means latest (default: {spec.default})",
            )
            run_options.add_argument(
                "--no-resume",
                dest="resume",
                action="store_const",
                const="never",
                help="always start a new run folder (--resume never)",
            )
        elif spec.type == "bool":
            run_options.add_argument(flag, action=argparse.BooleanOptionalAction, help=spec.metadata["help"])
        else:
            run_options.add_argument(
                flag, type=value_type(spec), help=help_text.replace("%", "%%"), choices=spec.metadata.get("choices")
            )
    return parser


def _number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def numbers_as_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """argparse takes only `-1` and `-1.5` for negative numbers: `--learning-rate -1e-5` would read as a flag
    missing its value. A number after a flag that takes one value becomes `--flag=value`, so the range check
    can name it."""
    single = {flag for action in parser._actions if action.nargs is None for flag in action.option_strings}
    out = []
    for token in argv:
        if out and out[-1] in single and token.startswith("-") and _number(token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def backbone_names(requested: list[str]) -> list[str]:
    """`all` is every registered backbone and a pattern such as `ernie3*` a family; any other name must be
    registered. Checked before anything runs."""
    names = []
    for name in requested:
        if name == "all" or any(char in name for char in "*?["):
            found = [b.name for b in list_backbones("*" if name == "all" else name)]
            if not found:
                raise HarnessError(f"--model {name!r}: no registered backbone matches (see --list)")
        else:
            found = [get_backbone(name).name]
        names += [n for n in found if n not in names]
    return names


def settings_for(name: str, given: dict) -> Settings:
    """One run's settings; every flag is checked before any work."""
    from benchmark.data.load import check_data_flags

    settings = resolve_settings(get_backbone(name), given)
    check_config(settings.config, settings.given)
    check_data_flags(settings.config, settings.given)
    return settings


ACTIONS = ("list", "list_datasets", "leaderboard", "predict", "export")


def check_command(args, given: set[str]) -> None:
    """One thing to do per command, and no flag that the chosen action would silently ignore."""
    chosen = [name for name in ACTIONS if getattr(args, name)] + (["model"] if getattr(args, "model", None) else [])
    if len(chosen) > 1:
        raise HarnessError(f"{' and '.join(flag_name(name) for name in chosen)} cannot be combined; run one at a time")
    repeated = [seed for i, seed in enumerate(args.seeds or []) if seed in args.seeds[:i]]
    if repeated:
        raise HarnessError(
            f"--seeds {' '.join(map(str, args.seeds))}: seed {repeated[0]} is given twice; expected each seed once "
            f"(one run each)"
        )
    for name in ("output", "force"):
        if getattr(args, name) and not args.predict_file:
            raise HarnessError(f"--{name} applies only with --predict RUN --predict-file FILE")
    if chosen and chosen[0] in ACTIONS:
        ignored = sorted(given - {"results_dir"} if chosen[0] == "leaderboard" else given)
        if ignored:
            raise HarnessError(
                f"{flag_name(chosen[0])} does not use {', '.join(flag_name(n) for n in ignored)}; drop "
                f"{'it' if len(ignored) == 1 else 'them'}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(numbers_as_values(parser, sys.argv[1:] if argv is None else argv))
    previous_handler = None
    try:
        given = {name: value for name, value in vars(args).items() if name in RUN_OPTIONS and name != "model"}
        check_command(args, set(given))
        results_dir = Path(given.get("results_dir", default_of("results_dir")))
        if args.list:
            print_backbones(args.list)
            return 0
        if args.list_datasets:
            print_datasets()
            return 0
        if args.leaderboard:
            from benchmark.report.leaderboard import write_leaderboard

            for path in write_leaderboard(results_dir):
                print(path)
            return 0
        if args.texts and not args.predict:
            raise HarnessError("texts on the command line are classified with --predict RUN TEXT [TEXT ...]")
        if args.predict or args.predict_file:
            from benchmark.serve.predict import predict_command

            run_dir, texts = (args.predict[0], [*args.predict[1:], *args.texts]) if args.predict else (None, [])
            return predict_command(run_dir, texts, args.predict_file, args.output, force=args.force)
        if args.export:
            from benchmark.run.export import export_run

            for folder in export_run(Path(args.export), int8=args.int8, onnx=args.onnx):
                print(folder)
            return 0
        if not getattr(args, "model", None):
            raise HarnessError("choose a backbone with --model NAME (see --list), or --list / --leaderboard")
        plans = [{**given, "seed": seed} for seed in args.seeds] if args.seeds else [given]
        queue = [settings_for(name, plan) for name in backbone_names(args.model) for plan in plans]
        torch_runs = any(get_backbone(s.config.model).kind != "sklearn" for s in queue)
        if argv is None and torch_runs:  # from the command line; a caller in Python keeps its threads and bars
            from benchmark.run.device import set_cpu_threads
            from benchmark.run.progress import quiet_library_bars

            set_cpu_threads()
            quiet_library_bars()
        from benchmark.run import queue as runs
        from benchmark.run.signals import end_like_an_error_on_sigterm

        previous_handler = end_like_an_error_on_sigterm()
        if len(queue) > 1:
            if queue[0].config.resume not in ("auto", "latest", "never"):
                raise HarnessError("--resume RUN_FOLDER continues one run; give one --model and one seed")
            return runs.run_queue(queue, args.skip_finished)
        from benchmark.run.driver import run

        log(queue[0].describe())
        run(queue[0], skip_finished=args.skip_finished)
        return 0
    except HarnessError as error:
        # Every process says its own: under torchrun a flag may be wrong for one process only, and that process's
        # line (named by its rank) is the one the user needs.
        report_error(str(error))
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted; no results file was written for the unfinished run. Running the same command again "
            "resumes it from its last checkpoint, if it saved one",
            file=sys.stderr,
        )
        return 130
    except Exception as error:
        from benchmark.run.queue import describe_failure, foreseen, several_processes

        if isinstance(error, Terminated) and not several_processes():
            error.run = error.run or f"{queue[0].config.model} seed {queue[0].config.seed}"
            report_error(error.describe())
            return 128 + signal.SIGTERM  # as a process ended by the signal reports itself
        if not foreseen(error):
            raise
        report_error(describe_failure(error))
        return 1
    finally:
        if previous_handler is not None:  # a caller in Python gets its own handling of SIGTERM back
            signal.signal(signal.SIGTERM, previous_handler)
