"""The layer order of the package (docs/architecture.md), checked by import-linter with the
contract in pyproject.toml: imports inside functions count, and no package has an import cycle."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
pytestmark = pytest.mark.skipif(not Path(LINT).exists(), reason="import-linter is not installed ([dev] extra)")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT, "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_the_layer_contract_holds():
    r = _lint(REPO)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "2 kept, 0 broken" in r.stdout


def test_an_import_from_a_lower_layer_breaks_it(tmp_path):
    """A drawing import inside an op's function (the kind of shortcut the contract exists for)."""
    shutil.copytree(REPO / "nasbook", tmp_path / "nasbook", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    ops = tmp_path / "nasbook" / "ops" / "cell_ops.py"
    ops.write_text(ops.read_text() + "\n\ndef _shortcut():\n    from ..viz import cells  # noqa: F401\n")
    r = _lint(tmp_path)
    assert r.returncode != 0
    assert "nasbook.ops is not allowed to import nasbook.viz" in r.stdout
