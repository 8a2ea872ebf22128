"""mnistlib stays small enough to read in an afternoon (issue 9) and its I/O modules stay simple (issue 10).

Lines are counted as ``wc -l`` counts them, docstrings and comments included; a function's lines run from its
first decorator to its last line.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mnistlib"
IO_MODULES = {"idx.py", "datasets.py"}
MAX_REST, MAX_IO, MAX_MODULE, MAX_FUNCTION = 2_200, 900, 450, 60
MODULES = sorted(PACKAGE.rglob("*.py"))


def lines(path):
    return path.read_bytes().count(b"\n")


def test_the_package_is_where_the_tests_expect_it():
    assert {"__init__.py", "functions.py", "train.py", *IO_MODULES} <= {p.name for p in MODULES}


def test_everything_but_the_io_modules_totals_at_most_2200_lines():
    rest = {str(p.relative_to(PACKAGE)): lines(p) for p in MODULES if p.name not in IO_MODULES}
    assert sum(rest.values()) <= MAX_REST, f"{sum(rest.values())} lines: {rest}"


def test_the_io_modules_total_at_most_900_lines():
    io = {p.name: lines(p) for p in MODULES if p.name in IO_MODULES and p.parent == PACKAGE}
    assert sum(io.values()) <= MAX_IO, io


@pytest.mark.parametrize("path", [p for p in MODULES if p.name not in IO_MODULES], ids=lambda p: p.name)
def test_no_module_besides_the_io_modules_is_over_450_lines(path):
    assert lines(path) <= MAX_MODULE


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_is_over_60_lines(path):
    too_long = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if node.end_lineno - first + 1 > MAX_FUNCTION:
                too_long[node.name] = node.end_lineno - first + 1
    assert not too_long, too_long


def test_the_sizes_quoted_in_readme_and_contributing_are_the_real_ones():
    """Every number in a README was measured: the size row of README.md and CONTRIBUTING.md's total follow the code."""
    import re

    root = PACKAGE.parent
    counts = {str(p.relative_to(PACKAGE)): lines(p) for p in MODULES}
    io = sum(n for name, n in counts.items() if name in IO_MODULES)
    rest, total = sum(counts.values()) - io, sum(counts.values())
    readme = (root / "README.md").read_text(encoding="utf-8")
    quoted = re.search(
        r"([\d,]+) lines besides its I/O modules \(`idx.py` and `datasets.py`: ([\d,]+); ([\d,]+) in", readme
    )
    assert quoted, "README.md: the size row of the figures table is missing"
    assert [int(g.replace(",", "")) for g in quoted.groups()] == [rest, io, total], "README.md's size row"
    contributing = (root / "CONTRIBUTING.md").read_text(encoding="utf-8")
    quoted = re.search(r"minus the I/O modules: ([\d,]+) lines in all", contributing)
    assert quoted and int(quoted.group(1).replace(",", "")) == rest, "CONTRIBUTING.md's total"
