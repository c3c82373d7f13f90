"""The zoo's golden complexity file (like pycls's): every published architecture is recounted
and must match ``nasbook/zoo/complexity.json`` exactly, and the paper's own figure where one
was published within the listing's tolerance. A changed count is a changed network."""
import json
from importlib import resources

import pytest

from nasbook import zoo
from nasbook.zoo_listing import TOLERANCE, count

GOLDEN = json.loads(resources.files("nasbook.zoo").joinpath("complexity.json").read_text())["entries"]


def test_every_zoo_entry_has_a_golden_count_and_no_golden_count_is_orphaned():
    assert set(GOLDEN) == set(zoo.names())


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_zoo_entry_counts_match_the_golden_file_and_the_paper(name):
    got, want = count(name), GOLDEN[name]
    assert (got["dataset"], got["params"], got["macs"]) == (want["dataset"], want["params"], want["macs"])
    rep = zoo.get(name).meta.get("reported", {})
    if "params_m" in rep:
        assert abs(got["params"] / 1e6 - rep["params_m"]) <= TOLERANCE * rep["params_m"]
    if "macs_m" in rep:
        assert abs(got["macs"] / 1e6 - rep["macs_m"]) <= TOLERANCE * rep["macs_m"]


def test_resolve_prefers_a_file_and_refuses_an_unknown_name(tmp_path, monkeypatch):
    from nasbook.spaces import arch_to_dict

    assert zoo.resolve("darts_v2") == zoo.get("darts_v2").arch
    (tmp_path / "darts_v2").write_text(json.dumps(arch_to_dict(zoo.get("pc_darts").arch)))
    monkeypatch.chdir(tmp_path)
    assert zoo.resolve("darts_v2") == zoo.get("pc_darts").arch  # a file of that name wins
    with pytest.raises(ValueError):
        zoo.resolve("no_such_net")
