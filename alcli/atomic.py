"""Writes that never leave a half-written file, and signals held while they happen."""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import io
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Temporary files and folders start with this; whatever a kill leaves is removed on resume.
TMP_PREFIX = ".tmp-"


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp/mkdtemp create private (0600/0700) entries; a run directory gets ordinary permissions.
FILE_MODE = 0o666 & ~_current_umask()
DIR_MODE = 0o777 & ~_current_umask()


_deferring = threading.local()


@contextlib.contextmanager
def uninterrupted(then_raise: bool = True) -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then raise KeyboardInterrupt
    (``then_raise=False``: drop them, for the block that is already stopping the run, so that
    a second Ctrl-C cannot cut it short).

    Writes that must not stop half-way (a temporary file and its rename; a loop folder with
    the metrics.csv and run.json that describe it) run inside this. Python runs signal
    handlers in the main thread whichever thread the signal hits, so swapping the handlers
    is enough; elsewhere (a worker thread) signals cannot be handled and the block just runs.
    """
    if getattr(_deferring, "active", False) or threading.current_thread() is not (
        threading.main_thread()
    ):
        yield
        return
    received: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda number, frame: received.append(number))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    _deferring.active = True
    try:
        yield
    finally:
        _deferring.active = False
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received and then_raise:
        raise KeyboardInterrupt


def write_atomic(path: Path, data: bytes | str, sync: bool = True) -> None:
    """Write a file so that readers see the old or the new content, never a part.

    ``sync`` flushes it to the disk before the rename (fsync): it then survives a power loss
    too. Without it, the rename alone is enough for a process killed at any instant: the
    written pages are in the kernel's cache, which outlives the process.
    """
    payload = data.encode() if isinstance(data, str) else data
    with uninterrupted():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TMP_PREFIX}{path.name}.")
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                if sync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


#: What a full disk, a quota or a read-only folder raise: the storage, not the data.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def is_storage_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def storage_message(exc: OSError, where: Path) -> str:
    """``cannot write X: No space left on device (12 kB free there)``."""
    target = Path(exc.filename) if exc.filename else where
    try:
        probe = target if target.is_dir() else target.parent
        free = f" ({_size(shutil.disk_usage(probe).free)} free there)"
    except OSError:
        free = ""
    return f"cannot write {target}: {os.strerror(exc.errno)}{free}"


def _size(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def write_in_place(path: Path, data: bytes | str) -> None:
    """Overwrite a small file where it is, for when the disk is full: a new file would need
    space, while the blocks the old one holds can be written again. Not atomic: the last
    resort for recording a status, never for data."""
    payload = data.encode() if isinstance(data, str) else data
    with uninterrupted(), open(path, "r+b") as handle:
        handle.write(payload)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())


def csv_text(header: list[str] | None, rows: list[list[Any]]) -> str:
    """CSV text with ``\\n`` line ends: the header (None: none), then the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_problem(path: Path, max_bytes: int | None = None) -> str | None:
    """Why ``path`` cannot be read as an ordinary file, or None (a missing file is left to
    the caller, which knows what it should have been).

    A folder, a named pipe (which would block until someone writes to it), a device such as
    /dev/zero (which never ends), a socket, a symlink loop, or a file over ``max_bytes``.
    """
    try:
        info = os.stat(path)  # follows symlinks: a loop raises ELOOP
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(info.st_mode):
        return "is a folder, not a file"
    for test, kind in _KINDS:
        if test(info.st_mode):
            return f"is {kind}, not a regular file; give a file on disk"
    if max_bytes is not None and info.st_size > max_bytes:
        return (
            f"is {info.st_size:,} bytes, more than the {max_bytes:,} such a file can sensibly "
            "be; check the path"
        )
    return None


@contextlib.contextmanager
def exclusive(lock_file: Path) -> Iterator[bool]:
    """Hold an exclusive lock on ``lock_file`` for the block; yields False (holding nothing)
    when another process holds it. The kernel releases the lock when its process dies, so a
    killed process never leaves a folder locked."""
    handle = open(lock_file, "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()
