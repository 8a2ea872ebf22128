"""Test-run settings shared by the unit tests and nbval (pytest finds this file at the repository root).

- BLAS threads are pinned so that notebook outputs are the same on every run.
- ``MPLBACKEND`` is removed so that kernels started by nbval draw with the inline backend.
- The nbval sanitize file is found from the repository root, whatever directory pytest is run from.
- Matplotlib's font cache lives inside the Python environment and is built here, before any kernel starts.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BLAS_THREADS = "2"

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = BLAS_THREADS
os.environ.pop("MPLBACKEND", None)
# Progress bars stay off under tests (mnistlib reads this; a notebook may still ask for one explicitly).
os.environ.setdefault("MNISTLIB_PROGRESS", "0")
# Matplotlib caches the absolute paths of the fonts it found, its own bundled fonts included. One per-user cache
# shared by several environments goes stale when one of them is re-created (seen here: a cache written while a venv
# was being reinstalled listed none of matplotlib's fonts), and then every figure prints "findfont: ... not found"
# to stderr, which nbval reports as a failed cell. Tests keep a cache of their own in the environment (unless
# MPLCONFIGDIR is set), built now in this process rather than by the first figure of a kernel.
if "MPLCONFIGDIR" not in os.environ and os.access(sys.prefix, os.W_OK):
    os.environ["MPLCONFIGDIR"] = str(Path(sys.prefix) / "mnistlib-matplotlib")
import matplotlib.font_manager  # noqa: E402, F401


def pytest_configure(config):
    opt = config.option
    if getattr(opt, "nbval", False) and not getattr(opt, "nbval_sanitize_with", None):
        opt.nbval_sanitize_with = str(ROOT / "nbval_sanitize.cfg")
