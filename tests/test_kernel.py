"""The kernel boundary: argument checks come back as clear errors, never as silent copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from testbed import kernel, layout
from testbed.errors import KernelError
from testbed.forcing import Forcing, MetFile
from testbed.soil import get

from .oracles import setA_model

CASA = get("casa")


def _none(like: np.ndarray) -> np.ndarray:
    """The (ncell, 0) parameter array of a soil model without its own parameter set."""
    return np.zeros((like.shape[0], 0), order="F")


def _forcing(ncell: int, nday: int) -> Forcing:
    two = np.asfortranarray(np.full((ncell, nday), 280.0, dtype=np.float32))
    three = np.asfortranarray(np.full((ncell, 6, nday), 0.2, dtype=np.float32))
    return Forcing(gpp=two * 0, tair=two, ndep=two * 0, tsoil=three + 280, moist=three, frzn=three * 0)


def _arrays(ncell: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    params = np.zeros((ncell, layout.NCASAPARAM), order="F")  # ivt2 = 0: inactive cells
    return kernel.empty_state(ncell), params, kernel.new_annual(ncell)


def test_days_beyond_the_year_are_refused() -> None:
    state, params, annual = _arrays(2)
    with pytest.raises(KernelError, match="advance_casa: an argument is out of range"):
        kernel.advance(
            CASA,
            state,
            params,
            _none(state),
            _forcing(2, 10),
            icycle=2,
            fixes=kernel.fix_flags({}),
            annual=annual,
            doy0=360,
        )


def test_wrong_dtype_or_order_is_refused_before_the_call() -> None:
    state, params, annual = _arrays(2)
    with pytest.raises(KernelError, match="state must be a Fortran-ordered float64 array"):
        kernel.advance(
            CASA,
            np.ascontiguousarray(np.zeros((2, layout.NSTATE))),
            params,
            _none(params),
            _forcing(2, 3),
            icycle=2,
            fixes=kernel.fix_flags({}),
            annual=annual,
        )
    bad = _forcing(2, 3)
    bad.gpp = bad.gpp.astype(np.float64, order="F")
    with pytest.raises(KernelError, match="gpp must be a Fortran-ordered float32 array"):
        kernel.advance(CASA, state, params, _none(state), bad, icycle=2, fixes=kernel.fix_flags({}), annual=annual)


def test_inactive_cells_stay_unchanged() -> None:
    state, params, annual = _arrays(3)
    state[:, layout.index("state", "cslow")] = 123.0
    kernel.advance(
        CASA, state, params, _none(state), _forcing(3, 365), icycle=2, fixes=kernel.fix_flags({}), annual=annual
    )
    assert np.all(state[:, layout.index("state", "cslow")] == 123.0)


@pytest.mark.parametrize(("name", "table"), [("casa", None), ("mimics", "mimics"), ("corpse", "corpse")])
def test_arrays_without_the_kernels_column_layout_are_refused(name: str, table: str | None) -> None:
    """The uniform checks of every advance_<model>: the CASA parameter columns and the soil model's own."""
    soil = get(name)
    state, params, annual = _arrays(2)
    own = layout.TABLES[table] if table else None
    sparams = np.zeros((2, len(own.columns) if own else 0), order="F")
    wide = np.zeros((2, layout.NCASAPARAM + 1), order="F")
    icycle = max(soil.cycles)
    call = dict(icycle=icycle, fixes=kernel.fix_flags({}), annual=annual)
    with pytest.raises(KernelError, match=f"{soil.kernel_advance}: an array does not have the kernel's column layout"):
        kernel.advance(soil, state, wide, sparams, _forcing(2, 3), **call)
    if own:
        bad = np.zeros((2, sparams.shape[1] + 1), order="F")
        with pytest.raises(KernelError, match="column layout"):
            kernel.advance(soil, state, params, bad, _forcing(2, 3), **call)
    kernel.advance(soil, state, params, sparams, _forcing(2, 3), **call)  # the right layout runs


@pytest.mark.parametrize(("soil_model", "icycle"), [("casa", 2), ("mimics", 1), ("mimics", 2), ("corpse", 1)])
def test_a_cells_results_do_not_depend_on_the_other_cells_of_the_call(setA: Path, soil_model: str, icycle: int) -> None:
    """Set A's 12 cells (one of them icewater) repeated 25 times in a shuffled order: 300 cells, so several blocks
    of cells and hour chunks, cut from the kernel's own cell order (icewater cells last). Every copy of a cell
    ends with the same state, annual sums and daily diagnostics as the cell in a 12-cell call, bit for bit."""
    inputs = setA / "inputs"
    one = setA_model(inputs, soil_model, icycle)
    assert np.any(np.abs(one.params[:, layout.index("casa", "ivt2")]) < 0.5), "set A has an icewater cell"
    rng = np.random.default_rng(7)
    copies = rng.permutation(np.tile(np.arange(one.ncell), 25))
    many = one.subset(copies)
    met = MetFile.open(inputs / "met" / "met_1901_1901.nc")

    def run(model, cells):
        state, annual = model.cold_state(), kernel.new_annual(model.ncell)
        f = met.read_year(0, cells)
        kw = dict(icycle=model.icycle, fixes=model.fix_flags, annual=annual, first_year=True, store_daily=True)
        daily = kernel.advance(model.soil, state, model.params, model.sparams, f, **kw)
        return state, annual, daily

    ref = run(one, np.arange(one.ncell))
    got = run(many, copies)
    for a, b in zip(ref, got, strict=True):
        assert np.array_equal(a[copies].view(np.uint64), b.view(np.uint64))
