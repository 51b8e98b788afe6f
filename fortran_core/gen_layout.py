"""Build step: write the Fortran module of kernel column indices from the layout declaration.

Usage: python gen_layout.py OUTPUT.f90  (the declaration files are found by testbed/layout.py)
       python gen_layout.py --list      (print the declaration files, for meson's depend_files)
Loads testbed/layout.py by path (standard library only), so the package need not be importable.
"""

import importlib.util
import sys
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "_tb_layout_decl", Path(__file__).resolve().parent.parent / "testbed" / "layout.py"
)
decl = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = decl  # dataclasses look the module up while building the classes
spec.loader.exec_module(decl)

if sys.argv[1] == "--list":
    print("\n".join(str(p) for p in decl.DECLARATIONS))
else:
    text = decl.fortran_module()
    out = Path(sys.argv[1])
    if not out.exists() or out.read_text() != text:
        out.write_text(text)
