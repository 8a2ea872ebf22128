"""Test-run settings shared by the unit tests and nbval (pytest finds this file at the repository root).

- BLAS threads are pinned so that notebook outputs are the same on every run.
- ``MPLBACKEND`` is removed so that kernels started by nbval draw with the inline backend.
- The nbval sanitize file is found from the repository root, whatever directory pytest is run from.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BLAS_THREADS = "2"

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = BLAS_THREADS
os.environ.pop("MPLBACKEND", None)
# Progress bars stay off under tests (mnistlib reads this; a notebook may still ask for one explicitly).
os.environ.setdefault("MNISTLIB_PROGRESS", "0")


def pytest_configure(config):
    opt = config.option
    if getattr(opt, "nbval", False) and not getattr(opt, "nbval_sanitize_with", None):
        opt.nbval_sanitize_with = str(ROOT / "nbval_sanitize.cfg")
