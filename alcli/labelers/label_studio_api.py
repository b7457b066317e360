"""A small client for Label Studio's REST API, on the standard library (urllib + json).

Only what the live labeler needs: find or create a project, import tasks, list tasks with
their annotations. Every failure to talk to the server (it does not answer, refuses the
token, answers an error) is a :class:`LabelStudioUnavailable` whose message names the URL and
what to check; nothing here retries or sleeps.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from alcli.errors import UserInputError

TIMEOUT = 5.0  # seconds per request: a server that takes longer is treated as down
PAGE_SIZE = 100


class LabelStudioUnavailable(UserInputError):
    """The server could not be used right now (down, wrong URL, bad token, an error)."""


class LabelStudioClient:
    """Talks to one Label Studio server with one token.

    Parameters
    ----------
    url : str
        The server's address, e.g. ``http://127.0.0.1:8080``.
    token : str
        A legacy user token (sent as ``Authorization: Token``), or a personal access token
        (a JWT refresh token, exchanged once at ``/api/token/refresh`` for an access token
        sent as ``Authorization: Bearer``).
    token_name : str
        Where the token came from (an environment variable), for messages.
    timeout : float
        Seconds to wait for each answer.
    """

    def __init__(self, url: str, token: str, token_name: str, timeout: float = TIMEOUT):
        self.url = url.rstrip("/")
        self.token = token
        self.token_name = token_name
        self.timeout = timeout
        self._authorization: str | None = None

    # --- projects -------------------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        """The token's user (a cheap check that the server answers and takes the token)."""
        return self._call("GET", "/api/current-user/whoami")

    def project(self, project_id: int) -> dict[str, Any] | None:
        """The project with this id, or None when there is none."""
        return self._call("GET", f"/api/projects/{project_id}", missing_ok=True)

    def projects_titled(self, title: str) -> list[dict[str, Any]]:
        """Every project whose title is exactly ``title``."""
        found = []
        page = 1
        while True:
            answer = self._call(
                "GET", "/api/projects", {"title": title, "page": page, "page_size": PAGE_SIZE}
            )
            results = answer.get("results", []) if isinstance(answer, dict) else answer
            found += [p for p in results if p.get("title") == title]
            if not isinstance(answer, dict) or not answer.get("next"):
                return found
            page += 1

    def create_project(self, title: str, label_config: str, description: str) -> dict[str, Any]:
        body = {"title": title, "label_config": label_config, "description": description}
        return self._call("POST", "/api/projects", body=body)

    def project_page(self, project_id: int) -> str:
        """Where people label the project's tasks in a browser."""
        return f"{self.url}/projects/{project_id}/data"

    # --- tasks ----------------------------------------------------------------------------

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> None:
        """Add ``tasks`` (Label Studio's import format, predictions included) in one request."""
        self._call("POST", f"/api/projects/{project_id}/import", body=tasks)

    def tasks(self, project_id: int) -> Iterator[dict[str, Any]]:
        """Every task of the project with its annotations (page by page)."""
        page = 1
        seen = 0
        while True:
            query = {"project": project_id, "fields": "all", "page": page, "page_size": PAGE_SIZE}
            answer = self._call("GET", "/api/tasks", query, missing_ok=page > 1)
            if answer is None:  # past the last page
                return
            tasks = answer.get("tasks", []) if isinstance(answer, dict) else answer
            yield from tasks
            seen += len(tasks)
            total = answer.get("total") if isinstance(answer, dict) else None
            if not tasks or total is None or seen >= int(total):
                return
            page += 1

    # --- HTTP -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        missing_ok: bool = False,
    ) -> Any:
        """One request; the decoded JSON answer (None for a 404 when ``missing_ok``)."""
        headers = {"Authorization": self._auth(), "Accept": "application/json"}
        try:
            return self._send(method, path, query, body, headers)
        except urllib.error.HTTPError as error:
            if error.code == 404 and missing_ok:
                return None
            raise self._http_problem(error, method, path) from None

    def _send(self, method, path, query, body, headers) -> Any:
        address = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers = {**headers, "Content-Type": "application/json"}
        request = urllib.request.Request(address, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError:
            raise
        # URLError and timeouts are OSErrors; a connection cut mid-answer is an HTTPException.
        except (OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            raise LabelStudioUnavailable(
                f"Label Studio at {self.url} does not answer ({reason}): check that the server "
                "is running and that labeler.url is its address"
            ) from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise LabelStudioUnavailable(
                f"{self.url}{path} did not answer JSON: is labeler.url the address of a Label "
                "Studio server (not of a proxy's login page)?"
            ) from None

    def _auth(self) -> str:
        if self._authorization is None:
            self._authorization = (
                f"Bearer {self._access_token()}" if _is_jwt(self.token) else f"Token {self.token}"
            )
        return self._authorization

    def _access_token(self) -> str:
        """A personal access token is a refresh token: trade it for a short-lived access one."""
        try:
            answer = self._send("POST", "/api/token/refresh", None, {"refresh": self.token}, {})
        except urllib.error.HTTPError as error:
            raise self._http_problem(error, "POST", "/api/token/refresh") from None
        access = answer.get("access") if isinstance(answer, dict) else None
        if not access:
            raise LabelStudioUnavailable(
                f"Label Studio at {self.url} gave no access token for the personal access "
                f"token in ${self.token_name}: check that it is a Label Studio token"
            )
        return str(access)

    def _http_problem(
        self, error: urllib.error.HTTPError, method: str, path: str
    ) -> LabelStudioUnavailable:
        detail = _detail(error)
        if error.code in (401, 403):
            return LabelStudioUnavailable(
                f"Label Studio at {self.url} refused the token in ${self.token_name} "
                f"(HTTP {error.code}{detail}): check that it holds your access token "
                "(Label Studio: Account & Settings, Access Token), that it was not revoked, and "
                "for a legacy token that legacy tokens are enabled on the server"
            )
        return LabelStudioUnavailable(
            f"Label Studio at {self.url} answered HTTP {error.code} to {method} {path}{detail}"
        )


def _is_jwt(token: str) -> bool:
    """Personal access tokens are JWTs (three base64url parts); legacy tokens are hex."""
    return token.startswith("eyJ") and token.count(".") == 2


def _detail(error: urllib.error.HTTPError) -> str:
    """The server's own explanation, shortened, when it gives one."""
    try:
        answer = json.loads(error.read() or b"{}")
    except (ValueError, OSError):
        return ""
    if not isinstance(answer, dict):
        return ""
    text = answer.get("validation_errors") or answer.get("detail") or ""
    text = text if isinstance(text, str) else json.dumps(text)
    return f": {text[:300]}" if text else ""
