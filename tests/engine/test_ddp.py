"""DDP under torchrun: a tiny DARTS search on 2 CPU processes (gloo) finishes with the same
genotype on both ranks."""
import os
import re
import subprocess
import sys


def test_torchrun_two_processes_agree(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "nasbook", "search", "darts", "--preset", "tiny", "--out", str(tmp_path / "ddp"),
           "--epochs", "1", "--device", "cpu", "--set", "max_steps_per_epoch=3", "--set", "progress=false"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    found = dict(re.findall(r"rank (\d)/2 derived: (Genotype\(.*\))", p.stdout))
    assert set(found) == {"0", "1"}, p.stdout[-2000:]
    assert found["0"] == found["1"]
    # gradients (weights and alphas) are averaged by DDP: both replicas hold identical states
    digests = dict(re.findall(r"rank (\d)/2 parameters sha256: ([0-9a-f]+)", p.stdout))
    assert len(digests) == 2 and digests["0"] == digests["1"]
    assert (tmp_path / "ddp" / "arch.json").exists()
