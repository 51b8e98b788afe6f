"""Grid cells of a run: gridinfo and soil tables, phenology dates, and checks between them.

Cells ("points") are in the met file's order (longitude outer, latitude inner,
cells with ``cellMissing == 0``); the gridinfo and soil tables must list them in
that same order (casa.md 2.2, 2.3; MET_FORMAT.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import inputcheck as ic
from . import metformat as mf
from .errors import InputError
from .params import CasaParameterSet, phenology_band


@dataclass
class Domain:
    """Per-cell static information (arrays of length ``ncell``, in met point order)."""

    cellid: np.ndarray  #: ijgcm of gridinfo (int)
    lat: np.ndarray  #: degrees north (from gridinfo; used for phenology)
    lon: np.ndarray  #: degrees east
    pft: np.ndarray  #: IGBP type 1..18 (gridinfo 0 -> 15)
    soil_order: np.ndarray  #: soil order (P cycle only)
    area: np.ndarray  #: land area, m2
    ilat: np.ndarray  #: 1-based latitude index on the met grid
    ilon: np.ndarray  #: 1-based longitude index on the met grid
    sand: np.ndarray
    clay: np.ndarray
    silt: np.ndarray
    swilt: np.ndarray  #: wilting point, m3 m-3
    sfc: np.ndarray  #: field capacity, m3 m-3
    ssat: np.ndarray  #: saturation, m3 m-3
    gridinfo_path: str = ""
    soil_path: str = ""

    @property
    def ncell(self) -> int:
        return int(self.lat.size)

    def subset(self, cells: slice | np.ndarray) -> Domain:
        """The domain restricted to ``cells`` (a slice or index array)."""
        kw = {k: (v[cells] if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}
        return Domain(**kw)

    @classmethod
    def from_files(cls, gridinfo: str | Path, soil: str | Path) -> Domain:
        """Read and check the original's gridinfo (19 columns) and soil (9 columns) CSV tables.

        Ranges and rules are those of :mod:`testbed.metformat` (|lat| <= 90, area >= 0, texture sums to 1,
        0 < wwilt < wfield < wsat <= 1, ...); the first problem is raised as an InputError.
        """
        gpath, spath = Path(gridinfo), Path(soil)
        g = mf.read_gridinfo(gpath)
        s = mf.read_soil(spath)
        ck = ic.Checker(gpath)
        ic.check_gridinfo(ck, g)
        ck.raise_errors()
        pft = mf.model_pft(g["ivt_igbp"])
        ck = ic.Checker(spath)
        ic.check_soil(ck, s)
        ic.check_soil_matches_grid(ck, s, spath.name, g, gpath.name)
        ck.raise_errors()
        return cls(
            cellid=g["ijcam"].astype(int),
            lat=g["lat"],
            lon=g["lon"],
            pft=pft,
            soil_order=g["iso"].astype(int),
            area=g["landarea"],
            ilat=g["ilat"].astype(int),
            ilon=g["ilon"].astype(int),
            sand=s["sand"],
            clay=s["clay"],
            silt=s["silt"],
            swilt=s["wwilt"],
            sfc=s["wfield"],
            ssat=s["wsat"],
            gridinfo_path=str(gpath),
            soil_path=str(spath),
        )

    def inactive(self, casa: CasaParameterSet) -> np.ndarray:
        """True for cells whose PFT class is 0 (ice, water, urban, wetland): they never evolve."""
        return mf.inactive(self.pft, casa["ivt2"])


@dataclass
class PhenologyTable:
    """The original's MODIS phenology table: day of green-up and leaf fall by latitude band."""

    types: list[int]  #: IGBP types with seasonal phenology (column order)
    greenup: np.ndarray  #: (271, ntypes) day of year
    fall: np.ndarray  #: (271, ntypes)
    phase0: np.ndarray  #: (271, ntypes) initial phase
    source: str = ""

    @classmethod
    def read(cls, path: str | Path) -> PhenologyTable:
        """Read a phenology table: our CSV (see :meth:`write_csv`) or the original's ``modis_phenology*.txt``."""
        path = Path(path)
        if not path.is_file():
            raise InputError("phenology table not found", path=path)
        lines = path.read_text().replace("\r", "").split("\n")
        if lines[0].startswith("#"):
            return cls._read_csv(path, lines)
        try:
            types = [int(float(t)) for t in lines[1].split()][:11]
            rows = np.array([[float(t) for t in lines[2 + k].split()[:34]] for k in range(271)])
        except (ValueError, IndexError) as exc:
            raise InputError(f"not a phenology table with 271 latitude bands ({exc})", path=path) from None
        if rows.shape != (271, 34) or len(types) != 11:
            raise InputError("expected 11 PFT columns and 271 latitude bands of 34 values", path=path)
        return cls(types, rows[:, 1:12].astype(int), rows[:, 12:23].astype(int), rows[:, 23:34].astype(int), str(path))

    @classmethod
    def _read_csv(cls, path: Path, lines: list[str]) -> PhenologyTable:
        rows = [ln.split(",") for ln in lines if ln.strip() and not ln.startswith("#")][1:]
        try:
            data = np.array([[int(t) for t in r[:5]] for r in rows])
        except ValueError as exc:
            raise InputError(f"not a phenology table ({exc})", path=path) from None
        types = sorted(set(data[:, 1].tolist()))
        table = {k: np.zeros((271, len(types)), dtype=int) for k in ("greenup", "fall", "phase0")}
        for band, pft, greenup, fall, phase0 in data:
            j = types.index(pft)
            table["greenup"][band - 1, j] = greenup
            table["fall"][band - 1, j] = fall
            table["phase0"][band - 1, j] = phase0
        if len(data) != 271 * len(types):
            raise InputError(
                f"expected 271 latitude bands for each of {len(types)} PFTs, found {len(data)} rows", path=path
            )
        return cls(types, table["greenup"], table["fall"], table["phase0"], str(path))

    def write_csv(self, path: str | Path, title: str = "") -> None:
        """Our format: one row per latitude band and PFT (band 1 = 79.75 N ... 271 = 55.25 S, 0.5 degree steps)."""
        out = [
            f"# testbed phenology table{': ' + title if title else ''}",
            "# band: latitude band, lat = 79.75 - 0.5*(band-1) degrees; pft: IGBP type with seasonal phenology;",
            "# greenup, fall: day of year of leaf green-up and leaf fall; phase0: phenology phase on a cold start.",
            "# IGBP types not listed are evergreen or have no phenology (phase 2 all year).",
            "band,pft,greenup,fall,phase0",
        ]
        for band in range(271):
            for j, pft in enumerate(self.types):
                out.append(f"{band + 1},{pft},{self.greenup[band, j]},{self.fall[band, j]},{self.phase0[band, j]}")
        Path(path).write_text("\n".join(out) + "\n")

    def lookup(self, lat: np.ndarray, pft: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Green-up day, fall day and initial phase for each cell.

        Types without seasonal phenology get green-up -50, fall 367 and phase 2.
        """
        n = len(lat)
        greenup = np.full(n, -50, dtype=int)
        fall = np.full(n, 367, dtype=int)
        phase = np.full(n, 2, dtype=int)
        for c in range(n):
            if int(pft[c]) in self.types:
                j = self.types.index(int(pft[c]))
                band = phenology_band(float(lat[c])) - 1
                greenup[c], fall[c], phase[c] = self.greenup[band, j], self.fall[band, j], self.phase0[band, j]
        return greenup, fall, phase
