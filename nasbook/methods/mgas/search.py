"""MGAS / MG-DARTS as engine tasks: the phases, their rounds and transitions (docs/methods/mgas.md).

::

    for s in 1, 2, 3:                                   (stages=3; stages=1 skips them)
        reset thresholds; Pi_start = Pi(cells 0..end_s); lambda = 0; new optimisers
        warm-up epochs: weights only
        epochs 0, 1, 2, ...: train all; a pruning round every ``prune_every`` epochs
            (commit, remove, lambda update); stop when Pi(0..end_s) < ratio_s * Pi_start
        s >= 2: one epoch with frozen masks, then regrowth
        compact cells up to end_{s+1} (L-1 after stage 3)
    final phase: reset thresholds; lambda = 0; warm-up; rounds with ops removed one at a
        time and compaction after every round; stop when size < target
        (``official_final_commit``: every gated-off op at once; ``official_stale_optimizers``:
        the code's stale optimisers after compaction; docs/methods/mgas.md)

Each phase is one :class:`~nasbook.engine.Trainer` run (its own checkpoint and metrics in
``RUN/phases/<k>-<name>/``); a phase ends through :meth:`Task.finished`. Everything a
resumed run needs is in the model (structure included: removed ops and compacted widths are
restored from the state dict) and in :meth:`MgasSearch.state_dict`.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ...config import SearchConfig
from ...data import dataset_info, get_dataset, make_loader
from ...engine import Trainer
from ...engine import distributed as D
from ...engine.checkpoint import load as load_checkpoint
from ...engine.checkpoint import save_atomic
from ...engine.phases import Phases
from ...spaces.mgas import MGASGenotype
from ..base import SearchMethod
from .compaction import compact
from .derive import derive_genotype
from .gated_ops import GatedOp
from .loss import LambdaController
from .reevaluation import regrow, regrow_count
from .rounds import RoundRecord, commit, remove_op
from .size import SIZE_FNS, model_size, op_size, parse_target, proxy, supernet_size
from .stages import FINAL, Phase, phase_plan
from .supernet import MgasSupernet
from .units import PassState

LEVELS = ("op", "filter", "weight")
SPACES = ("darts", "mobilenet_like")


@dataclass
class MgasConfig(SearchConfig):
    """MGAS search settings. Defaults are the official code's (``cifar_search``, Sec. 3.3);
    every point the paper leaves open is a field marked "ours" (decision register Sec. 0.1).
    ``epochs`` is unused: phases end by their stop rules (cap: ``max_epochs_per_phase``)."""

    # super-net (Sec. 2.2); space "mobilenet_like" is OURS (Sec. 2.3, D6) and uses the mobile_* fields
    space: str = "darts"             # darts (the paper's CIFAR space) | mobilenet_like (ours)
    C: int = 16
    layers: int = 8
    stem_multiplier: int = 3
    stem: str = "cifar"              # cifar | imagenet (ours, Sec. 2.3)
    heads: str = "cifar"             # cifar (official stage heads) | gap (tiny, ImageNet)
    mobile_stem: int = 32            # ours (Sec. 2.3): MobileNet-like skeleton, stem width
    mobile_first: int = 16           # fixed expansion-1 block
    mobile_widths: tuple[int, ...] = (24, 40, 80, 96, 192, 320)   # six searchable groups
    mobile_counts: tuple[int, ...] = (4, 4, 4, 4, 4, 1)
    mobile_strides: tuple[int, ...] = (2, 2, 2, 1, 2, 1)
    mobile_last: int = 1280          # final 1x1 conv
    levels: tuple[str, ...] = LEVELS  # unit levels searched; ("op",) is the GOLD-NAS-like ablation (Sec. 8)
    # optimisers (Sec. 3.3): SGD, momentum 0.9, all rebuilt per phase
    lr: float = 0.01                 # weights, constant
    momentum: float = 0.9
    weight_decay: float = 3e-4       # weights only
    op_lr: float = 1.0
    filter_lr: float = 1.0
    threshold_lr: float = 0.1        # tau_op, tau_f
    weight_threshold_lr: float = 0.001
    # loss and controller (Sec. 1.5, 1.6)
    lambda0: float = 1e-5
    c0: float = 2.0
    n0: int = 12
    lambda_cap: float | None = 100.0
    freeze_ratio_stage: float = 1.0  # freeze lambda when mean CE < ratio * mean(lambda R_op)
    freeze_ratio_final: float = 0.5
    mu: float = 0.0                  # size-aware term of R_op (official 0)
    official_nj_bug: bool = False    # Sec. 7 item 2
    official_reduction_index: bool = False  # Sec. 7 item 3
    # the official final phase, reproduced (docs/methods/mgas.md "official_* switches"); off: ours [I]
    official_final_commit: bool = False      # the round that reaches the target drops every gated-off op
    official_stale_optimizers: bool = False  # final phase: optimisers keep the pre-compaction tensors
    # schedule (Sec. 3.2)
    stages: int = 3                  # 3 (multi-stage) | 1 (single-stage: final phase only)
    warmup_epochs: int = 5
    prune_every: int = 2
    stage_ratio: tuple[float, float, float] = (0.3, 0.3, 0.3)
    regrow_ratio: float = 0.2
    max_epochs_per_phase: int = 200  # ours (D13): safety cap, warns when hit
    compaction_harmonise: bool = True  # ours: False keeps exactly the surviving channels (checks)
    compaction_floor: float = 0.5    # harmonisation floor as a share of the cell's initial width (official C0/2)
    # target (Sec. 1.7, D3/D4): a number in size_fn units, "N%" of the super-net, or "released"
    size_fn: str = "official_proxy"  # official_proxy | nonzero_params
    target_params: float | str = 100000.0  # official --min_flops 0.1 (M)
    # data (Sec. 3.1)
    auto_augment: bool = True        # AutoAugment CIFAR-10 policy at search time (CIFAR only)
    cutout: int = 16
    monitor_fraction: float = 0.1    # ours (D10): held-out share of each class, for logging only
    search_fraction: float = 1.0     # share of each class used for search (ImageNet presets: 0.1)
    batch_size: int = 96
    seed: int = 2

    def __post_init__(self):
        bad = [lv for lv in self.levels if lv not in LEVELS]
        if bad or "op" not in self.levels:
            raise ValueError(f"levels: a subset of {LEVELS} that contains 'op', got {list(self.levels)}")
        if self.space not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, got {self.space!r}")
        self.skeleton()   # validates the mobile_* fields
        if self.stages not in (1, 3):
            raise ValueError(f"stages must be 1 or 3, got {self.stages}")
        if self.size_fn not in SIZE_FNS:
            raise ValueError(f"size_fn must be one of {SIZE_FNS}, got {self.size_fn!r}")
        if self.stem not in ("cifar", "imagenet") or self.heads not in ("cifar", "gap"):
            raise ValueError(f"stem must be cifar|imagenet and heads cifar|gap, got {self.stem!r}, {self.heads!r}")
        if not all(0 < r <= 1 for r in self.stage_ratio):
            raise ValueError(f"stage_ratio values must be in (0, 1], got {self.stage_ratio}")
        if not 0 < self.compaction_floor <= 1:
            raise ValueError(f"compaction_floor must be in (0, 1], got {self.compaction_floor}")
        if not 0 <= self.regrow_ratio <= 1:
            raise ValueError(f"regrow_ratio must be in [0, 1], got {self.regrow_ratio}")
        if self.prune_every < 1 or self.warmup_epochs < 0 or self.max_epochs_per_phase < 1:
            raise ValueError("prune_every and max_epochs_per_phase must be >= 1, warmup_epochs >= 0")
        if not (0 <= self.monitor_fraction < 1 and 0 < self.search_fraction <= 1):
            raise ValueError("monitor_fraction must be in [0, 1) and search_fraction in (0, 1]")
        if self.space == "darts" and self.layers < 3:
            raise ValueError(f"layers must be >= 3 (one cell per stage), got {self.layers}")
        self.resolved_target()   # a bad target is an error here, before any data or training

    def skeleton(self):
        """The MobileNet-like skeleton of the ``mobile_*`` fields (space ``mobilenet_like``)."""
        from ...spaces.mgas_mobile import MobileSkeleton

        return MobileSkeleton(self.mobile_stem, self.mobile_first, self.mobile_widths, self.mobile_counts,
                              self.mobile_strides, self.mobile_last)

    def supernet_size(self) -> int:
        info = dataset_info(self.dataset, self.resolution)
        if self.space == "mobilenet_like":
            from .mobile import mobile_supernet_size

            return mobile_supernet_size(self.skeleton(), self.size_fn, info.num_classes, info.in_channels)
        return supernet_size(self.C, self.layers, self.size_fn, info.num_classes, info.in_channels, self.stem,
                             self.official_reduction_index)

    def resolved_target(self) -> float:
        """``target_params`` in ``size_fn`` units (ValueError with the reason when bad)."""
        if self.space != "darts" and str(self.target_params).strip() == "released":
            raise ValueError("target_params 'released': no MGAS model was released in the MobileNet-like space "
                             "(it is ours, Sec. 2.3); give a number or 'N%' of the super-net")
        return parse_target(self.target_params, self.supernet_size(), self.layers, self.C, self.size_fn,
                            self.official_reduction_index)


def _labels(ds) -> torch.Tensor:
    if hasattr(ds, "targets"):
        return torch.as_tensor(ds.targets)
    if hasattr(ds, "tensors"):
        return ds.tensors[1]
    return torch.tensor([int(ds[i][1]) for i in range(len(ds))])


def stratified_split(labels: torch.Tensor, monitor: float, search: float, seed: int) -> tuple[list, list]:
    """Per class: a held-out ``monitor`` share, and ``search`` of the rest for the search."""
    g = torch.Generator().manual_seed(seed)
    train, mon = [], []
    for c in labels.unique().tolist():
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)].tolist()
        m = int(round(monitor * len(idx)))
        mon += idx[:m]
        rest = idx[m:]
        train += rest[:max(1, int(round(search * len(rest))))]
    return sorted(train), sorted(mon)


@dataclass
class PhaseState:
    """Where the current phase is (saved in checkpoints)."""

    index: int = 0
    start_size: float = 0.0      # Pi(cells 0..end_s) at the stage start
    pruned: int = 0              # ops removed in this phase
    refresh: bool = False        # the one-epoch momentum refresh before regrowth is running
    done: bool = False
    ce_sum: float = 0.0          # running sums of the current epoch (controller's freeze test)
    reg_sum: float = 0.0
    n: int = 0
    capped: bool = False
    compactions: int = 0         # compactions inside this phase (final phase: one per round)


def reset_bn_official(model: nn.Module) -> None:
    """``official_stale_optimizers``: per official code, ``prune_kernel()`` rebuilds every
    cell's BatchNorm layers keeping only their scale, so a final-phase compaction resets the
    shift (beta) to 0 and the running statistics to their initial values (mean 0, var 1)."""
    with torch.no_grad():
        for cell in model.cells:
            for m in cell.modules():
                if isinstance(m, nn.BatchNorm2d):
                    if m.bias is not None:
                        m.bias.zero_()
                    if m.track_running_stats:
                        m.reset_running_stats()


class MgasSearch(SearchMethod):
    """MGAS (MG-DARTS): op, filter and weight pruning to a target size in memory-saving stages."""

    key = "mgas"
    Config = MgasConfig
    streams = ("train",)

    # -- data -----------------------------------------------------------------------------
    @classmethod
    def search_loaders(cls, cfg: MgasConfig):
        """One-level search on the training set (Sec. 3.1): augmented images for the search, a
        held-out per-class share for monitoring only (D10), never the test set."""
        rank, world = D.world()
        aa = "autoaugment" if cfg.auto_augment else None
        train, info = get_dataset(cfg.dataset, "train", cfg.data, cfg.download, cfg.resolution, cutout=cfg.cutout,
                                  auto_augment=aa)
        t_idx, m_idx = stratified_split(_labels(train), cfg.monitor_fraction, cfg.search_fraction, cfg.seed)
        loaders = {"train": make_loader(train, cfg.batch_size, cfg.seed, t_idx, True, cfg.workers, rank, world, 0,
                                        drop_last=False)}
        if m_idx:
            plain, _ = get_dataset(cfg.dataset, "train", cfg.data, cfg.download, cfg.resolution, augment=False)
            loaders["valid"] = make_loader(plain, 2 * cfg.batch_size, cfg.seed, m_idx, False, cfg.workers, rank, world, 2)
        return loaders, info

    # -- construction -------------------------------------------------------------------
    def __init__(self, cfg: MgasConfig, info):
        super().__init__(cfg, info)
        if cfg.space == "mobilenet_like":
            from .mobile import MobileSupernet

            self.model = MobileSupernet(cfg.skeleton(), info.num_classes, info.in_channels)
        else:
            self.model = MgasSupernet(cfg.C, info.num_classes, cfg.layers, info.in_channels, cfg.stem, cfg.heads,
                                      cfg.stem_multiplier)
        self.model.loss_options = dict(mu=cfg.mu, official_nj_bug=cfg.official_nj_bug, levels=tuple(cfg.levels))
        self.target = cfg.resolved_target()
        self.controller = LambdaController(cfg.lambda0, cfg.c0, cfg.n0, cfg.lambda_cap)
        self.plan = phase_plan(cfg.stages)
        self.ps = PhaseState()
        self.rounds: list[dict] = []
        self.events: list[dict] = []
        self.path: list[dict] = []     # the derived network after every final-phase round
        self._opts: dict = {}
        self.begin_phase(0)

    @property
    def phase(self) -> Phase:
        return self.plan[self.ps.index]

    @property
    def stage(self) -> int:
        return self.phase.stage

    @property
    def end(self) -> int:
        return self.model.stage_end(self.stage)

    def size(self, cells=None, size_fn: str | None = None) -> int:
        return model_size(self.model, size_fn or self.cfg.size_fn, cells, self.cfg.official_reduction_index)

    def stage_proxy(self) -> int:
        return proxy(self.model, range(self.end + 1), self.cfg.official_reduction_index)

    def begin_phase(self, index: int) -> None:
        """Sec. 3.2: thresholds to 0, lambda to 0, Pi_start recorded (optimisers: the Trainer)."""
        self.ps = PhaseState(index=index)
        with torch.no_grad():
            for cell in self.model.cells:
                for t in (cell.tau_op, cell.tau_filter, cell.tau_weight, cell.tau_pre):
                    t.zero_()
        self.controller.reset()
        self.ps.start_size = float(self.stage_proxy())
        self.model.default_stage = self.stage   # the engine's monitoring evaluates this sub-net

    # -- optimisers ---------------------------------------------------------------------
    def stale_groups(self) -> tuple[bool, bool]:
        """``(filter logits stale, cell weights stale)`` under ``official_stale_optimizers``.

        Per official code (``cifar_search/train_search.py``): the final phase's filter-logit
        optimiser is built over the lists collected before the compaction that ends stage 3,
        and its weight optimiser over ``model.parameters()`` before the first final-phase
        ``prune_kernel()``, which rebuilds the cells' modules with new tensors. So the filter
        logits are never stepped in the final phase, and the cells' weights (convs and BN) are
        not stepped after its first compaction; stem and classifier still are. Without an
        earlier compaction (``stages=1``, ours) the filter logits go stale at the first one too.
        Default (ours [I]): every group is trained."""
        if not (self.cfg.official_stale_optimizers and self.stage == FINAL):
            return False, False
        compacted = self.ps.compactions > 0
        return compacted or self.cfg.stages == 3, compacted

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The phase's parameters by group: stem, cells 0..end and the stage head (or the
        classifier) for the weights; op logits, filter logits, thresholds of cells 0..end.
        Groups that :meth:`stale_groups` marks stale are left out (never stepped)."""
        m, levels = self.model, self.cfg.levels
        stale_filters, stale_cells = self.stale_groups()
        groups = {"weights": [], "op_logits": [], "filter_logits": [], "thresholds": [], "weight_thresholds": []}
        for mod in m.fixed_modules(self.stage):
            groups["weights"] += list(mod.parameters())
        for cell in m.cells[:self.end + 1]:
            for name, p in cell.named_parameters():
                leaf = name.rsplit(".", 1)[-1]
                if name == "op_logits":
                    groups["op_logits"].append(p)
                elif leaf == "logits":
                    if "filter" in levels and not stale_filters:
                        groups["filter_logits"].append(p)
                elif name in ("tau_op", "tau_filter", "tau_pre"):
                    if name == "tau_op" or "filter" in levels:
                        groups["thresholds"].append(p)
                elif name == "tau_weight":
                    if "weight" in levels:
                        groups["weight_thresholds"].append(p)
                elif not stale_cells:
                    groups["weights"].append(p)
        return groups

    def optimizers(self):
        cfg, g = self.cfg, self.parameter_groups()
        self._weight_params = g["weights"]
        new = {
            "weights": torch.optim.SGD(g["weights"], cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay),
            "arch": torch.optim.SGD([{"params": g["op_logits"], "lr": cfg.op_lr},
                                     {"params": g["filter_logits"], "lr": cfg.filter_lr},
                                     {"params": g["thresholds"], "lr": cfg.threshold_lr},
                                     {"params": g["weight_thresholds"], "lr": cfg.weight_threshold_lr}],
                                    lr=cfg.threshold_lr, momentum=cfg.momentum, weight_decay=0.0),
        }
        self._opts.clear()
        self._opts.update(new)
        return self._opts

    def _rebuild_optimizers(self) -> None:
        """After ops were removed or regrown: same hyper-parameters over the current
        parameters, momentum kept for those that stayed (same tensors; compaction sliced it);
        under DDP the wrapper is rebuilt too (Sec. 7 item 15)."""
        trainer = getattr(self, "_trainer", None)
        if trainer is not None:
            trainer.rewrap()
        old = dict(self._opts)
        self.optimizers()
        for name, opt in self._opts.items():
            for group in opt.param_groups:
                for p in group["params"]:
                    if p in old[name].state:
                        opt.state[p] = old[name].state[p]

    # -- one step -----------------------------------------------------------------------
    def in_warmup(self, epoch: int) -> bool:
        return epoch < self.cfg.warmup_epochs and not self.ps.refresh

    def is_round_epoch(self, epoch: int) -> bool:
        k = epoch - self.cfg.warmup_epochs
        return not self.ps.refresh and k > 0 and k % self.cfg.prune_every == 0

    def training_step(self, batches, ctx):
        x, y = ctx.to_device(batches["train"])
        warm = self.in_warmup(ctx.epoch)
        last = ctx.trainer.step_in_epoch == ctx.trainer.steps_per_epoch() - 1
        state = PassState(record=last and self.is_round_epoch(ctx.epoch), keep_live=bool(self.cfg.mu) and not warm,
                          levels=tuple(self.cfg.levels))
        with ctx.autocast():
            logits, r_op, r_tau = ctx.model(x, self.stage, state, True)
            ce = F.cross_entropy(logits, y)
        lam = 0.0 if warm else self.controller.lam
        loss = ce + lam * (r_op + r_tau)
        for opt in self._opts.values():
            opt.zero_grad(set_to_none=True)
        ctx.backward(loss)
        ctx.optimizer_step(self._opts["weights"], clip=self._weight_params)   # clip: weights only
        if not warm:
            ctx.optimizer_step(self._opts["arch"])
        self.ps.ce_sum += float(ce.detach()) * y.numel()
        self.ps.reg_sum += lam * float(r_op.detach()) * y.numel()
        self.ps.n += y.numel()
        acc = (logits.argmax(1) == y).float().mean()
        return {"loss": loss.detach(), "ce": ce.detach(), "acc": acc, "lambda": lam,
                "r_op": r_op.detach(), "r_tau": r_tau.detach()}

    # -- epoch end: rounds and transitions ----------------------------------------------
    def on_epoch_end(self, epoch, ctx):
        self._trainer = ctx.trainer
        info = {"phase": self.phase.name, "stage": self.stage}
        cfg = self.cfg
        if self.ps.refresh:                                   # the momentum-refresh epoch just ran
            self._end_stage(epoch, regrowth=True)
        elif self.is_round_epoch(epoch):
            info["round"] = self._round(epoch)
        cap = cfg.warmup_epochs + cfg.max_epochs_per_phase - 1
        if not self.ps.done and not self.ps.refresh and epoch >= cap:
            warnings.warn(f"MGAS {self.phase.name}: no stop after max_epochs_per_phase={cfg.max_epochs_per_phase} "
                          f"epochs; ending the phase (D13)")
            self.ps.capped = True
            self._stop(epoch)
        info.update(self.monitor())
        info.update(lam=self.controller.lam, size=self.size(), proxy=proxy(self.model), target=self.target,
                    done=self.ps.done)
        self.ps.ce_sum = self.ps.reg_sum = 0.0
        self.ps.n = 0
        return info

    def _round(self, epoch: int) -> dict:
        """One pruning round (Sec. 1.6): commit, remove, update lambda; in the final phase
        also the target check and a compaction (Sec. 1.7 order of events)."""
        cfg, model, final = self.cfg, self.model, self.stage == FINAL
        cells = range(self.end + 1)
        size_fn = cfg.size_fn if final else "official_proxy"
        measure = (lambda: self.size(None, size_fn)) if final else self.stage_proxy
        rec = RoundRecord(self.phase.name, epoch, measure(), 0, 0)
        candidates = commit(model, cells)
        rec.size_after_commit = size = measure()
        rec.candidates = len(candidates)
        for i, e, o in candidates:
            if final and size < self.target and not cfg.official_final_commit:
                break   # ours [I]: stop removing as soon as the size is below the target
            # official_final_commit: per official code the commit already wrote the live gates
            # into the masks that the size and the removal loop read, so the loop cannot move
            # the size and removes every gated-off op of the round (docs/methods/mgas.md)
            s = op_size(model, i, e, o, size_fn, cfg.official_reduction_index) if final else 0
            remove_op(model, i, e, o)
            size -= s
            rec.removed.append((i, e, o, s))
        rec.size_after_removal = measure()
        n = len(rec.removed)
        self.ps.pruned += n
        mean_ce = self.ps.ce_sum / max(self.ps.n, 1)
        mean_reg = self.ps.reg_sum / max(self.ps.n, 1)
        rec.lam = self.controller.update(n, mean_ce, mean_reg, cfg.freeze_ratio_final if final else cfg.freeze_ratio_stage)
        rec.last_decrement = rec.removed[-1][3] if rec.removed else max(rec.size_before_commit - rec.size_after_commit, 0)
        if final:
            compact(model, model.layers - 1, harmonise=cfg.compaction_harmonise, floor=cfg.compaction_floor,
                    optimizers=self._opts.values())
            self.ps.compactions += 1
            if cfg.official_stale_optimizers:
                reset_bn_official(model)
            rec.size_after_compaction = measure()
            # every round's network is a point of the size-accuracy path (the code checkpoints each round)
            self.path.append({"epoch": epoch, "size": rec.size_after_compaction, "arch": self.derive().to_dict()})
            # the code checks after the removals and again after the compaction (Sec. 1.7)
            rec.finished = rec.size_after_removal < self.target or rec.size_after_compaction < self.target
            if rec.finished:
                self._stop(epoch)
        else:
            rec.finished = rec.size_after_removal < cfg.stage_ratio[self.stage - 1] * self.ps.start_size
            if rec.finished:
                self._stop(epoch)
        self._rebuild_optimizers()
        d = rec.to_dict()
        self.rounds.append(d)
        return d

    def _stop(self, epoch: int) -> None:
        """The phase's stop rule fired (or the cap): regrowth refresh or the transition."""
        if self.stage in (2, 3) and self.cfg.regrow_ratio > 0 and not self.ps.refresh:
            self.ps.refresh = True   # one more epoch with frozen masks, then regrowth (Sec. 1.9)
        elif self.stage == FINAL:
            self.ps.done = True
        else:
            self._end_stage(epoch, regrowth=False)

    def _end_stage(self, epoch: int, regrowth: bool) -> None:
        cfg, model = self.cfg, self.model
        if regrowth:
            k = regrow_count(self.ps.pruned, cfg.regrow_ratio)
            gen = torch.Generator().manual_seed(cfg.seed * 1000 + self.stage)
            plan = regrow(model, range(self.end + 1), k, self._opts["arch"], gen)
            self.events.append({"event": "regrowth", "phase": self.phase.name, "epoch": epoch, "k": k,
                                "regrown": plan.regrown, "pruned_in_stage": self.ps.pruned})
        end = model.stage_end(self.stage + 1)   # after stage 3: the last cell
        before = proxy(model)
        rec = compact(model, end, pin_end=self.stage in (1, 2), harmonise=cfg.compaction_harmonise,
                      floor=cfg.compaction_floor, optimizers=self._opts.values())
        self.events.append({"event": "compaction", "phase": self.phase.name, "epoch": epoch, "end": end,
                            "proxy_before": before, "proxy_after": proxy(model),
                            "widths": {str(k): v for k, v in rec.widths.items()}})
        self._rebuild_optimizers()
        self.ps.refresh = False
        self.ps.done = True

    def finished(self) -> bool:
        return self.ps.done

    # -- monitoring -----------------------------------------------------------------------
    def monitor(self) -> dict:
        """Remaining ratio and mean threshold per level over the executed cells (Sec. 8)."""
        ops = total_ops = filt = total_filt = wts = total_wts = 0
        t_op, t_f, t_w, n_conv = [], [], [], 0
        for cell in self.model.cells[:self.end + 1]:
            ops += int(cell.op_mask.sum())
            total_ops += cell.op_mask.numel()
            for e, o in cell.active():
                t_op.append(float(cell.tau_op.detach()[e, o]))
                op = cell.ops[e][o]
                if isinstance(op, GatedOp):
                    t_f.append(float(cell.tau_filter.detach()[e, o]))
                    t_w.append(float(cell.tau_weight.detach()[e, o]))
                    for g in op.gates:
                        filt += int(g.mask.sum())
                        total_filt += g.channels
                    for c in op.convs():
                        wts += int(c.weight_mask.sum())
                        total_wts += c.weight_mask.numel()
        mean = lambda v: sum(v) / len(v) if v else float("nan")  # noqa: E731
        return {"r_op": ops / max(total_ops, 1), "r_filter": filt / max(total_filt, 1), "r_weight": wts / max(total_wts, 1),
                "tau_op": mean(t_op), "tau_filter": mean(t_f), "tau_weight": mean(t_w)}

    # -- the phases -------------------------------------------------------------------------
    def _engine_config(self, trainer: Trainer):
        cfg = trainer.cfg
        extra = 1 if self.phase.stage in (2, 3) and self.cfg.regrow_ratio > 0 else 0
        return replace(cfg, epochs=self.cfg.warmup_epochs + self.cfg.max_epochs_per_phase + extra)

    def run(self, trainer: Trainer, resume: bool = False) -> list[dict]:
        """All phases, each its own engine run (:class:`~nasbook.engine.phases.Phases`); resumes
        at the phase the run was in."""
        root = trainer.run_dir
        phases = Phases(root, trainer.hooks)
        names = [p.name for p in self.plan]
        start, resuming = self._resume_point(phases, names) if resume else (0, False)
        history: list[dict] = []
        for k in range(start, len(self.plan)):
            if not (resuming and k == start):
                self.begin_phase(k)
            t = phases.fit(self, trainer.loaders, self._engine_config(trainer), k, names[k],
                           resume=resuming and k == start)
            history += [dict(h, phase=names[k]) for h in t.history]
            if not self.ps.done:      # the engine was stopped (stop_after_steps or a hook): resume later
                break
            self._save_root(root, history)
        return history

    def _resume_point(self, phases: Phases, names: list[str]) -> tuple[int, bool]:
        k = phases.latest(names)
        if k is None:
            return 0, False
        st = load_checkpoint(phases.checkpoint(k, names[k]))
        self.model.load_state_dict(st["model"])     # restores removed ops and compacted widths
        self.load_state_dict(st["task"])
        if self.ps.done:
            return k + 1, False
        return k, True

    def _save_root(self, root: Path | None, history: list[dict]) -> None:
        if root is None or not D.is_main():
            return
        save_atomic({"model": self.model.state_dict(), "task": self.state_dict()}, root / "checkpoint.pt")
        with open(root / "metrics.jsonl", "w") as f:
            for h in history:
                f.write(json.dumps(h) + "\n")
        (root / "rounds.json").write_text(json.dumps({"rounds": self.rounds, "events": self.events}, indent=1))
        (root / "path.json").write_text(json.dumps(self.path))
        g = self.derive()
        if g.weight_masks is not None:
            g.weight_masks.save_npz(root / "masks.npz")

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"phase": asdict(self.ps), "controller": self.controller.state_dict(), "rounds": self.rounds,
                "events": self.events, "path": self.path}

    def load_state_dict(self, st: dict) -> None:
        self.ps = PhaseState(**st["phase"])
        self.model.default_stage = self.stage
        self.controller.load_state_dict(st["controller"])
        self.rounds, self.events, self.path = list(st["rounds"]), list(st["events"]), list(st["path"])

    # -- results --------------------------------------------------------------------------
    def derive(self) -> MGASGenotype:
        return derive_genotype(self.model)

    def summary(self) -> dict:
        g = self.derive()
        if self.cfg.space == "mobilenet_like":
            from ...spaces.mgas_mobile import size_report

            sizes = size_report(g, self.info.num_classes, self.info.in_channels)
        else:
            from ...spaces.mgas import size_report

            sizes = size_report(g, self.info.num_classes, self.info.in_channels, self.cfg.stem)
        return {"target": self.target, "size_fn": self.cfg.size_fn, "final_size": self.size(), "space": self.cfg.space,
                "sizes": sizes,
                "rounds": len(self.rounds), "events": self.events[-6:]}
