"""Damaged run directories, as disks, editors and killed writes leave them: a table of damage
kinds x (completed, half-done) runs through `report`, `resume` and `doctor`.

Every damage is either repaired to exactly the result the run would have had (labels a
simulation gave are recomputed), or refused with a message naming the file: `report` is never
silently wrong, and `resume` never exits 0 over a damaged loop.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import TINY, merge

CONFIG = merge(TINY, {"stop": {"max_loops": 5}})
HALF = 2  # a half-done run: loops 0..2 complete, as a kill after loop 2 leaves it


def without_timings(path: Path) -> list[list[str]]:
    rows = [line.split(",") for line in path.read_text().splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if not name.endswith("_s")]
    return [[row[i] for i in keep] for row in rows]


def selections(run: Path) -> dict[str, str]:
    return {p.parent.name: p.read_text() for p in sorted((run / "loops").glob("*/selected.csv"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A completed run left alone: what every repaired run must end as."""
    from typer.testing import CliRunner

    from alcli.cli import app

    folder = tmp_path_factory.mktemp("reference")
    config = folder / "experiment.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    result = CliRunner().invoke(app, ["run", str(config), "--run-dir", str(folder / "run"), "-q"])
    assert result.exit_code == 0, result.output
    return folder / "run"


def half_done(run: Path) -> None:
    """Make a completed run look like one killed after loop HALF (loop folders are renamed
    into place, so a kill leaves whole loops, a metrics.csv possibly ahead, and `running`)."""
    for loop in (run / "loops").iterdir():
        if int(loop.name) > HALF:
            shutil.rmtree(loop)
    lines = (run / "metrics.csv").read_text().splitlines(keepends=True)
    (run / "metrics.csv").write_text("".join(lines[: HALF + 2]))
    meta = json.loads((run / "run.json").read_text())
    meta.update(status="running", last_loop=HALF, stop_reason=None)
    (run / "run.json").write_text(json.dumps(meta))


def last_loop(run: Path) -> Path:
    return sorted((run / "loops").iterdir())[-1]


def append_byte(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"x")


@dataclass(frozen=True)
class Damage:
    name: str
    do: Callable[[Path], None]
    #: The file the messages must name (relative to the run directory).
    names: str
    #: Whether resume puts it right by itself (labels a simulation gave can be redone).
    resume_repairs: bool = True
    #: Whether report must refuse (a note, like a stray staging folder, does not stop it).
    report_refuses: bool = True


DAMAGE = [
    Damage(
        "a loop's labels.csv edited",
        lambda r: append_byte(r / "loops/0001/labels.csv"),
        "loops/0001/labels.csv",
    ),
    Damage(
        "a loop's selected.csv undecodable",
        lambda r: (r / "loops/0001/selected.csv").write_bytes(b"\xff\xfe\x00garbage\n"),
        "loops/0001/selected.csv",
    ),
    Damage(
        "the last loop's state.npz truncated",
        lambda r: (last_loop(r) / "state.npz").write_bytes(
            (last_loop(r) / "state.npz").read_bytes()[:100]
        ),
        "state.npz",
    ),
    Damage(
        "a loop's metrics.json emptied",
        lambda r: (r / "loops/0001/metrics.json").write_text(""),
        "loops/0001/metrics.json",
    ),
    Damage("a loop missing in the middle", lambda r: shutil.rmtree(r / "loops/0001"), "loops/0001"),
    Damage("the last loop folder lost", lambda r: shutil.rmtree(last_loop(r)), "run.json"),
    # What a kill between a loop's folder and its row leaves: reports read the loop folders.
    Damage(
        "metrics.csv one row behind",
        lambda r: (r / "metrics.csv").write_text(
            "".join((r / "metrics.csv").read_text().splitlines(keepends=True)[:-1])
        ),
        "metrics.csv",
        report_refuses=False,
    ),
    Damage(
        "metrics.csv missing (a kill before its first row)",
        lambda r: (r / "metrics.csv").unlink(),
        "metrics.csv",
        report_refuses=False,
    ),
    Damage(
        "metrics.csv with a labeled count edited",
        lambda r: (r / "metrics.csv").write_text(
            (r / "metrics.csv").read_text().replace("\n1,15,", "\n1,16,")
        ),
        "metrics.csv",
    ),
    Damage(
        "metrics.csv undecodable",
        lambda r: (r / "metrics.csv").write_bytes(b"\xff\xfe\xfa"),
        "metrics.csv",
    ),
    Damage(
        "a stray staging folder",
        lambda r: (r / "loops/.tmp-0009").mkdir(),
        "loops/.tmp-0009",
        report_refuses=False,
    ),
    Damage(
        "run.json undecodable",
        lambda r: (r / "run.json").write_bytes(b"\xff\xfe{"),
        "run.json",
        resume_repairs=False,
    ),
]
STATES = ["completed", "half-done"]


@pytest.fixture
def damaged(reference, tmp_path, request):
    damage, state = request.param
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    if state == "half-done":
        half_done(run)
    damage.do(run)
    return damage, run


CASES = [(d, s) for d in DAMAGE for s in STATES]
IDS = [f"{d.name} ({s})" for d, s in CASES]


@pytest.mark.parametrize("damaged", CASES, ids=IDS, indirect=True)
def test_report_is_never_silently_wrong(cli, damaged):
    damage, run = damaged
    result = cli("report", run, "--format", "json")
    if damage.report_refuses:
        assert result.exit_code == 2, result.output
        assert damage.names in result.output
        assert "Traceback" not in result.output
    else:
        assert result.exit_code == 0, result.output
        # Every complete loop is in the report, whether or not metrics.csv has its row yet.
        loops = [p for p in (run / "loops").iterdir() if not p.name.startswith(".")]
        assert len(json.loads(result.stdout)["loops"]) == len(loops)


@pytest.mark.parametrize("damaged", CASES, ids=IDS, indirect=True)
def test_resume_repairs_to_the_result_left_alone_or_refuses(cli, damaged, reference):
    damage, run = damaged
    result = cli("resume", run, "-q")
    assert "Traceback" not in result.output
    if not damage.resume_repairs:
        assert result.exit_code == 2, result.output
        assert damage.names in result.output
        return
    assert result.exit_code == 0, result.output
    assert without_timings(run / "metrics.csv") == without_timings(reference / "metrics.csv")
    assert selections(run) == selections(reference)
    assert cli("doctor", run).exit_code == 0


@pytest.mark.parametrize("damaged", CASES, ids=IDS, indirect=True)
def test_doctor_names_what_is_wrong(cli, damaged):
    damage, run = damaged
    result = cli("doctor", run)
    assert damage.names in result.output
    assert result.exit_code == (0 if not damage.report_refuses else 1), result.output


def test_answers_people_gave_are_never_dropped_without_being_asked(cli, reference, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    labels = run / "loops/0002/labels.csv"
    labels.write_text(labels.read_text().replace(",oracle", ",file"))  # as if a person answered
    result = cli("resume", run)
    assert result.exit_code == 2, result.output
    assert "loops/0002/labels.csv" in result.output
    assert "answers people gave" in result.output
    assert "doctor" in result.output
    repaired = cli("doctor", run, "--repair")
    assert repaired.exit_code == 1  # it was damaged; now repaired
    assert "must be given again" in repaired.output
    moved = list((run / "damaged").glob("*/loops/0002/labels.csv"))
    assert moved and ",file" in moved[0].read_text()  # kept, never deleted
    assert cli("resume", run, "-q").exit_code == 0
    assert without_timings(run / "metrics.csv") == without_timings(reference / "metrics.csv")


def test_an_intact_run_is_reported_ok_and_its_manifests_cover_every_file(cli, reference):
    result = cli("doctor", reference)
    assert result.exit_code == 0 and "ok" in result.output
    for loop in (reference / "loops").iterdir():
        manifest = json.loads((loop / "manifest.json").read_text())
        assert {"selected.csv", "labels.csv", "metrics.json", "state.npz"} <= set(manifest["files"])
