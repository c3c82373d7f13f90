"""pyproject.toml and environment.yml agree; the package ships its presets."""
import re
import tomllib
from importlib import resources
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _names(reqs):
    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].strip().lower() for r in reqs}


def test_environment_yml_agrees_with_pyproject():
    pp = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = env["dependencies"]
    py = [d for d in deps if isinstance(d, str) and d.startswith("python")]
    assert py == ["python" + pp["requires-python"]]
    pip = [d for d in deps if isinstance(d, dict)][0]["pip"]
    # versions live in one place: the pip section installs the package itself with its dev extras
    assert pip == ["-e .[dev]"]
    assert "graphviz" in deps  # the dot binary, which pip cannot provide
    required = {"torch", "torchvision", "jupyterlab", "ipywidgets", "matplotlib", "networkx", "graphviz"}
    assert required <= _names(pp["dependencies"])
    assert {"pytest", "nbmake"} <= _names(pp["optional-dependencies"]["dev"])
    assert pp["scripts"]["nasbook"] == "nasbook.cli:main"


def test_torch_is_pinned_exactly():
    """an unpinned torch makes pip download a multi-GB build."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    torch = [d for d in deps if d.startswith("torch")]
    assert torch and all("==" in d for d in torch)


def test_presets_are_package_data():
    names = {p.name for p in resources.files("nasbook.methods.presets").iterdir()}
    assert "darts.yaml" in names


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()
