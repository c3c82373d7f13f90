"""The NSE round loop end to end at a very small size: rounds run through the engine, the state
is saved per round, a killed run resumed reaches the same final front; the round reset; the
latency table as the constraint (docs/methods/nse.md, 5.4, Sec. 12 checks 9-13)."""
import json

import torch

from nasbook.cli import main as cli_main
from nasbook.data import dataset_info
from nasbook.methods.nse import NSESearch
from nasbook.methods.nse.cost import CostModel
from nasbook.methods.nse.latency import arch_latency, measure_table, space_keys
from nasbook.search import make_config, search
from nasbook.spaces import load_arch

# 2 rounds (5-op pool, K = 3), 3 steps a round, a small held-out split and few candidates
SMALL = dict(progress=False, epochs=1, max_steps_per_epoch=3, batch_size=16, train_portion=0.9,
             pool_ops=[0, 3, 9, 21, 22], K=3, counts=[1, 0, 1, 0, 0, 0], widths=[8, 8, 8, 8, 8, 8, 8],
             head_width=16, num_candidates=4, num_lower=2, bn_recal_batches=1, checkpoint_every=1, log_every=1)


def test_rounds_state_files_and_resume_after_a_killed_round(tmp_path):
    full = search("nse", "tiny", tmp_path / "full", SMALL)
    task = full.method
    assert task.state.round == 2 == task.total_rounds()
    saved = json.loads((tmp_path / "full" / "nse_state.json").read_text())
    assert saved["state"]["front"] == task.state.front and len(saved["records"]) == 2
    for rec in saved["records"]:
        # P_l is the per-layer union of the front; lower-band competitors never survive
        union = [sorted({o for f in rec["front"] for o in f["arch"][l]}) for l in range(len(rec["retained"]))]
        assert rec["retained"] == union
        lower = {(c, t) for c, t, role in rec["candidates"] if role == "lower"}
        assert not {(f["cost"], f["top1"]) for f in rec["front"]} & lower
        lo, hi = rec["window"]
        assert all(lo < f["cost"] < hi for f in rec["front"])
    assert any(role == "lower" for rec in saved["records"] for _, _, role in rec["candidates"])
    assert all(len(s) <= 3 for s in task.state.subsets)
    arch = load_arch(tmp_path / "full")  # the run folder holds the derived value
    assert arch == full.arch and arch.pool == "MAC-27"
    (tmp_path / "full" / "arch.json").unlink()   # `nasbook derive` re-derives it from the saved round state
    assert cli_main(["derive", str(tmp_path / "full"), "--no-draw"]) == 0
    assert load_arch(tmp_path / "full") == full.arch

    # killed in the middle of round 1 (global step 5 of 6), then resumed: same final front
    killed = search("nse", "tiny", tmp_path / "kill", {**SMALL, "stop_after_steps": 5})
    assert killed.method.state.round == 1 and (tmp_path / "kill" / "phases" / "1-round" / "checkpoint.pt").exists()
    resumed = search("nse", "tiny", tmp_path / "kill", {"stop_after_steps": None}, resume=True)
    assert resumed.method.state.front == task.state.front
    assert resumed.method.state.subsets == task.state.subsets and resumed.arch == full.arch


def test_derive_a_run_stopped_before_its_first_front(tmp_path):
    """Before round 0 ends there is no Pareto front: `nasbook derive` rebuilds the round's
    super-net from its checkpoint and derives what the search itself wrote."""
    stopped = search("nse", "tiny", tmp_path / "run", {**SMALL, "stop_after_steps": 2})
    assert not stopped.method.state.front
    (tmp_path / "run" / "arch.json").unlink()
    assert cli_main(["derive", str(tmp_path / "run"), "--no-draw"]) == 0
    assert load_arch(tmp_path / "run") == stopped.arch


def test_round_reset_and_warm_start():
    cfg = make_config("nse", "tiny", {**SMALL, "warm_start": False})
    task = NSESearch(cfg, dataset_info("digits"))
    old = {k: v.clone() for k, v in task.model.state_dict().items()}
    with torch.no_grad():
        for p in task.model.parameters():
            p.add_(1.0)  # "trained" weights and alpha
    trained = {k: v.clone() for k, v in task.model.state_dict().items()}
    state = task.state.copy()
    state.retained = [s[:1] for s in state.subsets]
    state.round = 1
    task.start_round(state, trained)
    new = task.model.state_dict()
    assert torch.count_nonzero(task.model.alpha) == 0
    convs = [k for k in new if k.endswith("conv.weight") and k.startswith("layers.")]
    assert all(not torch.equal(new[k], trained[k]) for k in convs)
    assert all(torch.equal(new[k], torch.ones_like(new[k])) for k in new if k.endswith("bn.weight"))
    assert torch.equal(new["head.classifier.weight"], trained["head.classifier.weight"])  # the code's FC quirk
    assert abs(float(new[convs[0]].std()) - float(old[convs[0]].std())) < 0.5 * float(old[convs[0]].std())
    task.cfg.warm_start = True
    task.start_round(state, trained)
    new = task.model.state_dict()
    for l, ops in enumerate(state.retained):
        for k in new:
            if k.startswith(f"layers.{l}.ops.{ops[0]}."):
                assert torch.equal(new[k], trained[k])


def test_latency_table_as_the_constraint(tmp_path):
    cfg = make_config("nse", "tiny", SMALL)
    info = dataset_info("digits")
    keys = space_keys(cfg, info)
    table = measure_table(keys, batch=2, device="cpu", reps=1, progress=False)
    assert set(table) == set(keys) and all(v > 0 for v in table.values())
    lut = tmp_path / "table.json"
    lut.write_text(json.dumps({"entries": table}))
    task = NSESearch(make_config("nse", "tiny", {**SMALL, "cost": "latency", "target": 1.0,
                                                  "latency_table": str(lut)}), info)
    assert task.cost.kind == "latency"
    arch = [tuple(s) for s in task.state.subsets]
    # the table cost of a multi-branch architecture: its ops' entries, adds, head
    got = task.cost.arch_cost(arch)
    assert got > task.cost.fixed > 0
    one = [a[:1] if a else a for a in arch]
    assert task.cost.arch_cost(one) < got
    _, expected = task.model(torch.randn(2, 1, 8, 8), pairs=task.sample_pairs())  # the penalty's C_hat
    assert task.cost.fixed < float(expected.detach()) < got
    # the command line writes a table that a search can load
    out = tmp_path / "lut.json"
    assert cli_main(["latency", "measure", "--preset", "tiny", "--batch", "2", "--reps", "1", "--limit", "3",
                     "--device", "cpu", "--quiet", "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    assert len(d["entries"]) == 3 and d["meta"]["batch"] == 2
    # the table's latency of a released architecture follows Sec. 5.4: every conv, one add per op
    # in an N layer, |A| - 1 adds in an R/E layer, plus stem, head conv, pool and classifier
    from nasbook import zoo
    from nasbook.methods.nse.cost import op_convs
    from nasbook.spaces.nse_pools import MB_19

    gpu = zoo.get("nsenet_gpu").arch
    ones = {k: 1.0 for k in CostModel(MB_19, gpu.layer_specs(), 224, 3, 2, 1024, 1000, "flops").table_keys(gpu.layers)}
    ones["linear:1024:1000"] = 1.0
    expect = 4 + sum(len(op_convs(MB_19[o], sp.c_in, sp.c_out, sp.stride, 8)) + (sp.kind == "N")
                     for sp, ids in zip(gpu.layer_specs(), gpu.layers) for o in ids) \
        + sum(len(ids) - 1 for sp, ids in zip(gpu.layer_specs(), gpu.layers) if sp.kind != "N")
    assert arch_latency(gpu, ones) == expect
    assert arch_latency(gpu, ones, count_stem=False) == expect - 1
