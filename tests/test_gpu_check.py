"""scripts/gpu_check.py, the project's one GPU check, dry-run on a CPU at the tiny presets so
that it cannot rot (the full check needs a GPU; see the script's --help)."""
from __future__ import annotations

import importlib.util
import io
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAST = ["spos/paper", "mgas/imagenet_mobilenet_like_nasbook", "retrain/darts-cifar10"]  # in the script's order
FIELDS = {"name", "preset", "status", "step_s", "max_memory_allocated_MiB", "images_per_s", "amp", "channels_last",
          "batch_size", "paper_batch_size", "gpu", "torch", "cuda", "paper_gpu_days", "extrapolated_gpu_days",
          "steps_per_epoch", "epochs"}


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_help_says_what_is_measured(capsys):
    gc = _load()
    with pytest.raises(SystemExit) as e:
        gc.main(["--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for word in ("step time", "max_memory_allocated", "images/s", "GPU-days", "minutes", "--budget-s"):
        assert word in text, word


def test_cpu_dry_run_writes_records_and_table(tmp_path, capsys):
    gc = _load()
    out = tmp_path / "results"
    doc = gc.main(["--device", "cpu", "--steps", "1", "--warmup", "1", "--scale", "tiny",
                   "--only", ",".join(FAST), "--out", str(out), "--json"])
    printed = json.loads(capsys.readouterr().out)
    files = list(out.glob("gpu-*-cpu.json"))
    assert len(files) == 1
    saved = json.loads(files[0].read_text())
    assert printed["records"] == saved["records"] == doc["records"]
    recs = saved["records"]
    assert [r["name"] for r in recs] == FAST  # one record per preset, in the script's order
    for r in recs:
        assert r["status"] == "ok", r
        assert FIELDS <= set(r), FIELDS - set(r)
        assert math.isfinite(r["step_s"]) and r["step_s"] > 0
        assert r["images_per_s"] == pytest.approx(r["batch_size"] / r["step_s"])
        assert r["amp"] is False and r["max_memory_allocated_MiB"] is None  # CPU: no AMP, no CUDA memory
        assert r["extrapolated_gpu_days"] is None or math.isfinite(r["extrapolated_gpu_days"])
    assert saved["environment"]["device"] == "cpu" and saved["environment"]["torch"]
    buf = io.StringIO()
    gc.print_table(saved, file=buf)
    table = buf.getvalue()
    assert "step_s" in table and "paper_gpu_days" in table and "extrapolated_gpu_days" in table
    for name in FAST:
        assert name in table


def test_paper_costs_and_entries():
    gc = _load()
    names = [e.name for e in gc.ENTRIES]
    assert names[0] == "darts/paper" and len(set(names)) == len(names)
    from nasbook.methods import METHODS

    assert {n.split("/")[0] for n in names} >= set(METHODS)  # every method's paper preset is checked
    assert gc.PAPER_GPU_DAYS["darts/paper"] == 4.0 and gc.PAPER_GPU_DAYS["darts/paper-first"] == 1.5
    with pytest.raises(SystemExit):
        gc.select("no-such-preset")


def test_ddp_script_runs_in_one_process(tmp_path):
    """The DDP check's search script, run here without torchrun (the 2-GPU run needs 2 GPUs)."""
    import os
    import subprocess

    gc = _load()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run(gc.ddp_command(tmp_path / "run", "cpu", nproc=0), capture_output=True, text=True,
                       timeout=240, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "rank 0/1 ok" in p.stdout and (tmp_path / "run" / "arch.json").exists()
    assert "--nproc_per_node=2" in gc.ddp_command(tmp_path / "run2")
