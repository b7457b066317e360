"""The local backend: runs in worker processes on this machine (in this process with one job).

Workers are spawned (a clean interpreter: no state inherited from the parent) with BLAS and
OpenMP pinned so that jobs x threads fits the cores. Each worker leaves the terminal's
process group, so Ctrl-C reaches the parent alone, which forwards it once to every worker:
each run then checkpoints and stops as a single run does. A worker also dies with its
parent (a sweep killed with SIGKILL leaves no run going on alone).
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import ctypes
import os
import queue
import signal
from collections.abc import Iterator
from multiprocessing import get_context
from pathlib import Path

from alcli.experiments.plan import RunSpec
from alcli.experiments.worker import Outcome, Progress, execute_run

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


class LocalBackend:
    def __init__(self, jobs: int):
        self.jobs = jobs

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
    events = context.Queue()
    with _pinned_threads(threads_per_job(jobs)):
        pool = futures.ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_start_worker, initargs=(events,)
        )
        # Workers start as work is submitted, so this stays inside the pinned environment.
        pending = {pool.submit(_run_in_worker, spec, root): spec for spec in specs}
    try:
        while pending:
            done, _ = futures.wait(pending, _POLL_SECONDS, futures.FIRST_COMPLETED)
            _drain(events, progress)
            for future in done:
                spec = pending.pop(future)
                yield _outcome_of(future, spec)
        _drain(events, progress)
    finally:
        if pending:
            # Interrupted (Ctrl-C, SIGTERM, or the consumer stopped): no new run starts, and
            # each running one is asked to stop as Ctrl-C stops a run: after a checkpoint.
            for future in pending:
                future.cancel()
            for pid in list(pool._processes or {}):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGINT)
        pool.shutdown(wait=True, cancel_futures=True)
        events.close()


def _outcome_of(future: futures.Future, spec: RunSpec) -> Outcome:
    try:
        return future.result()
    except futures.process.BrokenProcessPool:
        return Outcome(spec.key, "failed", True, "its worker process died (out of memory?)")
    except Exception as exc:  # a bug in a worker must not end the sweep
        return Outcome(spec.key, "failed", True, f"{type(exc).__name__}: {exc}")


def _drain(events, progress: Progress | None) -> None:
    while True:
        try:
            event = events.get_nowait()
        except (queue.Empty, OSError, ValueError):
            return
        if progress is not None:
            progress(event)


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

_events = None


def _start_worker(events) -> None:
    global _events
    _events = events
    os.setsid()  # out of the terminal's process group: Ctrl-C comes through the parent
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the line above
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_in_worker(spec: RunSpec, root: Path) -> Outcome:
    # Ctrl-C (forwarded by the parent) stops the run in progress, never an idle worker.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return execute_run(spec, root, _events.put if _events is not None else None)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
