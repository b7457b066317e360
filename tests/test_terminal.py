"""What a person at a terminal sees: the progress bar, drawn on a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_progress_bar_on_a_terminal(write_config, tmp_path):
    config = write_config({"stop": {"max_loops": 4}})
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "alcli", "run", str(config), "--run-dir", str(tmp_path / "run")],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        screen += chunk
    stdout, _ = process.communicate(timeout=60)
    os.close(leader)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    assert process.returncode == 0, text
    assert "5/5" in text, "the bar counts loops done out of the total"
    assert "labeled" in text and "accuracy" in text
    assert "completed:" in text
    assert stdout.decode().strip() == str(tmp_path / "run")
