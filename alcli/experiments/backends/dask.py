"""The dask backend: every run is one task on an existing dask.distributed cluster.

```yaml
backend: {kind: dask, address: tcp://scheduler:8786}
```

The sweep directory must be on a folder every worker mounts at the same path (the runs write
their run directories there, the command that launched the sweep reads them). A task only
calls :func:`~alcli.experiments.worker.execute_run`: it starts its run, or resumes it from its
last complete loop.

A worker lost mid-run is survived by dask itself: the scheduler gives the task to another
worker, which resumes the run from its last loop. A run never goes on twice at once because
the run directory's lock (an ``flock``) is held by whoever runs it: the kernel releases it when
a worker dies, and a task whose run is still held elsewhere (a worker the scheduler gave up on
that still runs) waits for it. ``flock`` holds across machines on local disks and NFSv4
(Linux maps it onto NFS byte-range locks); on a filesystem whose locks are not shared
(old NFSv3 without lockd, some FUSE mounts) two workers could hold "the" lock at once, so put
the sweep directory on NFSv4, Lustre, GPFS or CephFS.

Progress comes back through the scheduler's event log (``Worker.log_event`` and the client's
``subscribe_topic``): non-blocking on the worker. Ctrl-C in the launching command sets a
cluster-wide event: runs in progress stop after their current loop's checkpoint, runs not
started yet return untouched, and the sweep is left resumable.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import queue
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from alcli import __version__
from alcli.errors import UserInputError
from alcli.experiments.backends.base import Backend
from alcli.experiments.run_spec import RunSpec
from alcli.experiments.worker import Outcome, Progress, execute_run
from alcli.schema import Section

INSTALL = "pip install 'alcli[dask]'"
#: How often a run on a worker looks at the sweep's stop event (an RPC to the scheduler).
_STOP_CHECK_SECONDS = 0.5
#: How often a run on a worker reports its loops (progress only).
_PROGRESS_SECONDS = 0.25
#: How long a task waits for its run directory while a lost worker still holds it.
_BUSY_WAIT_SECONDS = 3600.0
#: How long a stopped sweep waits for its runs in progress to reach a checkpoint.
_STOP_WAIT_SECONDS = 300.0


class DaskBackendConfig(Section):
    """``backend: {kind: dask, address: tcp://HOST:PORT}``: runs on a dask.distributed
    cluster's workers, one at a time per single-threaded worker (``jobs`` is not used)."""

    kind: Literal["dask"] = "dask"
    address: str = Field(
        pattern=r"^(tcp|tls|ws|wss|ucx)://\S+$",
        description="The dask scheduler's address, e.g. tcp://10.0.0.5:8786.",
    )
    connect_timeout: float = Field(
        5.0, gt=0, le=600, description="Seconds to wait for the scheduler to answer."
    )


class DaskBackend(Backend):
    Config = DaskBackendConfig
    _client = None

    @contextlib.contextmanager
    def connected(self) -> Iterator[None]:
        distributed = import_distributed()
        self._client = _connect(distributed, self.config.address, self.config.connect_timeout)
        try:
            _check_workers(self._client)  # before the sweep directory is made
            yield
        finally:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                client.close(timeout=5)

    def launch(
        self, specs: list[RunSpec], root: Path, progress: Progress | None = None
    ) -> Iterator[Outcome]:
        if not specs:
            return
        if self._client is None:
            with self.connected():
                yield from self.launch(specs, root, progress)
            return
        root = Path(root).resolve()
        yield from _on_cluster(import_distributed(), self._client, specs, root, progress)


def import_distributed():
    try:
        import distributed
    except ImportError:
        raise UserInputError(
            f"the dask backend needs dask.distributed, which is not installed: {INSTALL}"
        ) from None
    return distributed


def _connect(distributed, address: str, timeout: float):
    # Reconnection attempts after a failure are logged as errors; the message below says it.
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    unreachable = (
        f"no dask scheduler answers at {address} ({{}}). Start one with `dask scheduler` and "
        f"its workers with `dask worker {address}`, or check the address (backend.address "
        "in the sweep file, or --address)."
    )
    # A plain TCP connection first: dask's client retries a refused port until its timeout,
    # and a half-made client takes as long again to give up as it is collected.
    host, _, port = address.split("://", 1)[1].rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        raise UserInputError(unreachable.format(exc.strerror or exc)) from None
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # anything else listening there: its reply makes no sense to dask
        raise UserInputError(
            unreachable.format(f"what listens there is not a dask scheduler: {exc}")
        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise UserInputError(
            f"the dask scheduler at {address} has no workers (waited {timeout:g} s). Start "
            f"some with `dask worker {address} --nthreads 1` on machines that mount the "
            "sweep directory."
        ) from None
    return client


def _on_cluster(
    distributed, client, specs: list[RunSpec], root: Path, progress: Progress | None
) -> Iterator[Outcome]:
    blas_threads = _check_workers(client, root)
    sweep_id = uuid.uuid4().hex[:12]
    topic = f"alcli-progress-{sweep_id}"
    stop = distributed.Event(f"alcli-stop-{sweep_id}", client=client)
    arrived: queue.Queue = queue.Queue()  # progress events and finished futures, in order
    futures: dict[str, tuple[Any, RunSpec]] = {}
    remaining: set[str] = set()
    try:
        client.subscribe_topic(topic, lambda event: arrived.put(("event", event[1])))
        for index, spec in enumerate(specs):
            future = client.submit(
                run_task,
                spec,
                str(root),
                topic,
                stop.name,
                blas_threads,
                key=f"alcli-run-{sweep_id}-{index}",
            )
            future.add_done_callback(lambda done: arrived.put(("done", done)))
            futures[future.key] = (future, spec)
            remaining.add(future.key)
        while remaining:
            try:
                kind, payload = arrived.get(timeout=0.5)
            except queue.Empty:
                continue
            if kind == "event":
                if progress is not None:
                    progress(payload)
            elif payload.key in remaining:
                remaining.discard(payload.key)
                yield _outcome(*futures[payload.key])
    finally:
        try:
            if remaining:
                # Interrupted: no run starts any more, and each running one stops after the
                # checkpoint of the loop it is in (the tasks read the event between loops).
                stop.set()
                _wait_for(remaining, futures, arrived)
        finally:
            for future, _ in futures.values():
                if not future.done():
                    future.cancel()  # a second Ctrl-C while waiting: nothing new starts
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(topic)


def _wait_for(remaining: set[str], futures: dict, arrived: queue.Queue) -> None:
    deadline = time.monotonic() + _STOP_WAIT_SECONDS
    while remaining and time.monotonic() < deadline:
        try:
            kind, payload = arrived.get(timeout=0.5)
        except queue.Empty:
            continue
        if kind == "done":
            remaining.discard(payload.key)


def _outcome(future, spec: RunSpec) -> Outcome:
    if future.cancelled():
        return Outcome(spec.key, "pending", False, "cancelled")
    exc = future.exception()
    if exc is None:
        return future.result()
    name = type(exc).__name__
    if name == "KilledWorker":
        return Outcome(
            spec.key,
            "failed",
            True,
            "the workers running it died several times (dask gave up on the task); its "
            "loops so far are saved",
        )
    return Outcome(spec.key, "failed", True, f"{name}: {exc}")


def _check_workers(client, root: Path | None = None) -> dict[str, int]:
    """Every worker must run this alcli, one task at a time (a run's warnings and BLAS
    limits are its process's), and see the sweep directory ``root`` where this machine does
    (a file written here must be there). Returns each worker's BLAS threads per run: its
    machine's cores over the workers on that machine, as the local backend pins them."""
    probe = None
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".alcli-probe-{uuid.uuid4().hex[:12]}"
        probe.touch()
    try:
        seen = client.run(_worker_view, None if probe is None else str(probe))
    finally:
        if probe is not None:
            probe.unlink()
    problems = []
    for address, view in sorted(seen.items()):
        if view["version"] != __version__:
            problems.append(
                f"worker {address} runs alcli {view['version']}; this is alcli {__version__}"
            )
        if view["nthreads"] != 1:
            problems.append(
                f"worker {address} has {view['nthreads']} threads; alcli's runs need one "
                "thread per worker process (dask worker ... --nthreads 1 --nworkers auto)"
            )
        if not view["sees"]:
            problems.append(f"worker {address} does not see {root}")
    if problems:
        raise UserInputError(
            "the dask workers cannot run this sweep:\n"
            + "\n".join(f"  {p}" for p in problems)
            + "\nInstall the same alcli on every worker, start them with one thread each, and "
            "put the sweep directory (--sweep-dir) on a folder every worker mounts at the same "
            "path."
        )
    workers_on = Counter(view["host"] for view in seen.values())
    return {
        address: max(1, view["cores"] // workers_on[view["host"]]) for address, view in seen.items()
    }


# --- on a worker ------------------------------------------------------------------------------


def _worker_view(probe: str | None, dask_worker=None) -> dict[str, Any]:
    return {
        "version": __version__,
        "sees": probe is None or Path(probe).is_file(),
        "host": socket.gethostname(),
        "cores": len(os.sched_getaffinity(0)),
        "nthreads": dask_worker.state.nthreads if dask_worker is not None else 1,
    }


class _StopWatch:
    """The sweep's stop event as this worker sees it: asked of the scheduler at most every
    ``_STOP_CHECK_SECONDS`` (an RPC), whichever of the worker's runs asks."""

    _last: ClassVar[dict[str, tuple[float, bool]]] = {}  # event name -> (asked at, was set)

    def __init__(self, name: str):
        import distributed

        self.name = name
        self._event = distributed.Event(name)

    def is_set(self) -> bool:
        asked, was_set = self._last.get(self.name, (-math.inf, False))
        if not was_set and time.monotonic() - asked >= _STOP_CHECK_SECONDS:
            was_set = self._event.is_set()
            self._last[self.name] = (time.monotonic(), was_set)
        return was_set


@functools.cache
def _thread_pools():
    """BLAS and OpenMP as loaded in this worker (found once: looking costs milliseconds)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def run_task(
    spec: RunSpec, root: str, topic: str, stop_name: str, blas_threads: dict[str, int]
) -> Outcome:
    """One run, on a dask worker: start or resume it, waiting while another worker still
    holds its directory (one the scheduler gave up on that is still running it). Progress
    goes to the scheduler's event log."""
    import distributed

    worker = distributed.get_worker()
    stop = _StopWatch(stop_name)
    sent = [-math.inf]

    def forward(event: dict[str, Any]) -> None:
        # Each message wakes the worker's event loop, the scheduler and the client: a run's
        # loops are reported at most every _PROGRESS_SECONDS (a bar needs no more; the run's
        # end tells the rest), its start and first loop always.
        now = time.monotonic()
        if (
            event.get("event") != "loop"
            or not event.get("loop")
            or now - sent[0] >= (_PROGRESS_SECONDS)
        ):
            sent[0] = now
            worker.log_event(topic, event)
        if event.get("event") == "loop" and not event.get("ends") and stop.is_set():
            raise KeyboardInterrupt  # after the loop's checkpoint: stopped, resumable

    deadline = time.monotonic() + _BUSY_WAIT_SECONDS
    while True:
        if stop.is_set():
            return Outcome(spec.key, "pending", False, "the sweep was stopped")
        # The runs going on at once on this machine share its cores (a worker that joined
        # after the sweep started was not counted: one thread).
        with _thread_pools().limit(limits=blas_threads.get(worker.address, 1)):
            outcome = execute_run(spec, Path(root), forward)
        if not outcome.busy:
            return outcome
        if time.monotonic() > deadline:
            return Outcome(
                spec.key,
                "failed",
                False,
                f"{outcome.message} (still held after {_BUSY_WAIT_SECONDS / 3600:g} h)",
            )
        time.sleep(1.0)
