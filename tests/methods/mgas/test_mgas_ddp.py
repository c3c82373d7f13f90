"""MGAS under torchrun (issue 6): pruning decisions (op, filter and weight masks) are taken
from DDP-synchronised scores and thresholds, so both ranks commit the same masks and derive
the same architecture."""
import os
import re
import subprocess
import sys


def test_two_ranks_commit_the_same_masks(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "nasbook", "search", "mgas", "--preset", "tiny", "--out", str(tmp_path / "ddp"), "--device", "cpu",
           "--set", "max_epochs_per_phase=2", "--set", "progress=false"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-3000:]
    derived = dict(re.findall(r"rank (\d)/2 derived: (MGASGenotype\(.*\))", p.stdout))
    digests = dict(re.findall(r"rank (\d)/2 parameters sha256: ([0-9a-f]+)", p.stdout))
    assert set(derived) == set(digests) == {"0", "1"}, p.stdout[-2000:]
    assert derived["0"] == derived["1"] and digests["0"] == digests["1"]
    # the run did prune: masks were committed (so the agreement above covers mask decisions)
    masked = int(re.search(r"([\d,]+) of [\d,]+ weights masked", derived["0"]).group(1).replace(",", ""))
    assert masked > 0
    assert (tmp_path / "ddp" / "arch.json").exists()
