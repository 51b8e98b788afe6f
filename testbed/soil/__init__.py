"""Soil models: one description per soil model, found here by name; the registry of the available ones.

Every module of this package other than ``base`` describes one soil model in a module-level ``MODEL``
(a :class:`~testbed.soil.base.SoilModel`), with the kernel columns it adds in a ``<module>.toml`` beside it.
Everything that differs between soil models is data in that description; the rest of the package loops
over :data:`REGISTRY` instead of testing a model's name. Adding a soil model: docs/extending.md.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import CYCLE_NAMES, Pool, SoilModel, vegetation_pools


def _discover() -> dict[str, SoilModel]:
    models = []
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base" and not info.name.startswith("_"):
            models.append(importlib.import_module(f"{__name__}.{info.name}").MODEL)
    return {m.name: m for m in sorted(models, key=lambda m: m.legacy_isom)}


#: the available soil models by namelist name (run.soil_model), in the original's isomModel order
REGISTRY: dict[str, SoilModel] = _discover()


def get(name: str) -> SoilModel:
    """The description of soil model ``name`` (a ConfigError with the choices otherwise)."""
    try:
        return REGISTRY[name]
    except KeyError:
        from ..errors import ConfigError

        raise ConfigError(f"unknown soil model {name!r}; choose one of {', '.join(REGISTRY)}") from None


def auto_summary(key: str) -> str:
    """What ``auto`` stands for in ``spinup.<key>`` across the soil models and cycles (SoilModel.spinup_auto), for
    help texts: e.g. "sasu for CASA and MIMICS-CN, newton for MIMICS-C, anderson for CORPSE"."""
    groups: dict[str, list[str]] = {}
    for m in REGISTRY.values():
        values = {c: str(m.auto_value(key, c)) for c in m.cycles}
        if len(set(values.values())) == 1:
            groups.setdefault(values[m.cycles[0]], []).append(m.name.upper())
        else:
            for c, v in values.items():
                groups.setdefault(v, []).append(f"{m.name.upper()}-{CYCLE_NAMES[c].upper()}")
    if len(groups) == 1:
        return f"{next(iter(groups))} for all of them"

    def listed(labels: list[str]) -> str:
        return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"

    return ", ".join(f"{v} for {listed(labels)}" for v, labels in groups.items())


__all__ = ["REGISTRY", "Pool", "SoilModel", "auto_summary", "get", "vegetation_pools"]
