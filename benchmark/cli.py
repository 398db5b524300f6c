"""The command line: `python run.py --model ernie`, `--list`, `--leaderboard`, `--smoke`."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap
from pathlib import Path

from benchmark.config import RunConfig, config_fields
from benchmark.errors import HarnessError

EPILOG = """\
examples:
  python run.py --list
  python run.py --model bert --smoke
  python run.py --model ernie
  python run.py --model macbert --model-path /models/chinese-macbert-base --data-dir data/thucnews
  python run.py --model roberta_wwm --data-dir my_data --text-col title --label-col category
  python run.py --model macbert --seeds 1 2 3
  python run.py --leaderboard
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

    run_options = parser.add_argument_group("run options (defaults reproduce the reference setup)")
    for spec in config_fields():
        flag = "--" + spec.name.replace("_", "-")
        help_text = spec.metadata["help"] + ("" if spec.type == "bool" else " (default: %(default)s)")
        if spec.type == "bool":
            run_options.add_argument(flag, action=argparse.BooleanOptionalAction, default=spec.default,
                                     help=spec.metadata["help"])
        else:
            kind = {"int": int, "float": float}.get(spec.type.split(" ")[0], str)
            run_options.add_argument(flag, type=kind, default=spec.default, help=help_text,
                                     choices=spec.metadata.get("choices"))
    return parser


def print_registry() -> None:
    from benchmark.registry import list_backbones

    rows = [(b.name, b.hub_id, b.architecture,
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.list:
            print_registry()
            return 0
        if args.leaderboard:
            from benchmark.leaderboard import write_leaderboard

            for path in write_leaderboard(Path(args.results_dir)):
                print(path)
            return 0
        if not args.model:
            raise HarnessError("choose a backbone with --model NAME (see --list), or --list / --leaderboard")
        from benchmark.pipeline import run
        from benchmark.smoke import smoke_config

        values = {spec.name: getattr(args, spec.name) for spec in config_fields()}
        config = RunConfig(**values)
        if config.smoke:
            config = smoke_config(config)
        for seed in args.seeds or [config.seed]:
            run(dataclasses.replace(config, seed=seed))
        return 0
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; no results file was written for the unfinished run", file=sys.stderr)
        return 130
