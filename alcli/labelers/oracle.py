"""The simulated annotator: reveals the target the data holds, and only when asked."""

from __future__ import annotations

import numpy as np

from alcli.labelers.base import Labeler


class Oracle(Labeler):
    """Answers with the ground truth kept aside when the data was loaded.

    Parameters
    ----------
    truth : ndarray of int64, shape (n_pool,)
        Class codes of every pool record; the loop itself never reads them.
    """

    kind = "oracle"
    needs_truth = True

    def __init__(self, truth: np.ndarray):
        self._truth = truth

    def label(self, indices: np.ndarray) -> np.ndarray:
        return self._truth[indices]
