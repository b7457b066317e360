"""Randomness derived from the run seed, a purpose and a loop number.

Every random draw in a run comes from here, so that a run stopped and resumed any number of
times draws exactly what the same run left alone would have drawn.
"""

from __future__ import annotations

import zlib

import numpy as np


def _seed_sequence(seed: int, purpose: str, loop: int) -> np.random.SeedSequence:
    # crc32, not hash(): Python salts str hashes per process, which would break resume.
    return np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(purpose.encode()), loop))


def rng_for(seed: int, purpose: str, loop: int = 0) -> np.random.Generator:
    """A generator for one purpose (``"select"``, ``"split"``, ...) in one loop."""
    return np.random.default_rng(_seed_sequence(seed, purpose, loop))


def random_state_for(seed: int, purpose: str, loop: int = 0) -> int:
    """An integer ``random_state`` for scikit-learn, derived like :func:`rng_for`."""
    return int(_seed_sequence(seed, purpose, loop).generate_state(1, dtype=np.uint32)[0])
