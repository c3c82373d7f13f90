"""EnTranNAS and EnTranNAS-DST as an engine task (docs/methods/entrannas.md,
"Search procedure").

One iteration (our order [I]; [S] says the derivation happens at the end of each
iteration):

1. derive ``S`` from (alpha, beta), without gradient;
2. from epoch ``warmup_epochs`` on: cross-entropy on a batch of the architecture half, Adam
   step on alpha (and beta for DST), first order ([I]);
3. re-derive ``S``;
4. cross-entropy on a batch of the weight half, SGD step on the weights, norm clipped at 5.

Steps 1 and 3 happen inside every forward of :class:`EnTranNASSupernet`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...config import SearchConfig
from ...ops.cell_ops import PARAMETER_FREE
from ...spaces.darts import Genotype
from ..base import SearchMethod
from .supernet import EnTranNASSupernet, check_engine_cells, engine_cells_at, primitives_for


@dataclass
class EnTranNASConfig(SearchConfig):
    """EnTranNAS search settings. Defaults are the CIFAR-10 values of the ``paper`` preset;
    every field the paper leaves open is marked "ours" ([I]; docs/methods/entrannas.md,
    "Provenance")."""

    # super-net (DARTS / PC-DARTS layout [B])
    C: int = 16
    layers: int = 8
    steps: int = 4
    multiplier: int = 4
    stem_multiplier: int = 3
    stem: str = "cifar"              # cifar | imagenet (three stride-2 convs, PC-DARTS ImageNet search)
    # the method
    derive: str = "top2"             # top2 (EnTranNAS) | dst (EnTranNAS-DST)
    engine_position: str = "first"   # ours [I]: first | last cell of each type
    engine_cells: list[int] | None = None  # ours: explicit Engine-cell indices, overrides engine_position
    allow_no_engine: bool = False    # testing flag (engine_cells: []): no arch gradient at all
    tau: float = 1.0                 # ours [I]: softmax temperature, constant
    beta_init: float = 0.0           # ours [I]: t_j = sigmoid(0) = 0.5
    dst_norm: str = "edge"           # ours [I], literal survey Eq. 22: renormalise per edge | node
    dst_none_mode: str = "drop"      # ours [I], as ISTA-NAS: drop 'none' (7 ops) | mask it
    # weights ([I] from PC-DARTS / ISTA-NAS [B])
    lr: float = 0.1
    lr_min: float = 0.0
    lr_warmup_epochs: int = 0        # linear warm-up of the weight lr (ImageNet search: 5)
    momentum: float = 0.9
    weight_decay: float = 3e-4
    # architecture ([I] from PC-DARTS / ISTA-NAS [B])
    arch_lr: float = 6e-4
    arch_weight_decay: float = 1e-3
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_grad_clip: float | None = None
    warmup_epochs: int = 15          # epochs of weight-only training before arch updates
    # data: per-class fractions (weights, architecture) of the training set, PC-DARTS ImageNet
    # search ([B]: 0.1, 0.025); None: the DARTS split by ``train_portion``
    class_fractions: tuple[float, float] | None = None

    def __post_init__(self):
        primitives_for(self.derive, self.dst_none_mode)  # validates both
        if self.dst_norm not in ("edge", "node"):
            raise ValueError(f"dst_norm must be 'edge' or 'node', got {self.dst_norm!r}")
        if self.stem not in ("cifar", "imagenet"):
            raise ValueError(f"stem must be 'cifar' or 'imagenet', got {self.stem!r}")
        if self.tau <= 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")
        check_engine_cells(self.layers, self.resolved_engine_cells(), self.allow_no_engine)

    def resolved_engine_cells(self) -> list[int]:
        if self.engine_cells is not None:
            return list(self.engine_cells)
        return engine_cells_at(self.layers, self.engine_position)


def weight_lr_factor(epoch: int, epochs: int, lr: float, lr_min: float, warmup: int) -> float:
    """The weight lr of ``epoch`` as a factor of ``lr``: cosine annealing from ``lr`` to
    ``lr_min`` over ``epochs``; in the first ``warmup`` epochs the linear ramp
    ``lr * (epoch + 1) / warmup`` *replaces* it, as the PC-DARTS ImageNet search code sets
    ``param_group['lr'] = lr * (epoch + 1) / 5`` from the base lr, not from the cosine value."""
    if warmup > 0 and epoch < warmup:
        return (epoch + 1) / warmup
    cos = lr_min + (lr - lr_min) * 0.5 * (1 + math.cos(math.pi * min(epoch, epochs) / epochs))
    return cos / lr


class EnTranNASSearch(SearchMethod):
    """EnTranNAS (top-2 on every iteration) and EnTranNAS-DST (learnable thresholds)."""

    key = "entrannas"
    Config = EnTranNASConfig

    def __init__(self, cfg: EnTranNASConfig, info):
        super().__init__(cfg, info)
        self.model = self.build_supernet(cfg, info)

    @staticmethod
    def build_supernet(cfg: EnTranNASConfig, info) -> EnTranNASSupernet:
        return EnTranNASSupernet(cfg.C, info.num_classes, cfg.layers, cfg.steps, cfg.multiplier, cfg.stem_multiplier,
                                 info.in_channels, cfg.derive, cfg.resolved_engine_cells(), cfg.tau, cfg.beta_init,
                                 cfg.dst_norm, cfg.dst_none_mode, cfg.stem, cfg.allow_no_engine)

    @classmethod
    def search_loaders(cls, cfg: EnTranNASConfig):
        """The DARTS split, or with ``class_fractions`` a random per-class sample of the
        training set for each stream (the PC-DARTS ImageNet protocol; docs/methods/entrannas.md,
        "Presets")."""
        from ...data import get_dataset, make_loader
        from ...data.subsets import dataset_targets, per_class_split
        from ...engine import distributed as D
        if cfg.class_fractions is None:
            return super().search_loaders(cfg)
        rank, world = D.world()
        train, info = get_dataset(cfg.dataset, "train", cfg.data, cfg.download, cfg.resolution)
        w_idx, a_idx = per_class_split(dataset_targets(train), cfg.class_fractions, cfg.seed)
        return {"train": make_loader(train, cfg.batch_size, cfg.seed, w_idx, True, cfg.workers, rank, world, 0),
                "arch": make_loader(train, cfg.batch_size, cfg.seed, a_idx, True, cfg.workers, rank, world, 1),
                "valid": make_loader(train, cfg.batch_size, cfg.seed, a_idx, False, cfg.workers, rank, world, 2)}, info

    def optimizers(self):
        cfg = self.cfg
        self._opts = {
            "weights": torch.optim.SGD(self.model.weight_parameters(), cfg.lr, momentum=cfg.momentum,
                                       weight_decay=cfg.weight_decay),
            # alpha and beta in one Adam group ([I])
            "arch": torch.optim.Adam(self.model.arch_parameters(), cfg.arch_lr, betas=tuple(cfg.arch_betas),
                                     weight_decay=cfg.arch_weight_decay),
        }
        return self._opts

    def schedulers(self):
        cfg = self.cfg
        sched = torch.optim.lr_scheduler.LambdaLR(
            self._opts["weights"],
            lambda e: weight_lr_factor(e, cfg.epochs, cfg.lr, cfg.lr_min, cfg.lr_warmup_epochs))
        return {"weights": (sched, "epoch")}

    def training_step(self, batches, ctx):
        cfg, opts, crit = self.cfg, self._opts, nn.functional.cross_entropy
        x_t, y_t = ctx.to_device(batches["train"])
        arch_loss = torch.tensor(float("nan"))
        if ctx.epoch >= cfg.warmup_epochs:  # 2) architecture step (first order)
            x_v, y_v = ctx.to_device(batches["arch"])
            opts["arch"].zero_grad(set_to_none=True)
            with ctx.autocast():
                arch_loss = crit(ctx.model(x_v), y_v)
            ctx.backward(arch_loss)
            clip = self.model.arch_parameters() if cfg.arch_grad_clip else None
            ctx.optimizer_step(opts["arch"], clip=clip, clip_norm=cfg.arch_grad_clip)
        # 4) weight step; the forward re-derives S from the updated parameters (step 3)
        opts["weights"].zero_grad(set_to_none=True)
        with ctx.autocast():
            logits = ctx.model(x_t)
            loss = crit(logits, y_t)
        ctx.backward(loss)
        for a in self.model.arch_parameters():
            a.grad = None
        ctx.optimizer_step(opts["weights"], clip=self.model.weight_parameters())
        acc = (logits.argmax(1) == y_t).float().mean()
        return {"loss": loss.detach(), "arch_loss": arch_loss.detach(), "acc": acc,
                "op_evals": float(self.model.last_op_evals)}

    def derive(self) -> Genotype:
        normal, reduce = self.model.derived_cells()
        m = self.model
        concat = list(range(2 + m.steps - m.multiplier, m.steps + 2))
        return Genotype(normal, concat, reduce, concat)

    @torch.no_grad()
    def on_epoch_end(self, epoch, ctx):
        """Per-epoch record for the teaching plots (docs/methods/entrannas.md,
        "Search procedure"): genotype, softmax weights,
        thresholds and fan-in (DST), parameter-free ops in the derived normal cell."""
        m, g = self.model, self.derive()
        out = {"genotype": g.to_dict(),
               "alphas_normal": m.cell_weights(False).tolist(),
               "alphas_reduce": m.cell_weights(True).tolist(),
               "active_pairs": sum(len(n) for n in g.normal + g.reduce),
               "parameter_free_normal": sum(op in PARAMETER_FREE or op == "skip_connect" for op, _ in g.flat("normal"))}
        if m.derive_mode == "dst":
            for cell, red in (("normal", False), ("reduce", True)):
                w = m.dst(red)
                out[f"thresholds_{cell}"] = w.t.tolist()
                out[f"qhat_{cell}"] = w.qhat.tolist()
                out[f"pairs_per_node_{cell}"] = [len(n) for n in getattr(g, cell)]
        return out

    def summary(self):
        m = self.model
        return {"primitives": list(m.primitives), "derive": m.derive_mode, "engine_cells": m.engine_cells,
                "tau": m.tau, "dst_norm": m.dst_norm if m.derive_mode == "dst" else None}
