"""The engine on a toy task: data streams, exact resume, hooks.

A tiny task whose step draws from every random stream the engine must restore (torch, numpy,
Python's ``random``, dropout), with a momentum optimiser, a per-step and a per-epoch scheduler,
EMA and task state. An uninterrupted run is the reference: a run stopped mid-epoch (and at an
epoch end) and resumed from its checkpoint must end bitwise equal to it.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from nasbook.data import make_loader
from nasbook.engine import EngineConfig, StopTraining, Task, Trainer
from nasbook.engine.checkpoint import load


def _data(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = torch.arange(n) % 3
    # the sample's index rides along as a feature so a test can see which samples a step saw
    return TensorDataset(torch.cat([x, torch.arange(n, dtype=torch.float32)[:, None]], 1), y)


class ToyTask(Task):
    streams = ("train", "arch")

    def __init__(self, record=None):
        self.model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
        self.alpha = nn.Parameter(torch.zeros(3))
        self.model.register_parameter("alpha", self.alpha)
        self.record = record if record is not None else []
        self.noise_sum = 0.0  # task state that the checkpoint must carry

    def optimizers(self):
        w = [p for n, p in self.model.named_parameters() if n != "alpha"]
        self.opt_w = torch.optim.SGD(w, lr=0.1, momentum=0.9, weight_decay=1e-3)
        self.opt_a = torch.optim.Adam([self.alpha], lr=0.05)
        return {"w": self.opt_w, "a": self.opt_a}

    def schedulers(self):
        return {"step": (torch.optim.lr_scheduler.StepLR(self.opt_w, 3, 0.5), "step"),
                "epoch": (torch.optim.lr_scheduler.ExponentialLR(self.opt_a, 0.7), "epoch")}

    def training_step(self, batches, ctx):
        (xw, yw), (xa, ya) = batches["train"], batches["arch"]
        self.record.append((xw[:, -1].long().tolist(), xa[:, -1].long().tolist()))
        # the architecture step sees the arch batch only
        self.opt_a.zero_grad()
        loss_a = nn.functional.cross_entropy(self.model[:-1](xa[:, :-1]) @ torch.ones(8, 3) + self.alpha, ya)
        loss_a.backward()
        self.opt_a.step()
        # every RNG the engine claims to restore is drawn from here
        noise = torch.rand(()).item() + float(np.random.rand()) + random.random()
        self.noise_sum += noise
        self.opt_w.zero_grad()
        loss = nn.functional.cross_entropy(self.model[:-1](xw[:, :-1]).mul(1 + 0.01 * noise) @ torch.ones(8, 3)
                                           + self.model[-1](self.model[:-1](xw[:, :-1])), yw)
        loss.backward()
        ctx.optimizer_step(self.opt_w, clip=self.model.parameters())
        return {"loss": loss.item()}

    def state_dict(self):
        return {"noise_sum": self.noise_sum}

    def load_state_dict(self, state):
        self.noise_sum = state["noise_sum"]


def _loaders(n_train=40, n_arch=10, bs=5):
    ds = _data(n_train + n_arch)
    return {"train": make_loader(ds, bs, seed=3, indices=range(n_train), stream=0),
            "arch": make_loader(ds, bs, seed=3, indices=range(n_train, n_train + n_arch), stream=1)}


def _cfg(**kw):
    base = dict(epochs=3, seed=11, progress=False, log_every=1, grad_clip=5.0, ema_decay=0.9)
    base.update(kw)
    return EngineConfig(**base)


def _fit(tmp, resume=False, record=None, hooks=(), **kw):
    if not resume:
        torch.manual_seed(5)  # the initial weights are part of the run (nasbook.search seeds before building)
    task = ToyTask(record)
    trainer = Trainer(task, _loaders(), _cfg(**kw), tmp, hooks)
    trainer.fit(resume=resume)
    return task, trainer


# -- streams ----------------------------------------------------------------------------------
def test_an_epoch_is_one_pass_over_the_first_stream_and_the_others_are_redrawn(tmp_path):
    rec = []
    _fit(tmp_path, record=rec, epochs=2, ema_decay=None)
    assert len(rec) == 2 * 8  # 40 weight samples / batch 5, although the arch split has only 2 batches
    for epoch in range(2):
        seen_w = sorted(i for w, _ in rec[8 * epoch: 8 * epoch + 8] for i in w)
        assert seen_w == list(range(40))  # every weight sample exactly once per epoch
        passes = [sorted(i for k in (2 * p, 2 * p + 1) for i in rec[8 * epoch + k][1]) for p in range(4)]
        assert all(p == list(range(40, 50)) for p in passes)  # each arch pass: every arch sample once
    orders = [tuple(i for k in (2 * p, 2 * p + 1) for i in rec[k][1]) for p in range(4)]
    assert len(set(orders)) == 4  # each re-draw is a fresh order, not the same one replayed


def test_entrannas_imagenet_split_runs_every_weight_step(tmp_path):
    """EnTranNAS's ImageNet protocol samples 10% / 2.5% of each class: the epoch must be a pass
    over the (4x larger) weight subset, not end when the architecture subset runs out."""
    from nasbook.methods.entrannas.method import EnTranNASSearch
    from nasbook.search import make_config

    cfg = make_config("entrannas", "tiny", {"class_fractions": [0.4, 0.1], "batch_size": 32})
    loaders, _ = EnTranNASSearch.search_loaders(cfg)
    n_w, n_a = len(loaders["train"].sampler.indices), len(loaders["arch"].sampler.indices)
    assert n_w >= 3.5 * n_a
    rec = []

    class Count(ToyTask):
        def training_step(self, batches, ctx):
            rec.append(1)
            return {}

    t = Trainer(Count(), {k: loaders[k] for k in ("train", "arch")}, _cfg(epochs=1, ema_decay=None))
    t.fit()
    assert len(rec) == -(-n_w // 32)


# -- exact resume ---------------------------------------------------------------------------
def _same_state(a: Trainer, b: Trainer):
    for (k, x), (_, y) in zip(a.task.model.state_dict().items(), b.task.model.state_dict().items()):
        assert torch.equal(x, y), k
    for k in a.optimizers:
        sa, sb = a.optimizers[k].state_dict(), b.optimizers[k].state_dict()
        assert sa["param_groups"] == sb["param_groups"]
        for i in sa["state"]:
            for name, v in sa["state"][i].items():
                assert torch.equal(torch.as_tensor(v), torch.as_tensor(sb["state"][i][name])), (k, i, name)
    for k in a.schedulers:
        assert a.schedulers[k][0].state_dict() == b.schedulers[k][0].state_dict()
    for (k, x), (_, y) in zip(a.ema.state_dict().items(), b.ema.state_dict().items()):
        assert torch.equal(x, y), "ema " + k
    assert a.task.noise_sum == b.task.noise_sum
    assert (a.epoch, a.step_in_epoch, a.global_step) == (b.epoch, b.step_in_epoch, b.global_step)


@pytest.mark.parametrize("stop", [5, 8, 13])  # mid-epoch (with a mid-epoch checkpoint), an epoch end, mid-epoch
def test_a_killed_run_resumes_to_the_uninterrupted_run(tmp_path, stop):
    ref_rec, rec = [], []
    ref_task, ref = _fit(tmp_path / "ref", record=ref_rec)
    ref_rng = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    _fit(tmp_path / "run", record=rec, stop_after_steps=stop, checkpoint_every=1)
    pos = load(tmp_path / "run" / "checkpoint.pt")["position"]
    # the kill comes right after a checkpoint: mid-epoch ones, or the epoch's own at step 8
    assert pos["global_step"] == stop
    # the run is killed: a fresh process state, then resume from the folder
    torch.manual_seed(999); np.random.seed(999); random.seed(999)
    rec_after = []
    task, tr = _fit(tmp_path / "run", resume=True, record=rec_after)
    _same_state(ref, tr)
    assert torch.equal(ref_rng[0], torch.get_rng_state())
    assert (ref_rng[1] == np.random.get_state()[1]).all() and ref_rng[2] == random.getstate()
    # the resumed run saw exactly the batches the uninterrupted one saw after the checkpoint
    assert rec_after == ref_rec[len(ref_rec) - len(rec_after):]
    assert len(rec_after) == 24 - pos["global_step"]
    # the metrics log has no duplicated or lost steps
    steps = [r["step"] for r in tr.history if r["event"] == "step"]
    assert steps == list(range(1, 25))


def test_resume_without_checkpoint_every_loses_only_the_partial_epoch(tmp_path):
    _fit(tmp_path, stop_after_steps=11)  # killed in epoch 2: the last checkpoint is epoch 1's end
    assert load(tmp_path / "checkpoint.pt")["position"] == {"epoch": 1, "step_in_epoch": 0, "global_step": 8}
    _, ref = _fit(tmp_path / "ref")
    _, tr = _fit(tmp_path, resume=True)
    _same_state(ref, tr)


def test_schedulers_step_at_their_interval(tmp_path):
    task, tr = _fit(tmp_path, epochs=2, ema_decay=None)
    assert tr.schedulers["step"][0].last_epoch == 16  # once per step
    assert tr.schedulers["epoch"][0].last_epoch == 2  # once per epoch
    assert task.opt_w.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** (16 // 3))
    assert task.opt_a.param_groups[0]["lr"] == pytest.approx(0.05 * 0.7 ** 2)


def test_ema_is_the_exponential_average_of_the_weights(tmp_path):
    seen = []
    tr_box = {}

    def hook(event, info):
        if event == "step":
            seen.append([p.detach().clone() for p in tr_box["t"].task.model.parameters()])

    task = ToyTask()
    tr = Trainer(task, _loaders(), _cfg(epochs=1, ema_decay=0.9), None, [hook])
    tr_box["t"] = tr
    tr.fit()
    # EMA_1 = w_1, EMA_k = 0.9 EMA_{k-1} + 0.1 w_k (torch's AveragedModel convention)
    expect = seen[0]
    for w in seen[1:]:
        expect = [0.9 * e + 0.1 * x for e, x in zip(expect, w)]
    for e, p in zip(expect, tr.ema.module.parameters()):
        assert torch.allclose(e, p, atol=1e-6)


def test_gradient_clipping_bounds_the_update(tmp_path):
    """With grad_clip=c, the clipped gradient norm handed to the optimiser is <= c."""
    norms = []

    class Big(ToyTask):
        def training_step(self, batches, ctx):
            x, y = batches["train"]
            self.opt_w.zero_grad()
            loss = 1e4 * nn.functional.cross_entropy(self.model(x[:, :-1]), y)
            loss.backward()
            params = [p for n, p in self.model.named_parameters() if n != "alpha"]
            orig = torch.nn.utils.get_total_norm([p.grad for p in params])
            ctx.optimizer_step(self.opt_w, clip=params)
            norms.append((orig.item(), torch.nn.utils.get_total_norm([p.grad for p in params]).item()))
            return {}

    Trainer(Big(), _loaders(), _cfg(epochs=1, grad_clip=0.5, ema_decay=None)).fit()
    assert all(o > 0.5 for o, _ in norms)
    assert all(c == pytest.approx(0.5, rel=1e-4) for _, c in norms)


def test_hooks_fire_in_order_and_can_stop_the_run(tmp_path):
    events = []

    def hook(event, info):
        events.append((event, info.get("step")))
        if event == "step" and info["step"] == 12:
            raise StopTraining

    _fit(tmp_path, hooks=[hook], ema_decay=None)
    assert events[:9] == [("step", i) for i in range(1, 9)] + [("epoch", 8)]
    assert events[9:] == [("step", i) for i in range(9, 13)]  # stopped: no epoch 2 end, no "end"
    events.clear()
    _fit(tmp_path / "b", hooks=[lambda e, i: events.append(e)], epochs=1, ema_decay=None)
    assert events == ["step"] * 8 + ["epoch", "end"]


def test_a_fresh_run_in_an_old_folder_starts_over(tmp_path):
    _fit(tmp_path, epochs=1, ema_decay=None)
    _, a = _fit(tmp_path, epochs=1, ema_decay=None)  # resume=False: the old checkpoint is ignored
    _, b = _fit(tmp_path / "b", epochs=1, ema_decay=None)
    for x, y in zip(a.task.model.state_dict().values(), b.task.model.state_dict().values()):
        assert torch.equal(x, y)
    assert [r["step"] for r in a.history if r["event"] == "step"] == list(range(1, 9))


# -- phases ---------------------------------------------------------------------------------------
def test_phases_each_run_in_their_folder_with_their_own_data_order(tmp_path):
    from nasbook.engine.phases import Phases

    phases = Phases(tmp_path)
    recs = {}
    for k in range(2):
        rec = []
        torch.manual_seed(5)
        t = phases.fit(ToyTask(rec), _loaders(), _cfg(epochs=1, ema_decay=None), k, f"p{k}")
        assert phases.completed(t) and (tmp_path / "phases" / f"{k}-p{k}" / "checkpoint.pt").exists()
        recs[k] = rec
    assert recs[0] != recs[1]  # phase 1 draws its own order ...
    again = []
    torch.manual_seed(5)
    Phases(tmp_path / "again").fit(ToyTask(again), _loaders(), _cfg(epochs=1, ema_decay=None), 1, "p1")
    assert again == recs[1]   # ... a function of (seed, stream, phase) only
    assert phases.latest(["p0", "p1", "p2"]) == 1 and Phases(tmp_path / "none").latest(["p0"]) is None
    stopped = phases.fit(ToyTask(), _loaders(), _cfg(epochs=1, ema_decay=None, stop_after_steps=3), 2, "p2")
    assert not phases.completed(stopped)


def test_device_selection(monkeypatch):
    from nasbook.engine import select_device

    assert select_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert select_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="no CUDA device"):
            select_device("cuda")
    for bad in ("tpu", "gpu", "cuda:x", ""):
        with pytest.raises(ValueError, match="expected auto, cpu, cuda, cuda:N or mps"):
            select_device(bad)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the index comes from torchrun's LOCAL_RANK
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert select_device("cuda") == torch.device("cuda", 3)
    assert select_device("auto") == torch.device("cuda", 3)
    assert select_device("cuda:1") == torch.device("cuda", 1)
