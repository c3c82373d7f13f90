"""DARTS: Differentiable Architecture Search (Liu, Simonyan, Yang, ICLR 2019).

The super-net puts every candidate op on every edge and mixes them with a softmax over
architecture parameters alpha (Eq. 2, the *weighted-sum* super-net). Weights w and alpha
are trained in alternation on the two halves of the training set (Eq. 3-4):

* first order: alpha <- alpha - eta_a * grad_alpha L_val(w, alpha)
* second order (Eq. 7-8): grad_alpha L_val(w - xi grad_w L_train(w, alpha), alpha), with the
  Hessian-vector product replaced by a finite difference at w +- eps * grad_w' L_val.

Derivation (Sec. 2.4): each intermediate node keeps its two strongest incoming edges, an
edge's strength being its largest non-``none`` softmax weight, and the argmax op on each.
The pieces here (MixedOp, SearchCell, CellSupernet, derive_genotype) are reused by
EnTranNAS and MGAS. Presets, provenance and fidelity notes: docs/methods/darts.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call

from ..config import SearchConfig
from ..ops.cell_ops import PRIMITIVES, FactorizedReduce, ReLUConvBN, make_op
from ..spaces.darts import Genotype
from .base import SearchMethod


class MixedOp(nn.Module):
    """All candidate ops of one edge; ``forward(x, w)`` is sum_k w_k op_k(x) (DARTS Eq. 2)."""

    def __init__(self, c: int, stride: int, primitives: Sequence[str] = PRIMITIVES):
        super().__init__()
        self.ops = nn.ModuleList()
        for name in primitives:
            op = make_op(name, c, stride, affine=False)
            if "pool" in name:  # DARTS code: pooling in search is followed by a BN (affine=False)
                op = nn.Sequential(op, nn.BatchNorm2d(c, affine=False))
            self.ops.append(op)

    def forward(self, x, weights):
        return sum(w * op(x) for w, op in zip(weights, self.ops))


class SearchCell(nn.Module):
    """A super-net cell: 2 inputs, ``steps`` nodes, every edge i -> j a MixedOp."""

    def __init__(self, steps: int, multiplier: int, c_pp: int, c_p: int, c: int, reduction: bool,
                 reduction_prev: bool, primitives: Sequence[str] = PRIMITIVES):
        super().__init__()
        self.reduction, self.steps, self.multiplier = reduction, steps, multiplier
        self.preprocess0 = FactorizedReduce(c_pp, c, affine=False) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0, affine=False)
        self.edges = nn.ModuleList(
            MixedOp(c, 2 if reduction and src < 2 else 1, primitives)
            for j in range(steps) for src in range(j + 2))

    def forward(self, s0, s1, weights):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for j in range(self.steps):
            states.append(sum(self.edges[offset + i](h, weights[offset + i]) for i, h in enumerate(states)))
            offset += len(states) - 1
        return torch.cat(states[-self.multiplier:], dim=1)


def num_edges(steps: int) -> int:
    return sum(j + 2 for j in range(steps))


class CellSupernet(nn.Module):
    """The DARTS search network: stem, ``layers`` cells (reductions at L/3 and 2L/3), classifier.

    ``cell_factory(c_pp, c_p, c, reduction, reduction_prev)`` builds each cell, so that other
    cell-based methods reuse this skeleton. Architecture parameters ``alphas_normal`` and
    ``alphas_reduce`` (edges x ops) are ``nn.Parameter``s of this module, initialised as
    1e-3 * N(0, 1) (DARTS code), so that DDP, AMP and checkpoints treat them like weights.
    """

    def __init__(self, C: int, num_classes: int, layers: int, steps: int = 4, multiplier: int = 4,
                 stem_multiplier: int = 3, in_channels: int = 3, primitives: Sequence[str] = PRIMITIVES,
                 cell_factory: Callable | None = None):
        super().__init__()
        self.C, self.layers, self.steps, self.multiplier = C, layers, steps, multiplier
        self.primitives = tuple(primitives)
        c_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        factory = cell_factory or (lambda c_pp, c_p, c, red, red_prev: SearchCell(
            steps, multiplier, c_pp, c_p, c, red, red_prev, self.primitives))
        c_pp, c_p, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            self.cells.append(factory(c_pp, c_p, c_curr, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, multiplier * c_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)
        k = num_edges(steps)
        self.alphas_normal = nn.Parameter(1e-3 * torch.randn(k, len(self.primitives)))
        self.alphas_reduce = nn.Parameter(1e-3 * torch.randn(k, len(self.primitives)))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alphas_normal, self.alphas_reduce]

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def cell_weights(self, reduction: bool) -> torch.Tensor:
        return torch.softmax(self.alphas_reduce if reduction else self.alphas_normal, dim=-1)

    def forward(self, x):
        s0 = s1 = self.stem(x)
        w_normal, w_reduce = self.cell_weights(False), self.cell_weights(True)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, w_reduce if cell.reduction else w_normal)
        return self.classifier(torch.flatten(self.global_pooling(s1), 1))


def derive_cell(weights: torch.Tensor, steps: int = 4, primitives: Sequence[str] = PRIMITIVES,
                k: int = 2) -> list[list[tuple[str, int]]]:
    """DARTS Sec. 2.4 for one cell: per node the ``k`` incoming edges with the largest
    non-``none`` weight, each with its argmax non-``none`` op. Nodes list pairs by edge
    strength, strongest first, as the DARTS code does."""
    w = weights.detach().float().cpu()
    none = primitives.index("none") if "none" in primitives else None
    nodes, start = [], 0
    for j in range(steps):
        n = j + 2
        rows = w[start:start + n].clone()
        if none is not None:
            rows[:, none] = -float("inf")
        strength = rows.max(dim=1).values
        order = sorted(range(n), key=lambda i: -strength[i].item())[:k]
        nodes.append([(primitives[int(rows[i].argmax())], i) for i in order])
        start += n
    return nodes


def derive_genotype(model: CellSupernet) -> Genotype:
    concat = list(range(2 + model.steps - model.multiplier, model.steps + 2))
    return Genotype(derive_cell(model.cell_weights(False), model.steps, model.primitives), concat,
                    derive_cell(model.cell_weights(True), model.steps, model.primitives), concat)


@dataclass
class DartsConfig(SearchConfig):
    """DARTS search settings; ``paper`` preset values from DARTS Sec. 3.1 / A.1.1 (which field
    is the paper's, the code's or ours: docs/methods/darts.md, "Provenance")."""

    C: int = 16
    layers: int = 8
    steps: int = 4
    multiplier: int = 4
    stem_multiplier: int = 3
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    arch_lr: float = 3e-4
    arch_weight_decay: float = 1e-3
    arch_betas: tuple[float, float] = (0.5, 0.999)
    order: str = "first"   # first | second (DARTS V1 | V2)
    unrolled_eps: float = 0.01  # finite-difference radius numerator (Eq. 8: eps = 0.01 / ||grad||)

    def __post_init__(self):
        if self.order not in ("first", "second"):
            raise ValueError(f"order must be 'first' or 'second', got {self.order!r}")


class DartsSearch(SearchMethod):
    """DARTS as an engine task: alternating architecture and weight steps."""

    key = "darts"
    Config = DartsConfig

    def __init__(self, cfg: DartsConfig, info):
        super().__init__(cfg, info)
        self.model = self.build_supernet(cfg, info)

    @staticmethod
    def build_supernet(cfg, info) -> CellSupernet:
        return CellSupernet(cfg.C, info.num_classes, cfg.layers, cfg.steps, cfg.multiplier, cfg.stem_multiplier,
                            info.in_channels)

    def optimizers(self):
        cfg = self.cfg
        self._opts = {
            "weights": torch.optim.SGD(self.model.weight_parameters(), cfg.lr, momentum=cfg.momentum,
                                       weight_decay=cfg.weight_decay),
            "arch": torch.optim.Adam(self.model.arch_parameters(), cfg.arch_lr, betas=tuple(cfg.arch_betas),
                                     weight_decay=cfg.arch_weight_decay),
        }
        return self._opts

    def schedulers(self):
        # cosine annealing of the weight learning rate from lr to lr_min over the search
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(self._opts["weights"], self.cfg.epochs, eta_min=self.cfg.lr_min)
        return {"weights": (cos, "epoch")}

    def training_step(self, batches, ctx):
        opts = self._opts
        x_t, y_t = ctx.to_device(batches["train"])
        x_v, y_v = ctx.to_device(batches["arch"])
        crit = nn.functional.cross_entropy
        # 1) architecture step on the validation half (Eq. 3)
        opts["arch"].zero_grad(set_to_none=True)
        if self.cfg.order == "second":
            self._unrolled_arch_grad(x_t, y_t, x_v, y_v, opts["weights"], ctx)
            arch_loss = torch.tensor(float("nan"))
        else:
            with ctx.autocast():
                arch_loss = crit(ctx.model(x_v), y_v)
            ctx.backward(arch_loss)
        ctx.optimizer_step(opts["arch"])
        # 2) weight step on the training half (Eq. 4), gradient norm clipped at 5
        opts["weights"].zero_grad(set_to_none=True)
        with ctx.autocast():
            logits = ctx.model(x_t)
            loss = crit(logits, y_t)
        ctx.backward(loss)
        self.model.alphas_normal.grad = self.model.alphas_reduce.grad = None
        ctx.optimizer_step(opts["weights"], clip=self.model.weight_parameters())
        acc = (logits.argmax(1) == y_t).float().mean()
        return {"loss": loss.detach(), "arch_loss": arch_loss.detach(), "acc": acc}

    def _unrolled_arch_grad(self, x_t, y_t, x_v, y_v, w_opt, ctx):
        """Second-order gradient of DARTS Eq. 7-8, written into the alphas' ``.grad``."""
        from ..engine.distributed import all_reduce_mean

        model, crit = self.model, nn.functional.cross_entropy
        names = [n for n, p in model.named_parameters() if p is not model.alphas_normal and p is not model.alphas_reduce]
        params = dict(model.named_parameters())
        weights = [params[n] for n in names]
        alphas = model.arch_parameters()
        buffers = {n: b.clone() for n, b in model.named_buffers()}  # virtual steps must not move BN stats
        group = w_opt.param_groups[0]
        xi, mom, wd = group["lr"], group["momentum"], group["weight_decay"]

        def loss_at(ws, x, y):
            p = {**dict(zip(names, ws)), "alphas_normal": alphas[0], "alphas_reduce": alphas[1]}
            return crit(functional_call(model, ({**params, **p}, buffers), (x,)), y)

        # w' = w - xi * (momentum * buf + grad L_train + wd * w)   (the DARTS code's virtual step)
        g = torch.autograd.grad(loss_at(weights, x_t, y_t), weights)
        w_prime = []
        for w, gw in zip(weights, g):
            buf = w_opt.state.get(w, {}).get("momentum_buffer")
            step = gw + wd * w.detach() + (mom * buf if buf is not None else 0)
            w_prime.append((w.detach() - xi * step).requires_grad_())
        lv = loss_at(w_prime, x_v, y_v)
        grads = torch.autograd.grad(lv, alphas + w_prime, allow_unused=True, materialize_grads=True)
        d_alpha, d_w = grads[:2], grads[2:]
        # finite-difference Hessian-vector product (Eq. 8)
        eps = self.cfg.unrolled_eps / torch.cat([d.flatten() for d in d_w]).norm()
        plus = [w.detach() + eps * d for w, d in zip(weights, d_w)]
        minus = [w.detach() - eps * d for w, d in zip(weights, d_w)]
        gp = torch.autograd.grad(loss_at(plus, x_t, y_t), alphas, allow_unused=True, materialize_grads=True)
        gm = torch.autograd.grad(loss_at(minus, x_t, y_t), alphas, allow_unused=True, materialize_grads=True)
        for a, da, p_, m_ in zip(alphas, d_alpha, gp, gm):
            a.grad = da - xi * (p_ - m_) / (2 * eps)
        all_reduce_mean([a.grad for a in alphas])  # this step bypasses DDP's gradient hooks

    def derive(self) -> Genotype:
        return derive_genotype(self.model)

    def on_epoch_end(self, epoch, ctx):
        g = self.derive()
        return {"genotype": g.to_dict(),
                "alphas_normal": self.model.cell_weights(False).tolist(),
                "alphas_reduce": self.model.cell_weights(True).tolist()}

    def summary(self):
        return {"primitives": list(self.model.primitives)}
