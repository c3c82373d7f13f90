"""Exercises of ``04_imagenet_retraining.ipynb``: a recipe's learning-rate schedule, and the loss
floor that label smoothing and the auxiliary head put under the training loss."""
from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from .. import retrain as R
from .core import expect_callable, expect_equal, exercise, fail


# --- 04.lr_at: the schedule as a function of the epoch -----------------------------------------

def _lr_function(step_from_warmup_end=False, cosine_ignores_warmup=False, warmup_from_zero=False):
    """The schedule of ``R.lr_at`` written out; each flag is one typical mistake."""
    def lr(cfg, t):
        base, W, E = cfg.base_lr(), cfg.lr_warmup_epochs, cfg.epochs
        if cfg.schedule() == "pcdarts_linear":      # PC-DARTS adjust_lr: decays from epoch 0
            e = math.floor(t)
            rate = base * (E - 5 - e) / (E - 5) if E - e > 5 else base * (E - e) / ((E - 5) * 5)
            return rate * (e if warmup_from_zero else e + 1) / W if W > 0 and e < W else rate
        if W > 0 and t < W:
            if cfg.lr_interval == "epoch":          # set once per epoch: (e + 1) / W of the base lr
                e = math.floor(t)
                return base * (e if warmup_from_zero else e + 1) / W
            return cfg.lr_warmup_init + (base - cfg.lr_warmup_init) * t / W
        kind = cfg.schedule()
        if kind == "step":                           # counted from t = 0, warm-up included
            gamma = cfg.lr_gamma if cfg.lr_gamma is not None else cfg.lr_decay
            every = cfg.lr_step_epochs if cfg.lr_step_epochs is not None else cfg.lr_decay_epochs
            since = t - W if step_from_warmup_end else t
            return base * gamma ** math.floor(since / every + 1e-9)
        u = t / E if cosine_ignores_warmup else (t - W) / (E - W)   # progress after the warm-up
        u = min(max(u, 0.0), 1.0)
        if kind == "cosine":
            return cfg.lr_min + (base - cfg.lr_min) * (1 + math.cos(math.pi * u)) / 2
        return base * (1 - u)
    return lr


def _lr_wrong():
    return [_lr_function(step_from_warmup_end=True),      # the staircase restarts after the warm-up
            _lr_function(cosine_ignores_warmup=True),     # decay measured from epoch 0, not from W
            _lr_function(warmup_from_zero=True)]          # per-epoch warm-up that starts at lr 0


def _times(cfg):
    """Times to test: whole epochs for ``lr_interval: epoch``, fractions too for ``step``; never
    exactly on a staircase boundary (where rounding decides)."""
    E, W = cfg.epochs, cfg.lr_warmup_epochs
    whole = sorted({0, 1, 2, 3, int(W), int(W) + 1, int(W) + 7, E // 3, E // 2, E - 2, E - 1})
    ts = [float(t) for t in whole if 0 <= t < E]
    if cfg.lr_interval == "step":
        ts += [0.25, W / 2, W - 0.1, W + 0.1, W + 3.7, E / 3 + 0.3, E - 0.6]
    every = cfg.lr_step_epochs if cfg.lr_step_epochs is not None else cfg.lr_decay_epochs
    if cfg.schedule() == "step" and every:
        ts = [t for t in ts if abs(t / every - round(t / every)) > 1e-6 or t == 0]
    return sorted(t for t in set(ts) if 0 <= t < E)


def _phase(cfg, t) -> str:
    if cfg.lr_warmup_epochs > 0 and t < cfg.lr_warmup_epochs:
        return f"inside the {cfg.lr_warmup_epochs:g}-epoch warm-up (lr_interval {cfg.lr_interval!r})"
    return f"after the warm-up, {cfg.schedule()} schedule"


@exercise("04.lr_at", "the learning rate of a recipe at epoch t", lambda: _lr_function(), _lr_wrong)
def check_lr_at(lr):
    lr = expect_callable(lr, "lr")
    for name in R.recipes():
        cfg = R.load_recipe(name)
        for t in _times(cfg):
            want = R.lr_at(cfg, t)
            got = lr(cfg, t)
            if got is None:
                fail(f"lr(cfg, {t:g}) returned None for recipe {name}: not answered yet (fill in the `...`)")
            expect_equal(float(got), want, f"recipe {name} at t = {t:g} epochs ({_phase(cfg, t)}): lr", rel=1e-9)


# --- 04.loss_floor: how low can the training loss go? ------------------------------------------

def _floor_solution():
    def loss_floor(cfg, num_classes):
        # the best prediction is the smoothed target q itself; the loss is then its entropy H(q)
        eps, K = cfg.label_smoothing, num_classes
        true, other = 1 - eps + eps / K, eps / K
        h = -true * math.log(true) - ((K - 1) * other * math.log(other) if eps > 0 else 0.0)
        # the auxiliary head is trained towards the same q and its loss is added with its weight
        return h * (1 + (cfg.auxiliary_weight if cfg.auxiliary else 0.0))
    return loss_floor


def _floor_wrong():
    def forgets_aux(cfg, num_classes):
        eps, K = cfg.label_smoothing, num_classes
        true, other = 1 - eps + eps / K, eps / K
        return -true * math.log(true) - ((K - 1) * other * math.log(other) if eps > 0 else 0.0)

    def eps_over_k_minus_1(cfg, num_classes):  # the other convention: 1 - eps on the true class
        eps, K = cfg.label_smoothing, num_classes
        other = eps / (K - 1)
        h = -(1 - eps) * math.log(1 - eps) - ((K - 1) * other * math.log(other) if eps > 0 else 0.0)
        return h * (1 + (cfg.auxiliary_weight if cfg.auxiliary else 0.0))

    def zero(cfg, num_classes):  # "a perfect network reaches loss 0"
        return 0.0
    return [forgets_aux, eps_over_k_minus_1, zero]


def _reference_floor(cfg, K: int) -> float:
    """RetrainTask's own loss at its minimiser: logits = log q for both heads."""
    eps = cfg.label_smoothing
    q = torch.full((1, K), eps / K, dtype=torch.float64)
    q[0, 0] += 1 - eps
    logits = q.log()
    out = (logits, logits.clone()) if cfg.auxiliary else logits
    return float(R.RetrainTask.loss(SimpleNamespace(cfg=cfg), out, torch.zeros(1, dtype=torch.long)))


@exercise("04.loss_floor", "the training-loss floor under label smoothing", _floor_solution, _floor_wrong)
def check_loss_floor(loss_floor):
    loss_floor = expect_callable(loss_floor, "loss_floor")
    for name in ("darts-imagenet", "darts-cifar10", "fewshot_nl-mobilenet"):
        for eps in (0.1, 0.0, 0.3):
            cfg = R.load_recipe(name, {"label_smoothing": eps})
            for K in (10, 1000, 2):
                head = "with" if cfg.auxiliary else "without"
                got, want = loss_floor(cfg, K), _reference_floor(cfg, K)
                if isinstance(got, (int, float)) and abs(got - want) <= 1e-9 + 1e-6 * abs(want):
                    continue  # (absolute slack: without smoothing the floor is exactly 0)
                expect_equal(got, want, f"loss_floor for {name} ({head} auxiliary head), "
                             f"label_smoothing={eps:g}, {K} classes", rel=1e-6)
