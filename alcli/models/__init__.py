"""Models: the model config, building and fitting, chunked inference, and the Learner."""

from __future__ import annotations

from alcli.models.config import DEFAULT_ESTIMATOR, ModelConfig
from alcli.models.fitting import accepts_nan, blas_threads, build_model, fit_model
from alcli.models.inference import (
    apply_chunked,
    embedding_of,
    has_embedding,
    predict_proba_chunked,
)
from alcli.models.learner import Learner

__all__ = [
    "DEFAULT_ESTIMATOR",
    "Learner",
    "ModelConfig",
    "accepts_nan",
    "apply_chunked",
    "blas_threads",
    "build_model",
    "embedding_of",
    "fit_model",
    "has_embedding",
    "predict_proba_chunked",
]
