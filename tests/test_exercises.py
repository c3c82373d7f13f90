"""Every exercise checker accepts its reference solution and rejects each typical wrong answer
with a message; ``check`` logs to the grading file; unknown ids and unanswered cells are clear."""
import json

import pytest

from nasbook.exercises import ExerciseFailed, all_exercises, check, get

EXERCISES = all_exercises()


def test_every_notebook_has_two_to_four_exercises():
    per_nb = {}
    for ex in EXERCISES.values():
        per_nb[ex.notebook] = per_nb.get(ex.notebook, 0) + 1
    assert per_nb, "no exercises registered"
    assert all(2 <= n <= 4 for n in per_nb.values()), per_nb


@pytest.mark.parametrize("ex_id", sorted(EXERCISES))
def test_reference_accepted_and_wrong_answers_rejected(ex_id, capsys):
    ex = EXERCISES[ex_id]
    assert check(ex_id, ex.solution()) is True
    assert "correct" in capsys.readouterr().out
    wrong = ex.wrong()
    assert len(wrong) >= 2, f"{ex_id}: needs at least two wrong answers"
    for answer in wrong:
        with pytest.raises(ExerciseFailed) as err:
            check(ex_id, answer)
        message = str(err.value)
        assert message.startswith(ex_id) and len(message) > len(ex_id) + len(ex.title) + 10


def test_unanswered_and_crashing_answers_are_explained():
    ex_id = next(iter(EXERCISES))
    with pytest.raises(ExerciseFailed, match="not answered yet"):
        check(ex_id, ...)

    def stub(C, k=3):
        ...
    with pytest.raises(ExerciseFailed, match="not answered yet"):
        check("00.sep_conv_params", stub)

    def crashes(*args, **kwargs):
        raise ZeroDivisionError("boom")
    with pytest.raises(ExerciseFailed, match="ZeroDivisionError"):
        check("00.sep_conv_params", crashes)


def test_unknown_id_lists_known_ones():
    with pytest.raises(KeyError, match="00.derive_node"):
        get("00.no_such_exercise")


def test_grade_log(tmp_path, monkeypatch):
    log = tmp_path / "grades.jsonl"
    monkeypatch.setenv("NASBOOK_GRADE_LOG", str(log))
    ex = get("00.sep_conv_params")
    check(ex.id, ex.solution())
    with pytest.raises(ExerciseFailed):
        check(ex.id, ex.wrong()[0])
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["exercise"], r["ok"]) for r in rows] == [(ex.id, True), (ex.id, False)]
    assert "too small" in rows[1]["message"]


def test_a_wrong_answer_in_a_notebook_shows_one_red_line_and_no_traceback():
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from nasbook.exercises import check"),
                nbformat.v4.new_code_cell('check("01.nb201_size", 12)')]
    client = NotebookClient(nb, timeout=120, kernel_name="python3")
    with pytest.raises(CellExecutionError):
        client.execute()
    err = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert err and err[0].ename == "ExerciseFailed"  # the cell fails: graders and CI see it
    shown = "\n".join(err[0].traceback)
    assert "Traceback" not in shown and "nasbook/exercises" not in shown
    assert "01.nb201_size" in shown and "\x1b[1;31m" in shown and len(err[0].traceback) == 1
