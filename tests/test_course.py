"""The course machinery: student copies, grading, the notebooks' structure, and a test runner
that fails on a broken notebook."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat as nbf
import pytest
from nbclient import NotebookClient

from nasbook.course import (exercise_cells, exercise_ids, grade, is_solution, student_copy, summary,
                            write_student_copies)
from nasbook.exercises import all_exercises

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
KERNEL = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}


def _notebook(cells) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook(metadata=KERNEL)
    nb.cells = cells
    return nb


@pytest.fixture
def teacher_notebook(tmp_path) -> Path:
    """A small teacher notebook with two real exercises and a cell before them."""
    code, md = nbf.v4.new_code_cell, nbf.v4.new_markdown_cell
    cells = [code('SCALE = "tiny"', metadata={"tags": ["parameters"]}),
             code("from nasbook.exercises import check\nwidth = 4"),
             md("## Exercises")]
    cells += exercise_cells(1, "00.sep_conv_params", "parameters of sep_conv", "Count them.",
                            "def sep_conv_params(C, k=3):\n    ...",
                            "def sep_conv_params(C, k=3):\n    return 2 * (C * k * k + C * C + 2 * C)",
                            "sep_conv_params")
    cells += exercise_cells(2, "00.derive_node", "keep a node's two strongest edges", "Derive.",
                            "derive_node = ...",
                            "from nasbook.exercises import get\nderive_node = get('00.derive_node').solution()",
                            "derive_node")
    path = tmp_path / "teacher" / "course.ipynb"
    path.parent.mkdir()
    nbf.write(_notebook(cells), path)
    return path


def test_student_copy_strips_solutions_and_outputs(teacher_notebook, tmp_path):
    nb = nbf.read(teacher_notebook, as_version=4)
    nb.cells[1].outputs = [nbf.v4.new_output("stream", text="old output")]
    student = student_copy(nb)
    assert sum(map(is_solution, nb.cells)) == 2
    assert not any(map(is_solution, student.cells))
    assert len(student.cells) == len(nb.cells) - 2
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    assert exercise_ids(student) == ["00.sep_conv_params", "00.derive_node"]
    written = write_student_copies(teacher_notebook.parent, tmp_path / "students")
    assert [p.name for p in written] == ["course.ipynb"]
    with pytest.raises(ValueError, match="differ"):
        write_student_copies(teacher_notebook.parent, teacher_notebook.parent)
    with pytest.raises(FileNotFoundError):
        write_student_copies(tmp_path / "nothing", tmp_path / "out")


def test_grading_a_folder(teacher_notebook, tmp_path):
    subs = tmp_path / "submissions"
    subs.mkdir()
    teacher = nbf.read(teacher_notebook, as_version=4)
    nbf.write(teacher, subs / "ada.ipynb")                     # every answer right
    nbf.write(student_copy(teacher), subs / "bob.ipynb")       # nothing answered
    wrong = student_copy(teacher)                              # one wrong, one right
    wrong.cells[4].source = "def sep_conv_params(C, k=3):\n    return C * k * k + C * C + 2 * C"
    wrong.cells[7].source = teacher.cells[9].source
    nbf.write(wrong, subs / "eve.ipynb")
    rows = grade(subs, timeout=120, progress=False)
    got = {(r["notebook"], r["exercise"]): r for r in rows}
    assert summary(rows) == {"ada.ipynb": {"passed": 2, "total": 2}, "bob.ipynb": {"passed": 0, "total": 2},
                             "eve.ipynb": {"passed": 1, "total": 2}}
    assert "not answered yet" in got["bob.ipynb", "00.sep_conv_params"]["message"]
    assert "too small" in got["eve.ipynb", "00.sep_conv_params"]["message"]
    assert got["eve.ipynb", "00.derive_node"]["ok"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_course_notebook_structure(path):
    """Parameters cell first, 2-4 registered exercises at the end, each with a stub, a tagged
    solution and a check, and no solution cell before the first exercise's prompt."""
    nb = nbf.read(path, as_version=4)
    first = nb.cells[0]
    assert "parameters" in first.metadata.get("tags", []) and 'SCALE = "tiny"' in first.source
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    ids = exercise_ids(nb)
    key = path.stem.split("_")[0] if path.stem[:2].isdigit() else path.stem
    assert 2 <= len(ids) <= 4, f"{path.name}: {ids}"
    registered = all_exercises()
    for ex_id in ids:
        assert ex_id in registered and ex_id.split(".")[0] == key, ex_id
    solutions = [i for i, c in enumerate(nb.cells) if is_solution(c)]
    assert len(solutions) == len(ids)
    for i in solutions:  # stub before, check after
        assert nb.cells[i - 1].cell_type == "code" and not is_solution(nb.cells[i - 1])
        assert exercise_ids(_notebook([nb.cells[i + 1]]))
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"


def test_student_copy_of_a_real_notebook_runs_up_to_its_first_exercise(tmp_path):
    """03 (no training): every cell before the first check runs; that check says 'not answered'."""
    nb = student_copy(nbf.read(REPO / "notebooks" / "03_cell_visualization.ipynb", as_version=4))
    first_check = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and exercise_ids(_notebook([c])))
    NotebookClient(nb, timeout=300, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.outputs)]
    assert errors and errors[0] == first_check, (errors, first_check)
    err = next(o for o in nb.cells[first_check].outputs if o.output_type == "error")
    assert err.ename == "ExerciseFailed" and "not answered yet" in err.evalue


def _run_runner(paths: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NASBOOK_TEST_PATHS=str(paths))
    return subprocess.run(["bash", str(REPO / "scripts" / "run_tests.sh"), str(Path(sys.executable).parent),
                           "-n", "0"], env=env, capture_output=True, text=True, timeout=300)


def test_the_runner_fails_on_a_broken_notebook(tmp_path):
    code = nbf.v4.new_code_cell
    good = _notebook([code("x = 1"), code("assert x == 1")])
    broken = _notebook([code("x = 1"), code("raise RuntimeError('deliberately broken notebook')")])
    nbf.write(good, tmp_path / "good.ipynb")
    nbf.write(broken, tmp_path / "broken.ipynb")
    ok = _run_runner(tmp_path / "good.ipynb")
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    bad = _run_runner(tmp_path / "broken.ipynb")
    assert bad.returncode != 0
    assert "deliberately broken notebook" in bad.stdout + bad.stderr
