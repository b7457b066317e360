"""MLflow tracking: one MLflow run per alcli run (a sweep's runs nested under one parent).

Parameters are the frozen config as dotted keys, metrics are logged per loop with the loop as
the step (``labeled`` among them, for an x-axis by labels), and the run's report, plot,
metrics.csv and config.yaml are uploaded when an attempt ends. mlflow is imported by the
tracker's thread when a run uses it, never when alcli is imported.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from alcli.schema import Section, did_you_mean, flatten
from alcli.tracking.base import Subject, Tracker

INSTALL = "pip install 'alcli[mlflow]'"
#: Schemes MLflow tracks to without a file store (``postgresql+psycopg2`` counts as postgresql).
SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks")
#: A server that does not answer gives up in seconds: MLflow's defaults retry for minutes. A
#: value the user set in the environment wins.
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}
#: How an attempt's end is said to MLflow; awaiting_labels leaves the run RUNNING.
RUN_STATUS = {
    "completed": "FINISHED",
    "failed": "FAILED",
    "stopped": "KILLED",
    "running": "KILLED",  # an attempt that ended before its loops began
}
#: MLflow's limits (mlflow.utils.validation), used when that module does not say.
MAX_PARAM_CHARS = 6000
MAX_KEY_CHARS = 250
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000
_SQLITE = "sqlite://"


class MlflowSettings(Section):
    """``tracking.mlflow``: where the runs are tracked."""

    tracking_uri: str = Field(
        min_length=1,
        description="The MLflow tracking server (http://HOST:PORT) or database "
        "(sqlite:///PATH/mlflow.db, relative to the config file; postgresql://..., "
        "mysql://...). MLflow's file stores (file:, a folder path) are refused: use sqlite.",
    )
    experiment: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="The MLflow experiment (made if missing); default: the run's name, or for "
        "a sweep the sweep's name.",
    )
    flush_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="How long a run waits at its end for MLflow to take what is still queued, "
        "before it gives up with a warning.",
    )

    @field_validator("tracking_uri")
    @classmethod
    def _usable(cls, value: str, info: ValidationInfo) -> str:
        context = info.context or {}
        return usable_uri(value, context.get("base_dir"), check_files=not context.get("checked"))

    @model_validator(mode="after")
    def _installed(self, info: ValidationInfo) -> MlflowSettings:
        if not (info.context or {}).get("checked") and not mlflow_installed():
            raise PydanticCustomError(
                "mlflow_missing",
                "MLflow is not installed; install the extra with `{command}`",
                {"command": INSTALL},
            )
        return self


def mlflow_installed() -> bool:
    """Whether mlflow can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec("mlflow") is not None
    except (ImportError, ValueError):
        return False


def usable_uri(value: str, base_dir: Any, check_files: bool = True) -> str:
    """``value`` as a tracking URI MLflow can use, a relative sqlite path made absolute
    (against ``base_dir``); ``check_files``: its folder must exist and be writable.

    Raises
    ------
    PydanticCustomError
        Naming what is wrong and a URI that would work.
    """
    value = value.strip()
    found = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", value)
    scheme = found.group(1).lower() if found else ""
    if scheme in ("", "file") or len(scheme) == 1:  # a path (a Windows drive letter too)
        raise PydanticCustomError(
            "tracking_file_store",
            "'{value}' is an MLflow file store, which MLflow 3 refuses; use a database in "
            "that folder instead: sqlite:///{folder}/mlflow.db",
            {"value": value, "folder": _folder_of(value) or "PATH"},
        )
    if scheme.split("+")[0] not in SCHEMES:
        raise PydanticCustomError(
            "tracking_scheme",
            "unknown scheme '{scheme}:'{hint}; use http(s)://HOST:PORT (an MLflow server), "
            "sqlite:///PATH/mlflow.db, postgresql://..., mysql://..., mssql://... or databricks",
            {"scheme": scheme, "hint": did_you_mean(scheme, SCHEMES)},
        )
    if scheme in ("http", "https"):
        parts = urlsplit(value)
        if not parts.hostname:
            raise PydanticCustomError(
                "tracking_host",
                "'{value}' names no host; e.g. http://127.0.0.1:5000",
                {"value": value},
            )
        if parts.username or parts.password:
            raise PydanticCustomError(
                "tracking_credentials",
                "'{scheme}://' URIs must not hold a user or password (config.yaml keeps the "
                "URI); set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead",
                {"scheme": scheme},
            )
    if scheme == "sqlite":
        return _sqlite_uri(value, base_dir, check_files)
    return value


def _sqlite_uri(value: str, base_dir: Any, check_files: bool) -> str:
    rest, query = value[len(_SQLITE) :].partition("?")[::2]
    if not rest.startswith("/") or rest in ("/", "/:memory:"):
        raise PydanticCustomError(
            "tracking_sqlite",
            "'{value}' is not a database file (an in-memory database is lost when the run "
            "ends); give one as sqlite:///PATH/mlflow.db",
            {"value": value},
        )
    path = Path(rest[1:]).expanduser()  # sqlite:///rel.db -> rel.db; sqlite:////abs -> /abs
    if not path.is_absolute():
        path = Path(base_dir or Path.cwd()) / path
    path = path.resolve()
    if check_files:
        folder = path.parent
        if not folder.is_dir():
            problem = f"its folder {folder} does not exist; create it"
        elif path.exists() and not path.is_file():
            problem = f"{path} is not a file"
        elif not os.access(path if path.exists() else folder, os.W_OK):
            problem = f"{path if path.exists() else folder} is not writable"
        else:
            problem = ""
        if problem:
            raise PydanticCustomError(
                "tracking_sqlite",
                "'{value}' cannot be used: {problem}",
                {"value": value, "problem": problem},
            )
    return f"{_SQLITE}/{path}" + (f"?{query}" if query else "")


def _folder_of(value: str) -> str:
    path = re.sub(r"^file:(//)?", "", value).rstrip("/")
    return path or ""


class MlflowTracker(Tracker):
    """Logs a run to MLflow (called on the sink's thread only)."""

    Config: ClassVar[type[Section]] = MlflowSettings
    description = "MLflow: params, per-loop metrics, the report and plot as artifacts."
    quiet_modules = ("mlflow", "alembic", "sqlalchemy")
    example: ClassVar[dict[str, Any]] = {"tracking_uri": "sqlite:///mlflow.db"}

    def __init__(self, settings: MlflowSettings):
        super().__init__(settings)
        self._client: Any = None
        self._run_id: str | None = None

    # --- the Tracker interface --------------------------------------------------------------

    def begin(self, subject: Subject) -> tuple[dict[str, Any], set[int]]:
        client = self._connect()
        run = self._existing(client, (subject.previous.get("mlflow") or {}).get("run_id"))
        if run is not None:
            self._run_id = run.info.run_id
            if run.info.status != "RUNNING":
                client.update_run(self._run_id, status="RUNNING")
            client.set_tag(self._run_id, "alcli.status", "running")
            logged = {m.step for m in client.get_metric_history(self._run_id, "labeled")}
            return self._entry(run), logged
        parent = subject.parent.get("mlflow") or {}
        experiment_id = parent.get("experiment_id") or self._experiment(client, subject)
        tags = {
            "mlflow.runName": subject.name,
            "alcli.run_dir": str(subject.path),
            "alcli.kind": subject.kind,
            "alcli.status": "running",
        }
        if parent.get("run_id"):
            tags["mlflow.parentRunId"] = parent["run_id"]
        run = client.create_run(experiment_id, run_name=subject.name, tags=tags)
        self._run_id = run.info.run_id
        self._log_params(subject.params())
        return self._entry(run), set()

    def log_loops(self, records: list[tuple[dict[str, Any], float]]) -> None:
        from mlflow.entities import Metric

        metrics = [
            Metric(key, value, int(stamp * 1000), int(record["loop"]))
            for record, stamp in records
            for key, value in loop_metrics(record).items()
        ]
        for first in range(0, len(metrics), METRICS_PER_BATCH):
            self._client.log_batch(self._run_id, metrics=metrics[first : first + METRICS_PER_BATCH])

    def end(self, status: str, stop_reason: str | None, files: list[Path]) -> None:
        from mlflow.entities import RunTag

        client, run_id = self._client, self._run_id
        for path in files:
            client.log_artifact(run_id, str(path))
        tags = [RunTag("alcli.status", status)]
        if stop_reason:
            tags.append(RunTag("alcli.stop_reason", str(stop_reason)[:8000]))
        client.log_batch(run_id, tags=tags)
        if status in RUN_STATUS:
            client.set_terminated(run_id, RUN_STATUS[status])

    def explain(self, exc: BaseException) -> str:
        text = str(exc)
        unreachable = ("Max retries exceeded", "Failed to establish", "Read timed out")
        if any(sign in text for sign in unreachable):
            return f"cannot reach the MLflow server at {self.settings.tracking_uri} ({text[-160:]})"
        if isinstance(exc, ImportError):
            return f"mlflow cannot be imported ({exc}); install the extra with `{INSTALL}`"
        return super().explain(exc)

    # --- MLflow -----------------------------------------------------------------------------

    def _connect(self) -> Any:
        uri = self.settings.tracking_uri
        if uri.startswith(("http://", "https://")):
            for name, value in HTTP_LIMITS.items():
                os.environ.setdefault(name, value)
        from mlflow import MlflowClient

        # Its INFO lines (a new database's tables) would land in the run's terminal.
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        self._client = MlflowClient(tracking_uri=uri)
        return self._client

    @staticmethod
    def _existing(client: Any, run_id: str | None) -> Any:
        """The run an earlier attempt made, or None when it is gone (deleted, another store)."""
        if not run_id:
            return None
        from mlflow.exceptions import MlflowException

        try:
            run = client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return None if run.info.lifecycle_stage == "deleted" else run

    def _experiment(self, client: Any, subject: Subject) -> str:
        """The experiment's id, made if missing (by another worker at the same time too)."""
        from mlflow.exceptions import MlflowException

        name = self.settings.experiment or subject.experiment
        found = client.get_experiment_by_name(name)
        if found is None:
            try:
                return client.create_experiment(name, artifact_location=self._artifacts(name))
            except MlflowException:
                found = client.get_experiment_by_name(name)
                if found is None:
                    raise
        if found.lifecycle_stage == "deleted":
            raise RuntimeError(
                f"the MLflow experiment '{name}' is deleted; restore it or name another in "
                "tracking.mlflow.experiment"
            )
        return found.experiment_id

    def _artifacts(self, experiment: str) -> str | None:
        """Beside a sqlite database (MLflow's default is ./mlruns in whatever folder the run
        was started from); a server or another database keeps its own default."""
        uri = self.settings.tracking_uri
        if not uri.startswith(_SQLITE):
            return None
        database = Path(uri[len(_SQLITE) + 1 :].partition("?")[0])
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", experiment)
        return (database.parent / "mlartifacts" / safe).as_uri()

    def _log_params(self, config: dict[str, Any]) -> None:
        from mlflow.entities import Param

        params = [
            Param(key[:MAX_KEY_CHARS], _param_text(value)[:MAX_PARAM_CHARS])
            for key, value in flatten(config, skip=("tracking",)).items()
        ]
        for first in range(0, len(params), PARAMS_PER_BATCH):
            self._client.log_batch(self._run_id, params=params[first : first + PARAMS_PER_BATCH])

    @staticmethod
    def _entry(run: Any) -> dict[str, Any]:
        return {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id}


def loop_metrics(record: dict[str, Any]) -> dict[str, float]:
    """A loop's metrics as MLflow takes them: the test metrics, ``labeled``, ``loop_size``,
    ``cost``, ``seconds`` (the loop's steps) and the stop signals measured (``signal.*``)."""
    values: dict[str, Any] = {
        **(record.get("metrics") or {}),
        "labeled": record.get("n_labeled"),
        "loop_size": record.get("loop_size"),
        "cost": record.get("cost"),
        "seconds": sum((record.get("seconds") or {}).values()),
        **{f"signal.{k}": v for k, v in (record.get("signals") or {}).items()},
    }
    out = {}
    for key, value in values.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue  # not measured in this loop
    return out


def _param_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
