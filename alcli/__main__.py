"""`python -m alcli` and the `alcli` command.

Ctrl-C while the command is still starting (importing its libraries, before the CLI's own
error boundary is in place) ends with exit code 130 and one line, like Ctrl-C anywhere else:
nothing has been written yet.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    reported = False
    try:
        from alcli.cli import common
        from alcli.cli import main as run_cli

        common.EXITS_AFTER_THE_COMMAND = True
        reported = True  # from here on, the command's own boundary says it
        run_cli()
    except SystemExit as stop:
        if stop.code == 130:
            _exit_interrupted()
        raise
    except KeyboardInterrupt:
        # Before the CLI's boundary is in place, or an interrupt that escaped it while the
        # command was already ending: exit 130 either way, never death by signal.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if not reported:
            sys.stderr.write("Interrupted; nothing was written.\n")
        _exit_interrupted()


def _exit_interrupted() -> None:
    """Exit 130 at once. The stop is recorded and said; what is left is the interpreter's
    shutdown, where CPython run with -m turns an interrupt it saw earlier (even one handled)
    into death by SIGINT instead of the exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


if __name__ == "__main__":
    main()
