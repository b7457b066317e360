"""A person labels in the terminal: `alcli run` and `alcli resume` on a pseudo-terminal,
typing answers, an undo, a skip, and quitting in the middle of a batch."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import subprocess
import sys
import termios
import time

import pytest

from tests.conftest import read_csv, write_csv

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


class Terminal:
    """``alcli ARGS`` with stdin, stdout and stderr on one pseudo-terminal, as in a shell."""

    def __init__(self, *args: str, cwd):
        leader, follower = pty.openpty()
        env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "alcli", *args],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env=env,
            cwd=cwd,
            close_fds=True,
            # The pty becomes its controlling terminal, as in a shell: Ctrl-C there is SIGINT.
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(follower)
        self.leader = leader
        self.raw = b""  # the bytes as the terminal got them
        self.screen = ""  # everything shown so far, escape codes removed
        self.seen = 0  # how much of it expect() has consumed

    def read(self, timeout: float) -> bool:
        """Read what the program shows; False once it has exited and shown everything."""
        ready, _, _ = select.select([self.leader], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.leader, 4096)
        except OSError:  # the terminal closes when the process exits
            return False
        if not chunk:
            return False
        self.raw += chunk
        self.screen += ANSI.sub("", chunk.decode(errors="replace"))
        return True

    def expect(self, pattern: str, timeout: float = 60) -> re.Match:
        """Wait until ``pattern`` shows up after what was already matched."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.compile(pattern).search(self.screen, self.seen)
            if match:
                self.seen = match.end()
                return match
            if time.monotonic() > deadline or not self.read(0.2):
                raise AssertionError(
                    f"{pattern!r} did not show up; the screen after the last match:\n"
                    f"{self.screen[self.seen :][-3000:]}"
                )

    def type(self, text: str) -> None:
        os.write(self.leader, (text + "\r").encode())  # Enter sends a carriage return

    def finish(self, timeout: float = 60) -> int:
        """Show everything up to the exit; the exit code."""
        deadline = time.monotonic() + timeout
        while self.read(0.2) and time.monotonic() < deadline:
            pass
        code = self.process.wait(timeout=max(1.0, deadline - time.monotonic()))
        os.close(self.leader)
        return code


PROMPT = r"\[(\d+)/(\d+)\] label \(1-2, name, s skip, u undo, q quit\): "
RECORD = r"--- record (\S+) ---"


def unlabeled_config(write_config, tmp_path):
    """Sixteen unlabeled records (the target is empty), a labeled test set, a person."""
    rows = [[f"r{k:02d}", k % 4, (k * 7) % 5, f"note {k}", ""] for k in range(16)]
    write_csv(tmp_path / "pool.csv", ["id", "x1", "x2", "note", "kind"], rows)
    test = [[f"t{k}", k % 4, (k * 3) % 5, "", "cat" if k % 2 else "dog"] for k in range(8)]
    write_csv(tmp_path / "test.csv", ["id", "x1", "x2", "note", "kind"], test)
    return write_config(
        {
            "data": {
                "source": None,
                "test_size": None,
                "path": "pool.csv",
                "test_path": "test.csv",
                "target": "kind",
                "features": ["x1", "x2"],
            },
            "init": {"size": 4},
            "loop_size": {"size": 3},
            "labeler": {"kind": "terminal"},
        }
    )


def status(run_dir) -> str:
    return json.loads((run_dir / "run.json").read_text())["status"]


@pytest.mark.slow
def test_label_quit_resume_in_a_terminal(write_config, tmp_path):
    config = unlabeled_config(write_config, tmp_path)
    run_dir = tmp_path / "run"

    # alcli run: loop 0 asks four records.
    term = Terminal("run", str(config), "--run-dir", str(run_dir), cwd=tmp_path)
    term.expect("loop 0: 4 records to label")
    first = term.expect(RECORD)[1]
    term.expect(r"note: note \d+\n")
    term.expect(r"classes: 1\) cat   2\) dog")
    assert "model's guess" not in term.screen, "loop 0 has no model yet"
    assert term.expect(PROMPT).groups() == ("1", "4")
    term.type("2")  # a slip: dog
    second = term.expect(RECORD)[1]
    term.expect(PROMPT)
    term.type("u")  # take it back: the first record is asked again
    term.expect(rf"undone: record {first} \(was dog\)")
    assert term.expect(RECORD)[1] == first
    term.expect(PROMPT)
    term.type("cat")
    assert term.expect(RECORD)[1] == second
    term.expect(PROMPT)
    term.type("dgo")  # a typo: a hint and the same question again
    term.expect(r"'dgo' is not a class")
    assert term.expect(PROMPT).groups() == ("2", "4")
    term.type("DOG")
    third = term.expect(RECORD)[1]
    term.expect(PROMPT)
    term.type("s")
    fourth = term.expect(RECORD)[1]
    term.expect(PROMPT)
    term.type("q")  # save and quit in the middle of the batch
    term.expect(r"Saved 3 answers \(1 skipped\) in loop 0; 1 of 4 records still need a label")
    term.expect(re.escape(f"alcli resume {run_dir}"))
    assert term.finish() == 0, term.screen
    assert status(run_dir) == "awaiting_labels"
    assert not (run_dir / "loops" / "0000").exists()

    # alcli resume asks only for the record left, then goes on to loop 1.
    term = Terminal("resume", str(run_dir), cwd=tmp_path)
    term.expect(r"loop 0: 1 record to label \(3 answered before\)")
    assert term.expect(RECORD)[1] == fourth
    assert term.expect(PROMPT).groups() == ("4", "4")
    term.type("1")
    term.expect("all 4 answered: Enter to go on, u to undo the last: ")
    term.type("")
    term.expect("loop 1: 3 records to label")
    loop1 = term.expect(RECORD)[1]
    term.expect(r"model's guess: (cat|dog) \(\d\.\d\d\)")
    assert term.expect(PROMPT).groups() == ("1", "3")
    term.type("2")
    term.expect(RECORD)
    term.expect(PROMPT)
    term.type("q")
    term.expect(r"Saved 1 answer in loop 1; 2 of 3 records still need a label")
    assert term.finish() == 0, term.screen
    asked = re.findall(RECORD, term.screen)
    assert asked[0] == fourth and first not in asked and second not in asked
    assert status(run_dir) == "awaiting_labels"

    labels = {row["id"]: row for row in read_csv(run_dir / "loops" / "0000" / "labels.csv")}
    assert {k: row["label"] for k, row in labels.items()} == {
        first: "cat",
        second: "dog",
        fourth: "cat",
    }
    assert {row["labeler"] for row in labels.values()} == {"terminal"}
    skipped = read_csv(run_dir / "loops" / "0000" / "skipped.csv")
    assert [row["id"] for row in skipped] == [third]
    assert not (run_dir / "loops" / "0001").exists()
    assert loop1 not in labels and third not in re.findall(RECORD, term.screen)


@pytest.mark.slow
def test_nothing_is_drawn_over_the_prompt_while_a_person_types(write_config, tmp_path):
    # A progress bar redrawn below the prompt would put the typed answer on the bar's line
    # and erase it at the next refresh.
    config = write_config({"labeler": {"kind": "terminal"}, "stop": {"max_loops": 1}})
    term = Terminal("run", str(config), "--run-dir", str(tmp_path / "run"), cwd=tmp_path)
    term.expect(r"\[1/10\] label \(a class, s skip, u undo, q quit\): ")
    prompt_end = len(term.raw)
    deadline = time.monotonic() + 1.5  # a person reads the record
    while time.monotonic() < deadline:
        term.read(0.1)
    shown_while_waiting = term.raw[prompt_end:]
    term.type("q")
    term.expect("Saved 0 answers|No new answers")
    assert term.finish() == 0, term.screen
    assert shown_while_waiting == b"", "nothing is drawn while a person answers"
    assert re.search(rb"quit\): q\r?\n", term.raw), "the answer is typed after the prompt"


@pytest.mark.slow
def test_ctrl_c_stops_the_run_and_keeps_only_what_q_saved(write_config, tmp_path):
    config = unlabeled_config(write_config, tmp_path)
    run_dir = tmp_path / "run"
    term = Terminal("run", str(config), "--run-dir", str(run_dir), cwd=tmp_path)
    saved = term.expect(RECORD)[1]
    term.expect(PROMPT)
    term.type("cat")
    term.expect(PROMPT)
    term.type("q")
    assert term.finish() == 0, term.screen

    term = Terminal("resume", str(run_dir), cwd=tmp_path)
    lost = term.expect(RECORD)[1]
    assert term.expect(PROMPT).groups() == ("2", "4")
    term.type("dog")
    term.expect(PROMPT)
    os.write(term.leader, b"\x03")  # Ctrl-C
    term.expect("the 1 answer typed in this batch is not saved")
    assert term.finish() == 130, term.screen
    assert status(run_dir) == "stopped"

    term = Terminal("resume", str(run_dir), cwd=tmp_path)
    term.expect(r"loop 0: 3 records to label \(1 answered before\)")
    assert term.expect(RECORD)[1] == lost, "the answer typed before Ctrl-C is asked again"
    term.expect(PROMPT)
    term.type("q")
    assert term.finish() == 0, term.screen
    assert saved not in re.findall(RECORD, term.screen)
    assert status(run_dir) == "awaiting_labels"
