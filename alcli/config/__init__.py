"""The experiment file: assembles the components' sections, loads YAML, applies --set,
freezes, and turns validation errors into one line each."""

from __future__ import annotations

from alcli.config.experiment import ExperimentConfig
from alcli.config.loading import (
    apply_overrides,
    freeze,
    load_config,
    read_yaml_mapping,
    validate_config,
)

__all__ = [
    "ExperimentConfig",
    "apply_overrides",
    "freeze",
    "load_config",
    "read_yaml_mapping",
    "validate_config",
]
