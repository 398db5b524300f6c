"""A backbone's study, through Optuna's ask-and-tell interface: the harness runs each trial itself.

The study is kept in the results folder as Optuna's journal file (`studies/<name>.journal`, safe on shared
storage), so a sweep killed and started again continues: finished trials are kept, and a trial that was running
when the sweep died is asked again with the same settings (its run resumes from its checkpoint), the lost one
marked as such and not counted. Samplers are seeded per trial from the study's seed and the number of trials
before it (a lost one and its retry once), so a sweep run one trial at a time draws the same settings whether or
not it was interrupted.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from benchmark.errors import HarnessError
from benchmark.space import Dimension

RETRY_OF = "retry_of"  # a trial asked again because the sweep died while it ran: the lost trial's number
DEV_LOSS = "dev_loss"  # a finished trial's dev loss, which breaks ties of its main score
DISCARDED = "discarded"  # settings drawn that the run refused (a space at odds with the backbone): never counted


def optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def distributions(space: dict[str, Dimension]) -> dict:
    distributions = optuna().distributions
    made = {}
    for name, dimension in space.items():
        if dimension.kind == "choice":
            made[name] = distributions.CategoricalDistribution(list(dimension.values))
        elif dimension.kind == "int":
            made[name] = distributions.IntDistribution(int(dimension.low), int(dimension.high))
        else:
            made[name] = distributions.FloatDistribution(dimension.low, dimension.high, log=dimension.kind == "log")
    return made


def grid_size(space: dict[str, Dimension], name: str) -> int:
    size = 1
    for dimension_name, dimension in space.items():
        if dimension.kind != "choice":
            raise HarnessError(
                f"--sampler grid: {name}'s {dimension_name} is the range {dimension.text()}; a grid needs every "
                f"dimension a list of values (--search {dimension_name}=A,B,...)"
            )
        size *= len(dimension.values)
    return size


def sampler(kind: str, seed: int, space: dict[str, Dimension]):
    samplers = optuna().samplers
    if kind == "grid":
        return samplers.GridSampler({name: list(d.values) for name, d in space.items()}, seed=seed)
    if kind == "random":
        return samplers.RandomSampler(seed=seed)
    return samplers.TPESampler(seed=seed)


def hold(folder: Path, name: str):
    """The study's lock, held while this command runs it: a second copy of the command would take the first's
    running trials for lost ones and run them again. Released when the process ends, however it ends."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = open(folder / f"{name}.lock", "a+")  # noqa: SIM115 - held for the process's life
    try:
        import fcntl

        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # no POSIX locks on this system: one copy at a time is the user's to keep
        return lock
    except OSError:
        lock.close()
        raise HarnessError(
            f"study {name} is being run by another command on {folder} (its lock {name}.lock is held); wait for "
            f"it to finish, or give this one other --results-dir"
        ) from None
    return lock


def open_study(folder: Path, name: str):
    """The study `name` in `folder` (its journal file), created on first use."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    folder.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(folder / f"{name}.journal")))
    return optuna().create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True)


def replaced(trial, trials: list) -> bool:
    """A trial lost to a dead sweep (asked again later, under its number), or one whose settings were refused."""
    if trial.user_attrs.get(DISCARDED):
        return True
    return trial.state == optuna().trial.TrialState.FAIL and any(
        later.number > trial.number and later.user_attrs.get(RETRY_OF) == trial_number(trial) for later in trials
    )


def counted(study) -> list:
    """The trials that count against the budget, in order: finished or failed, but not lost or discarded."""
    states = optuna().trial.TrialState
    trials = study.get_trials(deepcopy=False)
    return [t for t in trials if t.state in (states.COMPLETE, states.FAIL) and not replaced(t, trials)]


def best(trials: list):
    """The finished trial with the best main score; the lower dev loss, then the earlier trial, among equals. None
    when none finished."""
    complete = [trial for trial in trials if trial.value is not None]
    if not complete:
        return None
    return max(complete, key=lambda t: (t.value, -t.user_attrs.get(DEV_LOSS, math.inf), -t.number))


def discard(study, trial) -> None:
    """A trial asked whose settings the run refused: closed, and never counted."""
    trial.set_user_attr(DISCARDED, True)
    study.tell(trial, state=optuna().trial.TrialState.FAIL)


def ask_again_what_was_lost(study) -> None:
    """Trials left running by a sweep that died: asked again with the same settings, the retry keeping the lost
    trial's number for its run (which then resumes from its checkpoint); the lost ones are failed."""
    states = optuna().trial.TrialState
    waiting = {t.user_attrs.get(RETRY_OF) for t in study.get_trials(deepcopy=False, states=(states.WAITING,))}
    for trial in study.get_trials(deepcopy=False, states=(states.RUNNING,)):
        if trial_number(trial) not in waiting:  # not already, by a sweep that died between these two steps
            study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial_number(trial)})
        study.tell(trial.number, state=states.FAIL)


def ask(study, kind: str, seed: int, space: dict[str, Dimension]):
    """The next trial. The sampler is made again for each, seeded by the trials before it, not counting one lost
    and asked again twice: the same draws whether or not the sweep was interrupted (when trials run one at a
    time)."""
    trials = study.get_trials(deepcopy=False)
    study.sampler = sampler(kind, seed + sum(not replaced(t, trials) for t in trials), space)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a grid's "re-evaluating a configuration" once it is done
        return study.ask(distributions(space))


def tell(study, trial, value: float | None) -> None:
    """A finished trial's dev score, or its failure (None)."""
    states = optuna().trial.TrialState
    try:
        study.tell(trial, value, state=states.COMPLETE if value is not None else states.FAIL)
    except RuntimeError as error:  # a grid's last tell asks the study to stop, which only an optimize() loop can
        if "Study.stop" not in str(error):
            raise


def trial_number(trial) -> int:
    """The trial's number as its run knows it: a retried trial keeps the lost one's."""
    return trial.user_attrs.get(RETRY_OF, trial.number)
