"""The few-shot method and its SPOS baseline as engine tasks (docs/methods/fewshot_nl.md:
"Supernet-balanced sampling", "Search after training", "Presets").

One :class:`~nasbook.engine.Task` holds *all* supernets (a :class:`SupernetBank`) and one
SGD optimiser over their parameters. A training step:

1. takes one minibatch;
2. zeroes every gradient;
3. for each (subspace, subnet) the sampler draws, runs the subnet on its supernet and calls
   backward on its loss: gradients accumulate, i.e. the losses are **summed** ([C]:
   averaging would divide each supernet's learning rate by K);
4. takes one optimiser step (and the scheduler follows the engine's epoch/step rule).

The supernets have disjoint parameters, so one step on the summed loss equals K separate
SPOS steps on the same batch. After training, :meth:`FewShotNLSearch.run` runs the
evolutionary search over the whole space, scoring each candidate with the supernet that
owns its count on fixed held-out batches.

SPOS (Guo et al., ECCV 2020) is the same task with one full-width supernet (``sharing:
single``, ``groups: 1``, ``width_divisor: 1``) and uniform sampling.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ...config import SearchConfig
from ...ops.search_bn import recalibrate, use_batch_statistics
from ..base import SearchMethod
from . import data as fdata
from .evolution import EvolutionResult, evolve
from .sampling import MODES, draw
from .subspaces import make_subspaces
from .supernets import SHARING, build_bank


@dataclass
class FewShotNLConfig(SearchConfig):
    """Few-shot NAS by counting nonlinear functions. Defaults are the ``paper`` preset's
    NAS-Bench-201 setting; fields marked [O] are our choices where the sources are silent
    (docs/methods/fewshot_nl.md, "Provenance")."""

    space: str = "nb201"                 # nb201 | mbconv
    backbone: str = "proxyless"          # mbconv only: layer table in nasbook.spaces.mbconv
    C: int = 16                          # nb201 base width (the benchmark's)
    N: int = 5                           # nb201 cells per stage
    groups: int | list = 3               # a named K (nb201: 1, 3, 4; mbconv: 1, 2, 4, 6) or lists of counts [O]
    width_divisor: int | None = None     # G; None: G = K (number of supernets) [O]
    sampling: str = "sbs"                # sbs | uniform | balanced_random | balanced_roundrobin
    sharing: str = "independent"         # independent [O] | single | layerwise_cumulative
    copy_thresholds: list = field(default_factory=lambda: [15, 20])  # layerwise_cumulative: 3-copy model
    copy_stages: list = field(default_factory=lambda: [2, 3])
    exclude_disconnected: bool = True    # never train or propose the 341 cells without a live path [O]
    # supernet training (nb201: OneShotFromAutoDL.config [C])
    epochs: int = 250
    batch_size: int = 64
    seed: int = 0
    lr: float = 0.025
    lr_min: float = 0.001
    lr_interval: str = "epoch"           # cosine updated per epoch (nb201) or per step (ImageNet)
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    wd_weights_only: bool = False        # ImageNet: no decay on BN parameters or biases
    label_smoothing: float = 0.0
    grad_clip: float | None = None       # the code does not clip
    # The authors' PyTorch 1.x code calls ``optimizer.zero_grad()``, which *zeroes* gradients:
    # an op sampled once keeps a zero gradient, so SGD still moves it by momentum and weight
    # decay on steps that do not sample it (the default here). True sets gradients to None,
    # PyTorch 2's default, which freezes unsampled ops (their momentum and decay wait).
    zero_grad_set_to_none: bool = False
    train_portion: float = 0.5           # CIFAR: 25k supernet training / 25k search
    holdout_per_class: int | None = None  # ImageNet: 50 held-out images per class
    # search after training ([C]; docs "Search after training")
    population: int = 50
    generations: int = 20
    topk: int = 10
    mutation_children: int = 25
    crossover_children: int = 25
    mutation_prob: float = 0.1
    eval_batch_size: int = 512           # BN uses batch statistics: fixed at 512 [O]
    search_batches: int = 40
    flops_limit: float | None = None     # MMACs of the full-width network (MobileNet: 530 or 600)
    bn_recalibration_batches: int = 0    # ImageNet: 200 batches of 128 training images
    bn_recalibration_batch_size: int = 128
    # ranking against the benchmark (nasbook rank)
    rank_batch_size: int = 512
    rank_images: int | None = None       # None: the whole test split

    def __post_init__(self):
        if self.sampling not in MODES:
            raise ValueError(f"sampling must be one of {', '.join(MODES)}, got {self.sampling!r}")
        if self.sharing not in SHARING:
            raise ValueError(f"sharing must be one of {', '.join(SHARING)}, got {self.sharing!r}")
        if self.space not in ("nb201", "mbconv"):
            raise ValueError(f"space must be 'nb201' or 'mbconv', got {self.space!r}")
        if self.lr_interval not in ("epoch", "step"):
            raise ValueError(f"lr_interval must be 'epoch' or 'step', got {self.lr_interval!r}")
        if isinstance(self.groups, bool) or not isinstance(self.groups, (int, list, tuple)):
            raise ValueError(f"groups must be a number of supernets or a list of lists of counts, got {self.groups!r}")
        if self.width_divisor is not None and self.width_divisor < 1:
            raise ValueError(f"width_divisor must be >= 1, got {self.width_divisor}")


class FewShotNLSearch(SearchMethod):
    """Few-shot NAS by counting nonlinear functions: one narrow supernet per count subspace, SBS."""

    key = "fewshot_nl"
    Config = FewShotNLConfig
    streams = ("train",)
    evaluate_each_epoch = False

    def __init__(self, cfg: FewShotNLConfig, info):
        super().__init__(cfg, info)
        self.subspaces = make_subspaces(cfg.space, cfg.groups, cfg.exclude_disconnected, cfg.backbone)
        K = len(self.subspaces)
        self.divisor = cfg.width_divisor or K
        self.model = build_bank(self.subspaces, cfg.sharing, info.num_classes, info.in_channels, cfg.C, cfg.N,
                                self.divisor, cfg.copy_thresholds, cfg.copy_stages)
        self.updates = [0] * K                      # backward passes each subspace received
        self._epoch_loss, self._epoch_n = [0.0] * K, [0] * K
        self.result: EvolutionResult | None = None
        self.steps_per_epoch = 1  # set by run() from the engine's loaders

    @classmethod
    def search_loaders(cls, cfg):
        return fdata.train_loaders(cfg)

    # -- training ---------------------------------------------------------------------------
    def optimizers(self):
        cfg = self.cfg
        params = [p for p in self.model.parameters() if p.requires_grad]
        if cfg.wd_weights_only:  # conv and linear weights only (ImageNet recipe)
            decay = [p for p in params if p.dim() > 1]
            groups = [{"params": decay}, {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0.0}]
        else:
            groups = [{"params": params}]
        self._opt = torch.optim.SGD(groups, cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                                    weight_decay=cfg.weight_decay)
        return {"weights": self._opt}

    def schedulers(self):
        """Cosine from ``lr`` to ``lr_min`` over the run, stepped per epoch (NB201 code) or per
        step (ImageNet code). The per-step length is known once the engine has its loaders."""
        cfg = self.cfg

        def factor(t):
            T = cfg.epochs * (self.steps_per_epoch if cfg.lr_interval == "step" else 1)
            cos = 0.5 * (1 + math.cos(math.pi * min(t, T) / max(T, 1)))
            return (cfg.lr_min + (cfg.lr - cfg.lr_min) * cos) / cfg.lr

        return {"weights": (torch.optim.lr_scheduler.LambdaLR(self._opt, factor), cfg.lr_interval)}

    def training_step(self, batches, ctx):
        x, y = ctx.to_device(batches["train"])
        self._opt.zero_grad(set_to_none=self.cfg.zero_grad_set_to_none)
        draws = draw(self.cfg.sampling, self.subspaces, ctx.step, self.cfg.seed)
        metrics = {}
        for k, arch in draws:
            with ctx.autocast():
                loss = nn.functional.cross_entropy(ctx.model(x, arch), y, label_smoothing=self.cfg.label_smoothing)
            ctx.backward(loss)  # gradients of the K subnets accumulate: the losses are summed
            metrics[f"loss_{k}"] = float(loss.detach())
            self.updates[k] += 1
            self._epoch_loss[k] += metrics[f"loss_{k}"]
            self._epoch_n[k] += 1
        ctx.optimizer_step(self._opt, clip=self.model.parameters() if self.cfg.grad_clip else None)
        metrics["loss"] = sum(metrics.values()) / len(draws)
        return metrics

    def on_epoch_end(self, epoch, ctx):
        out = {"updates": list(self.updates),
               "group_loss": [s / n if n else None for s, n in zip(self._epoch_loss, self._epoch_n)]}
        K = len(self.subspaces)
        self._epoch_loss, self._epoch_n = [0.0] * K, [0] * K
        return out

    def state_dict(self):
        # which parameters hold a (zeroed) gradient: with the authors' zero_grad() those move by
        # momentum and decay on every later step, so an exact resume must restore them
        has_grad = [p.grad is not None for p in self.model.parameters()]
        return {"updates": list(self.updates), "epoch_loss": list(self._epoch_loss), "epoch_n": list(self._epoch_n),
                "has_grad": has_grad}

    def load_state_dict(self, state):
        self.updates = list(state["updates"])
        self._epoch_loss, self._epoch_n = list(state["epoch_loss"]), list(state["epoch_n"])
        if not self.cfg.zero_grad_set_to_none:
            for p, had in zip(self.model.parameters(), state.get("has_grad", [])):
                if had and p.grad is None:
                    p.grad = torch.zeros_like(p)

    # -- scoring and search -----------------------------------------------------------------
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def on_device(self, batches, max_bytes: float = 2e9):
        """Fixed batches moved to the supernets' device once (kept on the CPU when large)."""
        if sum(x.numel() * x.element_size() for x, _ in batches) > max_bytes:
            return batches
        dev = self.device()
        return [(x.to(dev), y.to(dev)) for x, y in batches]

    @torch.no_grad()
    def score(self, arch, batches, calibration=None) -> float:
        """Top-1 accuracy (percent) of ``arch`` on its supernet over ``batches``; BN uses each
        batch's statistics unless ``calibration`` images give it fresh running statistics."""
        net = self.model.nets[self.model.route(arch)]
        dev = self.device()
        if calibration:
            recalibrate(net, lambda x: net(x.to(dev), arch), (x for x, _ in calibration))
        net.eval()
        correct = n = 0
        for x, y in batches:
            out = net(x.to(dev), arch)
            correct += (out.argmax(1) == y.to(out.device)).sum().item()
            n += len(y)
        net.train()
        if calibration:
            use_batch_statistics(net)
        return 100.0 * correct / max(n, 1)

    def constraint(self):
        """The FLOPs limit of the search (full-width MACs, MobileNet space), or None."""
        if self.cfg.flops_limit is None:
            return None
        if self.cfg.space != "mbconv":
            raise ValueError("flops_limit applies to the mbconv space only")
        from ...spaces.mbconv import arch_macs

        limit = self.cfg.flops_limit * 1e6
        return lambda arch: arch_macs(arch, self.info.num_classes, self.info.in_channels) <= limit

    def search(self, log=None) -> EvolutionResult:
        """Evolution over the whole space ([C], "Search after training"), fitness on fixed
        held-out batches."""
        cfg = self.cfg
        batches = self.on_device(fdata.heldout_batches(cfg, cfg.search_batches, cfg.eval_batch_size))
        calib = (self.on_device(fdata.train_batches(cfg, cfg.bn_recalibration_batches, cfg.bn_recalibration_batch_size))
                 if cfg.bn_recalibration_batches else None)
        self.result = evolve(self.subspaces, lambda a: self.score(a, batches, calib), cfg.seed, cfg.population,
                             cfg.generations, cfg.topk, cfg.mutation_children, cfg.crossover_children,
                             cfg.mutation_prob, self.constraint(), log)
        return self.result

    def run(self, trainer, resume: bool = False):
        self.steps_per_epoch = trainer.steps_per_epoch()
        history = trainer.fit(resume=resume)
        if trainer.epoch >= trainer.cfg.epochs:  # training finished (not stopped early)
            self.search()
        return history

    def derive(self):
        if self.result is None:
            self.search()
        return self.result.best

    def summary(self):
        out = {"space": self.cfg.space, "groups": [list(g) for g in self.subspaces.groups],
               "group_sizes": self.subspaces.sizes(), "supernets": len(self.model.nets),
               "width_divisor": self.divisor, "sampling": self.cfg.sampling, "sharing": self.cfg.sharing,
               "updates": list(self.updates)}
        if self.cfg.space == "nb201":
            out["supernet_width"] = self.cfg.C // self.divisor
        if self.result is not None:
            out["search"] = {"fitness": self.result.best_fitness, "evaluated": self.result.evaluated,
                             "history": [{k: v for k, v in h.items() if k != "top"} for h in self.result.history]}
        return out


@dataclass
class SposConfig(FewShotNLConfig):
    """SPOS: one full-width supernet, uniform single-path sampling, the same search."""

    groups: int | list = 1
    width_divisor: int | None = 1
    sampling: str = "uniform"
    sharing: str = "single"


class SposSearch(FewShotNLSearch):
    """SPOS (Guo et al., ECCV 2020): one uniform single-path supernet, then evolution."""

    key = "spos"
    Config = SposConfig
