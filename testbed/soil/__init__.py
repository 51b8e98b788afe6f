"""Soil models: one description module per soil model, and the registry of the available ones.

Everything that differs between soil models is data in its :class:`~testbed.soil.base.SoilModel`
description; the rest of the package loops over that description instead of testing a model's name.
Adding a soil model: docs/extending.md.
"""

from __future__ import annotations

from .base import Pool, SoilModel, vegetation_pools
from .casa import CASA
from .mimics import MIMICS

#: the registered soil models, by namelist name (run.soil_model)
REGISTRY: dict[str, SoilModel] = {m.name: m for m in (CASA, MIMICS)}


def get(name: str) -> SoilModel:
    """The description of soil model ``name`` (a ConfigError with the choices otherwise)."""
    try:
        return REGISTRY[name]
    except KeyError:
        from ..errors import ConfigError

        raise ConfigError(f"unknown soil model {name!r}; choose one of {', '.join(REGISTRY)}") from None


__all__ = ["REGISTRY", "Pool", "SoilModel", "get", "vegetation_pools"]
