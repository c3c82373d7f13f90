"""The Meta Kernels search as an engine task (docs/methods/metakernels.md-3.4).

    for each batch of the weight split D_w:
        weight step: SGD (Nesterov) on CE, α/β fixed
        after the warm-up epochs: one architecture step on the next batch of D_a (cycled):
            Adam on CE + λ · cost(E[MACs](α, β), T)        first order

Everything beyond the meta-kernel idea itself is our reconstruction ([O] in the spec); each
such choice is a field of :class:`MetaKernelsConfig` with the spec's default.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

from ...config import SearchConfig
from ...spaces.mbconv import BACKBONES, Backbone, MBConvArch, arch_macs
from ..base import SearchMethod
from .derive import derive_arch
from .supernet import ChainSupernet, architecture_loss


@dataclass
class MetaKernelsConfig(SearchConfig):
    """Meta Kernels search settings. Defaults are the spec's ``paper`` values (Sec. 3.2)."""

    # space (Sec. 2) [O]
    backbone: str = "mk-b0"                 # mk-b0 | mk-mbv2 | mk-tiny | proxyless
    kernels: list[int] | None = None        # candidate depthwise sizes; None: the backbone's {3,5,7}
    expansions: list[int] | None = None     # candidate expansion ratios; None: the backbone's {1..6}
    skip: bool = True                       # depth search through skippable layers (Sec. 1.5)
    # parameterisation (Sec. 1.3-1.6) [O]/[I]
    kernel_weights: str = "independent"     # independent | shared
    kernel_groups: int | str = 1            # 1 | per_unit (MixConv-like; not derivable yet)
    relaxation: str = "softmax"             # softmax | gumbel
    tau: float = 1.0                        # softmax temperature; initial τ for gumbel
    tau_decay: float = 0.0                  # τ = tau * exp(-tau_decay * epoch) (gumbel: 0.045)
    supernet: str = "meta"                  # meta | weighted_sum (the multi-path baseline)
    # schedule (Sec. 3.2) [O]
    warmup_epochs: int = 4                  # weights only, α/β frozen, cost term off
    lr_per_256: float = 0.1                 # SGD lr = lr_per_256 * global batch / 256
    lr_min: float = 0.0
    lr_warmup_epochs: float = 1.0           # linear lr warm-up, then cosine to lr_min
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 4e-5              # conv / FC weights only
    arch_lr: float = 1e-3
    arch_betas: tuple[float, float] = (0.5, 0.999)
    arch_weight_decay: float = 0.0
    # cost (Sec. 3.2-3.3) [O]
    target_mflops: float = 357.0            # T in millions of MACs ("FLOPs", Sec. 2.5); the paper's 357M [P]
    cost_form: str = "target"               # target | log | fbnet
    cost_lambda: float = 0.2
    fbnet_a: float = 0.2
    fbnet_b: float = 0.6
    # BN (Sec. 3.2)
    bn_momentum: float = 0.1
    bn_eps: float = 1e-5

    def __post_init__(self):
        checks = {"kernel_weights": ("independent", "shared"), "relaxation": ("softmax", "gumbel"),
                  "supernet": ("meta", "weighted_sum"), "cost_form": ("target", "log", "fbnet"),
                  "kernel_groups": (1, "per_unit")}
        for k, allowed in checks.items():
            if getattr(self, k) not in allowed:
                raise ValueError(f"{k} must be one of {allowed}, got {getattr(self, k)!r}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {list(BACKBONES)}, got {self.backbone!r}")
        if self.target_mflops <= 0 or self.tau <= 0:
            raise ValueError("target_mflops and tau must be positive")
        self.make_backbone()  # validates kernels / expansions

    def make_backbone(self) -> Backbone:
        """The backbone with this config's candidate sets."""
        bb = BACKBONES[self.backbone]
        kw = {"skip": self.skip}
        if self.kernels is not None:
            kw["kernels"] = tuple(self.kernels)
        if self.expansions is not None:
            kw["expansions"] = tuple(self.expansions)
        return dataclasses.replace(bb, **kw)

    def temperature(self, epoch: int) -> float:
        return self.tau * math.exp(-self.tau_decay * epoch)


class MetaKernelsSearch(SearchMethod):
    """Meta Kernels (Chen et al., arXiv 1912.04749): candidate kernels merged into one meta kernel."""

    key = "metakernels"
    Config = MetaKernelsConfig
    streams = ("train", "arch")
    # D_a (20%) is cycled under D_w (80%) by the engine: an epoch is one pass over D_w

    def __init__(self, cfg: MetaKernelsConfig, info):
        super().__init__(cfg, info)
        self.backbone = cfg.make_backbone()
        self.model = ChainSupernet(self.backbone, info.num_classes, info.in_channels, info.resolution,
                                   block=cfg.supernet, kernel_weights=cfg.kernel_weights,
                                   kernel_groups=cfg.kernel_groups, relaxation=cfg.relaxation,
                                   bn_eps=cfg.bn_eps, bn_momentum=cfg.bn_momentum)

    # -- optimisers ------------------------------------------------------------------------
    def optimizers(self):
        cfg = self.cfg
        decay, no_decay = [], []
        for p in self.model.weight_parameters():  # weight decay on conv / FC weights only (Sec. 3.2)
            (decay if p.dim() > 1 else no_decay).append(p)
        self._opts = {
            "weights": torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                                        {"params": no_decay, "weight_decay": 0.0}],
                                       lr=cfg.lr_per_256, momentum=cfg.momentum, nesterov=cfg.nesterov),
            "arch": torch.optim.Adam(self.model.arch_parameters(), cfg.arch_lr, betas=tuple(cfg.arch_betas),
                                     weight_decay=cfg.arch_weight_decay),
        }
        return self._opts

    def learning_rate(self, step: int, steps_per_epoch: int, world: int = 1) -> float:
        """Linear warm-up for ``lr_warmup_epochs``, then cosine to ``lr_min`` at the last step.
        A pure function of the global step, so resuming restores it exactly."""
        cfg = self.cfg
        base = cfg.lr_per_256 * cfg.batch_size * world / 256
        t, warm, total = step / steps_per_epoch, cfg.lr_warmup_epochs, cfg.epochs
        if t < warm:
            return base * (step + 1) / (warm * steps_per_epoch)
        frac = (t - warm) / max(total - warm, 1e-9)
        return cfg.lr_min + (base - cfg.lr_min) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))

    # -- one step --------------------------------------------------------------------------
    def training_step(self, batches, ctx):
        cfg, model, opts = self.cfg, self.model, self._opts
        crit = nn.functional.cross_entropy
        model.tau = cfg.temperature(ctx.epoch)
        lr = self.learning_rate(ctx.step, ctx.trainer.steps_per_epoch(), ctx.trainer.world)
        for group in opts["weights"].param_groups:
            group["lr"] = lr
        # 1) weight step on D_w, architecture fixed
        x, y = ctx.to_device(batches["train"])
        opts["weights"].zero_grad(set_to_none=True)
        with ctx.autocast():
            logits = ctx.model(x)
            loss = crit(logits, y)
        ctx.backward(loss)
        ctx.optimizer_step(opts["weights"], clip=model.weight_parameters() if cfg.grad_clip else None)
        out = {"loss": loss.detach(), "acc": (logits.argmax(1) == y).float().mean(), "lr": lr, "tau": model.tau}
        # 2) architecture step on D_a after the warm-up (first order)
        if ctx.epoch >= cfg.warmup_epochs:
            xa, ya = ctx.to_device(batches["arch"])
            opts["arch"].zero_grad(set_to_none=True)
            with ctx.autocast():
                ce = crit(ctx.model(xa).float(), ya)
            e_macs = model.expected_macs(model.last_probs)
            arch_loss = architecture_loss(ce, e_macs, cfg.target_mflops * 1e6, cfg.cost_form, cfg.cost_lambda,
                                          cfg.fbnet_a, cfg.fbnet_b)
            ctx.backward(arch_loss)
            ctx.optimizer_step(opts["arch"])
            out.update(arch_loss=arch_loss.detach(), arch_ce=ce.detach())
        with torch.no_grad():
            out["e_mflops"] = float(model.expected_macs()) / 1e6
        return out

    # -- results ---------------------------------------------------------------------------
    def derive(self) -> MBConvArch:
        return derive_arch(self.model)

    def arch_state(self) -> dict:
        """What the notebook and the log track: p, q̃, E[MACs], the argmax architecture and its MACs."""
        with torch.no_grad():
            probs = self.model.probabilities()
            arch = self.derive() if self.cfg.kernel_groups == 1 else None
            out = {"kernel_probs": [p.tolist() for p, _ in probs], "width_probs": [q.tolist() for _, q in probs],
                   "e_mflops": float(self.model.expected_macs(probs)) / 1e6, "tau": self.model.tau}
        if arch is not None:
            out["arch"] = [str(c) for c in arch.layers]
            out["arch_mflops"] = self._macs(arch) / 1e6
        return out

    def _macs(self, arch: MBConvArch) -> int:
        m = self.model
        return arch_macs(arch, m.num_classes, m.in_channels, m.resolution)

    def on_epoch_end(self, epoch, ctx):
        return self.arch_state()

    @torch.no_grad()
    def summary(self):
        arch = self.derive()
        bb = self.backbone
        return {"backbone": bb.name, "target_mflops": self.cfg.target_mflops,
                "search_resolution": self.model.resolution,
                "derived_mflops": self._macs(arch) / 1e6,
                "derived_mflops_at_224_imagenet": arch_macs(arch, 1000, 3, 224) / 1e6,
                "e_mflops": float(self.model.expected_macs()) / 1e6}


class ArchTracer:
    """An engine hook that records the architecture state every ``every`` steps (for plots):
    ``task.arch_state()`` plus the channel-averaged |meta kernel| of searchable layer ``layer``."""

    def __init__(self, task: MetaKernelsSearch, layer: int = 0, every: int = 1):
        self.task, self.layer, self.every = task, layer, every
        self.records: list[dict] = []

    def meta_kernel_map(self) -> list[list[float]]:
        model = self.task.model
        block = model.blocks[model.searchable[self.layer]]
        with torch.no_grad():
            p = model.probabilities()[self.layer][0]
            if p.dim() == 2:
                p = p.repeat_interleave(block.spec.c_in, dim=0)
            return block.depthwise.conv.compose(p).abs().mean((0, 1)).tolist()

    def __call__(self, event: str, info: dict) -> None:
        if event == "step" and info["step"] % self.every == 0:
            self.records.append({"step": info["step"], "epoch": info["epoch"], "loss": info.get("loss"),
                                 **self.task.arch_state(), "meta_kernel": self.meta_kernel_map()})
