"""Hostile or unlucky inputs, through the CLI in a subprocess: each is one clear message,
exit 2, no traceback, nothing written, within a time bound (a FIFO would block, /dev/zero
never ends, an alias bomb expands to gigabytes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TIME_BOUND = 60  # seconds; each case takes about two (the interpreter and its imports)

BOMB = "\n".join(
    [
        'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(
            f"{x}: &{x} [{', '.join([f'*{p}'] * 9)}]"
            for p, x in zip("abcdefg", "bcdefgh", strict=True)
        ),
        "data: {source: sklearn:iris}",
        "model: {params: {class_weight: *h}}",
    ]
)


def fifo(folder: Path, name: str) -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def symlink_loop(folder: Path, name: str) -> Path:
    (folder / name).symlink_to(folder / f"{name}.2")
    (folder / f"{name}.2").symlink_to(folder / name)
    return folder / name


def config_with(folder: Path, data: dict | None = None, **changes) -> Path:
    config = {"data": data or {"source": "sklearn:iris"}, **changes}
    path = folder / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# (id, make(folder) -> the arguments after `alcli`, the message expected)
CASES = [
    ("config is a FIFO", lambda f: ["validate", fifo(f, "c.yaml")], "is a named pipe (FIFO)"),
    ("config is /dev/zero", lambda f: ["validate", "/dev/zero"], "is a character device"),
    ("config is a folder", lambda f: ["validate", f], "is a folder, not a file"),
    (
        "config is a symlink loop",
        lambda f: ["validate", symlink_loop(f, "c.yaml")],
        "Too many levels of symbolic links",
    ),
    (
        "config is a YAML alias bomb",
        lambda f: ["validate", _write(f / "c.yaml", BOMB)],
        "the YAML expands to more than 100,000 values",
    ),
    (
        "config is huge",
        lambda f: ["validate", _write(f / "c.yaml", "# " + "x" * 2_000_000)],
        "more than the 1,000,000 such a file can sensibly be",
    ),
    (
        "data file is a FIFO",
        lambda f: ["validate", config_with(f, {"path": str(fifo(f, "d.csv"))})],
        "is a named pipe (FIFO)",
    ),
    (
        "data file is /dev/zero",
        lambda f: ["validate", config_with(f, {"path": "/dev/zero"})],
        "is a character device",
    ),
    (
        "id list is a FIFO",
        lambda f: [
            "validate",
            config_with(f, init={"method": "ids", "path": str(fifo(f, "ids.txt"))}),
        ],
        "(init.path): is a named pipe (FIFO)",
    ),
    (
        "a NaN target",
        lambda f: [
            "validate",
            config_with(f, stop={"target": {"metric": "accuracy", "value": ".nan"}}),
        ],
        "Input should be a finite number",
    ),
    (
        "an infinite factor",
        lambda f: [
            "validate",
            config_with(f, loop_size={"schedule": "geometric", "size": 5, "factor": ".inf"}),
        ],
        "Input should be a finite number",
    ),
    (
        "config nested 5,000 levels deep (flow)",
        lambda f: [
            "validate",
            _write(f / "c.yaml", "data: {source: sklearn:iris}\nx: " + "[" * 5000 + "]" * 5000),
        ],
        "the YAML nests too deep to read",
    ),
    (
        "config nested 40 levels deep",
        lambda f: [
            "validate",
            _write(
                f / "c.yaml",
                "data: {source: sklearn:iris}\nmodel: {params: {a: "
                + "{a: " * 40
                + "1"
                + "}" * 40
                + "}}",
            ),
        ],
        "nested 32 levels deep",
    ),
    (
        "a 500,000-character value",
        lambda f: ["validate", config_with(f, strategy={"name": "m" * 500_000})],
        "a value of 500,000 characters",
    ),
    (
        "a sweep file nested 5,000 levels deep",
        lambda f: ["sweep", _write(f / "s.yaml", "grid: " + "[" * 5000 + "]" * 5000)],
        "the YAML nests too deep to read",
    ),
    (
        "a sweep file that is a FIFO",
        lambda f: ["sweep", fifo(f, "s.yaml")],
        "is a named pipe (FIFO)",
    ),
    (
        "a run name longer than a file name",
        lambda f: ["validate", config_with(f, name="x" * 300)],
        "String should have at most 100 characters",
    ),
]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(("make", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_hostile_input_is_one_clear_message_in_bounded_time(tmp_path, make, message):
    folder = tmp_path / "in"
    folder.mkdir()
    args = [str(a) for a in make(folder)]
    # YAML reads `.nan` as NaN only unquoted: write such values back unquoted.
    for path in folder.glob("c.yaml"):
        if path.is_file() and not path.is_symlink():
            path.write_text(path.read_text().replace("'.nan'", ".nan").replace("'.inf'", ".inf"))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = subprocess.run(
        [sys.executable, "-m", "alcli", *args],
        capture_output=True,
        text=True,
        timeout=TIME_BOUND,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_huge_geometric_factor_caps_the_size_instead_of_overflowing(cli, write_config, tmp_path):
    config = write_config(
        {
            "loop_size": {"schedule": "geometric", "size": 5, "factor": 1e200},
            "stop": {"max_loops": 3},
        }
    )
    result = cli("run", config, "--run-dir", tmp_path / "run", "-q")
    assert result.exit_code == 0, result.output
    assert "pool_exhausted" in (tmp_path / "run" / "run.json").read_text()


@pytest.mark.parametrize("kind", ["fifo", "device", "symlink loop"])
def test_an_answers_file_that_is_not_a_file_is_refused_at_once(tmp_path, kind):
    import numpy as np

    from alcli.errors import DataError
    from alcli.labelers.answers import read_answers

    path = {
        "fifo": lambda: fifo(tmp_path, "answers.csv"),
        "device": lambda: Path("/dev/zero"),
        "symlink loop": lambda: symlink_loop(tmp_path, "answers.csv"),
    }[kind]()
    with pytest.raises(DataError, match=r"\(--labels\): .*Nothing was recorded"):
        read_answers(path, ["1"], ["1", "2"], np.array([0, 1]))


@pytest.mark.parametrize("delay", [0.4])
def test_ctrl_c_while_the_command_starts_ends_with_130_and_one_line(delay):
    """Ctrl-C while the command imports its libraries or reads its config: exit 130, one
    line, no traceback. (Earlier than about 0.1 s the interpreter itself is still starting,
    before Python handles SIGINT: the process just dies of the signal, as any program would.)"""
    import signal
    import time

    config = Path(__file__).parents[1] / "configs" / "quickstart.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "alcli", "validate", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=TIME_BOUND)
    if process.returncode == 0:
        pytest.skip("the command finished before the signal came")
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "Interrupted" in stderr
