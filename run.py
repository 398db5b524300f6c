"""Fine-tune and score a Chinese backbone: `python run.py --help`."""

import os
import sys

from benchmark.cli import main
from benchmark.phases import started_from_command_line

if __name__ == "__main__":
    started_from_command_line()  # a run's wall time counts from the process's start, imports included
    try:
        sys.exit(main())
    except BrokenPipeError:  # the reader went away (`python run.py --list | head`): end quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
