"""The local backend: runs in worker processes on this machine (in this process with one job).

Workers are spawned (a clean interpreter: no state inherited from the parent) with BLAS and
OpenMP pinned so that jobs x threads fits the cores. Each worker leaves the terminal's
process group, so Ctrl-C reaches the parent alone, which forwards it once to every worker:
each run then checkpoints and stops as a single run does. A worker also dies with its
parent (a sweep killed with SIGKILL leaves no run going on alone).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
from collections.abc import Iterator
from multiprocessing import get_context
from pathlib import Path
from typing import Literal

from alcli.experiments.backends.base import Backend
from alcli.experiments.run_spec import RunSpec
from alcli.experiments.worker import Outcome, Progress, execute_run
from alcli.schema import Section

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_PR_SET_PDEATHSIG = 1
#: How often the parent looks at its workers' progress while waiting.
_POLL_SECONDS = 0.1


def threads_per_job(jobs: int) -> int:
    return max(1, len(os.sched_getaffinity(0)) // jobs)


class LocalBackendConfig(Section):
    """``backend: local`` (the default): the sweep's ``jobs`` runs at a time on this machine."""

    kind: Literal["local"] = "local"


class LocalBackend(Backend):
    Config = LocalBackendConfig

    def launch(
        self, specs: list[RunSpec], root: Path, progress: Progress | None = None
    ) -> Iterator[Outcome]:
        if self.jobs == 1 or len(specs) <= 1:
            yield from _inline(specs, root, progress)
        else:
            yield from _in_processes(specs, root, progress, min(self.jobs, len(specs)))


def _inline(specs: list[RunSpec], root: Path, progress: Progress | None) -> Iterator[Outcome]:
    for spec in specs:
        outcome = execute_run(spec, root, progress)
        yield outcome
        if outcome.interrupted:
            raise KeyboardInterrupt


def _in_processes(
    specs: list[RunSpec], root: Path, progress: Progress | None, jobs: int
) -> Iterator[Outcome]:
    context = get_context("spawn")
    tasks, messages, stopping = context.Queue(), context.Queue(), context.Event()
    for spec in specs:
        tasks.put(spec)
    for _ in range(jobs):
        tasks.put(None)  # one "no more work" per worker
    with _pinned_threads(threads_per_job(jobs)):
        workers = [
            context.Process(target=_work, args=(tasks, messages, stopping, root), daemon=True)
            for _ in range(jobs)
        ]
        # Started with Ctrl-C ignored (kept across exec, unlike a handler): a worker still
        # importing when Ctrl-C comes would otherwise die with a traceback.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for worker in workers:
                worker.start()
        finally:
            signal.signal(signal.SIGINT, previous)
    running: dict[int, str] = {}  # worker pid -> the run it works on
    remaining = {spec.key for spec in specs}
    try:
        while remaining:
            try:
                kind, *payload = messages.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                yield from _lost_runs(workers, running, remaining)
                continue
            if kind == "event":
                if progress is not None:
                    progress(payload[0])
            elif kind == "start":
                running[payload[0]] = payload[1]
            else:  # "done"
                running.pop(payload[0], None)
                remaining.discard(payload[1].key)
                yield payload[1]
    finally:
        if remaining:
            # Interrupted (Ctrl-C, SIGTERM, or the consumer stopped): no new run starts, and
            # each running one is asked to stop as Ctrl-C stops a run: after a checkpoint.
            stopping.set()
            for worker in workers:
                with contextlib.suppress(ProcessLookupError, TypeError):
                    os.kill(worker.pid, signal.SIGINT)
        _wait_for(workers, messages, progress)
        tasks.cancel_join_thread()  # specs no worker took: nobody will read them


def _lost_runs(workers, running: dict[int, str], remaining: set[str]) -> Iterator[Outcome]:
    """Runs whose worker died under them (killed, out of memory), and, once no worker is
    left, the runs nobody took."""
    for worker in workers:
        if worker.exitcode is not None and worker.pid in running:
            key = running.pop(worker.pid)
            remaining.discard(key)
            yield Outcome(
                key, "failed", True, f"its worker process died (exit code {worker.exitcode})"
            )
    if remaining and all(worker.exitcode is not None for worker in workers):
        for key in sorted(remaining):
            yield Outcome(key, "failed", False, "no worker process was left to run it")
        remaining.clear()


def _wait_for(workers, messages, progress: Progress | None) -> None:
    """Wait for every worker to end, reading what they still say (a worker cannot exit
    while its last messages wait in a full pipe)."""
    while any(worker.is_alive() for worker in workers):
        try:
            kind, *payload = messages.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            continue
        if kind == "event" and progress is not None:
            progress(payload[0])
    for worker in workers:
        worker.join()


@contextlib.contextmanager
def _pinned_threads(threads: int) -> Iterator[None]:
    """Spawned workers read these at start, before their BLAS and OpenMP load."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- in the worker ----------------------------------------------------------------------------


def _work(tasks, messages, stopping, root: Path) -> None:
    """A worker: take runs until there are none (or the sweep stops), one at a time."""
    _detach()
    pid = os.getpid()

    def forward(event: dict) -> None:
        messages.put(("event", event))

    while True:
        spec = tasks.get()
        if spec is None or stopping.is_set():
            return
        messages.put(("start", pid, spec.key))
        # Ctrl-C (forwarded by the parent) stops the run in progress, never an idle worker.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            outcome = execute_run(spec, root, forward)
        except KeyboardInterrupt:
            outcome = Outcome(spec.key, "stopped", True, "interrupted", interrupted=True)
        except Exception as exc:  # a bug in one run must not take the worker's next runs
            outcome = Outcome(spec.key, "failed", True, f"{type(exc).__name__}: {exc}")
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        messages.put(("done", pid, outcome))


def _detach() -> None:
    os.setsid()  # out of the terminal's process group: Ctrl-C comes through the parent
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the line above
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
