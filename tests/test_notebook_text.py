"""Notebooks are kept as text: each ``notebooks/X.ipynb`` is paired with a jupytext percent
script ``notebooks/X.py`` (the source of truth in review; JupyterLab with jupytext saves both).
The two must hold the same cells, with their tags (``parameters``, ``solution``), and a
``jupytext --sync`` round trip must change nothing."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
from jupytext.compare import compare_notebooks  # noqa: E402

NB = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NB.glob("*.ipynb"))


def test_every_notebook_has_its_text_twin_and_no_orphans():
    assert len(NOTEBOOKS) >= 11
    assert {p.stem for p in NOTEBOOKS} == {p.stem for p in NB.glob("*.py") if p.name != "conftest.py"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_ipynb_and_py_hold_the_same_cells_and_tags(path):
    ipynb = jupytext.read(path)
    text = jupytext.read(path.with_suffix(".py"))
    assert ipynb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    compare_notebooks(text, ipynb, "py:percent")  # raises on any difference of cells or tags
    tags = [c.metadata.get("tags", []) for c in ipynb.cells]
    assert tags == [c.metadata.get("tags", []) for c in text.cells]
    assert ["parameters"] in tags  # the papermill parameters cell survives the pairing


def test_sync_round_trip_changes_nothing(tmp_path):
    for p in NOTEBOOKS:
        shutil.copy(p, tmp_path / p.name)
        shutil.copy(p.with_suffix(".py"), tmp_path / p.with_suffix(".py").name)
    before = {p.name: json.loads(p.read_text()) for p in tmp_path.glob("*.ipynb")}
    for p in sorted(tmp_path.glob("*.ipynb")):
        r = subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(p)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    after = {p.name: json.loads(p.read_text()) for p in tmp_path.glob("*.ipynb")}
    for name in before:
        strip = lambda nb: [(c["cell_type"], c["source"], c.get("metadata", {}).get("tags"), c.get("id"))  # noqa: E731
                            for c in nb["cells"]]
        assert strip(after[name]) == strip(before[name]), name
