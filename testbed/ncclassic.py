"""Direct reads of classic NetCDF files (CDF-1, CDF-2 "64-bit offset", CDF-5), for the met reader.

A classic file is a header followed by each variable's values, big-endian, in C order at the offset
the header gives (the NetCDF Classic Format Specification). :func:`layout` reads the header;
:func:`gather` reads a time range of one variable and picks the values of given grid points, without the
NetCDF library's copy and byte swap of the whole grid (for a met file on the full CLM grid,
two thirds of the points are missing cells). Values are copied exactly and converted to native byte
order. No NetCDF library call is made, so no lock is needed in threads.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_DIMENSION, _VARIABLE, _ATTRIBUTE = 10, 11, 12
#: NetCDF external type -> (numpy dtype of the stored values, bytes per value)
_TYPES = {1: (">i1", 1), 2: ("S1", 1), 3: (">i2", 2), 4: (">i4", 4), 5: (">f4", 4), 6: (">f8", 8)}
_TYPES |= {7: (">u1", 1), 8: (">u2", 2), 9: (">u4", 4), 10: (">i8", 8), 11: (">u8", 8)}
#: largest header read (bytes); a file with a larger one is read through the NetCDF library
MAX_HEADER = 1 << 24
#: bytes read at a time by :func:`gather` (whole (lat, lon) planes; at least one). Small enough for the block to stay
#: in a core's cache between the read and the gather (32 MB blocks went to memory and back: 2x the CPU of
#: 0.25-4 MB ones; docs/performance.md)
READ_BYTES = 1 << 20
_local = threading.local()


@dataclass(frozen=True)
class ClassicVar:
    """Where a variable's values are stored in a classic file."""

    shape: tuple[int, ...]
    dtype: str  #: numpy dtype of the stored (big-endian) values
    begin: int  #: byte offset of the first value
    record: bool  #: a record variable (values interleaved with the other record variables)
    attrs: frozenset[str]  #: names of its attributes


class _Header:
    def __init__(self, data: bytes, version: int) -> None:
        self.data, self.pos = data, 4
        self.size = 8 if version == 5 else 4  # NON_NEG: 64-bit in CDF-5
        self.offset = 4 if version == 1 else 8  # OFFSET: 64-bit in CDF-2 and CDF-5

    def uint(self, nbytes: int) -> int:
        if self.pos + nbytes > len(self.data):
            raise ValueError("header runs past the bytes read")
        value = int.from_bytes(self.data[self.pos : self.pos + nbytes], "big")
        self.pos += nbytes
        return value

    def name(self) -> str:
        n = self.uint(self.size)
        text = self.data[self.pos : self.pos + n].decode("utf-8")
        self.pos += (n + 3) // 4 * 4
        return text

    def attributes(self) -> frozenset[str]:
        self.uint(4)  # NC_ATTRIBUTE or ABSENT
        names = []
        for _ in range(self.uint(self.size)):
            names.append(self.name())
            _, width = _TYPES[self.uint(4)]
            nbytes = self.uint(self.size) * width
            self.pos += (nbytes + 3) // 4 * 4
        return frozenset(names)


def layout(path: str | Path) -> dict[str, ClassicVar] | None:
    """The variables of a classic NetCDF file by name, or None when it is not one (e.g. NetCDF-4/HDF5)
    or its header cannot be read here (the caller then uses the NetCDF library)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_HEADER)
        size = path.stat().st_size
        if data[:3] != b"CDF" or data[3] not in (1, 2, 5):
            return None
        h = _Header(data, data[3])
        h.uint(h.size)  # numrecs
        h.uint(4)  # NC_DIMENSION or ABSENT
        dims = [(h.name(), h.uint(h.size)) for _ in range(h.uint(h.size))]
        h.attributes()  # global attributes
        h.uint(4)  # NC_VARIABLE or ABSENT
        out = {}
        for _ in range(h.uint(h.size)):
            name = h.name()
            ids = [h.uint(h.size) for _ in range(h.uint(h.size))]
            attrs = h.attributes()
            dtype, width = _TYPES[h.uint(4)]
            h.uint(h.size)  # vsize
            begin = h.uint(h.offset)
            shape = tuple(dims[i][1] for i in ids)
            record = bool(ids) and dims[ids[0]][1] == 0
            if not record and begin + int(np.prod(shape, dtype=np.int64)) * width > size:
                return None  # truncated: the library path reports it
            out[name] = ClassicVar(shape, dtype, begin, record, attrs)
        return out
    except (OSError, ValueError, KeyError, IndexError, UnicodeDecodeError, struct.error):
        return None


def _buffer(nbytes: int) -> np.ndarray:
    """This thread's read buffer, at least ``nbytes`` long (kept, so that its pages are not faulted in again)."""
    buf = getattr(_local, "buffer", None)
    if buf is None or buf.size < nbytes:
        buf = _local.buffer = np.empty(max(nbytes, READ_BYTES), dtype=np.uint8)
    return buf[:nbytes]


def gather(
    path: str | Path, var: ClassicVar, first: int, count: int, points: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """``var[first:first + count, ..., lat, lon]`` at the flattened (lat, lon) grid positions ``points``.

    For a (time, [layer,] lat, lon) non-record variable; returns a C-contiguous (count, [layer,] npoints)
    array in native byte order, with exactly the stored values. The time steps' (lat, lon) planes are stored
    one after another; reads READ_BYTES of whole planes at a time (at least one) into a per-thread buffer and
    gathers the points from it. ``out``: an array of the result's shape in the stored dtype to gather into
    (reused, its pages are not faulted in again: :class:`testbed.forcing.YearBuffers`); the result is a view of it.
    """
    outs = prepare(path, var, count, [(points, out)])
    gather_rows(path, var, first, count, [points], outs, 0, rows_of(var, count))
    return native(outs[0])


def rows_of(var: ClassicVar, count: int) -> int:
    """(lat, lon) planes in ``count`` time steps of ``var``."""
    return count * int(np.prod(var.shape[1:-2], dtype=np.int64))


def prepare(
    path: str | Path, var: ClassicVar, count: int, targets: list[tuple[np.ndarray, np.ndarray | None]]
) -> list[np.ndarray]:
    """The arrays (stored dtype, C order, (count, [layer,] npoints)) that :func:`gather_rows` fills, one per
    ``(points, out)`` target: ``out`` itself when given (checked), else a new array."""
    if var.record:
        raise ValueError("record variables are interleaved; read them through the NetCDF library")
    stored = np.dtype(var.dtype)
    npoint = int(np.prod(var.shape[-2:], dtype=np.int64))
    outs = []
    for points, out in targets:
        if points.size and (points.min() < 0 or points.max() >= npoint):
            raise IndexError(f"grid positions outside the {var.shape[-2]} x {var.shape[-1]} grid of {path}")
        shape = (count, *var.shape[1:-2], points.size)
        if out is None:
            out = np.empty(shape, dtype=stored)
        elif out.shape != shape or out.dtype != stored or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous {shape} array of {stored}, not {out.shape} of {out.dtype}")
        outs.append(out)
    return outs


def gather_rows(
    path: str | Path,
    var: ClassicVar,
    first: int,
    count: int,
    points: list[np.ndarray],
    outs: list[np.ndarray],
    r0: int,
    r1: int,
) -> None:
    """Fill planes ``r0:r1`` (of :func:`rows_of` ``(var, count)``) of each of ``outs`` (from :func:`prepare`) with
    the values at ``points``, in native byte order (the arrays keep the stored dtype: :func:`native` views them).

    Reads READ_BYTES of whole planes at a time (at least one) into a per-thread buffer and gathers every target's
    points from it, so each block is read once whatever the number of targets.
    """
    stored = np.dtype(var.dtype)
    npoint = int(np.prod(var.shape[-2:], dtype=np.int64))
    per_plane = npoint * stored.itemsize  # bytes of one (lat, lon) plane
    # np.take writes straight into ``out`` only with the same dtype and mode "clip" (the positions are checked by
    # prepare): otherwise it goes through a write-back copy that first reads the fresh output (mapping the zero page)
    # and then writes it, a copy-on-write fault per page with a TLB shoot-down of the other worker threads' cores
    # (docs/performance.md). So the values are gathered in the stored byte order and swapped in place.
    rows = [o.reshape(-1, p.size) for p, o in zip(points, outs, strict=True)]  # a row per plane
    p0 = first * (rows_of(var, count) // max(count, 1))  # the first plane's index in the variable
    block = max(1, READ_BYTES // per_plane)
    with open(path, "rb", buffering=0) as f:
        for k in range(r0, r1, block):
            n = min(block, r1 - k)
            buf = _buffer(n * per_plane)
            f.seek(var.begin + (p0 + k) * per_plane)
            view, done = memoryview(buf), 0
            while done < buf.size:
                got = f.readinto(view[done:])
                if not got:
                    raise OSError(f"{path}: the file ends before the values of {var.shape} that its header declares")
                done += got
            planes = buf.view(stored).reshape(n, npoint)
            for p, r in zip(points, rows, strict=True):
                np.take(planes, p, axis=1, out=r[k : k + n], mode="clip")
                if not stored.isnative:
                    r[k : k + n].byteswap(inplace=True)


def native(out: np.ndarray) -> np.ndarray:
    """A filled array of :func:`gather_rows` as native-order values (a view)."""
    return out if out.dtype.isnative else out.view(out.dtype.newbyteorder("="))
