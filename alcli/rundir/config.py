"""The ``output`` section: where run directories are made and what they keep."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from alcli.schema import Section


class OutputConfig(Section):
    runs_dir: Path = Field(
        Path("runs"),
        description="Where run directories are made, relative to the working "
        "directory (alcli run --run-dir names one exactly).",
    )
    keep_models: Literal["last", "all", "none"] = Field(
        "last",
        description="Which loops write model.joblib: last (the final loop's, when the run "
        "stops), all, or none.",
    )
