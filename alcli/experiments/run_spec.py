"""One run of a sweep as a backend receives it: which cell and seed, where its run directory
goes, and its frozen config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunSpec:
    cell: str
    seed: int
    #: Relative to the sweep directory: runs/<cell dir>/seed-<k>
    path: str
    #: The frozen config of this run, as a mapping (the cell's with seed and name).
    config: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.cell}/seed-{self.seed}"
