"""`python -m alcli` and the `alcli` command.

Ctrl-C while the command is still starting (importing its libraries, before the CLI's own
error boundary is in place) ends with exit code 130 and one line, like Ctrl-C anywhere else:
nothing has been written yet.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from alcli.cli import common
        from alcli.cli import main as run_cli
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted; nothing was written.\n")
        raise SystemExit(130) from None
    common.EXITS_AFTER_THE_COMMAND = True
    run_cli()


if __name__ == "__main__":
    main()
