"""Loop 0's SELECT: the initial set, chosen before any model exists.

Each method is a class with its ``Config`` beside it and one line in :data:`INIT_METHODS`.
A method either draws its records (``random``, ``kmeans``; drawn again among the records left
when annotators skip a whole first batch) or is given them in advance (``ids``, ``labeled``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt, field_validator

from alcli.classes import UNLABELED
from alcli.data import Dataset, read_id_list
from alcli.errors import DataError, preview
from alcli.registry import Registry
from alcli.schema import Section, resolve_path
from alcli.strategies.distances import fit_kmeans


class InitMethod(ABC):
    """How loop 0 picks its records. The constructor stores the method's config section."""

    Config: ClassVar[type[Section]]
    #: Whether the records are given in advance (an id list, the data's own targets) rather
    #: than drawn: such a set cannot be drawn again when every record of it was skipped.
    given: ClassVar[bool] = False
    #: Whether it takes the records whose target the data holds (pointless with an oracle,
    #: for which every record holds one).
    uses_targets: ClassVar[bool] = False

    def __init__(self, cfg: Any):
        self.cfg = cfg

    @property
    def size(self) -> int | None:
        """Records a drawing method picks (None for a given set)."""
        return getattr(self.cfg, "size", None)


class DrawnInit(InitMethod):
    """A method that draws its records (again among those left, if a first batch was all
    skipped)."""

    @abstractmethod
    def draw(self, features: Any, candidates: np.ndarray | None, rng: np.random.Generator):
        """Pool indices drawn among ``candidates`` (None: the whole pool), shape (k,)."""


class GivenInit(InitMethod):
    """A method whose records are given in advance."""

    given = True

    @abstractmethod
    def given_indices(self, data: Dataset, data_cfg: Any) -> np.ndarray:
        """The pool indices of the given set, shape (k,).

        Raises
        ------
        DataError
            Naming the file or column that gives no usable records.
        """


class RandomInit(Section):
    method: Literal["random"] = Field("random", description="Loop 0 labels random records.")
    size: PositiveInt = Field(20, description="How many records loop 0 labels.")


class RandomPicks(DrawnInit):
    """``size`` distinct records drawn uniformly."""

    Config = RandomInit

    def draw(self, features: Any, candidates: np.ndarray | None, rng: np.random.Generator):
        n = features.shape[0] if candidates is None else candidates.shape[0]
        picks = random_init(n, self.cfg.size, rng)
        return picks if candidates is None else candidates[picks]


class KMeansInit(Section):
    method: Literal["kmeans"] = Field(description="The record nearest each k-means centroid.")
    size: PositiveInt = Field(
        20, description="How many clusters, so how many records loop 0 labels."
    )


class KMeansCentroids(DrawnInit):
    """The record nearest each of ``size`` k-means centroids."""

    Config = KMeansInit

    def draw(self, features: Any, candidates: np.ndarray | None, rng: np.random.Generator):
        if candidates is None:
            return kmeans_init(features, self.cfg.size, rng)
        return candidates[kmeans_init(features[candidates], self.cfg.size, rng)]


class IdsInit(Section):
    method: Literal["ids"] = Field(description="The records listed in a file.")
    path: Path = Field(description="A text file with one record id per line.")

    _resolve = field_validator("path")(resolve_path)


class IdList(GivenInit):
    """The records whose ids a file lists."""

    Config = IdsInit

    def given_indices(self, data: Dataset, data_cfg: Any) -> np.ndarray:
        return resolve_ids(read_id_list(self.cfg.path), data.ids, self.cfg.path)


class LabeledInit(Section):
    method: Literal["labeled"] = Field(
        description="The records whose target the data already holds."
    )


class AlreadyLabeled(GivenInit):
    """The records whose target the data already holds."""

    Config = LabeledInit
    uses_targets = True

    def given_indices(self, data: Dataset, data_cfg: Any) -> np.ndarray:
        initial = np.flatnonzero(data.y != UNLABELED)
        if initial.size == 0:
            raise DataError(
                f"init.method: labeled, but no pool record has '{data_cfg.target}' filled in"
            )
        return initial


INIT_METHODS: Registry[InitMethod] = Registry(
    "method",
    {"random": RandomPicks, "kmeans": KMeansCentroids, "ids": IdList, "labeled": AlreadyLabeled},
    base=InitMethod,
)
#: The ``init`` section: a registered method's config, picked by ``method``.
InitConfig = INIT_METHODS.section("random")
DEFAULT_INIT = RandomInit


def build_init(cfg: Any) -> InitMethod:
    """The init method an ``init`` config section names."""
    return INIT_METHODS[cfg.method](cfg)


def random_init(n_pool: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` distinct pool indices drawn uniformly, shape (min(size, n_pool),)."""
    return rng.choice(n_pool, size=min(size, n_pool), replace=False).astype(np.int64)


def kmeans_init(X: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The record nearest each k-means centroid: a diverse initial set without labels.

    Mini-batch k-means keeps large pools cheap; distances are computed in chunks, never as an
    n_pool x n_pool matrix. Each record belongs to one cluster, so the picks are distinct; a
    cluster left empty gives no pick and the set is topped up at random. (The ``kmeans``
    strategy does the same for later loops, among the candidates.)

    References: Zhu et al., "Active learning with sampling by uncertainty and density for word
    sense disambiguation and text classification", COLING 2008 (k-means initial sets).

    Returns
    -------
    ndarray of shape (min(size, n_pool),)
    """
    from sklearn.metrics import pairwise_distances_argmin_min

    size = min(size, X.shape[0])
    centroids = fit_kmeans(X, size, int(rng.integers(2**31 - 1)))
    cluster, distance = pairwise_distances_argmin_min(X, centroids)
    # The nearest member of each cluster: order by (cluster, distance), take each first row.
    order = np.lexsort((distance, cluster))
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = cluster[order][1:] != cluster[order][:-1]
    picks = order[first]
    if picks.shape[0] < size:
        rest = np.setdiff1d(np.arange(X.shape[0]), picks)
        picks = np.concatenate([picks, rng.choice(rest, size - picks.shape[0], replace=False)])
    return np.sort(picks).astype(np.int64)


def resolve_ids(wanted: list[str], ids: np.ndarray, source: Path) -> np.ndarray:
    """Pool indices of the ids in an init file, by binary search (no per-id dict)."""
    if not wanted:
        raise DataError(f"{source}: no ids (init.path); list one record id per line")
    if len(set(wanted)) != len(wanted):
        raise DataError(f"{source}: an id is listed twice (init.path); list each once")
    if ids.dtype.kind == "i":  # row numbers: an id that is not a number is not in the pool
        keys = np.array([int(w) if w.lstrip("-").isdigit() else -1 for w in wanted])
    else:
        keys = np.array(wanted, dtype=str)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    slots = np.minimum(np.searchsorted(sorted_ids, keys), ids.shape[0] - 1)
    found = sorted_ids[slots] == keys
    if not found.all():
        unknown = [w for w, ok in zip(wanted, found.tolist(), strict=True) if not ok]
        raise DataError(
            f"{source}: ids not in the pool (init.path): {preview(unknown)}. Ids of the "
            "test set cannot be chosen either."
        )
    return order[slots].astype(np.int64)
