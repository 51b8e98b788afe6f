"""Gridinfo, soil and phenology tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from testbed.domain import Domain, PhenologyTable
from testbed.errors import InputError
from testbed.params import phenology_band


def test_reference_domain_and_phenology(setA: Path) -> None:
    """Everything expected is taken from the set's own gridinfo file, so another cell set runs through it."""
    import csv

    inputs = setA / "inputs"
    d = Domain.from_files(inputs / "gridinfo_igbpz.csv", inputs / "gridinfo_soil.csv")
    with (inputs / "gridinfo_igbpz.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if any(v.strip() for v in r.values())]
    assert d.ncell == len(rows)
    assert list(d.pft) == [int(float(r["ivt_igbp"])) for r in rows]
    assert np.allclose(d.lat, [float(r["lat"]) for r in rows])
    phen = PhenologyTable.read(inputs / "modis_phenology_wtundra.txt")
    greenup, fall, phase = phen.lookup(d.lat, d.pft)
    seasonal = np.isin(d.pft, phen.types)
    # types without seasonal phenology: no green-up or leaf fall in the year, steady phase
    assert np.all(greenup[~seasonal] == -50) and np.all(fall[~seasonal] == 367) and np.all(phase[~seasonal] == 2)
    assert np.all((greenup[seasonal] >= 1) & (greenup[seasonal] <= 365))
    assert np.all((fall[seasonal] >= 1) & (fall[seasonal] <= 365))


def test_phenology_band_follows_the_original_formula() -> None:
    assert phenology_band(79.75) == 1
    assert phenology_band(79.5) == 2
    assert phenology_band(-55.25) == 271
    assert phenology_band(-80.53) == 271  # clamped
    assert phenology_band(90.0) == 1


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


GRID_HEADER = (
    "ijcam,lat,lon,ivt_igbp,ist,iso,landarea,Ndep,Nfix,Pwea,Pdust,doyP1,doyP2,doyP3,doyP4,Phase,ivcasa,ilat,ilon"
)
SOIL_HEADER = "ijcam,lat,lon,sand,clay,silt,wwilt,wfield,wsat"


def test_pft_outside_the_parameter_table_names_the_cell(tmp_path: Path) -> None:
    grid = _write(
        tmp_path / "g.csv",
        GRID_HEADER,
        [
            "1, 10.0, 0.0, 4, 1, 1, 1e9, 0, 0, 0, 0, -99, -99, -99, -99, -99, -99, 1, 1",
            "2, 12.0, 0.0, 19, 1, 1, 1e9, 0, 0, 0, 0, -99, -99, -99, -99, -99, -99, 2, 1",
        ],
    )
    soil = _write(
        tmp_path / "s.csv",
        SOIL_HEADER,
        ["1, 10.0, 0.0, 0.4, 0.2, 0.4, 0.1, 0.3, 0.45", "2, 12.0, 0.0, 0.4, 0.2, 0.4, 0.1, 0.3, 0.45"],
    )
    with pytest.raises(
        InputError,
        match=r"g\.csv: row 2 \(ijcam 2, lat 12, lon 0\) has ivt_igbp = 19; it must be "
        r"0 to 18 \(IGBP type; 0 is read as 15\)",
    ):
        Domain.from_files(grid, soil)


def test_pft_zero_means_snow_and_ice(tmp_path: Path) -> None:
    grid = _write(
        tmp_path / "g.csv", GRID_HEADER, ["1, -80.0, 0.0, 0, 1, 1, 0, 0, 0, 0, 0, -99, -99, -99, -99, -99, -99, 1, 1"]
    )
    soil = _write(tmp_path / "s.csv", SOIL_HEADER, ["1, -80.0, 0.0, 0.4, 0.2, 0.4, 0.1, 0.3, 0.45"])
    assert Domain.from_files(grid, soil).pft.tolist() == [15]


def test_soil_table_must_match_gridinfo(tmp_path: Path) -> None:
    grid = _write(
        tmp_path / "g.csv", GRID_HEADER, ["1, 10.0, 0.0, 4, 1, 1, 1e9, 0, 0, 0, 0, -99, -99, -99, -99, -99, -99, 1, 1"]
    )
    soil = _write(tmp_path / "s.csv", SOIL_HEADER, ["1, 10.0, 0.0, 0.4, 0.2, 0.4, 0.1, 1.3, 0.45"])
    with pytest.raises(
        InputError,
        match=r"s\.csv: row 1 \(ijcam 1, lat 10, lon 0\) has wfield = 1\.3; "
        r"it must be in \(0, 1\] m3 m-3",
    ):
        Domain.from_files(grid, soil)
    soil2 = _write(
        tmp_path / "s2.csv",
        SOIL_HEADER,
        ["1, 10.0, 0.0, 0.4, 0.2, 0.4, 0.1, 0.3, 0.45", "2, 12.0, 0.0, 0.4, 0.2, 0.4, 0.1, 0.3, 0.45"],
    )
    with pytest.raises(InputError, match="s2.csv has 2 rows but g.csv has 1"):
        Domain.from_files(grid, soil2)
    assert np.isfinite(
        Domain.from_files(
            grid, _write(tmp_path / "s3.csv", SOIL_HEADER, ["1, 10.0, 0.0, 0.4, 0.2, 0.4, 0.1, 0.3, 0.45"])
        ).ssat
    ).all()
