"""Build steps: run f90wrap, then f2py-f90wrap, on the thin kernel module inside the build directory.

Meson calls this for two steps:

* ``run_f90wrap.py OUTDIR KIND_MAP SOURCE...`` writes ``f90wrap_<src>.f90`` and ``tb_kernel.py`` into
  OUTDIR, rewrites the generated ``import _tb_kernel`` so that the extension is found inside the
  ``testbed`` package, and marks every wrapper ``!f2py threadsafe``: f2py then releases the GIL around
  the Fortran call, so kernel calls run in parallel in threads (the kernel has no global mutable state).
* ``run_f90wrap.py --f2py OUTDIR WRAPPER MODULE`` runs f2py-f90wrap on the wrapper for the extension
  ``MODULE`` (once per kernel build, testbed/kernel_builds.py) and removes, from the C source,
  f90wrap's SIGINT handler swap and ``setjmp`` around each call: they use one process-wide handler and
  jump buffer, which concurrent calls from two threads would corrupt (a Ctrl-C could then
  jump into another thread's stack). The kernel never calls ``f90wrap_abort``, so nothing else changes;
  Ctrl-C during a kernel call is handled by Python when the call returns.

There is one shadow module ``tb_kernel.py`` for all builds: it imports the baseline extension, and
``testbed.kernel.use_build`` rebinds its ``_tb_kernel`` to the extension of the build in use (all builds
have the same functions).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

#: lines of the generated C source removed or replaced by the --f2py step, and how often each must occur
_C_PATCHES = (
    ("    _npy_sig_save = PyOS_setsig(SIGINT, f90wrap_abort_int_handler);\n", ""),
    ("    setjmpvalue = setjmp(environment_buffer);\n", "    setjmpvalue = 0;\n"),
    ("      PyOS_setsig(SIGINT, _npy_sig_save);\n", ""),
    ("     PyOS_setsig(SIGINT, _npy_sig_save);\n", ""),
)


def wrap(outdir: str, kind_map: str, sources: list[str]) -> None:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "f90wrap.scripts.main", "-m", "tb_kernel", "-k", os.path.abspath(kind_map)]
    cmd += [os.path.abspath(s) for s in sources]
    subprocess.run(cmd, cwd=out, check=True, stdout=subprocess.DEVNULL)
    wrapper = out / "tb_kernel.py"
    text = wrapper.read_text()
    text = text.replace("import _tb_kernel\n", "from testbed import _tb_kernel\n", 1)
    wrapper.write_text(text)
    for f90 in out.glob("f90wrap_*.f90"):
        text = f90.read_text()
        text, n = re.subn(r"(\n(\s*)implicit none\n)", r"\1\2!f2py threadsafe\n", text)
        if n != text.count("\nsubroutine f90wrap_"):
            raise SystemExit(f"{f90}: could not mark every wrapper threadsafe ({n} marks)")
        f90.write_text(text)


def f2py(outdir: str, wrapper: str, module: str) -> None:
    cmd = [sys.executable, "-m", "f90wrap.scripts.f2py_f90wrap", wrapper, "-m", module, "--lower"]
    subprocess.run([*cmd, "--build-dir", outdir], check=True, stdout=subprocess.DEVNULL)
    source = Path(outdir) / f"{module}module.c"
    text = source.read_text()
    calls = text.count("Py_BEGIN_ALLOW_THREADS")
    if calls == 0:
        raise SystemExit(f"{source}: f2py did not release the GIL around the kernel calls")
    for old, new in _C_PATCHES:
        if old in text:
            text = text.replace(old, new)
    for name in ("PyOS_setsig(SIGINT", "setjmp(environment_buffer)"):
        if name in text:
            raise SystemExit(f"{source}: f90wrap's {name} is still there (the generator changed; update _C_PATCHES)")
    source.write_text(text)


def main() -> None:
    if sys.argv[1] == "--f2py":
        f2py(*sys.argv[2:5])
    else:
        outdir, kind_map, *sources = sys.argv[1:]
        wrap(outdir, kind_map, sources)


if __name__ == "__main__":
    main()
