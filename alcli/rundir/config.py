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
    fsync: Literal["auto", "every_loop"] = Field(
        "auto",
        description="auto: fsync what people answered and the final loop; a simulated loop is "
        "kept by atomic renames alone, which survives a killed process but not a power loss "
        "(resume then reruns the loops lost). every_loop: fsync every loop (survives a power "
        "loss at any instant; costs a few milliseconds a loop).",
    )
    keep_models: Literal["last", "all", "none"] = Field(
        "last",
        description="Which loops write model.joblib: last (the final loop's, when the run "
        "stops), all, or none.",
    )
