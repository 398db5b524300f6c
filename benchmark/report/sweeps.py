"""Tuning sweeps as the leaderboard shows them: per dataset, protocol and test file, each study's trials, their
expected validation performance (benchmark.report.tuning), and the settings it chose.

A study is one backbone's search (`tuning.study`). Its trials are the runs whose `tuning` names a trial, finished
or failed; a failed trial counts against the budget with a dev score of 0, the lowest accuracy or macro-F1 there
is, since the study spent a trial on it and got nothing. A trial that is not ranked for a reason of its own
(incomplete weights, too many unknown characters) is left out of the curves and named. Trials are never ranked:
they feed the curves only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from benchmark.report import tuning
from benchmark.report.format import slug
from benchmark.report.runs import Run
from benchmark.report.trials import Failed, Tuning

FAILED_SCORE = 0.0  # a failed trial's dev score: the lowest value of accuracy or macro-F1


@dataclass(eq=False)
class Study:
    name: str
    backbone: str
    budget: int
    scores: dict[int, float] = field(default_factory=dict)  # dev main score per trial number
    failed: set[int] = field(default_factory=set)  # the trials that failed, scored FAILED_SCORE
    chosen: Tuning | None = None  # the section of a run of the chosen settings, where one is here
    samplers: set[str] = field(default_factory=set)  # how its trials were drawn (tpe, random, grid)
    left_out: dict[int, str] = field(default_factory=dict)  # trials whose score does not measure the backbone: why
    label: str = ""  # its name on the page: the backbone, and the study where the backbone has several

    @property
    def values(self) -> list[float]:
        return [self.scores[trial] for trial in sorted(self.scores)]

    @cached_property
    def curve(self) -> list[tuple[float, float]]:
        """Expected best dev score and its std after k = 1 .. N trials, N the trials observed."""
        return tuning.curve(self.values) if self.scores else []


@dataclass(eq=False)
class Sweep:
    """The tuning section of one dataset, protocol and test file."""

    dataset: str
    protocol: str
    test_sha256: str
    main_score: str
    studies: list[Study]  # by label

    @property
    def slug(self) -> str:
        return slug(f"{self.dataset}-{self.protocol}-{self.test_sha256[:8]}-tuning")

    @property
    def place(self) -> tuple[str, str, str]:
        return (self.dataset, self.protocol, self.test_sha256)

    @property
    def with_trials(self) -> list[Study]:
        return [s for s in self.studies if s.scores]

    @property
    def most_trials(self) -> int:
        return max((len(s.scores) for s in self.studies), default=0)


def build_sweeps(runs: Sequence[Run], failed: Sequence[Failed]) -> list[Sweep]:
    """One sweep per dataset, protocol and test file where a run carries a tuning section. A failed trial is placed
    by its study, so one whose study left no finished run here is listed among the failed runs only."""
    tuned = sorted((r for r in runs if r.tuning and not r.smoke), key=lambda r: (r.run_id, r.folder))
    places: dict[str, tuple[str, str, str]] = {}
    backbones: dict[str, Counter] = defaultdict(Counter)
    main_scores: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    for run in tuned:
        places.setdefault(run.tuning.study, (run.dataset, run.protocol, run.test_sha256))
        backbones[run.tuning.study][run.backbone] += 1
    # The budget is set from the sections below, the newest last.
    studies = {name: Study(name, backbones[name].most_common(1)[0][0], budget=0) for name in sorted(places)}
    for trial in (f.tuning for f in sorted(failed, key=lambda f: f.folder) if f.tuning):
        study = studies.get(trial.study)
        if study is not None:
            study.scores[trial.trial], study.budget = FAILED_SCORE, trial.budget
            study.failed.add(trial.trial)
    for run in tuned:  # a finished trial outweighs a failed folder of the same number; the newest run wins
        study, section = studies[run.tuning.study], run.tuning
        study.budget = section.budget
        study.samplers.add(section.sampler)
        if section.is_trial and run.unranked:  # its dev score may be wrong as much as its test score
            study.left_out[section.trial] = run.unranked
        elif section.is_trial:
            study.scores[section.trial] = section.dev_score
            study.failed.discard(section.trial)
            main_scores[places[study.name]][section.main_score] += 1
        else:
            study.chosen = section
    by_place: dict[tuple[str, str, str], list[Study]] = defaultdict(list)
    for study in studies.values():
        by_place[places[study.name]].append(study)
    sweeps = []
    for place, members in sorted(by_place.items()):
        several = {b for b, n in Counter(s.backbone for s in members).items() if n > 1}
        for study in members:
            study.label = f"{study.backbone} · {study.name}" if study.backbone in several else study.backbone
        main_score = main_scores[place].most_common(1)[0][0] if main_scores[place] else _chosen_score(members)
        sweeps.append(Sweep(*place, main_score, sorted(members, key=lambda s: (s.label, s.name))))
    return sweeps


def _chosen_score(studies: Sequence[Study]) -> str:
    chosen = [s.chosen.main_score for s in studies if s.chosen]
    return Counter(chosen).most_common(1)[0][0] if chosen else "accuracy"


def curve_pairs(sweep: Sweep) -> list[tuple[Study, Study]]:
    """Every two studies with trials, in label order."""
    studies = sweep.with_trials
    return [(a, b) for i, a in enumerate(studies) for b in studies[i + 1 :]]


def ahead(first: Study, second: Study) -> list[tuple[Study | None, int, int]]:
    """Who is ahead over budgets 1 .. the fewer trials of the two, as stretches (study or None when level, first k,
    last k)."""
    signs = tuning.leads(first.curve, second.curve)
    return [({1: first, -1: second}.get(sign), low, high) for sign, low, high in tuning.stretches(signs)]


def chosen_distance(chosen: object, recommended: object) -> str:
    """How far a chosen setting lies from the recommended one: their ratio for numbers, else same or other."""
    if recommended is None:  # the flag left unset: the method decides (a classic baseline tries its grid on dev)
        return "—"
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (chosen, recommended))
    if not numbers or not recommended:
        return "same" if chosen == recommended else "other"
    ratio = chosen / recommended
    return f"{ratio:.0f}x" if abs(ratio) >= 10 else f"{ratio:.2g}x"


def interleave(groups: Sequence, sweeps: Sequence[Sweep]) -> list:
    """Groups and sweeps in the order they are written: each place's tables, then its sweep."""
    sections = [(g.dataset, g.protocol, g.test_sha256, 0, n, g) for n, g in enumerate(groups)]
    sections += [(*s.place, 1, n, s) for n, s in enumerate(sweeps)]
    return [section[-1] for section in sorted(sections, key=lambda s: s[:5])]
