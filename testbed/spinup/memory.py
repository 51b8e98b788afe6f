"""The per-cell memory an accelerated method keeps between cycles, as arrays a checkpoint can hold.

Every method's memory (:class:`~testbed.spinup.anderson.Anderson`, :class:`~testbed.spinup.sasu.Sasu`,
:class:`~testbed.spinup.newton.Newton`) is a dataclass of arrays whose first axis is the cell; a chunk's task
works on its block of cells, and the checkpoint holds the concatenation over chunks.
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np


class CellMemory:
    """(De)serialisation by cell block, shared by the methods' dataclasses."""

    __dataclass_fields__: dict

    def arrays(self) -> dict[str, np.ndarray]:
        """The memory as named arrays (first axis: cell)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], cells: slice = slice(None)) -> Self:
        """The memory of ``cells`` from named arrays (copies)."""
        return cls(**{k: np.array(arrays[k][cells]) for k in cls.__dataclass_fields__})

    #: the equilibrium table's column that reports the largest :meth:`progress` of the active cells
    PROGRESS: ClassVar[str]

    def progress(self) -> np.ndarray:
        """(ncell,) the per-cell measure of how far the iteration still moves a cell (reported, not a criterion)."""
        raise NotImplementedError

    def done(self, tol: float) -> np.ndarray:
        """(ncell,) bool: cells that have converged (to ``tol``) or take plain cycles for good."""
        raise NotImplementedError
