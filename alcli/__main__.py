"""`python -m alcli` and the `alcli` command.

Ctrl-C while the command is still starting (importing its libraries, before the CLI's own
error boundary is in place) ends with exit code 130 and one line, like Ctrl-C anywhere else:
nothing has been written yet.
"""

from __future__ import annotations

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
    except KeyboardInterrupt:
        # Before the CLI's boundary is in place, or an interrupt that escaped it while the
        # command was already ending: exit 130 either way, never death by signal.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if not reported:
            sys.stderr.write("Interrupted; nothing was written.\n")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
