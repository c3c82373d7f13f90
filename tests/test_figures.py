"""``nasbook figures`` writes every figure, and writing them twice gives identical files."""
import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _figures(out: Path) -> subprocess.CompletedProcess:
    out.mkdir()
    shutil.copy(REPO / "figures" / "compare.json", out / "compare.json")
    return subprocess.run([sys.executable, "-m", "nasbook", "figures", "--out", str(out)], capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, PYTHONHASHSEED="random"))


def test_figures_are_deterministic_and_complete(tmp_path):
    a, b = _figures(tmp_path / "a"), _figures(tmp_path / "b")
    assert a.returncode == 0 and b.returncode == 0, a.stderr[-3000:] + b.stderr[-3000:]
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.svg"))
    names = {str(p) for p in files}
    from nasbook import zoo
    for name in zoo.names():  # every zoo architecture is drawn
        assert any(n.startswith(f"zoo/{name}") for n in names), name
    assert {"spaces/darts_params.svg", "spaces/mbconv_macs.svg", "spaces/nb201_accuracy.svg", "compare.svg"} <= names
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.svg"))
    # the committed figures/ (shown in the README) are the set this command writes
    assert files == sorted(p.relative_to(REPO / "figures") for p in (REPO / "figures").rglob("*.svg"))
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", [str(p) for p in files], shallow=False)
    assert not mismatch and not errors, mismatch + errors

