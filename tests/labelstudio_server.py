"""A real Label Studio server for tests: started from its own virtual environment on a free
port of 127.0.0.1, with a throwaway data folder, a known user and a legacy token.

The executable is ``$ALCLI_LABEL_STUDIO`` or ``.venv-labelstudio/bin/label-studio`` in the
repository (``python3 -m venv .venv-labelstudio && .venv-labelstudio/bin/pip install
label-studio``); without it the tests that need the server are skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).parents[1]
USERNAME = "alcli@example.com"
PASSWORD = "alcli-test-password"
TOKEN = "0123456789abcdef0123456789abcdef01234567"
START_TIMEOUT = 120.0


def executable() -> Path | None:
    given = os.environ.get("ALCLI_LABEL_STUDIO")
    path = Path(given) if given else REPO / ".venv-labelstudio" / "bin" / "label-studio"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    url: str
    token: str
    log: Path

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """One call to the REST API as the test's admin user; the decoded answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Token {token or self.token}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None


@contextlib.contextmanager
def label_studio(folder: Path) -> Iterator[Server]:
    """A running server with its data in ``folder``; stopped on exit."""
    program = executable()
    if program is None:
        pytest.skip(
            "Label Studio is not installed: python3 -m venv .venv-labelstudio && "
            ".venv-labelstudio/bin/pip install label-studio (or set ALCLI_LABEL_STUDIO)"
        )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(folder / "base"),
        "LABEL_STUDIO_USERNAME": USERNAME,
        "LABEL_STUDIO_PASSWORD": PASSWORD,
        "LABEL_STUDIO_USER_TOKEN": TOKEN,
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        # No network: no version check against PyPI, no telemetry, no error reports.
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
    }
    log = folder / "label-studio.log"
    command = [
        str(program), "start", "--no-browser", "--internal-host", "127.0.0.1",
        "--port", str(port), "--data-dir", str(folder / "data"),
        "--username", USERNAME, "--password", PASSWORD, "--user-token", TOKEN,
        "--enable-legacy-api-token", "--log-level", "WARNING",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        server = Server(url, TOKEN, log)
        _wait_ready(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: Server, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = server.log.read_text(errors="replace")[-3000:]
            pytest.fail(f"Label Studio exited with code {process.returncode}:\n{tail}")
        with contextlib.suppress(OSError, ValueError, urllib.error.URLError):
            if server.api("GET", "/api/current-user/whoami").get("email") == USERNAME:
                return
        time.sleep(1.0)
    tail = server.log.read_text(errors="replace")[-3000:]
    pytest.fail(f"Label Studio did not answer within {START_TIMEOUT:.0f} s:\n{tail}")


class Gate:
    """A port that forwards to the server while open and refuses connections while closed:
    the server as a run sees it going down and coming back, without restarting it."""

    def __init__(self, target: str):
        self.target = ("127.0.0.1", int(target.rsplit(":", 1)[1]))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: socketserver.ThreadingTCPServer | None = None

    def open(self) -> None:
        target = self.target

        class Forward(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with socket.create_connection(target, timeout=30) as upstream:
                    back = threading.Thread(target=_pipe, args=(upstream, self.request))
                    back.start()
                    _pipe(self.request, upstream)
                    back.join()

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Forward)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
