"""The command-line contract of ``benchmarks/``: every script prints a table, and with ``--json``
exactly one JSON object holding all its figures. Run in-process at their smallest settings; no
figure is asserted (tests never time anything), only the output's shape."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
QUICK = ["--device", "cpu", "--iters", "1", "--warmup", "0"]
ARGS = {
    "darts_supernet": QUICK + ["--skip-paper", "--tiny-batch", "2"],
    "entrannas_vs_darts": QUICK + ["--batch", "2", "--C", "4"],
    "fewshot_cost": QUICK + ["--C", "4", "--cells", "1"],
    "metakernels_vs_weighted_sum": QUICK + ["--backbone", "mk-tiny", "--resolution", "32", "--batch", "2"],
    "mgas_memory": ["--settings", "tiny,mobile-tiny", "--batch", "2"],
    "nse_round_cost": QUICK + ["--ks", "1,2"],
    "peer_nb201": QUICK + ["--smoke"],
    "retrain_throughput": QUICK + ["--batch", "2", "--resolution", "32"],
}


def test_every_script_is_covered():
    scripts = {p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_")}
    assert scripts == set(ARGS)


def _load(name):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


def _numbers(x):
    if isinstance(x, dict):
        return [n for v in x.values() for n in _numbers(v)]
    if isinstance(x, list):
        return [n for v in x for n in _numbers(v)]
    return [x] if isinstance(x, (int, float)) and not isinstance(x, bool) else []


@pytest.mark.parametrize("name", sorted(ARGS))
def test_table_and_one_json_object(name, capsys):
    threads = torch.get_num_threads()
    mod = _load(name)
    try:
        mod.main(ARGS[name] + ["--json"])
        out = capsys.readouterr().out
        obj = json.loads(out)                       # the whole output is one JSON value ...
        assert isinstance(obj, dict) and len(_numbers(obj)) >= 4   # ... an object with its figures
        mod.main(ARGS[name])
        table = capsys.readouterr().out
    finally:
        torch.set_num_threads(threads)
    with pytest.raises(json.JSONDecodeError):
        json.loads(table)
    assert len(table.strip().splitlines()) >= 3
