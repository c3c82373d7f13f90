"""Self-checking exercises: the registry, :func:`check`, and the grading log.

An exercise is a checker over a learner's answer (a value or a function) plus, for the tests
and for teachers, the reference solution and a few typical wrong answers. A notebook cell asks
``check("01.nb201_size", nb201_size)``; a correct answer prints a one-line confirmation, a wrong
one raises :class:`ExerciseFailed` (an ``AssertionError``) whose message says what is wrong,
so the learner sees it in red and an unattended run of an unanswered notebook stops there.

Every call to :func:`check` is also appended, as one JSON line, to the file named by the
environment variable ``NASBOOK_GRADE_LOG`` when it is set: ``nasbook course grade`` runs each
submitted notebook with that variable and reads the results back.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable

GRADE_LOG_ENV = "NASBOOK_GRADE_LOG"


class ExerciseFailed(AssertionError):
    """A learner's answer is wrong (or missing); the message says why.

    In Jupyter the learner sees only that message, in red (``_render_traceback_`` is IPython's
    hook for an exception's own rendering): no traceback through nasbook's code. The cell still
    fails, so an unattended run and a grader see it."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[1;31m✗ {self}\x1b[0m"]


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``checker(answer)`` raises :class:`ExerciseFailed` on a wrong answer.

    ``solution()`` returns the reference answer and ``wrong()`` a list of typical wrong
    answers; the test suite asserts that the checker accepts the first and rejects each of the
    others with a message.
    """

    id: str
    title: str
    checker: Callable[[Any], None]
    solution: Callable[[], Any]
    wrong: Callable[[], list]
    notebook: str = field(default="")


_REGISTRY: dict[str, Exercise] = {}


def exercise(id: str, title: str, solution: Callable[[], Any], wrong: Callable[[], list]):
    """Decorator registering ``checker`` as the exercise ``id`` (``"NN.name"``)."""
    if "." not in id:
        raise ValueError(f"exercise id {id!r} must look like 'NOTEBOOK.name'")

    def register(checker: Callable[[Any], None]) -> Callable[[Any], None]:
        if id in _REGISTRY:
            raise ValueError(f"exercise {id!r} is defined twice")
        _REGISTRY[id] = Exercise(id, title, checker, solution, wrong, notebook=id.split(".")[0])
        return checker

    return register


def fail(message: str) -> None:
    """Raise :class:`ExerciseFailed` with ``message`` (for use inside checkers)."""
    raise ExerciseFailed(message)


def _stub(*args, **kwargs):
    ...


def _unanswered(answer: Any) -> bool:
    """``None``, ``...``, or a function whose body is still just ``...`` (the learner cell's stub)."""
    code = getattr(answer, "__code__", None)
    return (answer is None or answer is Ellipsis
            or (code is not None and code.co_code == _stub.__code__.co_code and code.co_consts[:1] in ((None,), ())))


def check(id: str, answer: Any) -> bool:
    """Check ``answer`` to the exercise ``id``; print a confirmation or raise with a reason."""
    ex = get(id)
    try:
        if _unanswered(answer):
            fail("not answered yet: replace the `...` with your answer and run the cell again")
        ex.checker(answer)
    except ExerciseFailed as err:
        _log(id, False, str(err))
        raise ExerciseFailed(f"{id} ({ex.title}): {err}") from None
    except Exception as err:  # the learner's function crashed inside the checker
        msg = f"your answer raised {type(err).__name__}: {err}"
        _log(id, False, msg)
        raise ExerciseFailed(f"{id} ({ex.title}): {msg}") from err
    _log(id, True, "correct")
    print(f"✓ {id} ({ex.title}): correct")
    return True


def _log(id: str, ok: bool, message: str) -> None:
    path = os.environ.get(GRADE_LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"exercise": id, "ok": ok, "message": message}) + "\n")


def get(id: str) -> Exercise:
    """The exercise ``id``; a clear error lists the known ids of its notebook."""
    from . import _load_all

    _load_all()
    if id not in _REGISTRY:
        prefix = id.split(".")[0]
        near = sorted(k for k in _REGISTRY if k.startswith(prefix + ".")) or sorted(_REGISTRY)
        raise KeyError(f"no exercise {id!r}; known: {', '.join(near)}")
    return _REGISTRY[id]


def all_exercises() -> dict[str, Exercise]:
    """Every registered exercise, by id."""
    from . import _load_all

    _load_all()
    return dict(sorted(_REGISTRY.items()))


# --- small helpers for writing checkers -------------------------------------------------------

def expect_equal(got: Any, want: Any, what: str = "the answer", rel: float = 0.0) -> None:
    """Fail unless ``got == want`` (numbers within ``rel`` relative tolerance)."""
    if got is None or got is Ellipsis:
        fail(f"{what} gave None: not answered yet (fill in the `...`)")
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            fail(f"{what} should be a number, got {type(got).__name__}")
        if not math.isclose(got, want, rel_tol=rel, abs_tol=0 if rel else 1e-12):
            hint = "too large" if got > want else "too small"
            fail(f"{what} = {got!r} is {hint}")
        return
    if got != want:
        fail(f"{what} = {got!r} is not right")


def expect_callable(answer: Any, name: str) -> Callable:
    if not callable(answer):
        fail(f"pass the function {name} itself (not its result), e.g. check(..., {name})")
    return answer
