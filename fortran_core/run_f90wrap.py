"""Build step: run f90wrap on the thin kernel module inside the build directory.

Meson calls this with: OUTDIR KIND_MAP SOURCE... It writes ``f90wrap_<src>.f90``
and ``tb_kernel.py`` into OUTDIR, and rewrites the generated ``import _tb_kernel``
so that the extension is found inside the ``testbed`` package.
"""

import os
import subprocess
import sys
from pathlib import Path


def main() -> None:
    outdir, kind_map, *sources = sys.argv[1:]
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "f90wrap.scripts.main", "-m", "tb_kernel", "-k", os.path.abspath(kind_map)]
    cmd += [os.path.abspath(s) for s in sources]
    subprocess.run(cmd, cwd=out, check=True, stdout=subprocess.DEVNULL)
    wrapper = out / "tb_kernel.py"
    text = wrapper.read_text()
    text = text.replace("import _tb_kernel\n", "from testbed import _tb_kernel\n", 1)
    wrapper.write_text(text)


if __name__ == "__main__":
    main()
