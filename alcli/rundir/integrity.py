"""Is a run directory what alcli wrote? Each loop folder carries a manifest (size and CRC-32 of
each file, written inside the folder before its one rename); ``inspect_run`` checks a run
directory against its manifests and its files against each other, and says what is wrong,
which file, and how to repair it.

What the checks catch: a file edited, truncated or emptied (size or checksum), undecodable
text, a truncated NPZ, a loop missing in the middle, metrics.csv out of step with the loop
folders, run.json disagreeing with both, leftovers of a killed write. A loop folder written by
an alcli from before manifests is checked for readability only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alcli.atomic import TMP_PREFIX
from alcli.errors import RunDirError

MANIFEST = "manifest.json"
#: The files of a loop folder resume and report read (model.joblib is never trusted: resume
#: refits the model from the labels).
LOOP_FILES = ("selected.csv", "labels.csv", "metrics.json", "state.npz")
_LOOP_DIR = re.compile(r"^\d{4}$")


def manifest_text(payloads: dict[str, bytes], allowed: dict[str, list[dict]] | None = None) -> str:
    """The manifest of a loop folder's files; ``allowed`` adds other accepted versions of a
    file (while a rewrite replaces two files one after the other)."""
    files: dict[str, list[dict[str, int]]] = {
        name: [_digest(payload)] for name, payload in payloads.items()
    }
    for name, versions in (allowed or {}).items():
        files[name] = [*files.get(name, []), *versions]
    return json.dumps({"schema_version": 1, "files": files}, indent=1) + "\n"


def file_digest(path: Path) -> dict[str, int]:
    return _digest(path.read_bytes())


def _digest(payload: bytes) -> dict[str, int]:
    return {"size": len(payload), "crc32": zlib.crc32(payload)}


@dataclass(frozen=True)
class Finding:
    """One thing wrong (``damage``) or worth knowing (``note``) about a run directory."""

    file: str
    problem: str
    repair: str
    severity: str = "damage"
    #: The loop whose folder is damaged (repair drops it and the loops after it).
    loop: int | None = None
    #: Whether `alcli resume` puts it right by itself (it rebuilds metrics.csv, for one).
    resume_fixes: bool = False

    def line(self) -> str:
        return f"{self.file}: {self.problem}; {self.repair}"


@dataclass
class Inspection:
    path: Path
    loops: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0

    @property
    def damage(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "damage"]

    @property
    def first_damaged_loop(self) -> int | None:
        loops = [f.loop for f in self.damage if f.loop is not None]
        return min(loops) if loops else None

    def add(self, file: str, problem: str, repair: str, **kwargs: Any) -> None:
        self.findings.append(Finding(file, problem, repair, **kwargs))


REDO = (
    "`alcli resume` redoes it when a simulation labeled it; otherwise `alcli doctor {path} "
    "--repair` moves this loop and the ones after it aside and resume redoes them"
)
REBUILT = "`alcli resume` (or `alcli doctor --repair`) rewrites it from the loop folders"


def inspect_run(path: Path, deep: bool = True) -> Inspection:
    """Check a run directory end to end (``deep``: every loop's files against its manifest
    and readable; otherwise the small files of every loop and the last loop's state)."""
    found = Inspection(path)
    redo = REDO.format(path=path)
    meta = _check_meta(found)
    _check_config(found, meta)
    loop_names = (
        sorted(p.name for p in (path / "loops").iterdir() if _LOOP_DIR.match(p.name))
        if (path / "loops").is_dir()
        else []
    )
    found.loops = [int(name) for name in loop_names]
    for expected, loop in enumerate(found.loops):
        if loop != expected:
            found.add(
                f"loops/{expected:04d}",
                f"missing (the loops go {found.loops[max(expected - 1, 0)]:04d} -> {loop:04d})",
                redo.replace("this loop", "the loops from here"),
                loop=expected,
            )
            break
    records: dict[int, dict[str, Any]] = {}
    for loop in found.loops:
        last = loop == found.loops[-1]
        record = _check_loop(found, loop, deep=deep or last, redo=redo)
        if record is not None:
            records[loop] = record
    _check_metrics_csv(found, records)
    _check_meta_against_loops(found, meta, records)
    _check_leftovers(found, meta)
    return found


def _check_meta(found: Inspection) -> dict[str, Any] | None:
    try:
        meta = json.loads((found.path / "run.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or "status" not in meta:
            raise ValueError("not a run record")
        return meta
    except (OSError, ValueError) as exc:
        found.add(
            "run.json",
            f"cannot be read ({_short(exc)})",
            "restore it from a backup; without it the run cannot be resumed (its loops can "
            "still be read: `alcli report` needs it too)",
        )
        return None


def _check_config(found: Inspection, meta: dict[str, Any] | None) -> None:
    try:
        text = (found.path / "config.yaml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        found.add("config.yaml", f"cannot be read ({_short(exc)})", "restore it from a backup")
        return
    if meta and meta.get("config_hash") not in (None, hashlib.sha256(text.encode()).hexdigest()):
        found.add(
            "config.yaml",
            "differs from the config the run started with (its hash in run.json)",
            "restore it, or start a new run with the edited config",
        )


def _check_loop(found: Inspection, loop: int, deep: bool, redo: str) -> dict[str, Any] | None:
    folder = found.path / "loops" / f"{loop:04d}"
    name = f"loops/{loop:04d}"
    found.checked += 1
    manifest = _read_manifest(folder)
    for file in LOOP_FILES:
        if not (folder / file).is_file():
            found.add(f"{name}/{file}", "missing", redo, loop=loop)
            return None
    if manifest is not None:
        for file, versions in manifest.items():
            if file == "state.npz" and not deep:
                continue
            target = folder / file
            if not target.is_file():
                found.add(f"{name}/{file}", "missing", redo, loop=loop)
                continue
            digest = file_digest(target)
            if digest not in versions:
                what = (
                    "its size"
                    if all(v["size"] != digest["size"] for v in versions)
                    else ("its checksum")
                )
                found.add(
                    f"{name}/{file}",
                    f"is not the file alcli wrote ({what} changed)",
                    redo,
                    loop=loop,
                )
    try:
        record = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("loop") != loop:
            raise ValueError(f"it does not describe loop {loop}")
    except (OSError, ValueError) as exc:
        found.add(f"{name}/metrics.json", f"cannot be read ({_short(exc)})", redo, loop=loop)
        return None
    for file in ("selected.csv", "labels.csv"):
        problem = _csv_problem(
            folder / file, {"selected.csv": "index", "labels.csv": "label"}[file]
        )
        if problem:
            found.add(f"{name}/{file}", problem, redo, loop=loop)
    if deep:
        try:
            with np.load(folder / "state.npz", allow_pickle=False) as npz:
                missing = {"order", "labels", "loop_of"} - set(npz.files)
                for key in npz.files:
                    npz[key]  # reads and checks every array's bytes
            if missing:
                raise ValueError(f"lacks {', '.join(sorted(missing))}")
        except Exception as exc:  # a damaged zip raises zipfile's, zlib's or numpy's errors
            found.add(f"{name}/state.npz", f"cannot be read ({_short(exc)})", redo, loop=loop)
    return record


def _read_manifest(folder: Path) -> dict[str, list[dict[str, int]]] | None:
    try:
        raw = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return {name: list(versions) for name, versions in raw["files"].items()}
    except FileNotFoundError:
        return None  # a loop written before manifests: checked for readability only
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # damaged manifest: the files' own checks below still run


def _csv_problem(path: Path, column: str) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
        rows = list(csv.DictReader(io.StringIO(text)))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return f"cannot be read ({_short(exc)})"
    if rows and column not in rows[0]:
        return f"has no {column} column"
    return None


def _check_metrics_csv(found: Inspection, records: dict[int, dict[str, Any]]) -> None:
    path = found.path / "metrics.csv"
    if not path.exists():
        if found.loops:
            # What a kill between loop 0's folder and metrics.csv's first row leaves.
            found.add(
                "metrics.csv",
                f"missing: no row yet for {len(found.loops)} complete loop(s)",
                "reports read them from the loop folders; `alcli resume` writes the rows",
                severity="note",
                resume_fixes=True,
            )
        return
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        table = [(int(row["loop"]), int(row["n_labeled"])) for row in rows]
    except (OSError, UnicodeDecodeError, csv.Error, KeyError, ValueError, TypeError) as exc:
        found.add("metrics.csv", f"cannot be read ({_short(exc)})", REBUILT, resume_fixes=True)
        return
    expected = [(loop, r.get("n_labeled")) for loop, r in sorted(records.items())]
    if len(table) < len(expected) and table == expected[: len(table)]:
        # What a kill between a loop's folder and its row leaves: nothing lost.
        found.add(
            "metrics.csv",
            f"has no row yet for {len(expected) - len(table)} complete loop(s)",
            "reports read them from the loop folders; `alcli resume` writes the rows",
            severity="note",
            resume_fixes=True,
        )
        return
    if table != expected:
        found.add(
            "metrics.csv",
            f"disagrees with the loop folders ({len(table)} rows for {len(expected)} loops)"
            if len(table) != len(expected)
            else "disagrees with the loop folders (loop or labeled counts differ)",
            REBUILT,
            resume_fixes=True,
        )


def _check_meta_against_loops(
    found: Inspection, meta: dict[str, Any] | None, records: dict[int, dict[str, Any]]
) -> None:
    if meta is None:
        return
    last = found.loops[-1] if found.loops else None
    recorded = meta.get("last_loop")
    if isinstance(recorded, int) and (last is None or recorded > last):
        found.add(
            "run.json",
            f"says loop {recorded} completed, but the last loop folder is "
            f"{'none' if last is None else f'{last:04d}'}",
            f"a loop folder was lost; `alcli doctor {found.path} --repair` records the loops "
            "there are and resume redoes the rest",
            loop=(last + 1) if last is not None else 0,
        )
    completed = meta.get("status") == "completed" and last is not None and last in records
    if completed and not records[last].get("stop_reason"):
        found.add(
            "run.json",
            f"says completed, but loop {last:04d} took no decision to stop",
            "`alcli resume` goes on from that loop",
            resume_fixes=True,
        )


def _check_leftovers(found: Inspection, meta: dict[str, Any] | None) -> None:
    for folder in (found.path, found.path / "loops"):
        if not folder.is_dir():
            continue
        for leftover in folder.glob(f"{TMP_PREFIX}*"):
            found.add(
                str(leftover.relative_to(found.path)),
                "left by a write that was killed",
                "`alcli resume` (or `alcli doctor --repair`) removes it",
                severity="note",
            )
    if (found.path / "pending").is_dir() and (meta or {}).get("status") != "awaiting_labels":
        found.add(
            "pending/",
            "a batch from a stop while waiting for labels",
            "`alcli resume` takes it up again",
            severity="note",
        )


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


def raise_if_damaged(found: Inspection, action: str) -> None:
    """Refuse ``action`` over a damaged run directory, one line per finding."""
    if found.damage:
        lines = "\n".join(f"  {f.line()}" for f in found.damage[:10])
        more = f"\n  and {len(found.damage) - 10} more" if len(found.damage) > 10 else ""
        raise RunDirError(
            f"{found.path} is damaged, so {action} would not be what the run recorded:\n"
            f"{lines}{more}\n`alcli doctor {found.path}` checks it end to end."
        )


def answers_by(path: Path, first: int, kinds: set[str]) -> int:
    """How many answers in loop ``first`` and later came from labelers of ``kinds`` (people):
    what moving those loops aside would ask of them again."""
    count = 0
    for folder in sorted((path / "loops").glob("[0-9][0-9][0-9][0-9]")):
        if int(folder.name) < first:
            continue
        try:
            with (folder / "labels.csv").open(newline="", encoding="utf-8") as handle:
                count += sum(row.get("labeler") in kinds for row in csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error):
            count += 1  # unreadable: it may have held answers from people
    return count
