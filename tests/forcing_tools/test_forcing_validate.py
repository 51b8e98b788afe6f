"""The validator rejects each kind of broken met file with an actionable message."""

from __future__ import annotations

import shutil
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from testbed.forcing_tools import validate
from testbed.forcing_tools.synthetic import make_synthetic_domain

NCELL = 8


@pytest.fixture(scope="module")
def domain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dom")
    res = make_synthetic_domain(out, NCELL, [1901], seed=2, multi_year=False)
    return {"met": res["met_year"][0], "grid": res["tables"][0], "soil": res["tables"][1]}


def _copy(domain: dict[str, Path], tmp_path: Path) -> Path:
    p = tmp_path / "met_1901_1901.nc"
    shutil.copy(domain["met"], p)
    return p


def _rewrite(
    src: Path, dst: Path, *, drop: str | None = None, nsoil: int = 6, dtype: dict[str, str] | None = None
) -> Path:
    """Copy a met file with a variable dropped, fewer layers or another dtype."""
    with netCDF4.Dataset(src) as a, netCDF4.Dataset(dst, "w") as b:
        a.set_auto_mask(False)
        for name, d in a.dimensions.items():
            b.createDimension(name, nsoil if name == "nsoilyrs" else len(d))
        for name, v in a.variables.items():
            if name == drop:
                continue
            nv = b.createVariable(name, (dtype or {}).get(name, v.dtype), v.dimensions)
            nv.setncatts({k: v.getncattr(k) for k in v.ncattrs()})
            data = v[:]
            if "nsoilyrs" in v.dimensions:
                data = data[:, :nsoil]
            nv[:] = data
    return dst


def _errors(probs: list[validate.Problem]) -> list[validate.Problem]:
    return [p for p in probs if p.severity == "error"]


def test_accepts_good_file(domain: dict[str, Path]) -> None:
    assert validate.validate_met(domain["met"], domain["grid"], domain["soil"]) == []
    assert validate.main([str(domain["met"]), "--gridinfo", str(domain["grid"]), "--soil", str(domain["soil"])]) == 0


def test_missing_variable(domain: dict[str, Path], tmp_path: Path) -> None:
    p = _rewrite(domain["met"], tmp_path / "met_1901_1901.nc", drop="ndep")
    errs = _errors(validate.validate_met(p))
    assert [e.message for e in errs] == ["met_1901_1901.nc: variable ndep is missing; the model reads it"]
    assert validate.main([str(p)]) == 1


def test_missing_frozen_is_an_error_unless_allowed(domain: dict[str, Path], tmp_path: Path) -> None:
    p = _rewrite(domain["met"], tmp_path / "met_1901_1901.nc", drop="xfrznmoist")
    probs = validate.validate_met(p)
    assert [x.severity for x in probs] == ["error"] and "run.allow_missing_frozen = .true." in probs[0].message
    assert validate.main([str(p)]) == 1
    probs = validate.validate_met(p, allow_missing_frozen=True)
    assert [x.severity for x in probs] == ["warning"] and "taken as 0" in probs[0].message
    assert validate.main([str(p), "--allow-missing-frozen"]) == 0
    assert validate.main([str(p), "--allow-missing-frozen", "--strict"]) == 1


def test_wrong_unit(domain: dict[str, Path], tmp_path: Path) -> None:
    p = _copy(domain, tmp_path)
    with netCDF4.Dataset(p, "a") as ds:
        ds["xcgpp"].units = "gC/m^2/s"
    errs = _errors(validate.validate_met(p))
    assert len(errs) == 1 and errs[0].variable == "xcgpp"
    assert errs[0].message == (
        "met_1901_1901.nc: variable xcgpp has units 'gC/m^2/s', the "
        "model needs gC m-2 day-1 (if it is per second, multiply by "
        "86400)"
    )


def test_nan_on_active_cell(domain: dict[str, Path], tmp_path: Path) -> None:
    p = _copy(domain, tmp_path)
    with netCDF4.Dataset(p, "a") as ds:
        ds["xtairk"][10, 3, 0] = np.nan
        lat = float(ds["lat"][3])
    errs = _errors(validate.validate_met(p))
    assert len(errs) == 1
    e = errs[0]
    assert (e.variable, e.npt, e.day) == ("xtairk", 4, 11) and e.lat == pytest.approx(lat)
    assert e.message.startswith(f"met_1901_1901.nc: xtairk is NaN (nan) at npt 4 (lat {lat:.2f}")
    assert "on day 11; active cells (cellMissing = 0) need a value every day" in e.message


def test_fill_value_on_active_cell(domain: dict[str, Path], tmp_path: Path) -> None:
    p = _copy(domain, tmp_path)
    with netCDF4.Dataset(p, "a") as ds:
        ds.set_auto_mask(False)
        ds["xtsoil"][20, 2, 5, 0] = np.float32(1e36)
    errs = _errors(validate.validate_met(p))
    assert len(errs) == 1 and "xtsoil layer 3 is a fill value" in errs[0].message
    assert (errs[0].npt, errs[0].day) == (6, 21)


def test_negative_gpp(domain: dict[str, Path], tmp_path: Path) -> None:
    p = _copy(domain, tmp_path)
    with netCDF4.Dataset(p, "a") as ds:
        ds["xcgpp"][5, 2, 0] = -0.5
    errs = _errors(validate.validate_met(p))
    assert len(errs) == 1
    assert (errs[0].variable, errs[0].npt, errs[0].day) == ("xcgpp", 3, 6)
    assert "xcgpp is negative (-0.5) at npt 3" in errs[0].message
    assert errs[0].message.endswith("on day 6; GPP must be >= 0")


def test_temperature_and_moisture_ranges(domain: dict[str, Path], tmp_path: Path) -> None:
    p = _copy(domain, tmp_path)
    with netCDF4.Dataset(p, "a") as ds:
        ds["xtairk"][0, 0, 0] = 20.0  # degrees C by mistake
        ds["xmoist"][1, 0, 1, 0] = 1.5
    msgs = [e.message for e in _errors(validate.validate_met(p))]
    assert any(
        "xtairk is below 180 (20) at npt 1" in m and "180 to 340 K (if it is in degrees C, add 273.15)" in m
        for m in msgs
    )
    assert any("xmoist layer 1 is above 1 (1.5) at npt 2" in m and "day 2" in m for m in msgs)


def test_wrong_layer_count(domain: dict[str, Path], tmp_path: Path) -> None:
    p = _rewrite(domain["met"], tmp_path / "met_1901_1901.nc", nsoil=5)
    msgs = [e.message for e in _errors(validate.validate_met(p))]
    assert "met_1901_1901.nc: variable xtsoil has 5 layers, the model needs 6 (nsoilyrs)" in msgs
    assert any(m.startswith("met_1901_1901.nc: dimension nsoilyrs is 5") for m in msgs)


def test_wrong_dtype(domain: dict[str, Path], tmp_path: Path) -> None:
    p = _rewrite(domain["met"], tmp_path / "met_1901_1901.nc", dtype={"xcgpp": "f8", "cellid": "i8"})
    msgs = [e.message for e in _errors(validate.validate_met(p))]
    assert any("variable xcgpp is float64, the model needs float32" in m for m in msgs)
    assert any("variable cellid is int64, the model needs int32" in m for m in msgs)


def test_met_gridinfo_mismatch(domain: dict[str, Path], tmp_path: Path) -> None:
    p = _copy(domain, tmp_path)
    with netCDF4.Dataset(p, "a") as ds:
        ds["cellMissing"][NCELL - 1, 0] = 1
    errs = _errors(validate.validate_met(p, domain["grid"], domain["soil"]))
    msgs = [e.message for e in errs]
    assert (
        f"met_1901_1901.nc: {NCELL - 1} active cells (cellMissing == 0) but "
        f"gridinfo_igbpz.csv has {NCELL} rows; they must match one to one (and .lst "
        "line 1, mp)"
    ) in msgs
    assert any(f"but gridinfo_soil.csv has {NCELL} rows" in m for m in msgs)


def test_gridinfo_order_and_ids(domain: dict[str, Path], tmp_path: Path) -> None:
    lines = domain["grid"].read_text().splitlines()
    swapped = [lines[0], lines[2], lines[1], *lines[3:]]
    g = tmp_path / "gridinfo_igbpz.csv"
    g.write_text("\n".join(swapped) + "\n")
    msgs = [e.message for e in _errors(validate.validate_met(domain["met"], g, domain["soil"]))]
    assert any(
        "gridinfo_igbpz.csv row 1 (ijcam 2) points at ilat 2, ilon 1, but the met "
        "file's active cell number 1 is at ilat 1, ilon 1" in m
        for m in msgs
    )
    assert any("gridinfo_soil.csv row 1 is cell 1" in m and "same (met point) order" in m for m in msgs)


def test_leap_day_time_length(domain: dict[str, Path], tmp_path: Path) -> None:
    p = tmp_path / "met_1904_1904.nc"
    with netCDF4.Dataset(domain["met"]) as a, netCDF4.Dataset(p, "w") as b:
        for name, d in a.dimensions.items():
            b.createDimension(name, 366 if name == "time" else len(d))
        for name, v in a.variables.items():
            nv = b.createVariable(name, v.dtype, v.dimensions)
            data = v[:]
            if "time" in v.dimensions:
                data = np.concatenate([data, data[-1:]], axis=0)
            nv[:] = data
    msgs = [e.message for e in _errors(validate.validate_met(p))]
    assert msgs == [
        "met_1904_1904.nc: time has 366 days but myear is 1; the model stops "
        "unless time == 365*myear = 365 (no leap days; drop Feb 29)"
    ]
