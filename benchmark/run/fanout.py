"""A queue fanned out over Ray: N runs at a time, each on its own GPU (or a share of one), or on a share of the
CPU threads, on a local instance or on a cluster started with `ray start`.

A leaderboard is many small independent runs: side by side, one per GPU, they finish in about queue / N rounds,
where splitting each run over all GPUs (DDP) would shorten each by far less (docs/cluster.md). Each run is one
Ray task running the ordinary driver (benchmark.run.task), so its results folder is the one it writes alone.
Ray retries a task whose worker died, and the retried run resumes from its last checkpoint. The driver reads
each dataset once and hands it to the runs; prints a line when a run starts and when it ends; and on Ctrl-C
stops every task (the runs' checkpoints stay for the same command to resume).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import socket
import time
from pathlib import Path

from benchmark.console import log, report_error
from benchmark.errors import HarnessError
from benchmark.run.queue import duration, listed, summarize
from benchmark.settings import Settings

RETRIES = 2  # a worker that dies (killed, out of memory) is started again this many times; the run resumes


def fan_out(queue: list[Settings], workers: int | None, address: str | None, gpus_per_run, skip_finished) -> int:
    """Run the queue on Ray; 0 when every run finished, 1 when one failed, 130 when interrupted."""
    results = Path(queue[0].config.results_dir)
    try:
        with fanned(results, workers, address, gpus_per_run, skip_finished) as fanout:
            return summarize(fanout.run(Waiting(queue)))
    except KeyboardInterrupt:
        return 130


@contextlib.contextmanager
def fanned(results: Path, workers: int | None, address: str | None, gpus_per_run, skip_finished):
    """A Fanout on a started (or joined) Ray, its storage checked; Ray is shut down when the context ends. On
    Ctrl-C the running tasks are stopped, said in one line, and KeyboardInterrupt goes on."""
    ray = start_ray(address)
    try:
        capacity, resources, where = plan(ray, workers, gpus_per_run)
        results = results.absolute()
        book = results / f".fanout-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        book.mkdir(parents=True)
        check_visible(ray, [Path.cwd(), results], book)
        log(f"fan-out: {capacity} runs at a time on {where}; each run's log: run.log in its folder")
        fanout = Fanout(ray, capacity, resources, book, skip_finished)
        try:
            yield fanout
        except KeyboardInterrupt:
            report_error(
                f"interrupted: {fanout.stopped} running runs stopped, {fanout.waiting} not started; a stopped run's "
                f"folder keeps its checkpoints, and the same command (with --skip-finished) resumes it"
            )
            raise
        if not any(book.glob("*.log")):
            shutil.rmtree(book, ignore_errors=True)
    finally:
        ray.shutdown()


def described(settings: Settings) -> str:
    """A run in a line: its name, and its seed or its tuning trial."""
    tuning, config = settings.tuning or {}, settings.config
    return f"{listed(config)} " + (f"trial {tuning['trial']}" if "trial" in tuning else f"seed {config.seed}")


class Waiting:
    """A fixed queue as a fan-out's source of runs."""

    def __init__(self, queue: list[Settings]):
        self.queue = list(queue)

    def next_run(self) -> Settings | None:
        return self.queue.pop(0) if self.queue else None

    def left(self) -> int:
        return len(self.queue)

    def done(self, settings: Settings, outcome: dict) -> None:
        pass


def start_ray(address: str | None):
    """A local instance listening on the loopback address only, or a cluster joined with its token; Ray's
    dashboard and usage reporting off either way."""
    if importlib.util.find_spec("ray") is None:
        raise HarnessError(
            '--workers and --ray-address run the queue on Ray, which is not installed: pip install -e ".[ray]"'
        )
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if address is None:
        # Ray binds its servers to every interface even when told 127.0.0.1; this switch, read when ray is first
        # imported, keeps a single-machine instance on the loopback address (tests/test_fanout.py checks it).
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        # Token authentication with a token of this process's own (Ray reads it once per process): no other
        # local user's client gets in, and nothing is written to ~/.ray.
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    else:
        check_joinable(address)
    import ray

    from benchmark.run.device import cores_granted

    try:
        if address is None:
            cpus = cores_granted()
            ray.init(
                address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR"
            )
        else:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    except ConnectionError as error:
        raise HarnessError(f"--ray-address {address}: {error}; start the cluster first (docs/cluster.md)") from None
    return ray


def check_joinable(address: str) -> None:
    """Join only with token authentication on (Ray's job and dashboard endpoints left open have been attacked:
    CVE-2023-48022), and fail in seconds, not minutes, when nothing answers at HOST:PORT."""
    if os.environ.get("RAY_AUTH_MODE", "token") != "token":
        raise HarnessError(
            f"RAY_AUTH_MODE={os.environ['RAY_AUTH_MODE']}: this harness joins Ray clusters with token authentication "
            f"only; start the cluster with RAY_AUTH_MODE=token (docs/cluster.md)"
        )
    token_file = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if not os.environ.get("RAY_AUTH_TOKEN") and not token_file.is_file():
        raise HarnessError(
            "--ray-address: no Ray token here; set RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) to the cluster's token, "
            "which `ray get-auth-token` prints on its head node"
        )
    os.environ["RAY_AUTH_MODE"] = "token"  # a client given HOST:PORT does not turn it on by itself
    if address != "auto":
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except (OSError, ValueError) as error:
            raise HarnessError(
                f"--ray-address {address}: nothing answers there ({error}); expected auto or HOST:PORT"
            ) from None
        os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "5")


def plan(ray, workers: int | None, gpus_per_run) -> tuple[int, dict, str]:
    """How many runs at a time, the resources of each, and where, from what the instance or cluster has."""
    total = ray.cluster_resources()
    cpus, gpus = int(total.get("CPU", 1)), total.get("GPU", 0)
    if gpus:
        share = gpus_per_run or 1.0
        most = max(node.get("Resources", {}).get("GPU", 0) for node in ray.nodes() if node.get("Alive"))
        if share > most:  # Ray would wait for such a node forever
            raise HarnessError(f"--gpus-per-run {share:g}: no node has that many GPUs (the most on one is {most:g})")
        capacity = workers or max(1, int(gpus / share))
        resources = {"num_gpus": share, "num_cpus": max(1, cpus // capacity)}
        return capacity, resources, f"{gpus:g} GPUs, {share:g} each"
    if gpus_per_run:
        raise HarnessError(f"--gpus-per-run {gpus_per_run:g}: Ray sees no GPU here; leave it out to run on CPUs")
    if workers is None:
        raise HarnessError("--ray-address: the cluster has no GPU; give --workers N, the runs to make at a time")
    resources = {"num_gpus": 0, "num_cpus": max(1, cpus // workers)}
    return workers, resources, f"{cpus} CPU threads, {resources['num_cpus']} each"


def check_visible(ray, folders: list[Path], book: Path) -> None:
    """Every node must see the command's folder and the results folder, the same storage as here: a marker
    written here must be there. One line names the first node that cannot."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    marker = book / "visible"
    marker.write_text(secrets.token_hex(8), encoding="utf-8")
    look = ray.remote(num_cpus=0, max_retries=0)(missing_on_this_node)
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    found = ray.get(
        [
            look.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)).remote(
                [str(folder) for folder in folders], str(marker), marker.read_text(encoding="utf-8")
            )
            for node in nodes
        ]
    )
    marker.unlink()
    for host, missing in found:
        if missing:
            raise HarnessError(
                f"the Ray worker on {host} cannot see {missing}; --results-dir and the folder the command runs in "
                f"must be on storage every node shares, at the same path"
            )


def missing_on_this_node(folders: list[str], marker: str, token: str) -> tuple[str, str | None]:
    """(this node's name, what it cannot see, or None)."""
    for folder in folders:
        if not Path(folder).is_dir():
            return socket.gethostname(), folder
    try:
        seen = Path(marker).read_text(encoding="utf-8") == token
    except OSError:
        seen = False
    return socket.gethostname(), None if seen else f"the {folders[-1]} written here (it has a folder of its own there)"


class Fanout:
    """The loop: keep `capacity` runs submitted from a source (`next_run`, `left`, `done`), announce each start and
    end, collect the outcomes."""

    def __init__(self, ray, capacity, resources, book, skip_finished):
        from benchmark.run.task import run_one

        self.ray, self.capacity, self.book, self.skip = ray, capacity, book, skip_finished
        # On a GPU, a fresh worker process per run: CUDA binds a process to the GPUs it first saw, and Ray may hand a
        # reused worker another GPU. On CPUs, a worker runs run after run, as a queue's process does, paying its
        # imports once (each run sets the threads it was given).
        calls = 1 if resources["num_gpus"] else 0
        self.remote = ray.remote(max_calls=calls, max_retries=RETRIES)(run_one).options(**resources)
        self.pending, self.outcomes, self.announced, self.walls = {}, [], {}, {}
        self.data = {}  # each dataset read once here, handed to its runs through Ray's object store
        self.submitted, self.stopped, self.waiting = 0, 0, 0

    def run(self, source) -> list[tuple]:
        """Every run the source gives, `capacity` at a time; (config, folder or None, error or None) of each, in
        the order they were submitted. On Ctrl-C every running task is stopped."""
        self.outcomes = []  # this source's alone: a sweep runs its trials, then its chosen settings
        try:
            while True:
                while len(self.pending) < self.capacity and (settings := source.next_run()) is not None:
                    self.submit(settings)
                if not self.pending:
                    break
                done, _ = self.ray.wait(list(self.pending), num_returns=1, timeout=0.25)
                self.announce_starts(source.left())
                for ref in done:
                    self.settle(ref, source)
        except KeyboardInterrupt:
            self.stopped, self.waiting = len(self.pending), source.left()
            for ref in self.pending:
                self.ray.cancel(ref, force=True)
            raise
        return [outcome for _, outcome in sorted(self.outcomes, key=lambda item: item[0])]

    def time_left(self, waiting: int) -> float:
        """A guess: each running run takes what its backbone's finished runs took (a classic baseline takes seconds,
        a transformer minutes), each waiting one the mean of all, spread over the workers."""
        every = [seconds for walls in self.walls.values() for seconds in walls]
        mean = sum(every) / len(every)
        running = [self.walls.get(settings.config.model, every) for _, settings, _ in self.pending.values()]
        return (sum(sum(walls) / len(walls) for walls in running) + mean * waiting) / self.capacity

    def submit(self, settings: Settings) -> None:
        from benchmark.data.load import DATA_OPTIONS, read_splits

        config, index = settings.config, self.submitted
        self.submitted += 1
        data = tuple(getattr(config, name) for name in DATA_OPTIONS)
        if data not in self.data:
            self.data[data] = self.ray.put(read_splits(config))
        key = f"{index:04d}-{config.model}-seed{config.seed}"
        ref = self.remote.remote(settings, self.data[data], str(Path.cwd()), str(self.book), key, self.skip)
        self.pending[ref] = (index, settings, key)

    def announce_starts(self, waiting: int) -> None:
        """A line for each run a worker has started (or started again, after its worker died)."""
        for _, settings, key in self.pending.values():
            try:
                starts = [json.loads(line) for line in (self.book / f"{key}.started").read_text("utf-8").splitlines()]
            except (OSError, ValueError):  # not there yet, or a line half written (shared storage): the next poll
                continue
            for attempt in range(self.announced.get(key, 0), len(starts)):
                worker = starts[attempt]["worker"]
                what = described(settings)
                log(
                    f"started   {what} on {worker} ({len(self.pending)} submitted, {waiting} waiting)"
                    if attempt == 0
                    else f"restarted {what} on {worker}: its worker died; it resumes from its last checkpoint"
                )
            self.announced[key] = len(starts)

    def settle(self, ref, source) -> None:
        index, settings, key = self.pending.pop(ref)
        config = settings.config
        try:
            outcome = self.ray.get(ref)
        except self.ray.exceptions.RayError as error:  # the worker died RETRIES + 1 times
            outcome = {"worker": "?", "error": f"its Ray worker died ({type(error).__name__}), {RETRIES} retries too"}
        source.done(settings, outcome)
        left = source.left() + len(self.pending)
        what = f"{described(settings)} on {outcome['worker']}"
        if "error" in outcome:
            self.outcomes.append((index, (config, None, f"{outcome['error']} (log: {outcome.get('log', '-')})")))
            report_error(f"{what}: {outcome['error']}; {left} left")
            return
        self.walls.setdefault(config.model, []).append(outcome["seconds"])
        eta = self.time_left(source.left())
        log(
            f"finished  {what}: accuracy {outcome['accuracy']:.4f}, macro-F1 {outcome['macro_f1']:.4f} in "
            f"{duration(outcome['seconds'])}; {left} left" + (f", about {duration(eta)}" if left else "")
        )
        self.outcomes.append((index, (config, outcome["folder"], None)))
