# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need first.
PYTHON ?= python
# The CPU build of this torch release is what the project is tested with; GPU users may install any torch >= 2.4.
TORCH ?= torch==2.13.0

.PHONY: setup demo test lint leaderboard

setup:
	$(PYTHON) -m pip install --quiet "$(TORCH)"
	$(PYTHON) -m pip install --quiet -e ".[dev]"

demo: setup
	$(PYTHON) run.py --model bert --smoke

test: setup
	$(PYTHON) -m pytest

lint:
	ruff check .
	ruff format --check .

leaderboard:
	$(PYTHON) run.py --leaderboard
