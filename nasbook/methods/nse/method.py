"""NSE as an engine task: one supernet training per round, the space evolving between rounds
(docs/methods/nse.md-4.4).

Within a round every training step (Sec. 4.3 step 2):

1. prunes ops with alpha < tau from the subsets (retained ops protected);
2. trains the weights on one architecture drawn uniformly (each op on with probability 0.5);
3. every ``arch_every`` steps, takes an Adam step on alpha on a held-out batch with the
   two-sample estimator and the cost penalty ``lambda |C_hat - T|^beta`` (Sec. 5.2-5.3).

``run`` overrides the single engine run: for each round it builds a fresh supernet over the
current subsets, trains it with its own :class:`~nasbook.engine.Trainer` (checkpoints in
``RUN/roundNN/``), then ends the round (:func:`~nasbook.methods.nse.rounds.end_of_round`) and
saves the state to ``RUN/nse_state.json`` and the round record to ``RUN/roundNN/round.json``.
A killed run resumes inside its round and reaches the same final front.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import statistics
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...engine import Trainer
from ...engine import distributed as D
from ...engine.checkpoint import load as load_checkpoint
from ...engine.phases import Phases
from ...engine.seed import seed_everything
from ...spaces.nse import NSEArch
from ...spaces.nse_plans import PLANS, layer_specs
from ...spaces.nse_pools import get_pool
from ..base import SearchMethod
from .config import NSEConfig
from .cost import CostModel, load_table
from .data import nse_loaders
from .distribution import is_deterministic, sample_two, uniform_set
from .rounds import end_of_round
from .state import RoundState, continue_with_pool, init_state, num_rounds, prune
from .supernet import LayerPair, NSESupernet

STATE_FILE = "nse_state.json"


def _mix(*xs: int) -> int:
    return int(np.random.SeedSequence([int(x) % 2**32 for x in xs]).generate_state(1)[0])


def stage_rounds(cfg: NSEConfig, stage: int) -> int:
    """Rounds of ``stage``: floor((N - 1) / (K - 1)) over the stage's pool, capped by max_rounds."""
    n = len(cfg.pool_ops) if (stage == 0 and cfg.pool_ops) else len(get_pool(cfg.pools[stage]))
    r = num_rounds(n, cfg.K)
    return min(r, cfg.max_rounds[stage]) if cfg.max_rounds else r


def total_rounds(cfg: NSEConfig) -> int:
    return sum(stage_rounds(cfg, s) for s in range(len(cfg.pools)))


class NSESearch(SearchMethod):
    """NSE: Neural Search-space Evolution (Ci et al., ICCV 2021)."""

    key = "nse"
    Config = NSEConfig
    streams = ("train", "arch")
    evaluate_each_epoch = False

    def __init__(self, cfg: NSEConfig, info):
        super().__init__(cfg, info)
        pools = [get_pool(name) for name in cfg.pools]
        for a, b, na, nb in zip(pools, pools[1:], cfg.pools, cfg.pools[1:]):
            if b[:len(a)] != a:
                raise ValueError(f"pool {nb} does not extend {na}: a later pool must start with the earlier one")
        self.pool = pools[-1]  # alpha and the cost model index the largest pool
        self.widths = tuple(cfg.widths or PLANS[cfg.plan][1])
        self.specs = layer_specs(cfg.plan, cfg.counts, self.widths)
        self.kinds = [s.role for s in self.specs]  # behaviour follows shape (docs/methods/nse.md §2.2)
        table = load_table(cfg.latency_table) if cfg.cost == "latency" and cfg.latency_table else None
        self.cost = CostModel(self.pool, self.specs, info.resolution, info.in_channels, cfg.stem_stride,
                              cfg.head_width, info.num_classes, cfg.cost, table,
                              cfg.cost_unit if cfg.cost == "flops" else 1.0, cfg.latency_count_stem)
        self.state = self.initial_state()
        self.target = cfg.target if cfg.target is not None else self.median_cost(self.state.subsets)
        self.round_pruned: list[list[int]] = []
        self.records: list[dict] = []
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.model = self.build_supernet(self.state.subsets)

    # -- the space ---------------------------------------------------------------------------
    def stage_op_ids(self, stage: int) -> list[int]:
        """Op ids that enter the queues at the start of ``stage``."""
        cfg = self.cfg
        if stage == 0:
            if cfg.initial_retained == "nse27":
                return list(range(len(get_pool("MAC-27")), len(get_pool(cfg.pools[0]))))
            return list(cfg.pool_ops) if cfg.pool_ops else list(range(len(get_pool(cfg.pools[0]))))
        return list(range(len(get_pool(cfg.pools[stage - 1])), len(get_pool(cfg.pools[stage]))))

    def stage_rounds(self, stage: int) -> int:
        return stage_rounds(self.cfg, stage)

    def total_rounds(self) -> int:
        return total_rounds(self.cfg)

    def initial_state(self) -> RoundState:
        retained = None
        if self.cfg.initial_retained == "nse27":
            from ...zoo.nse import NSE27_RETAINED

            if self.cfg.plan != "NER" or tuple(self.cfg.counts) != (1, 3, 3, 3, 3, 3):
                raise ValueError("initial_retained 'nse27' needs the NER (1,3,3,3,3,3) supernet of the NSE-27 search")
            retained = NSE27_RETAINED
        return init_state(self.stage_op_ids(0), len(self.specs), self.cfg.K, self.cfg.seed, retained)

    def median_cost(self, subsets, n: int = 1000) -> float:
        """Median cost of uniformly sampled architectures (the tiny preset's target; ours)."""
        gen = torch.Generator().manual_seed(self.cfg.seed)
        costs = [self.cost.arch_cost([uniform_set(s, k, 0.5, gen) for s, k in zip(subsets, self.kinds)])
                 for _ in range(n)]
        return float(statistics.median(costs))

    def build_supernet(self, subsets) -> NSESupernet:
        """A freshly initialised supernet over ``subsets`` (every round, Sec. 4.3 step 8). Under
        DDP (world size > 1) its BN layers are synchronised BN, as in the authors' search
        (docs/methods/nse.md §7): one set of batch statistics over the global batch, which is
        also the batch the one sampled architecture is shared by. ``sync_bn: false`` keeps
        per-GPU statistics (ours). SyncBatchNorm needs GPUs: under gloo (CPU torchrun) the
        statistics stay per process."""
        model = NSESupernet(self.pool, self.specs, subsets, self.info.num_classes, self.info.in_channels,
                            self.cfg.stem_stride, self.cfg.head_width, self.cost, self.cfg.p_eps)
        if self.cfg.sync_bn and D.world()[1] > 1 and D.backend() != "gloo":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return model

    # -- engine task ---------------------------------------------------------------------------
    def optimizers(self):
        cfg, m = self.cfg, self.model
        decay = [p for n, p in m.named_parameters() if p is not m.alpha and p.dim() > 1]
        no_decay = [p for n, p in m.named_parameters() if p is not m.alpha and p.dim() <= 1]
        self._opts = {
            # Sec. 6.1: SGD Nesterov 0.9, wd 4e-5 on conv/linear weights only
            "weights": torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                                        {"params": no_decay, "weight_decay": 0.0}],
                                       lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov),
            # Sec. 6.2: Adam lr 0.005, betas (0, 0.999), no weight decay
            "arch": torch.optim.Adam([m.alpha], lr=cfg.arch_lr, betas=tuple(cfg.arch_betas), weight_decay=0.0),
        }
        return self._opts

    def schedulers(self):
        # Sec. 6.1: linear warm-up warmup_lr -> lr over warmup_epochs, then cosine to 0, per step,
        # restarting every round
        cfg = self.cfg
        total = max(1, cfg.epochs * self._steps_per_epoch)
        warm = int(round(cfg.warmup_epochs * self._steps_per_epoch))

        def factor(i):
            if i < warm:
                return (cfg.warmup_lr + (cfg.lr - cfg.warmup_lr) * i / warm) / cfg.lr
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (i - warm) / max(1, total - warm))))

        return {"weights": (torch.optim.lr_scheduler.LambdaLR(self._opts["weights"], factor), "step")}

    _steps_per_epoch = 1

    def prune_subsets(self, step: int) -> None:
        alpha = self.model.alpha.detach().cpu().numpy()
        removed = prune(self.state.subsets, alpha, self.state.retained, self.kinds, self.cfg.tau)
        self.round_pruned += [[l, o, step] for l, ops in enumerate(removed) for o in ops]

    def sample_pairs(self) -> list[LayerPair]:
        """The architecture step's per-layer samples (Sec. 5.2 step 1)."""
        p = self.model.probabilities().detach().cpu()
        out = []
        for l, (s, k) in enumerate(zip(self.state.subsets, self.kinds)):
            s = tuple(s)
            if is_deterministic(s, k):
                out.append(LayerPair(s, s, None))
            else:
                plus, minus = sample_two(p[l, list(s)], s, k, self.gen, self.cfg.enumerate_max)
                out.append(LayerPair(s, plus, minus))
        return out

    def training_step(self, batches, ctx):
        cfg, opts = self.cfg, self._opts
        self.prune_subsets(ctx.step)
        # weight step: uniform multi-branch sampling, one architecture for the whole batch
        x, y = ctx.to_device(batches["train"])
        arch = [uniform_set(s, k, cfg.balance, self.gen) for s, k in zip(self.state.subsets, self.kinds)]
        opts["weights"].zero_grad(set_to_none=True)
        with ctx.autocast():
            logits = ctx.model(x, arch)
            loss = nn.functional.cross_entropy(logits.float(), y)
        ctx.backward(loss)
        ctx.optimizer_step(opts["weights"])
        out = {"loss": loss.detach(), "acc": (logits.argmax(1) == y).float().mean()}
        # architecture step on a held-out batch (Sec. 5.2-5.3), every arch_every iterations
        if ctx.step % cfg.arch_every == 0:
            xv, yv = ctx.to_device(batches["arch"])
            pairs = self.sample_pairs()
            opts["arch"].zero_grad(set_to_none=True)
            with ctx.autocast():
                logits_v, expected = ctx.model(xv, pairs=pairs)
                ce = nn.functional.cross_entropy(logits_v.float(), yv)
            penalty = cfg.penalty_lambda * (expected - self.target).abs() ** cfg.penalty_beta
            arch_loss = ce + penalty.float()
            ctx.backward(arch_loss)
            ctx.optimizer_step(opts["arch"])
            out.update(arch_loss=arch_loss.detach(), expected_cost=expected.detach().float())
        return out

    def state_dict(self):
        return {"state": self.state.to_dict(), "pruned": self.round_pruned, "generator": self.gen.get_state()}

    def load_state_dict(self, st):
        self.state = RoundState.from_dict(st["state"])
        self.round_pruned = [list(x) for x in st["pruned"]]
        self.gen.set_state(st["generator"])

    # -- the rounds ----------------------------------------------------------------------------
    def start_round(self, state: RoundState, previous: dict | None) -> None:
        """A fresh supernet over the round's subsets (weights re-initialised, alpha = 0) and the
        round-start pruning. ``previous``: the last round's final weights, for the classifier
        quirk and the warm-start teaching mode."""
        self.state = state.copy()
        self.round_pruned = []
        self.subsets_start = [list(x) for x in state.subsets]
        seed_everything(_mix(self.cfg.seed, state.round, 1))
        # the round's own generator for architecture draws: checkpointed with the task, so a
        # resumed round draws what an uninterrupted one does (the global RNG is also consumed
        # by DataLoader iterators, which a mid-epoch resume creates at a different point)
        self.gen = torch.Generator().manual_seed(_mix(self.cfg.seed, state.round, 5))
        self.model = self.build_supernet(self.state.subsets)
        if previous is not None:
            own = self.model.state_dict()
            keep = [k for k in previous if k.startswith("head.classifier.")] if not self.cfg.reinit_classifier else []
            if self.cfg.warm_start:  # teaching mode: retained ops keep their weights (not part of NSE)
                for l, ops in enumerate(state.retained):
                    keep += [k for k in previous for o in ops if k.startswith(f"layers.{l}.ops.{o}.")]
            self.model.load_state_dict({**own, **{k: previous[k] for k in keep if k in own}})
        self.prune_subsets(-1)

    def run(self, trainer: Trainer, resume: bool = False) -> list[dict]:
        cfg, base = self.cfg, trainer.run_dir
        loaders = nse_loaders(cfg, trainer.loaders, self.info.resolution)
        state = self.initial_state()
        if base is not None and resume and (base / STATE_FILE).exists():
            saved = json.loads((base / STATE_FILE).read_text())
            state, self.records = RoundState.from_dict(saved["state"]), saved.get("records", [])
        elif base is not None and D.is_main():
            self._save(base, state)
        history: list[dict] = []
        previous = None
        phases = Phases(base, trainer.hooks)
        while state.round < self.total_rounds():
            r = state.round
            if previous is None and r > 0 and base is not None:
                previous = self._round_weights(phases, r - 1)
            self.start_round(state, previous)
            stop = None if cfg.stop_after_steps is None else cfg.stop_after_steps - state.steps_done
            if stop is not None and stop <= 0:
                return history
            ecfg = dataclasses.replace(cfg.engine(), seed=_mix(cfg.seed, r, 2), stop_after_steps=stop)
            stream = {k: loaders[k] for k in ("train", "arch")}  # a new data order each round (ours)
            self._steps_per_epoch = min(len(stream[s]) for s in self.streams)
            if cfg.max_steps_per_epoch:
                self._steps_per_epoch = min(self._steps_per_epoch, cfg.max_steps_per_epoch)
            t = phases.fit(self, stream, ecfg, r, "round", resume=resume)
            history += t.history
            if not phases.completed(t):  # stopped (a simulated kill): the round checkpoint stays
                return history
            previous = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            state = self.state.copy()  # the subsets as pruned during the round
            state.steps_done += t.global_step
            state, record = end_of_round(self.model, state, self.cost, cfg, self.target, loaders,
                                         _mix(cfg.seed, r, 4), t.device, cfg.progress and D.is_main())
            record["pruned"] = self.round_pruned
            record["subsets_start"] = self.subsets_start
            self.records.append(record)
            if state.stage_round >= self.stage_rounds(state.stage) and state.stage + 1 < len(cfg.pools):
                state = continue_with_pool(state, self.stage_op_ids(state.stage + 1), cfg.K,
                                           cfg.seed, cfg.drop_front_on_continue)
            self.state = state
            if base is not None and D.is_main():
                (phases.dir(r, "round") / "round.json").write_text(json.dumps(record) + "\n")
                self._save(base, state)
            D.barrier()
            for h in trainer.hooks:
                h("round", record)
        self.state = state
        return history

    def load_run(self, run: Path) -> None:
        """``nasbook derive``: the round state of ``RUN/nse_state.json`` (its Pareto front is what
        :meth:`derive` picks from); before the first front, the super-net of the latest round
        checkpoint, rebuilt over that round's subsets."""
        run = Path(run)
        if not (run / STATE_FILE).exists():
            raise ValueError(f"{run} has no {STATE_FILE} (has the search started?)")
        saved = json.loads((run / STATE_FILE).read_text())
        self.state, self.records = RoundState.from_dict(saved["state"]), saved.get("records", [])
        if self.state.front:
            return
        phases = Phases(run)
        r = phases.latest(["round"] * self.total_rounds())
        if r is None:
            raise ValueError(f"{run} has neither a Pareto front nor a round checkpoint yet")
        st = load_checkpoint(phases.checkpoint(r, "round"))
        self.load_state_dict(st["task"])
        self.model = self.build_supernet(self.state.subsets)
        self.model.load_state_dict(st["model"])

    def _save(self, base: Path, state: RoundState) -> None:
        tmp = base / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps({"state": state.to_dict(), "target": self.target, "records": self.records}) + "\n")
        os.replace(tmp, base / STATE_FILE)

    @staticmethod
    def _round_weights(phases: Phases, r: int) -> dict | None:
        ck = phases.checkpoint(r, "round")
        return load_checkpoint(ck)["model"] if ck is not None else None

    # -- derivation ------------------------------------------------------------------------------
    def pick(self) -> dict | None:
        """The final pick from the front (ours, Sec. 10 #3): best held-out top-1 with cost <= budget."""
        front = self.state.front
        if not front:
            return None
        budget = self.cfg.budget if self.cfg.budget is not None else self.target + self.cfg.window[1]
        ok = [f for f in front if f["cost"] <= budget] or front
        return max(ok, key=lambda f: (f["top1"], -f["cost"]))

    def derive(self) -> NSEArch:
        """The picked front member as a final network value (empty N layers dropped); before the
        first front exists, the most probable architecture under alpha. With ``width_budget``
        the value gets the largest width multiplier that fits it (docs/methods/nse.md §6.2)."""
        cfg = self.cfg
        best = self.pick()
        if best is not None:
            layers = [tuple(a) for a in best["arch"]]
        else:
            p = self.model.probabilities().detach().cpu()
            layers = []
            for l, (s, k) in enumerate(zip(self.state.subsets, self.kinds)):
                on = tuple(o for o in s if p[l, o] > 0.5)
                layers.append(on if on or k == "N" else (max(s, key=lambda o: p[l, o]),))
        arch = NSEArch(cfg.pools[self.state.stage], cfg.plan, tuple(cfg.counts), tuple(layers),
                       widths=tuple(self.widths) if cfg.widths else None, stem_stride=cfg.stem_stride,
                       head_width=cfg.head_width, se=cfg.final_se, act=cfg.final_act).compact()
        if cfg.width_budget is not None:
            from .width import fit_width_mult

            info = self.info
            arch = fit_width_mult(arch, cfg.width_budget * cfg.cost_unit, "macs", info.resolution, info.in_channels,
                                  info.num_classes, *cfg.width_range)
        return arch

    def summary(self):
        best = self.pick()
        return {"rounds": self.state.round, "target": self.target,
                "window": [self.target + self.cfg.window[0], self.target + self.cfg.window[1]],
                "cost_kind": self.cfg.cost, "front": self.state.front, "retained": self.state.retained,
                "picked": best}
