"""alcli in a subprocess, as a shell starts it: the command, its environment, and waiting
for a condition while it runs (kill, Ctrl-C and resume tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ALCLI = [sys.executable, "-m", "alcli"]
# One BLAS thread: two alcli processes at once share two cores well, and no warnings on stderr.
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
}
TIMEOUT = 120


def default_sigint() -> None:
    # A job started in the background by a non-interactive shell ignores SIGINT, and Python
    # then installs no KeyboardInterrupt handler: give the child the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def alcli(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``alcli ARGS`` to the end."""
    return subprocess.run(
        [*ALCLI, *map(str, args)],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=default_sigint,
    )


def poll(proc: subprocess.Popen, condition: Callable[[], object], timeout: float = 60) -> bool:
    """Wait until ``condition()`` holds (True) or the process has ended first (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return bool(condition())
        time.sleep(0.0005)
    proc.kill()
    raise AssertionError(f"timed out after {timeout} s waiting for the process")
