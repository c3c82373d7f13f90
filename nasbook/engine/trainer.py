"""The one training loop (docs/architecture.md), shared by every search method and by retraining.

A method is a :class:`Task`: it owns the model (weights *and* architecture parameters, all
real ``nn.Parameter``s) and its optimisers, and defines one ``training_step``. The
:class:`Trainer` owns everything around it: device, DDP, AMP, channels_last, gradient
clipping, schedulers, EMA, seeding, data order, atomic checkpoints with exact resume, the
JSON-lines metrics log, tqdm progress and hooks.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import nn

from . import distributed as D
from .checkpoint import load as load_checkpoint
from .checkpoint import save_atomic
from .seed import rng_state, seed_everything, set_rng_state


@dataclass
class EngineConfig:
    """Settings of the training loop (the parts of a preset that are not the method's)."""

    epochs: int = 1
    seed: int = 0
    device: str = "auto"           # auto | cpu | cuda | cuda:N | mps
    amp: bool = False              # autocast on CUDA (bf16 or fp16 with a GradScaler)
    amp_dtype: str = "bf16"
    channels_last: bool = False
    grad_clip: float | None = 5.0  # DARTS clips weight gradients at norm 5
    ema_decay: float | None = None
    max_steps_per_epoch: int | None = None  # cap for tiny runs and smoke tests
    checkpoint_every: int = 0      # steps between mid-epoch checkpoints; 0: at epoch ends only
    stop_after_steps: int | None = None  # simulate a kill after this many global steps (tests); at an
                                         # epoch's last step, right after the epoch's checkpoint
    log_every: int = 10
    progress: bool = True
    find_unused_parameters: bool = True  # super-nets leave ops unused in some steps


class StopTraining(Exception):
    """Raised by a hook (or by ``stop_after_steps``) to end a run; the last checkpoint stays."""


class NonFiniteLoss(RuntimeError):
    """A step's loss was NaN or infinite. The run stops at once: nothing after that step is
    saved, so the last checkpoint (if any) is the last good state."""


def select_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r}: expected auto, cpu, cuda, cuda:N or mps")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("--device mps was asked for, but torch sees no MPS device")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return dev


class StepContext:
    """What a task's ``training_step`` uses: the (DDP-wrapped) model, autocast, backward with
    loss scaling, and an optimiser step with unscaling and clipping."""

    def __init__(self, trainer: "Trainer"):
        self.trainer = trainer

    @property
    def model(self) -> nn.Module:
        return self.trainer.wrapped

    @property
    def device(self) -> torch.device:
        return self.trainer.device

    @property
    def epoch(self) -> int:
        return self.trainer.epoch

    @property
    def step(self) -> int:
        return self.trainer.global_step

    def to_device(self, batch):
        x, y = batch
        x = x.to(self.device, non_blocking=True)
        if self.trainer.cfg.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=True)

    def autocast(self):
        t = self.trainer
        if t.cfg.amp and t.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16 if t.cfg.amp_dtype == "bf16" else torch.float16)
        return contextlib.nullcontext()

    def no_sync(self):
        """Skip DDP's gradient all-reduce for this backward (all but the last micro-batch of
        gradient accumulation); a no-op outside DDP."""
        w = self.trainer.wrapped
        return w.no_sync() if isinstance(w, nn.parallel.DistributedDataParallel) else contextlib.nullcontext()

    def backward(self, loss: torch.Tensor) -> None:
        s = self.trainer.scaler
        (s.scale(loss) if s is not None else loss).backward()

    def optimizer_step(self, optimizer: torch.optim.Optimizer, clip: Iterable[nn.Parameter] | None = None,
                       clip_norm: float | None = None) -> None:
        """Unscale, clip the norm of ``clip`` params at ``clip_norm`` (default: the engine's
        ``grad_clip``), step, update the scaler."""
        s = self.trainer.scaler
        norm = self.trainer.cfg.grad_clip if clip_norm is None else clip_norm
        if clip is not None and norm:
            if s is not None:
                s.unscale_(optimizer)
            nn.utils.clip_grad_norm_(list(clip), norm)
        if s is not None:
            s.step(optimizer)
            s.update()
        else:
            optimizer.step()


class Task:
    """A thing the engine trains. Subclasses set ``self.model`` and implement the methods."""

    model: nn.Module
    #: names of the data streams the task needs each step: ("train",) or ("train", "arch").
    #: The first stream sets the epoch length (one pass over it); every other stream is
    #: re-drawn with a fresh order whenever it runs out, as the PC-DARTS / DARTS code draws
    #: architecture batches with ``next(iter(valid_queue))`` inside the weight loop. So a small
    #: architecture split (EnTranNAS's 10% / 2.5% ImageNet split, Meta Kernels' 80/20) never
    #: shortens an epoch over the weight split.
    streams: tuple[str, ...] = ("train",)

    @property
    def cycled_streams(self) -> tuple[str, ...]:
        """The streams re-drawn when exhausted: all but the first."""
        return tuple(self.streams[1:])

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def schedulers(self) -> dict[str, tuple[Any, str]]:
        """name -> (scheduler, 'epoch' | 'step')."""
        return {}

    def training_step(self, batches: dict[str, Any], ctx: StepContext) -> dict[str, float]:
        raise NotImplementedError

    def on_epoch_end(self, epoch: int, ctx: StepContext) -> dict[str, Any]:
        return {}

    @torch.no_grad()
    def evaluate(self, loader, ctx: StepContext) -> dict[str, float]:
        """Top-1/top-5 accuracy and loss of ``self.model`` (or the EMA model) on a loader."""
        model = ctx.trainer.eval_model()
        model.eval()
        n = correct1 = correct5 = 0
        loss = 0.0
        for batch in loader:
            x, y = ctx.to_device(batch)
            with ctx.autocast():
                out = model(x)
            out = out[0] if isinstance(out, tuple) else out
            loss += nn.functional.cross_entropy(out.float(), y, reduction="sum").item()
            top = out.topk(min(5, out.size(1)), dim=1).indices
            correct1 += (top[:, 0] == y).sum().item()
            correct5 += (top == y[:, None]).any(1).sum().item()
            n += y.numel()
        model.train()
        if ctx.trainer.distributed:  # sum the shards of every rank
            t = torch.tensor([n, correct1, correct5, loss], dtype=torch.float64, device=ctx.device)
            torch.distributed.all_reduce(t)
            n, correct1, correct5, loss = t.tolist()
        return {"val_loss": loss / max(n, 1), "val_top1": correct1 / max(n, 1), "val_top5": correct5 / max(n, 1)}

    def finished(self) -> bool:
        """True ends the run after the current epoch's checkpoint (phases that stop on a rule)."""
        return False

    def state_dict(self) -> dict:
        """Extra state beyond the model and optimisers (e.g. a derivation history)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


Hook = Callable[[str, dict], None]


class Trainer:
    """Runs a :class:`Task` for ``cfg.epochs`` epochs over ``loaders`` and writes ``run_dir``.

    ``loaders`` maps the task's stream names to loaders made by
    :func:`nasbook.data.make_loader`, plus an optional ``"valid"`` loader evaluated at each
    epoch end. Hooks are called as ``hook(event, info)`` with event in
    ``{"step", "epoch", "end"}``.
    """

    CHECKPOINT = "checkpoint.pt"

    def __init__(self, task: Task, loaders: dict, cfg: EngineConfig, run_dir: str | Path | None = None,
                 hooks: Iterable[Hook] = ()):
        self.task, self.loaders, self.cfg = task, loaders, cfg
        self.run_dir = Path(run_dir) if run_dir else None
        self.hooks = list(hooks)
        self.device = select_device(cfg.device)
        self.distributed = D.init_from_env(self.device)
        self.rank, self.world = D.world()
        missing = [s for s in task.streams if s not in loaders]
        if missing:
            raise ValueError(f"task needs data streams {missing} that were not given")
        self.epoch = 0
        self.step_in_epoch = 0
        self.global_step = 0
        self.history: list[dict] = []

        task.model.to(self.device)
        if cfg.channels_last:
            task.model.to(memory_format=torch.channels_last)
        self.wrapped = task.model
        if self.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.wrapped = nn.parallel.DistributedDataParallel(
                task.model, device_ids=ids, find_unused_parameters=cfg.find_unused_parameters)
        self.optimizers = task.optimizers()
        self.schedulers = task.schedulers()
        use_scaler = cfg.amp and self.device.type == "cuda" and cfg.amp_dtype == "fp16"
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.ema = None
        if cfg.ema_decay:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(task.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        self.ctx = StepContext(self)

    # -- helpers -------------------------------------------------------------------------
    def rewrap(self) -> None:
        """Re-create the DDP wrapper after the task changed its model's parameters (e.g. a
        pruning method that removes or shrinks modules between epochs); no-op when not DDP."""
        if self.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.wrapped = nn.parallel.DistributedDataParallel(
                self.task.model, device_ids=ids, find_unused_parameters=self.cfg.find_unused_parameters)

    def eval_model(self) -> nn.Module:
        return self.ema.module if self.ema is not None else self.task.model

    def steps_per_epoch(self) -> int:
        first = self.loaders[self.task.streams[0]]  # the epoch is one pass over the first stream
        n = (first.sampler.per_rank // first.batch_size if first.drop_last
             else math.ceil(first.sampler.per_rank / first.batch_size))
        if self.cfg.max_steps_per_epoch:
            n = min(n, self.cfg.max_steps_per_epoch)
        return n

    def _position_cycled(self, name: str) -> None:
        """Point a cycled stream at the pass and sample of ``step_in_epoch`` (exact resume):
        pass k of epoch e draws the order of sampler epoch ``e * 1_000_003 + k``."""
        loader = self.loaders[name]
        per_rank, bs = loader.sampler.per_rank, loader.batch_size
        per_pass = per_rank // bs if loader.drop_last else math.ceil(per_rank / bs)
        k, j = divmod(self.step_in_epoch, max(per_pass, 1))
        loader.sampler.set_epoch(self.epoch * 1_000_003 + k, j * bs)

    def _next_batch(self, iters: dict, name: str):
        try:
            return next(iters[name])
        except StopIteration:
            if name not in self.task.cycled_streams:
                raise
            self._position_cycled(name)
            iters[name] = iter(self.loaders[name])
            return next(iters[name])

    def _emit(self, event: str, info: dict):
        for h in self.hooks:
            h(event, info)

    def _log(self, record: dict):
        self.history.append(record)
        if self.run_dir is not None and self.rank == 0:
            with open(self.run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "model": self.task.model.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, (s, _) in self.schedulers.items()},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "task": self.task.state_dict(),
            "rng": rng_state(),
            "position": {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step},
            "engine": asdict(self.cfg),
        }

    def save_checkpoint(self):
        if self.run_dir is None:
            return
        # Never overwrite the last good state with a diverged one (weights can turn NaN one step
        # before the loss shows it). Checked on every rank: DDP keeps the weights equal, so all
        # ranks stop together instead of leaving the others waiting at the barrier.
        state = self.state_dict() if self.rank == 0 else {"model": self.task.model.state_dict()}
        bad = next((n for n, t in state["model"].items() if t.is_floating_point() and not torch.isfinite(t).all()),
                   None)
        if bad is not None:
            raise NonFiniteLoss(f"the weights became non-finite by step {self.global_step} (epoch {self.epoch + 1}, "
                                f"e.g. {bad}); stopped without saving, the last good checkpoint is "
                                f"{self.run_dir / self.CHECKPOINT}. A learning rate too high?")
        if self.rank == 0:
            save_atomic(state, self.run_dir / self.CHECKPOINT)
        D.barrier()

    def load_checkpoint(self, path: str | Path):
        st = load_checkpoint(path, map_location=self.device)
        if not isinstance(st, dict) or not {"model", "optimizers", "position"} <= set(st):
            raise ValueError(f"{path}: a readable file, but not a nasbook checkpoint (no model/optimizers/position)")
        try:
            self.task.model.load_state_dict(st["model"])
        except RuntimeError as e:  # a size mismatch: the checkpoint was made by another configuration
            lines = [ln.strip() for ln in str(e).splitlines() if "size mismatch" in ln or "Missing" in ln
                     or "Unexpected" in ln]
            raise ValueError(f"{path} was made by another configuration than this run's: "
                             f"{lines[0] if lines else str(e).splitlines()[0]}") from None
        for k, o in self.optimizers.items():
            o.load_state_dict(st["optimizers"][k])
        for k, (s, _) in self.schedulers.items():
            s.load_state_dict(st["schedulers"][k])
        if self.scaler is not None and st["scaler"] is not None:
            self.scaler.load_state_dict(st["scaler"])
        if self.ema is not None and st["ema"] is not None:
            self.ema.load_state_dict(st["ema"])
        self.task.load_state_dict(st["task"])
        set_rng_state(st["rng"])
        pos = st["position"]
        self.epoch, self.step_in_epoch, self.global_step = pos["epoch"], pos["step_in_epoch"], pos["global_step"]
        # Drop log lines written after this checkpoint (the killed run's lost steps).
        if self.run_dir is not None and (self.run_dir / "metrics.jsonl").exists():
            lines = (self.run_dir / "metrics.jsonl").read_text().splitlines()
            keep = [ln for ln in lines if json.loads(ln).get("step", 0) <= self.global_step]
            if self.rank == 0:
                (self.run_dir / "metrics.jsonl").write_text("".join(ln + "\n" for ln in keep))
            self.history = [json.loads(ln) for ln in keep]

    # -- the loop ------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> list[dict]:
        """Train to the end (or until a hook raises :class:`StopTraining`)."""
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        ckpt = self.run_dir / self.CHECKPOINT if self.run_dir is not None else None
        if resume and ckpt is not None and ckpt.exists():
            self.load_checkpoint(ckpt)
        else:
            seed_everything(self.cfg.seed)
            if self.run_dir is not None and self.rank == 0 and (self.run_dir / "metrics.jsonl").exists():
                (self.run_dir / "metrics.jsonl").unlink()
        try:
            while self.epoch < self.cfg.epochs and not self.task.finished():
                self._run_epoch()
        except StopTraining:
            return self.history
        finally:
            pass
        self._emit("end", {"history": self.history})
        return self.history

    def _run_epoch(self):
        cfg, task = self.cfg, self.task
        n_steps = self.steps_per_epoch()
        for name in task.streams:
            if name in task.cycled_streams:
                self._position_cycled(name)
            else:
                self.loaders[name].sampler.set_epoch(self.epoch, self.step_in_epoch * self.loaders[name].batch_size)
        iters = {name: iter(self.loaders[name]) for name in task.streams}
        bar = None
        if cfg.progress and self.rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_steps, initial=self.step_in_epoch, desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
                       leave=False, dynamic_ncols=True)
        task.model.train()
        t0 = time.perf_counter()
        while self.step_in_epoch < n_steps:
            batches = {name: self._next_batch(iters, name) for name in task.streams}
            metrics = task.training_step(batches, self.ctx)
            if "loss" in metrics and not math.isfinite(float(metrics["loss"])):
                ck = self.run_dir / self.CHECKPOINT if self.run_dir is not None else None
                last = (f"the last good checkpoint is {ck}" if ck is not None and ck.exists()
                        else "no checkpoint was written before it")
                if bar is not None:
                    bar.close()
                raise NonFiniteLoss(f"the loss became {float(metrics['loss'])} at step {self.global_step + 1} "
                                    f"(epoch {self.epoch + 1}); stopped, {last}. A learning rate too high? "
                                    f"(lr and arch_lr are config fields)")
            for s, interval in self.schedulers.values():
                if interval == "step":
                    s.step()
            if self.ema is not None:
                self.ema.update_parameters(task.model)
            self.step_in_epoch += 1
            self.global_step += 1
            info = {"epoch": self.epoch, "step": self.global_step, **{k: float(v) for k, v in metrics.items()}}
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items() if k in ("loss", "acc", "arch_loss")})
            if self.global_step % cfg.log_every == 0:
                self._log({"event": "step", **info})
            self._emit("step", info)
            if cfg.checkpoint_every and self.global_step % cfg.checkpoint_every == 0 and self.step_in_epoch < n_steps:
                self.save_checkpoint()
            if cfg.stop_after_steps is not None and self.global_step >= cfg.stop_after_steps \
                    and self.step_in_epoch < n_steps:  # at an epoch's last step: after its checkpoint
                if bar is not None:
                    bar.close()
                raise StopTraining
        if bar is not None:
            bar.close()
        for s, interval in self.schedulers.values():
            if interval == "epoch":
                s.step()
        epoch_info = {"event": "epoch", "epoch": self.epoch, "step": self.global_step,
                      "seconds": time.perf_counter() - t0,
                      "images_per_s": n_steps * self.loaders[task.streams[0]].batch_size * self.world / max(time.perf_counter() - t0, 1e-9)}
        if "valid" in self.loaders:
            epoch_info.update(task.evaluate(self.loaders["valid"], self.ctx))
        epoch_info.update(task.on_epoch_end(self.epoch, self.ctx))
        self.epoch += 1
        self.step_in_epoch = 0
        self._log(epoch_info)
        self._emit("epoch", epoch_info)
        self.save_checkpoint()
        if cfg.stop_after_steps is not None and self.global_step >= cfg.stop_after_steps:
            raise StopTraining  # a kill right after the epoch's checkpoint
