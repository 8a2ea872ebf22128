"""The student version (``make student``, tools/student_version.py, nbgrader's generate_assignment).

One generation per test session, into a temporary folder that stands for ``student/``, of every course notebook
and of ``tests/fixtures/sample_exercises.ipynb`` (two exercises in the CONTRIBUTING.md format, so that the
pipeline is tested whatever the course notebooks contain today), from a snapshot taken at the start (the
comparisons see the notebooks nbgrader saw, even while someone edits them). Then, per notebook:

- no solution text leaks and no marker or output remains;
- every cell is the source cell with each solution region replaced by nbgrader's stub, and nothing else changed
  (so filling the stubs with the solutions gives back the source notebook, whose check cells nbval runs and
  compares in the same ``make test``); check cells are locked;
- the student notebook runs top to bottom in a fresh kernel from the student folder, every check cell saying
  that its exercise is not done yet (one execution per notebook: the expensive test; ``-k "not runs_with"``
  leaves it out).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tools.student_version import StudentVersionError, generate

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "sample_exercises.ipynb"
SOURCES = [FIXTURE, *sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))]
NAMES = [path.name for path in SOURCES]
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
NOT_DONE = "not done yet"
CELL_TIMEOUT = 2000  # seconds per cell, nbval's default (a loaded machine trains slowly; this only catches hangs)
ANSI_COLOURS = re.compile(r"\x1b\[[0-9;]*m")


def with_stubs(source: str) -> str:
    """``source`` with every solution region replaced by nbgrader's stub at the indentation of its BEGIN line."""
    lines, inside = [], False
    for line in source.split("\n"):
        if BEGIN in line:
            indent = line[: len(line) - len(line.lstrip())]
            lines += [indent + stub for stub in STUB]
            inside = True
        elif END in line:
            inside = False
        elif not inside:
            lines.append(line)
    return "\n".join(lines)


def solution_lines(source: str) -> list[str]:
    """The non-blank lines between the markers, stripped."""
    found, inside = [], False
    for line in source.split("\n"):
        if BEGIN in line or END in line:
            inside = BEGIN in line
        elif inside and line.strip():
            found.append(line.strip())
    return found


def is_solution(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def is_check(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("locked")) and not meta.get("solution") and not meta.get("grade")


def everything_visible(nb) -> str:
    """All text a student sees or can open: cell sources, outputs, attachments, metadata."""
    parts = [json.dumps(nb.metadata)]
    for cell in nb.cells:
        parts += [cell.source, json.dumps(cell.get("outputs", [])), json.dumps(cell.get("attachments", {}))]
        parts.append(json.dumps(cell.metadata))
    return "\n".join(parts)


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory):
    """A copy of the sources (notebooks/ and the fixture), so that every test sees the notebooks nbgrader saw."""
    folder = tmp_path_factory.mktemp("sources") / "notebooks"
    shutil.copytree(ROOT / "notebooks", folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy2(FIXTURE, folder / FIXTURE.name)
    return folder


@pytest.fixture(scope="session")
def student_dir(tmp_path_factory, snapshot):
    """The student version of every source notebook, generated once (nbgrader takes ~10 s)."""
    out = tmp_path_factory.mktemp("student")
    report = generate([snapshot / name for name in NAMES], out)
    assert all(status == "written" for status in report.values()), report
    return out


@pytest.fixture
def pair(student_dir, snapshot):
    """``pair(name) -> (source, student)`` notebooks."""
    return lambda name: tuple(nbformat.read(folder / name, as_version=4) for folder in (snapshot, student_dir))


def test_fixture_has_exercises():
    """The fixture really exercises the pipeline: two solution cells, two check cells, an equation."""
    nb = nbformat.read(FIXTURE, as_version=4)
    assert sum(map(is_solution, nb.cells)) == 2
    assert sum(map(is_check, nb.cells)) == 2
    assert any("$$" in cell.source for cell in nb.cells if cell.cell_type == "markdown")


@pytest.mark.parametrize("name", NAMES)
def test_no_solution_text_in_student_version(pair, name):
    """No line of a solution, no marker, no output reaches the student.

    A solution line may appear in the student version only as often as it appears outside the solution
    regions of the source (``return grads`` in a later, visible cell is not a leak)."""
    source, student = pair(name)
    visible = everything_visible(student)
    assert "BEGIN SOLUTION" not in visible and "END SOLUTION" not in visible
    allowed = "\n".join(with_stubs(cell.source) for cell in source.cells)
    leaked = sorted(
        {
            line
            for cell in source.cells
            for line in solution_lines(cell.source)
            if visible.count(line) > allowed.count(line)
        }
    )
    assert not leaked, f"{name}: solution lines visible in the student version: {leaked}"
    code = [cell for cell in student.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code), f"{name}: outputs not cleared"


@pytest.mark.parametrize("name", NAMES)
def test_student_cells_are_the_source_with_stubs(pair, name):
    """Cell by cell: same type, id and slide metadata; the source with stubs for the solutions; locked checks."""
    source, student = pair(name)
    assert [c.cell_type for c in student.cells] == [c.cell_type for c in source.cells]
    for index, (ours, theirs) in enumerate(zip(source.cells, student.cells, strict=True)):
        where = f"{name}, cell {index}"
        assert theirs.get("id") == ours.get("id"), where
        assert theirs.metadata.get("slideshow") == ours.metadata.get("slideshow"), where
        expected = with_stubs(ours.source) if is_solution(ours) else ours.source
        assert theirs.source == expected, f"{where}: not the source with the stub in place of the solution"
        if is_solution(ours):
            assert "raise NotImplementedError()" in theirs.source, where
        if is_check(ours):
            assert theirs.metadata.get("editable") is False and theirs.metadata.get("deletable") is False, where


def test_solution_markers_outside_a_solution_cell_are_refused(tmp_path):
    """A solution region in a cell without the nbgrader metadata would reach students: generation stops."""
    nb = nbformat.read(FIXTURE, as_version=4)
    solution = next(cell for cell in nb.cells if is_solution(cell))
    del solution.metadata["nbgrader"]
    broken = tmp_path / "src" / "broken.ipynb"
    broken.parent.mkdir()
    nbformat.write(nb, broken)
    with pytest.raises(StudentVersionError, match="non-solution cell"):
        generate([broken], tmp_path / "student")
    assert not (tmp_path / "student" / "broken.ipynb").exists()


def test_regenerating_keeps_a_students_work(student_dir, tmp_path):
    """`make student` again: untouched notebooks are refreshed, edited ones kept unless forced (with a .bak)."""
    from tools.student_version import install

    release = tmp_path / "release"
    release.mkdir()
    shutil.copy2(student_dir / FIXTURE.name, release / FIXTURE.name)
    out = tmp_path / "student"
    assert install(release, out) == {FIXTURE.name: "written"}
    assert install(release, out) == {FIXTURE.name: "unchanged"}
    target = out / FIXTURE.name
    target.write_text(target.read_text().replace("raise NotImplementedError()", "return 0.0"))
    edited = target.read_text()
    (release / FIXTURE.name).write_text((release / FIXTURE.name).read_text().replace("Sample", "Sample!"))
    assert install(release, out)[FIXTURE.name].startswith("kept")
    assert target.read_text() == edited
    assert install(release, out, force=True) == {FIXTURE.name: "written"}
    assert (out / (FIXTURE.name + ".bak")).read_text() == edited
    assert target.read_text() == (release / FIXTURE.name).read_text()


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_runs_with_the_stubs(student_dir, name):
    """Top to bottom in a fresh kernel, cwd = the student folder; each check cell says 'not done yet'."""
    nb = nbformat.read(student_dir / name, as_version=4)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(student_dir)}}
    )
    error = None
    try:
        client.execute()
    except CellExecutionError as err:
        error = ANSI_COLOURS.sub("", str(err))  # the cell and its traceback, without the terminal colours
    if error is not None:
        pytest.fail(f"{name} stopped with an error:\n{error}", pytrace=False)
    for index, cell in enumerate(nb.cells):
        if is_check(cell):
            text = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
            assert NOT_DONE in text.lower(), f"{name}, check cell {index} printed {text!r}, not {NOT_DONE!r}"
