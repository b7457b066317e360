"""The labeler interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np


class Labeler(ABC):
    """Annotates a batch of pool records with class codes."""

    kind: ClassVar[str]
    #: Whether the labeler reveals the data's own target (it then needs one for every record).
    needs_truth: ClassVar[bool] = False

    @abstractmethod
    def label(self, indices: np.ndarray) -> np.ndarray:
        """Class codes of shape (n,) for the pool records ``indices`` of shape (n,)."""
