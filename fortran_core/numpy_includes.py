"""Build step: print the numpy and f2py include folders, relative to the source root when inside it.

Meson refuses absolute paths into the source tree, which is where these folders are when the
virtual environment lives inside the checkout (e.g. `.venv` made by `make install`).
"""

import os
import sys

import numpy
import numpy.f2py


def _relative(path: str, root: str) -> str:
    path = os.path.realpath(path)
    return os.path.relpath(path, root) if path.startswith(root + os.sep) else path


if __name__ == "__main__":
    source_root = os.path.realpath(sys.argv[1])
    print(_relative(numpy.get_include(), source_root))
    print(_relative(numpy.f2py.get_include(), source_root))
