"""The command line: `python run.py --model ernie`, `--list`, `--leaderboard`, `--smoke`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from benchmark.arguments import RUN_OPTIONS, build_parser, numbers_as_values
from benchmark.config import default_of, flag_name
from benchmark.console import log, report_error
from benchmark.errors import HarnessError, Terminated
from benchmark.listing import print_backbones, print_datasets
from benchmark.registry import get_backbone, list_backbones
from benchmark.settings import Settings, check_config, resolve_settings


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
    check_fanout(args, chosen)
    check_tuning(args, chosen)
    if chosen and chosen[0] in ACTIONS:
        ignored = sorted(given - {"results_dir"} if chosen[0] == "leaderboard" else given)
        if ignored:
            raise HarnessError(
                f"{flag_name(chosen[0])} does not use {', '.join(flag_name(n) for n in ignored)}; drop "
                f"{'it' if len(ignored) == 1 else 'them'}"
            )


def check_tuning(args, chosen: list[str]) -> None:
    """--tune and the flags that shape a sweep."""
    names = ("tune", "sampler", "search", "search_space", "tune_seed")
    given = [name for name in names if getattr(args, name) is not None]
    if not given:
        return
    if args.tune is None:
        raise HarnessError(f"{flag_name(given[0])} shapes a tuning sweep: add --tune N")
    if chosen != ["model"]:
        raise HarnessError("--tune applies to runs: give --model NAME [NAME ...]")
    if args.tune < 1:
        raise HarnessError(f"--tune {args.tune}: expected a whole number at least 1 (trials per backbone)")
    from benchmark.run.queue import several_processes

    if several_processes():  # each process would ask the study for a trial of its own
        raise HarnessError(
            "--tune runs its trials itself; start it with python run.py (--workers N for one trial per GPU), "
            "not torchrun"
        )


def check_fanout(args, chosen: list[str]) -> None:
    """--workers, --ray-address and --gpus-per-run: where and how many runs go at once."""
    fanout = [name for name in ("workers", "ray_address", "gpus_per_run") if getattr(args, name) is not None]
    if not fanout:
        return
    if chosen != ["model"]:
        raise HarnessError(f"{flag_name(fanout[0])} applies to runs: give --model NAME [NAME ...]")
    if args.workers is not None and args.workers < 1:
        raise HarnessError(f"--workers {args.workers}: expected a whole number at least 1 (runs at a time)")
    gpus = args.gpus_per_run
    if gpus is not None and not (0 < gpus <= 1 or float(gpus).is_integer()):
        raise HarnessError(
            f"--gpus-per-run {gpus:g}: expected a fraction of one GPU (above 0, at most 1) or whole GPUs"
        )
    if args.workers is None and args.ray_address is None:
        raise HarnessError("--gpus-per-run applies to runs on Ray: add --workers N (or --ray-address ADDRESS)")
    from benchmark.run.queue import several_processes

    if several_processes():
        raise HarnessError(f"{flag_name(fanout[0])} starts runs through Ray; start it with python run.py, not torchrun")


def tune_command(args, given: dict) -> int:
    """--tune N: every backbone's trials, then its chosen settings per seed, one after another or on Ray."""
    from benchmark.tune.sweep import Options, tune

    options = Options(
        budget=args.tune,
        sampler=args.sampler or "tpe",
        search=tuple(args.search or ()),
        search_space=args.search_space,
        seed=args.tune_seed or 0,
        seeds=tuple(args.seeds or (1, 2, 3)),
    )
    names = backbone_names(args.model)
    if args.workers is None and args.ray_address is None:
        return tune(names, given, options)
    from benchmark.run.fanout import fanned

    results = Path(given.get("results_dir", default_of("results_dir")))
    try:
        with fanned(results, args.workers, args.ray_address, args.gpus_per_run, skip_finished=True) as fanout:
            return tune(names, given, options, fanout)
    except KeyboardInterrupt:
        return 130


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
        if queue[0].config.resume not in ("auto", "latest", "never") and (
            len(queue) > 1 or args.tune is not None or args.workers is not None or args.ray_address is not None
        ):
            raise HarnessError("--resume RUN_FOLDER continues one run; give one --model and one seed, no --tune or Ray")
        if args.tune is not None:
            return tune_command(args, given)
        if args.workers is not None or args.ray_address is not None:
            from benchmark.run.fanout import fan_out

            return fan_out(queue, args.workers, args.ray_address, args.gpus_per_run, args.skip_finished)
        from benchmark.run import queue as runs
        from benchmark.run.signals import end_like_an_error_on_sigterm

        previous_handler = end_like_an_error_on_sigterm()
        if len(queue) > 1:
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
