"""Spin-up to steady state: staged pipeline, equilibrium diagnostics, accelerated methods (docs/spinup.md).

``testbed spinup NAMELIST`` runs :func:`run_spinup`.
"""

from __future__ import annotations

from .criteria import Criteria, diagnose
from .pipeline import run_spinup
from .stages import plan_spinup

__all__ = ["Criteria", "diagnose", "plan_spinup", "run_spinup"]
