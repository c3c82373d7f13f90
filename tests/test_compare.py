"""The comparison protocol: one row per method on the common budget, saved and plotted; the
committed table matches the current protocol."""
import json
from pathlib import Path

import pytest

from nasbook import compare
from nasbook.spaces import load_arch

REPO = Path(__file__).resolve().parents[1]


def test_one_method_row(tmp_path):
    row = compare.compare_one("spos", tmp_path / "runs", seed=0)
    assert row["method"] == "spos" and row["space"] == "nb201"
    # a single-trainer method takes exactly the common budget of weight steps
    assert row["search_steps"] == compare.EPOCHS * compare.STEPS_PER_EPOCH
    assert row["search_images"] == row["search_steps"] * compare.BATCH
    assert 0.0 <= row["accuracy"] <= 1.0 and row["search_s"] > 0
    # params and MACs are those of the retrained network, counted by the retrain summary
    from nasbook import retrain as R
    net, _ = R.build_net(load_arch(str(tmp_path / "runs" / "spos")), R.load_recipe(compare.RETRAIN_RECIPE, compare.RETRAIN))
    assert row["params"] == sum(p.numel() for n, p in net.named_parameters() if not n.startswith("auxiliary"))
    path = compare.save_results([row], tmp_path / "c.json")
    assert compare.load_results(path) == [row]
    fig = compare.plot_comparison([row])
    assert fig.axes[0].get_xlabel().startswith("search wall time")
    with pytest.raises(ValueError, match="unknown method"):
        compare.search_overrides("dartz")


def test_committed_table_matches_the_protocol():
    doc = json.loads((REPO / "figures" / "compare.json").read_text())
    assert [r["method"] for r in doc["rows"]] == list(compare.METHODS)
    assert doc["protocol"] == json.loads(json.dumps(
        {"batch": compare.BATCH, "steps_per_epoch": compare.STEPS_PER_EPOCH, "epochs": compare.EPOCHS,
         "budget": compare.BUDGET, "retrain_recipe": compare.RETRAIN_RECIPE, "retrain": compare.RETRAIN}))
