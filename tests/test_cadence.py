"""When a run leaves a resumable checkpoint: by minutes of training by default, by steps when asked."""

from types import SimpleNamespace

import pytest

from benchmark.config import RunConfig
from benchmark.run.background import InBackground
from benchmark.run.cadence import CheckpointCadence


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def decisions(cadence: CheckpointCadence, clock: Clock, evaluations: list[tuple[int, float]]) -> list[int]:
    """The steps at which a checkpoint is saved, for dev evaluations at (step, seconds since training began)."""
    state = SimpleNamespace(best_metric=0.0, global_step=0)  # no new best: only the cadence decides
    began = clock.now
    cadence.on_train_begin(None, state, None)
    saved = []
    for step, seconds in evaluations:
        clock.now, state.global_step = began + seconds, step
        control = SimpleNamespace(should_save=False)
        cadence.on_evaluate(None, state, control, metrics={"eval_loss": 1.0})
        if control.should_save:
            saved.append(step)
            cadence.on_save(None, state, control)
    return saved


EVERY_100_STEPS_AT_4_S = [(step, 4.0 * step) for step in range(100, 2001, 100)]  # a BERT-base step on a CPU here
EVERY_100_STEPS_AT_30_MS = [(step, 0.03 * step) for step in range(100, 4201, 100)]  # about one on a fast GPU


def test_by_default_a_checkpoint_is_due_every_ten_minutes_of_training_whatever_the_steps():
    assert RunConfig.save_every_minutes == 10 and RunConfig.save_every == 0
    clock = Clock()
    slow = decisions(CheckpointCadence(0, save_every_minutes=10, clock=clock), clock, EVERY_100_STEPS_AT_4_S)
    assert slow == [200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000]  # each the first at >= 600 s after
    fast = decisions(CheckpointCadence(0, save_every_minutes=10, clock=clock), clock, EVERY_100_STEPS_AT_30_MS)
    assert fast == [], "a run shorter than ten minutes writes no checkpoint"


def test_steps_and_minutes_each_make_a_checkpoint_due_and_zero_turns_either_off():
    clock = Clock()
    by_steps = decisions(CheckpointCadence(500, save_every_minutes=0, clock=clock), clock, EVERY_100_STEPS_AT_30_MS)
    assert by_steps == list(range(500, 4201, 500))
    both = decisions(CheckpointCadence(1000, save_every_minutes=10, clock=clock), clock, EVERY_100_STEPS_AT_4_S)
    assert both == [200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000]
    mixed = decisions(CheckpointCadence(300, save_every_minutes=10, clock=clock), clock, EVERY_100_STEPS_AT_4_S[:6])
    assert mixed == [200, 400, 600], "the step count restarts at every checkpoint, whichever made it due"
    none = decisions(CheckpointCadence(0, save_every_minutes=0, clock=clock), clock, EVERY_100_STEPS_AT_4_S)
    assert none == []


def test_a_resumed_run_counts_its_minutes_from_its_own_start():
    clock = Clock()
    cadence = CheckpointCadence(0, save_every_minutes=1, clock=clock)
    assert decisions(cadence, clock, [(100, 30.0), (200, 70.0)]) == [200]
    clock.now += 3600  # the run was stopped for an hour, then resumed from step 200
    assert decisions(cadence, clock, [(300, 30.0), (400, 61.0)]) == [400]


def test_work_in_the_background_hands_its_failure_to_whoever_waits():
    results = []
    done = InBackground(results.append, 42, name="appender")
    done.wait()
    assert results == [42] and done.seconds >= 0
    failed = InBackground(int, "not a number")
    with pytest.raises(ValueError, match="not a number"):
        failed.wait()
    failed.wait()  # the failure is raised once
