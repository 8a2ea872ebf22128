"""Lint and format are part of the tests: `make test` fails on any ruff finding in mnistlib/, exercises/,
tests/, benchmarks/ and tools/ (configuration in pyproject.toml: line length 120; rules E, F, W, B, UP, SIM, C90)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["mnistlib", "exercises", "tests", "benchmarks", "tools"]


def _ruff():
    found = Path(sys.executable).with_name("ruff")
    return str(found) if found.exists() else shutil.which("ruff")


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["ruff check", "ruff format --check"])
def test_ruff_is_clean(command):
    ruff = _ruff()
    assert ruff, "ruff is not installed: it is in requirements.txt (make install)"
    paths = [p for p in PATHS if (ROOT / p).exists()]
    result = subprocess.run([ruff, *command, *paths], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"ruff {' '.join(command)} found problems:\n{result.stdout}{result.stderr}"
