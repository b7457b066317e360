"""Models: the model config (a classifier, a pipeline ending in one, or a factory), building
and fitting, chunked inference, and the Learner."""

from __future__ import annotations

from alcli.models.config import DEFAULT_ESTIMATOR, ModelConfig, StepConfig
from alcli.models.fitting import accepts_nan, blas_threads, build_model, fit_model
from alcli.models.inference import (
    apply_chunked,
    embedding_of,
    has_embedding,
    predict_proba_chunked,
)
from alcli.models.learner import Learner
from alcli.models.pipelines import describe as describe_model
from alcli.models.pipelines import final_estimator

__all__ = [
    "DEFAULT_ESTIMATOR",
    "Learner",
    "ModelConfig",
    "StepConfig",
    "accepts_nan",
    "apply_chunked",
    "blas_threads",
    "build_model",
    "describe_model",
    "embedding_of",
    "final_estimator",
    "fit_model",
    "has_embedding",
    "predict_proba_chunked",
]
