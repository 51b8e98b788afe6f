"""Forcing tools for the testbed: CLM5 conversion, synthetic domains, met-file validation.

Submodules: ``clm5_to_met`` (``convert_clm5``), ``synthetic`` (``make_synthetic_domain``),
``validate`` (``validate_met``), ``metfile`` (shared writer, CSV formats, pedotransfer).
The heavy submodules are imported on first use.
"""

from __future__ import annotations

from typing import Any

from .metfile import TESTBED_DZ, met_name

__all__ = ["TESTBED_DZ", "convert_clm5", "make_synthetic_domain", "met_name", "validate_met"]

_LAZY = {
    "convert_clm5": "clm5_to_met",
    "make_synthetic_domain": "synthetic",
    "validate_met": "validate",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
