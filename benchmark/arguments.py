"""The command line's flags: what to do, the run options (one per RunConfig field, with its default and range),
and how a negative number after a flag is read as its value."""

from __future__ import annotations

import argparse

from benchmark.config import config_fields, flag_name, value_type

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
  python run.py --model bert ernie macbert --seeds 1 2 3 --workers 4   # 4 runs at a time on Ray, one per GPU
  python run.py --model bert macbert --tune 12 --workers 4   # the same 12 tuning trials each, chosen on dev
  torchrun --nproc_per_node 4 run.py --model ernie --batch-size 32   # 4 GPUs: effective batch 4 x 32 = 128
  python run.py --leaderboard

A killed run resumes by itself when the same command is run again (see --resume); docs/cluster.md has
multi-GPU, multi-node and Slurm examples. Exit status: 0 when every run finished, 1 when a run of a queue
failed (the summary at the end says which) or a backbone's --tune sweep chose nothing, 2 for a usage or input
error, 130 when stopped by Ctrl-C.
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
        "(for a queue submitted again after pre-emption; always on with --tune)",
    )

    fanout = parser.add_argument_group(
        'several runs at once, on Ray (pip install -e ".[ray]"; docs/cluster.md says when this beats torchrun)'
    )
    fanout.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run the queue on a local Ray instance, N runs at a time: each on its own GPU (see --gpus-per-run), or "
        "on a share of the CPU threads where there is no GPU; each run's log goes to its folder's run.log",
    )
    fanout.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="join a running Ray cluster (auto, or HOST:PORT) instead of starting a local instance; its token "
        "authentication stays on (RAY_AUTH_TOKEN); --results-dir must be on storage every node sees",
    )
    fanout.add_argument(
        "--gpus-per-run",
        type=float,
        metavar="GPUS",
        help="GPUs each run takes, on Ray: 1 by default; 0.5 puts two runs on one GPU, each doing its CPU work "
        "while the other computes",
    )

    tuning = parser.add_argument_group(
        'a fair tuning budget (pip install -e ".[tune]"; docs/leaderboard.md, "Tuned settings")',
    )
    tuning.add_argument(
        "--tune",
        type=int,
        metavar="N",
        help="give every backbone of the command the same N trials, drawn from its search space and selected on "
        "the dev set alone, then run the chosen settings once per --seeds (default 1 2 3)",
    )
    tuning.add_argument(
        "--sampler",
        choices=("tpe", "random", "grid"),
        help="how Optuna draws the trials: tpe (default), random, or grid (every dimension a list of values)",
    )
    tuning.add_argument(
        "--search",
        nargs="+",
        metavar="NAME=RANGE",
        help="narrow or replace dimensions of each backbone's space: learning_rate=log:1e-5:5e-5, "
        "batch_size=16,32, epochs=2:4, warmup=0:0.1, or one value",
    )
    tuning.add_argument(
        "--search-space",
        metavar="FILE",
        help='replace the whole space: a JSON object {"learning_rate": "log:1e-5:1e-4"}',
    )
    tuning.add_argument(
        "--tune-seed",
        type=int,
        metavar="SEED",
        help="the seed of the trials' runs and of the sampler (default 0: apart from --seeds, so the chosen "
        "settings are scored on seeds that did not choose them)",
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
