"""The run directory: its layout, atomic writes, the one-writer lock, status and checkpoints.

Layout::

    config.yaml    the resolved config, frozen at start
    run.json       status, versions, hashes, last complete loop, stop reason
    metrics.csv    one row per complete loop
    events.jsonl   one line per step, append-only
    loops/NNNN/    selected.csv, labels.csv, metrics.json, state.npz, model.joblib

A loop folder is written under a temporary name and renamed into place, so it exists only
when complete; every other file is written to a temporary file and ``os.replace``d.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from alcli.atomic import (
    DIR_MODE,
    TMP_PREFIX,
    csv_text,
    exclusive,
    uninterrupted,
    write_atomic,
    write_in_place,
)
from alcli.errors import RunBusy, RunDirError
from alcli.rundir.integrity import MANIFEST, file_digest, manifest_text
from alcli.rundir.tables import LABELER_TABLES

SCHEMA_VERSION = 1
STATUSES = ("running", "awaiting_labels", "stopped", "completed", "failed")
_LOOP_DIR = re.compile(r"^\d{4}$")


def default_run_path(runs_dir: Path, name: str) -> Path:
    """``runs_dir/<name>-<YYYYmmdd-HHMMSS>``, suffixed -2, -3, ... if that exists."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = runs_dir / f"{name}-{stamp}"
    n = 2
    while path.exists():
        path = runs_dir / f"{name}-{stamp}-{n}"
        n += 1
    return path


class RunDir:
    """One run directory. ``create`` makes a new one; ``open`` an existing one."""

    def __init__(self, path: Path):
        self.path = path
        # run.json as this process last wrote it: with the lock held nobody else writes it,
        # so a loop's update need not read it back.
        self._meta: dict[str, Any] | None = None
        self._events = None  # events.jsonl, open while this process writes the run
        self._guard = threading.RLock()  # tracking sinks' threads write run.json, events too

    # --- making and opening ---------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, config_yaml: str, meta: dict[str, Any]) -> RunDir:
        """Make the directory with config.yaml and run.json in one rename.

        Raises
        ------
        RunDirError
            When ``path`` already holds a run or other files.
        """
        if (path / "run.json").exists():
            if cls(path).is_busy():
                raise RunDirError(
                    f"{path} is in use by another alcli process; wait for it to finish, or "
                    "choose another --run-dir."
                )
            raise RunDirError(
                f"{path} already holds a run. Resume it with `alcli resume {path}`, or "
                "choose another --run-dir."
            )
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunDirError(
                f"{path} exists and is not an empty directory; choose another --run-dir."
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"cannot create the run directory {path}: {exc}") from None
        with uninterrupted():
            staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f"{TMP_PREFIX}{path.name}."))
            try:
                staging.chmod(DIR_MODE)
                (staging / "loops").mkdir()
                write_atomic(staging / "config.yaml", config_yaml)
                write_atomic(
                    staging / "run.json", _json({"schema_version": SCHEMA_VERSION, **meta})
                )
                # Renaming over an empty directory is allowed; over a non-empty one it fails.
                os.replace(staging, path)
            except OSError as exc:
                shutil.rmtree(staging, ignore_errors=True)
                raise RunDirError(f"cannot create the run directory {path}: {exc}") from None
        return cls(path)

    @classmethod
    def open(cls, path: Path) -> RunDir:
        if not path.is_dir():
            raise RunDirError(
                f"{path}: no such run directory; start a run with `alcli run CONFIG`."
            )
        for name in ("run.json", "config.yaml"):
            if not (path / name).is_file():
                raise RunDirError(f"{path} is not an alcli run directory (no {name}).")
        return cls(path)

    # --- the one-writer lock --------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's lock; refuse if another process holds it.

        The kernel releases an flock when its process dies, so a killed run never leaves the
        directory locked.
        """
        with exclusive(self.path / ".lock") as held:
            if not held:
                raise RunBusy(
                    f"{self.path} is in use by another alcli process; wait for it to finish, "
                    "or stop it (Ctrl-C) and then `alcli resume` it."
                )
            try:
                yield
            finally:
                self.close()

    def is_busy(self) -> bool:
        """Whether another process holds this directory's lock right now."""
        lock_path = self.path / ".lock"
        if not lock_path.exists():
            return False
        with exclusive(lock_path) as held:
            return not held

    # --- run.json -------------------------------------------------------------------------

    def read_meta(self) -> dict[str, Any]:
        try:
            meta = json.loads((self.path / "run.json").read_text())
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{self.path}/run.json cannot be read: {exc}") from None
        if not isinstance(meta, dict) or meta.get("status") not in STATUSES:
            raise RunDirError(
                f"{self.path}/run.json is not an alcli run record (it needs a status, one of "
                f"{', '.join(STATUSES)}); it was changed by hand or by another program."
            )
        check_schema_version(meta.get("schema_version", SCHEMA_VERSION), self.path / "run.json")
        return meta

    def update_meta(self, sync: bool = True, **changes: Any) -> dict[str, Any]:
        """Change keys of run.json (atomically; ``sync``: fsync'd too)."""
        with self._guard:
            meta = dict(self._meta) if self._meta is not None else self.read_meta()
            meta.update(changes, updated=_now())
            write_atomic(self.path / "run.json", _json(meta), sync=sync)
            self._meta = meta
            return meta

    def record_status(self, status: str, **changes: Any) -> None:
        """Record a status however the storage is: atomically if it can, else in place (a
        full disk has no room for a new file), else not at all (a read-only folder)."""
        with self._guard:
            try:
                self.update_meta(status=status, **changes)
            except OSError:
                try:
                    meta = dict(self._meta) if self._meta is not None else self.read_meta()
                except RunDirError:
                    return
                meta.update(changes, status=status, updated=_now())
                try:
                    write_in_place(self.path / "run.json", _json(meta))
                    self._meta = meta
                except OSError:
                    pass  # run.json keeps "running": resume treats that as a stop

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    # --- loops ----------------------------------------------------------------------------

    def loop_path(self, loop: int) -> Path:
        return self.path / "loops" / f"{loop:04d}"

    def complete_loops(self) -> list[int]:
        loops_dir = self.path / "loops"
        if not loops_dir.is_dir():
            return []
        return sorted(int(p.name) for p in loops_dir.iterdir() if _LOOP_DIR.match(p.name))

    def discard_partial(self) -> None:
        """Remove what a killed process left half-written (temporary files and folders)."""
        folders = (
            self.path,
            self.path / "loops",
            *self.path.glob("pending/loop-*"),
            # A kill while an extension rewrote a loop's files (rewrite_loop).
            *(p.parent for p in self.path.glob(f"loops/*/{TMP_PREFIX}*")),
        )
        for folder in folders:
            for leftover in folder.glob(f"{TMP_PREFIX}*"):
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)

    def set_aside_loops(self, first: int) -> Path | None:
        """Move loop ``first`` and every later loop folder (and metrics.csv, which resume
        rebuilds) into ``damaged/<time>/``: kept, never deleted, since they may hold answers
        people gave; run.json then says the run stopped after loop ``first - 1``. Returns
        that folder (None when there was no loop to move)."""
        loops = [k for k in self.complete_loops() if k >= first]
        metrics = self.path / "metrics.csv"
        aside = None
        with uninterrupted():
            if loops:  # metrics.csv goes with them (it has their rows; resume rebuilds it)
                aside = self.path / "damaged" / datetime.now().strftime("%Y%m%d-%H%M%S-%f")
                (aside / "loops").mkdir(parents=True)
                for loop in loops:
                    os.replace(self.loop_path(loop), aside / "loops" / f"{loop:04d}")
                if metrics.exists():
                    os.replace(metrics, aside / "metrics.csv")
            self.update_meta(
                status="stopped", last_loop=first - 1 if first > 0 else None, stop_reason=None
            )
        return aside

    # --- a batch waiting for labels ---------------------------------------------------------

    def pending_path(self, loop: int) -> Path:
        return self.path / "pending" / f"loop-{loop:04d}"

    def write_pending(self, loop: int, arrays: dict[str, np.ndarray]) -> None:
        """Save the batch of ``loop`` and its answers so far (``batch.npz``, atomically)."""
        folder = self.pending_path(loop)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / "batch.npz", _npz_bytes(arrays))  # schema_version read back, resaved

    def read_pending(self) -> tuple[int, dict[str, np.ndarray]] | None:
        """The loop waiting for labels and its saved batch, or None.

        A pending folder without ``batch.npz`` (a kill before it was saved) does not count:
        the loop is selected again, which gives the same batch.
        """
        folders = sorted(self.path.glob("pending/loop-[0-9][0-9][0-9][0-9]"))
        for folder in reversed(folders):
            batch = folder / "batch.npz"
            if batch.exists():
                return int(folder.name.removeprefix("loop-")), read_npz(batch)
        return None

    def remove_handoff(self, loop: int) -> None:
        """Remove what a labeler handed out for ``loop`` (to_label.csv, ...), keeping the
        saved batch: the batch is being replaced."""
        for item in self.pending_path(loop).glob("*"):
            if item.name != "batch.npz" and item.is_file():
                item.unlink(missing_ok=True)

    def clear_pending(self, keep: int | None = None) -> None:
        """Remove the pending batches (their loops are complete, or were never saved), all
        but loop ``keep``'s if given."""
        if keep is None:
            shutil.rmtree(self.path / "pending", ignore_errors=True)
            return
        for folder in self.path.glob("pending/loop-*"):
            if folder != self.pending_path(keep):
                shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):  # only when nothing is left in it
            (self.path / "pending").rmdir()

    def write_loop(
        self,
        loop: int,
        files: dict[str, bytes | str],
        arrays: dict[str, np.ndarray],
        model: Any = None,
        sync: bool = True,
    ) -> None:
        """Write a complete loop folder in one rename (``sync``: its files fsync'd first)."""
        final = self.loop_path(loop)
        with uninterrupted():
            # One writer holds the lock, so a fixed staging name cannot clash (a kill's
            # leftover is removed first); mkdir gives it ordinary permissions in one call.
            staging = final.parent / f"{TMP_PREFIX}{final.name}"
            if staging.exists():
                shutil.rmtree(staging)
            staging.mkdir()
            try:
                payloads = {
                    name: content.encode() if isinstance(content, str) else content
                    for name, content in files.items()
                }
                payloads["state.npz"] = _npz_bytes(arrays)
                # What the labeler recorded beside its answers (labeling functions' votes)
                # is part of the loop: it goes in with the rest, in the same rename.
                for name in LABELER_TABLES:
                    left = self.pending_path(loop) / name
                    if name not in payloads and left.is_file():
                        payloads[name] = left.read_bytes()
                for name, payload in payloads.items():
                    (staging / name).write_bytes(payload)
                # Inside the folder before its rename: what resume and doctor check it against.
                (staging / MANIFEST).write_text(manifest_text(payloads))
                if model is not None:
                    import joblib

                    joblib.dump(model, staging / "model.joblib")
                if sync:
                    _fsync_dir_files(staging)
                os.replace(staging, final)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise

    def rewrite_loop(
        self, loop: int, arrays: dict[str, np.ndarray], metrics_json: str, keep_model: bool
    ) -> None:
        """Replace a complete loop's state.npz, then its metrics.json, each atomically (an
        extended run takes the loop's stop decision again); drop its model unless kept."""
        folder = self.loop_path(loop)
        payloads = {"state.npz": _npz_bytes(arrays), "metrics.json": metrics_json.encode()}
        old = {name: [file_digest(folder / name)] for name in payloads if (folder / name).exists()}
        kept = {
            name: [file_digest(folder / name)]
            for name in ("selected.csv", "labels.csv", "skipped.csv", *LABELER_TABLES)
            if (folder / name).exists()
        }
        # The manifest accepts the old and the new versions while the two files are replaced
        # one after the other (a kill in between leaves a loop that still checks), then only
        # the new ones.
        write_atomic(folder / MANIFEST, manifest_text(payloads, {**old, **kept}))
        write_atomic(folder / "state.npz", payloads["state.npz"])
        write_atomic(folder / "metrics.json", payloads["metrics.json"])
        write_atomic(folder / MANIFEST, manifest_text(payloads, kept))
        if not keep_model:
            (folder / "model.joblib").unlink(missing_ok=True)

    def read_selected_indices(self, loop: int) -> np.ndarray:
        """The pool indices of a complete loop's batch, in selection order (selected.csv)."""
        path = self.loop_path(loop) / "selected.csv"
        try:
            with path.open(newline="") as handle:
                return np.array([int(row["index"]) for row in csv.DictReader(handle)], np.int64)
        except (OSError, KeyError, ValueError) as exc:
            raise RunDirError(f"{path} cannot be read: {exc}") from None

    def read_state(self, loop: int) -> dict[str, np.ndarray]:
        """A loop's state.npz (never unpickled)."""
        path = self.loop_path(loop) / "state.npz"
        state = read_npz(path)
        missing = {"order", "labels", "loop_of"} - set(state)
        if missing:
            raise RunDirError(f"{path} lacks {', '.join(sorted(missing))}; it was changed by hand")
        return state

    def read_loop_metrics(self, loop: int) -> dict[str, Any]:
        path = self.loop_path(loop) / "metrics.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{path} cannot be read: {exc}") from None

    # --- metrics.csv and events.jsonl -----------------------------------------------------

    def write_metrics_csv(self, header: list[str], rows: list[list[Any]]) -> None:
        """Replace metrics.csv, unless it already says exactly this (resume brings it in step
        with the loop folders: a kill can fall between them, or tear its last line)."""
        path = self.path / "metrics.csv"
        text = csv_text(header, rows)
        if not (path.exists() and path.read_bytes() == text.encode()):
            write_atomic(path, text)

    def append_metrics_row(self, header: list[str], row: list[Any], sync: bool = True) -> None:
        """Append one loop's row to metrics.csv (the header first, into a new file): a loop
        costs one row, however many came before."""
        path = self.path / "metrics.csv"
        text = csv_text(None if path.exists() else header, [row])
        _append(path, text.encode(), sync)

    def append_events(self, *events: dict[str, Any]) -> None:
        """Append one line per event; a line torn by a kill is repaired by the next append.

        The file stays open while this process writes the run (a few appends per loop cost
        microseconds, not an open and a close each); every line is in the kernel as soon as
        it is written, so a kill loses none.
        """
        now = _now()
        lines = "".join(json.dumps({"time": now, **e}, default=str) + "\n" for e in events)
        with self._guard:  # one write of whole lines at a time, whichever thread
            handle = self._events_handle()
            handle.write(lines.encode())
            handle.flush()

    def _events_handle(self):
        if self._events is None or self._events.closed:
            handle = open(self.path / "events.jsonl", "a+b")  # noqa: SIM115 - kept open
            handle.seek(0, os.SEEK_END)
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")
            self._events = handle
        return self._events

    def close(self) -> None:
        with self._guard:
            if self._events is not None:
                self._events.close()
                self._events = None

    def append_event(self, event: dict[str, Any]) -> None:
        self.append_events(event)


def check_schema_version(version: object, path: Path) -> None:
    """Refuse a file written by a newer alcli, whose layout this version cannot know."""
    try:
        newer = int(version) > SCHEMA_VERSION  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise RunDirError(
            f"{path}: schema_version {version!r} is not a number; the file was changed by hand"
        ) from None
    if newer:
        raise RunDirError(
            f"{path} was written by a newer alcli (schema version {version}; this alcli "
            f"reads up to {SCHEMA_VERSION}); upgrade alcli (pip install -U alcli) to use it"
        )


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """An NPZ checkpoint's arrays (never unpickled), its schema version checked."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path} cannot be read: {exc}") from None
    if "schema_version" in arrays:
        check_schema_version(arrays["schema_version"].item(), path)
    return arrays


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    arrays = {k: v for k, v in arrays.items() if k != "schema_version"}
    np.savez(buffer, schema_version=np.int64(SCHEMA_VERSION), **arrays)
    return buffer.getvalue()


def _append(path: Path, payload: bytes, sync: bool) -> None:
    """Append ``payload`` whole or not at all: a full disk can take part of a write, and a
    part of a row is taken back."""
    with open(path, "ab") as handle:
        size = handle.tell()
        try:
            handle.write(payload)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                handle.truncate(size)
            raise


def _fsync_dir_files(folder: Path) -> None:
    for child in folder.iterdir():
        with open(child, "rb") as handle:
            os.fsync(handle.fileno())


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str) + "\n"


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")
