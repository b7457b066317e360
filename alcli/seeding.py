"""Randomness derived from the run seed, a purpose and a loop number.

Every random draw in a run comes from here, so that a run stopped and resumed any number of
times draws exactly what the same run left alone would have drawn. Each purpose is named once,
in :data:`PURPOSES`: two draws that share a purpose and a loop share their numbers.
"""

from __future__ import annotations

import zlib
from types import MappingProxyType

import numpy as np

#: Every purpose alcli draws for, and what the draw decides (a user's own strategy may name
#: its own). A purpose is part of the seed: renaming one changes every run that draws for it.
PURPOSES = MappingProxyType(
    {
        "split": "the stratified pool / test split of data without test_path",
        "init": "loop 0's initial set (random or k-means)",
        "select": "a loop's SELECT: samples, tie-breaks and draws of the strategy",
        "label": "a loop's LABEL: a simulated annotator's mistakes",
        "model": "the evaluated model's random_state in a loop",
        "selection-model": "strategy.model's random_state in a loop",
        "member": "a committee member's or look-ahead copy's random_state (member-K)",
        "labeling-model": "the random_state of a labeling model trained on train_path",
        "information_density": "the sample densities are measured against, once per run",
        "stop-set": "the stop set of stabilizing_predictions, drawn once per run",
    }
)
SPLIT, INIT, SELECT, LABEL, STOP_SET = "split", "init", "select", "label", "stop-set"
MODEL, SELECTION_MODEL, LABELING_MODEL = "model", "selection-model", "labeling-model"


def member(k: int) -> str:
    """The purpose of committee member or look-ahead copy ``k``."""
    return f"member-{k}"


def _seed_sequence(seed: int, purpose: str, loop: int) -> np.random.SeedSequence:
    # crc32, not hash(): Python salts str hashes per process, which would break resume.
    return np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(purpose.encode()), loop))


def rng_for(seed: int, purpose: str, loop: int = 0) -> np.random.Generator:
    """A generator for one purpose (``"select"``, ``"split"``, ...) in one loop."""
    return np.random.default_rng(_seed_sequence(seed, purpose, loop))


def random_state_for(seed: int, purpose: str, loop: int = 0) -> int:
    """An integer ``random_state`` for scikit-learn, derived like :func:`rng_for`."""
    return int(_seed_sequence(seed, purpose, loop).generate_state(1, dtype=np.uint32)[0])
