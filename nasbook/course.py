"""Teaching with the notebooks: student copies without solutions, and grading a folder.

The teacher's notebooks (``notebooks/``) hold every exercise as four cells, written by
:func:`exercise_cells`: the prompt (markdown), a *learner cell* with a stub (``...``), a
*solution cell* tagged ``solution`` that overwrites the stub, and a *check cell* calling
:func:`nasbook.exercises.check`. CI runs the teacher's copies, so every solution is checked.

* :func:`write_student_copies` drops the solution cells and clears outputs: the student copy
  runs top to bottom until its first check cell, which says "not answered yet".
* :func:`grade` executes each submitted notebook in a fresh kernel (errors do not stop it),
  with ``NASBOOK_GRADE_LOG`` set so that every ``check`` call is recorded, and returns one row
  per (notebook, exercise); an exercise whose check never ran counts as not passed.

    nasbook course student OUT_DIR [--from notebooks]
    nasbook course grade SUBMISSIONS_DIR [--json] [--csv FILE]
"""
from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from pathlib import Path

SOLUTION_TAG = "solution"
_CHECK = re.compile(r"""check\(\s*["']([\w.]+)["']""")


def exercise_cells(number: int, ex_id: str, title: str, prompt: str, stub: str, solution: str,
                   answer: str) -> list:
    """The four cells of one exercise (for the notebook builder scripts).

    ``stub`` is the learner cell (define ``answer`` with ``...`` left to fill in), ``solution``
    the tagged reference, ``answer`` the name passed to ``check``.
    """
    import nbformat as nbf

    return [nbf.v4.new_markdown_cell(f"### Exercise {number} · {title}\n\n{prompt}"),
            nbf.v4.new_code_cell(stub),
            nbf.v4.new_code_cell(solution, metadata={"tags": [SOLUTION_TAG]}),
            nbf.v4.new_code_cell(f'check("{ex_id}", {answer});')]


def is_solution(cell) -> bool:
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def exercise_ids(nb) -> list[str]:
    """The exercise ids a notebook checks, in order."""
    ids = []
    for cell in nb.cells:
        if cell.cell_type == "code" and not is_solution(cell):
            ids += [m for m in _CHECK.findall(cell.source) if m not in ids]
    return ids


def student_copy(nb):
    """A copy of ``nb`` without solution cells and without outputs."""
    import nbformat as nbf

    out = nbf.from_dict(json.loads(json.dumps(nb)))
    out.cells = [c for c in out.cells if not is_solution(c)]
    for c in out.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    return out


def write_student_copies(src: str | Path, dst: str | Path) -> list[Path]:
    """Write student copies of every notebook in ``src`` into ``dst``; returns their paths."""
    import nbformat as nbf

    src, dst = Path(src), Path(dst)
    notebooks = sorted(src.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {src}")
    if dst.resolve() == src.resolve():
        raise ValueError("the student folder must differ from the teacher's folder")
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        nb = nbf.read(path, as_version=4)
        out = dst / path.name
        nbf.write(student_copy(nb), out)
        written.append(out)
    return written


def grade_notebook(path: str | Path, timeout: int = 600) -> list[dict]:
    """Execute one submission in a scratch folder; one row per exercise it should answer."""
    import nbformat as nbf
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbf.read(path, as_version=4)
    expected = exercise_ids(nb)
    with tempfile.TemporaryDirectory(prefix="nasbook-grade-") as tmp:
        log = Path(tmp) / "log.jsonl"
        old = os.environ.get("NASBOOK_GRADE_LOG")
        os.environ["NASBOOK_GRADE_LOG"] = str(log)
        try:
            NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                           resources={"metadata": {"path": tmp}}).execute()
        finally:
            if old is None:
                os.environ.pop("NASBOOK_GRADE_LOG", None)
            else:
                os.environ["NASBOOK_GRADE_LOG"] = old
        results = {}
        for line in log.read_text().splitlines() if log.exists() else []:
            r = json.loads(line)
            results[r["exercise"]] = r  # the last check of an exercise counts
    return [{"notebook": path.name, "exercise": ex,
             "ok": bool(results.get(ex, {}).get("ok", False)),
             "message": results.get(ex, {}).get("message", "never checked (the cell did not run)")}
            for ex in expected]


def grade(folder: str | Path, timeout: int = 600, progress: bool = True) -> list[dict]:
    """Grade every notebook under ``folder`` (recursively): a list of rows, see :func:`grade_notebook`."""
    from tqdm.auto import tqdm

    folder = Path(folder)
    paths = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not paths:
        raise FileNotFoundError(f"no notebooks (*.ipynb) under {folder}")
    rows = []
    for p in tqdm(paths, desc="grading", disable=not progress):
        for r in grade_notebook(p, timeout):
            r["notebook"] = str(p.relative_to(folder))
            rows.append(r)
    return rows


def summary(rows: list[dict]) -> dict[str, dict]:
    """Per notebook: exercises passed and total."""
    out: dict[str, dict] = {}
    for r in rows:
        s = out.setdefault(r["notebook"], {"passed": 0, "total": 0})
        s["total"] += 1
        s["passed"] += r["ok"]
    return out


# --- command line ------------------------------------------------------------------------------
