"""Atomic file writes: every output, restart and checkpoint is written through :func:`atomic_write`.

The content goes to a temporary file in the target's folder (same file system), which is renamed over
the target only when writing succeeded, so a reader never sees a half-written file and a killed run
leaves the previous version intact. The file gets the permissions a plain ``open`` would give it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)
#: suffix of the temporary files (a killed writer may leave one; they are safe to delete)
TMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_write(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target``, on failure it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    except OSError as exc:
        # a write through an open file object (np.savez, a NetCDF library) fails without a file name, or names
        # the temporary file: name the file the user knows, so that the error says what could not be written
        if exc.filename in (None, str(tmp)):
            exc.filename = str(target)
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(target: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_write(target) as tmp:
        tmp.write_text(text)
