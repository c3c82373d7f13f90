"""Retraining a derived (or published) architecture with a paper's recipe (issue 8).

A *recipe* is a named preset: ``darts-cifar10`` and friends in ``presets/retrain.yaml``, and
``METHOD-PRESET`` for every preset of a method's ``presets/METHOD_retrain.yaml``. Every recipe
has a tiny variant ``RECIPE-tiny``: the same recipe with the sizes of ``retrain.yaml``'s
``tiny`` block (offline digits, two steps). ``retrain(arch, recipe)`` builds the network with
its space's ``build``, trains it on the shared engine (:class:`RetrainTask`) and writes::

    RUN/config.yaml    recipe name, architecture and the full RetrainConfig
    RUN/metrics.jsonl  steps and epochs (loss, lr, top-1/top-5, images/s)
    RUN/checkpoint.pt  the latest checkpoint (resume=True continues it exactly)
    RUN/summary.json   final accuracy, params/MACs, recipe keys the network could not take
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import torch
import yaml
from torch import nn
from torch.nn import functional as F

from . import config as C
from .engine import EngineConfig, StepContext, Task, Trainer
from .engine import distributed as D

RECIPE_FILE = "retrain.yaml"
TINY = "tiny"
#: tiny sizes applied only when the recipe itself sets the key (not to add, say, a warm-up).
_TINY_IF_SET = ("C", "layers", "lr_warmup_epochs")


@dataclass
class RetrainConfig:
    """Every key a recipe may set. Defaults are the DARTS CIFAR recipe's where one applies.
    Keys that only document a protocol (``train_split``, ``report``, ...) are kept so that the
    preset files can say them; :func:`check_supported` rejects values we cannot honour."""

    # data
    dataset: str = "cifar10"
    data: str | None = None
    download: bool = False
    resolution: int | None = None
    train_split: str = "full"            # the whole training set; the test/val set evaluates
    batch_size: int = 96                 # GLOBAL batch (all ranks, all accumulation steps)
    grad_accum: int = 1                  # micro-batches per optimiser step (ours; sizes only)
    workers: int = 0
    cutout: int = 0
    auto_augment: str | bool | None = None   # autoaugment | randaugment | None/false
    randaugment_magnitude: int | None = None
    randaugment_magnitude_std: float | None = None
    random_erasing: float | None = None
    color_jitter: list[float] | None = None
    train_crop: int | None = None
    eval_resize: int | None = None
    eval_crop: int | None = None
    eval_interpolation: str | None = None
    max_eval_batches: int | None = None  # cap for tiny runs
    # network (passed to the space's build where it takes them)
    C: int | None = None
    layers: int | None = None
    stem: str | None = None
    stem_C: int | str | None = None
    auxiliary: bool = False
    auxiliary_weight: float = 0.4
    drop_path_prob: float = 0.0
    drop_path_ramp: str = "linear"       # DARTS: p * epoch / epochs
    drop_path: float | None = None       # NSE preset: depth-linear drop path of the deepest layer
    drop_connect: float | None = None
    dropout: float | None = None
    bn_momentum: float | None = None
    bn_eps: float | None = None
    activation: str | None = None
    se: bool | None = None
    weight_masks: str | None = None
    reinitialise: bool = True
    eval_feature_sharing: bool = False
    mobile_setting_macs: float | None = None
    # optimisation
    optimizer: str = "sgd"               # sgd | rmsprop | rmsproptf
    lr: float | None = None
    lr_per_256: float | None = None      # lr = lr_per_256 * batch_size / 256
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 3e-4
    wd_weights_only: bool = False        # no decay on BN parameters and biases
    rmsprop_decay: float = 0.9
    rmsprop_eps: float = 1e-3
    label_smoothing: float = 0.0
    grad_clip: float | None = 5.0
    # schedule (see lr_at)
    lr_schedule: str | None = None       # cosine | linear | step; None: step if lr_decay else cosine
    lr_interval: str = "step"            # step: per iteration; epoch: constant within an epoch
    lr_min: float = 0.0
    lr_warmup_epochs: float = 0.0
    lr_warmup_init: float = 0.0
    lr_gamma: float | None = None
    lr_step_epochs: float | None = None
    lr_decay: float | None = None        # EfficientNet names of lr_gamma / lr_step_epochs
    lr_decay_epochs: float | None = None
    # loop
    epochs: int = 600
    seed: int = 0
    seeds: list[int] | None = None
    report: list[str] | None = None
    device: str = "auto"
    amp: bool = False
    amp_dtype: str = "bf16"
    channels_last: bool = False
    sync_bn: bool = False
    ema_decay: float | None = None
    max_steps_per_epoch: int | None = None
    checkpoint_every: int = 0
    stop_after_steps: int | None = None
    log_every: int = 10
    progress: bool = True

    def engine(self) -> EngineConfig:
        names = {f.name for f in dataclasses.fields(EngineConfig)}
        return EngineConfig(**{k: v for k, v in dataclasses.asdict(self).items() if k in names},
                            find_unused_parameters=False)

    def base_lr(self) -> float:
        if self.lr is not None:
            return self.lr
        if self.lr_per_256 is not None:
            return self.lr_per_256 * self.batch_size / 256
        raise ValueError("lr: the recipe sets neither lr nor lr_per_256")

    def schedule(self) -> str:
        return self.lr_schedule or ("step" if self.lr_decay is not None else "cosine")


def check_supported(cfg: RetrainConfig) -> None:
    """Values that name a protocol we do not implement are errors naming the key."""
    allowed = {"optimizer": ("sgd", "rmsprop", "rmsproptf"), "lr_schedule": (None, "cosine", "linear", "pcdarts_linear", "step"),
               "lr_interval": ("step", "epoch"), "drop_path_ramp": ("linear", "none"), "train_split": ("full",),
               "auto_augment": (None, False, "autoaugment", "randaugment"), "weight_masks": (None, "apply")}
    for key, ok in allowed.items():
        if getattr(cfg, key) not in ok:
            raise ValueError(f"{key}: {getattr(cfg, key)!r} is not supported; one of {ok}")
    if cfg.eval_feature_sharing:
        raise ValueError("eval_feature_sharing: true is not supported (one module per genotype entry)")
    if not cfg.reinitialise:
        raise ValueError("reinitialise: false (inheriting search weights) is not supported")
    if cfg.grad_accum < 1 or cfg.batch_size % cfg.grad_accum:
        raise ValueError(f"grad_accum: {cfg.grad_accum} must divide batch_size {cfg.batch_size}")
    cfg.base_lr()


# ---------------------------------------------------------------------------------------
# Recipes
# ---------------------------------------------------------------------------------------

def _preset_files() -> dict[str, str]:
    """prefix -> preset file: '' for retrain.yaml, METHOD for METHOD_retrain.yaml."""
    out = {"": RECIPE_FILE}
    for f in sorted(resources.files(C.PRESET_DIR).iterdir(), key=lambda p: p.name):
        if f.name.endswith("_retrain.yaml"):
            out[f.name[: -len("_retrain.yaml")]] = f.name
    return out


def _read(file: str) -> dict:
    return yaml.safe_load(resources.files(C.PRESET_DIR).joinpath(file).read_text()) or {}


def _first_comment(file: str, preset: str) -> str:
    """The comment line under ``preset:`` in the file: the recipe's source."""
    lines = resources.files(C.PRESET_DIR).joinpath(file).read_text().splitlines()
    for i, ln in enumerate(lines):
        if ln.rstrip() == f"{preset}:":
            for nxt in lines[i + 1:i + 3]:
                if nxt.strip().startswith("#"):
                    return nxt.strip().lstrip("# ")
    return ""


def recipes() -> dict[str, dict]:
    """name -> {"file", "preset", "source"} for every recipe (tiny variants not listed)."""
    out = {}
    for prefix, file in _preset_files().items():
        for preset in _read(file):
            if preset == TINY and prefix == "":
                continue
            name = f"{prefix}-{preset}" if prefix else preset
            out[name] = {"file": file, "preset": preset, "source": _first_comment(file, preset)}
    return out


def resolve_recipe(name: str) -> tuple[str, bool]:
    """(canonical name, tiny?) for a recipe name, ``NAME-tiny``, or ``METHOD_retrain`` (the
    first preset of that file, as zoo metadata names them)."""
    all_ = recipes()
    tiny = False
    if name not in all_ and name.endswith("-" + TINY):
        name, tiny = name[: -len(TINY) - 1], True
    if name not in all_ and name.endswith("_retrain"):
        first = [n for n, r in all_.items() if r["file"] == name + ".yaml"]
        if first:
            name = first[0]
    if name not in all_:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(all_)} (add -tiny for the CPU variant)")
    return name, tiny


def recipe_values(name: str) -> dict:
    """The flattened values of a recipe (``inherit`` followed; ``-tiny`` applied)."""
    name, tiny = resolve_recipe(name)
    r = recipes()[name]
    values = C.preset_values(r["file"][:-5], r["preset"],
                             resources.files(C.PRESET_DIR).joinpath(r["file"]))
    if tiny:
        sizes = C.preset_values("retrain", TINY, resources.files(C.PRESET_DIR).joinpath(RECIPE_FILE))
        stem_res = sizes.pop("imagenet_stem_resolution")
        for k, v in sizes.items():
            if k not in _TINY_IF_SET or values.get(k):
                values[k] = v
        if values.get("stem") == "imagenet":  # 8x down-sampling stems + 2 reductions: aux head needs >= 5x5
            values["resolution"] = stem_res
    return values


def load_recipe(name: str, overrides: dict | None = None) -> RetrainConfig:
    """A validated :class:`RetrainConfig` (unknown keys and wrong types name the key)."""
    values = recipe_values(name)
    values.update(overrides or {})
    cfg = C.make_config(RetrainConfig, values)
    check_supported(cfg)
    return cfg


# ---------------------------------------------------------------------------------------
# Learning-rate schedule
# ---------------------------------------------------------------------------------------

def lr_at(cfg: RetrainConfig, t: float) -> float:
    """The learning rate at training time ``t`` in epochs (fractional under ``lr_interval:
    step``, the integer epoch under ``epoch``).

    Warm-up (``lr_warmup_epochs`` W > 0): linear from ``lr_warmup_init`` to the base lr; per
    epoch it is ``base * (e + 1) / W`` (PC-DARTS code), per step ``init + (base - init) t / W``.
    After it, with ``u = (t - W) / (epochs - W)``: cosine ``lr_min + (base - lr_min)(1 +
    cos(pi u)) / 2`` (SGDR without restarts); linear ``base (1 - u)`` (PC-DARTS); step
    ``base * gamma ** floor(t / every)`` counted from t = 0 (DARTS ImageNet, EfficientNet).
    """
    base, W, E = cfg.base_lr(), cfg.lr_warmup_epochs, cfg.epochs
    if cfg.schedule() == "pcdarts_linear":
        return pcdarts_linear_lr(base, math.floor(t), E, W)
    if W > 0 and t < W:
        if cfg.lr_interval == "epoch":
            return base * (math.floor(t) + 1) / W
        return cfg.lr_warmup_init + (base - cfg.lr_warmup_init) * t / W
    kind = cfg.schedule()
    if kind == "step":
        gamma = cfg.lr_gamma if cfg.lr_gamma is not None else cfg.lr_decay
        every = cfg.lr_step_epochs if cfg.lr_step_epochs is not None else cfg.lr_decay_epochs
        if gamma is None or not every:
            raise ValueError("lr_schedule step needs lr_gamma/lr_decay and lr_step_epochs/lr_decay_epochs")
        return base * gamma ** math.floor(t / every + 1e-9)
    u = min(max((t - W) / max(E - W, 1e-9), 0.0), 1.0)
    if kind == "cosine":
        return cfg.lr_min + (base - cfg.lr_min) * (1 + math.cos(math.pi * u)) / 2
    return base * (1 - u)  # linear


def pcdarts_linear_lr(base: float, epoch: int, epochs: int, warmup: float) -> float:
    """The PC-DARTS ImageNet retraining schedule (``train_imagenet.py``, ``adjust_lr``), per
    epoch: linear decay from epoch 0, ``base (E - 5 - e) / (E - 5)``, with a smaller slope in
    the last 5 epochs, ``base (E - e) / (5 (E - 5))``; in the first ``warmup`` epochs the decayed
    value is multiplied by ``(e + 1) / warmup``. Unlike ``linear``, the decay does not wait for
    the warm-up to end."""
    E = epochs
    if E - epoch > 5:
        lr = base * (E - 5 - epoch) / max(E - 5, 1)
    else:
        lr = base * (E - epoch) / (max(E - 5, 1) * 5)
    if warmup > 0 and epoch < warmup:
        lr *= (epoch + 1) / warmup
    return lr


def lr_lambda(cfg: RetrainConfig, steps_per_epoch: int):
    """Factor of the base lr at global step ``s`` (for ``LambdaLR`` stepped every step)."""
    base = cfg.base_lr()

    def f(s: int) -> float:
        t = s // steps_per_epoch if cfg.lr_interval == "epoch" else s / steps_per_epoch
        return lr_at(cfg, t) / base
    return f


# ---------------------------------------------------------------------------------------
# Network and task
# ---------------------------------------------------------------------------------------

#: recipe keys each space's ``build`` takes (the rest are reported as not applied).
BUILD_KEYS = {
    "darts": ("C", "layers", "stem", "auxiliary"),
    "mgas": ("stem", "auxiliary"),
    "mgas_mobile": ("dropout",),
    "mbconv": ("dropout", "drop_connect", "bn_eps", "bn_momentum"),
    "nse": ("dropout", "drop_path"),
}
#: recipe keys that set a field of the architecture value itself (recipe key -> arch field)
ARCH_KEYS = {"nse": {"activation": "act", "se": "se"}}
_NET_KEYS = ("C", "layers", "stem", "auxiliary", "dropout", "drop_connect", "bn_eps", "bn_momentum",
             "drop_path", "activation", "se", "stem_C")


def build_net(arch, cfg: RetrainConfig) -> tuple[nn.Module, list[str]]:
    """The network of ``arch`` for ``cfg.dataset`` via its space's ``build``, and the recipe
    keys it could not take (e.g. a DARTS recipe's ``dropout``)."""
    from .data import dataset_info
    from .spaces import get_space, space_of

    space = space_of(arch)
    info = dataset_info(cfg.dataset, cfg.resolution)
    takes = BUILD_KEYS.get(space, ())
    kw = {k: getattr(cfg, k) for k in takes if getattr(cfg, k) is not None}
    to_arch = {f: getattr(cfg, k) for k, f in ARCH_KEYS.get(space, {}).items() if getattr(cfg, k) is not None}
    if to_arch:
        arch = dataclasses.replace(arch, **to_arch)
    takes = takes + tuple(ARCH_KEYS.get(space, {}))
    kind = "imagenet" if cfg.dataset.startswith("imagenet") else "cifar"
    if space == "darts":   # the papers' evaluation setting follows the dataset (the recipe's keys override)
        kw["setting"] = kind
    elif space == "mgas":  # so does the stem, unless the recipe names one
        kw.setdefault("stem", kind)
    not_applied = [k for k in _NET_KEYS if getattr(cfg, k) not in (None, False) and k not in takes]
    if cfg.drop_path_prob and space not in ("darts", "mgas"):
        not_applied.append("drop_path_prob")
    if space == "mgas" and cfg.stem_C not in (None, "from_genotype"):
        not_applied.append("stem_C")
    if space == "mgas" and "stem_C" in not_applied and cfg.stem_C == "from_genotype":
        not_applied.remove("stem_C")
    net = get_space(space).build(arch, info.num_classes, info.in_channels, info.resolution, **kw)
    return net, not_applied


def param_groups(model: nn.Module, weight_decay: float, weights_only: bool) -> list[dict]:
    if not weights_only:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": weight_decay}]
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.dim() > 1 else no_decay).append(p)  # BN weights/biases and biases are 1-D
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class RMSpropTF(torch.optim.Optimizer):
    """RMSProp with TensorFlow semantics (EfficientNet): eps inside the square root, the
    squared-average initialised to 1, momentum on the scaled step. Ours, from TF's docs."""

    def __init__(self, params, lr, decay=0.9, momentum=0.9, eps=1e-3, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, decay=decay, momentum=momentum, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.add(p, alpha=g["weight_decay"]) if g["weight_decay"] else p.grad
                st = self.state[p]
                if not st:
                    st["square_avg"] = torch.ones_like(p)
                    st["momentum_buffer"] = torch.zeros_like(p)
                sq = st["square_avg"].mul_(g["decay"]).addcmul_(grad, grad, value=1 - g["decay"])
                buf = st["momentum_buffer"].mul_(g["momentum"]).addcdiv_(grad, (sq + g["eps"]).sqrt_(), value=g["lr"])
                p.sub_(buf)


class RetrainTask(Task):
    """Cross-entropy (+ label smoothing) on the logits, + ``auxiliary_weight`` x the auxiliary
    head's loss (DARTS), drop-path probability ramped ``p * epoch / epochs`` (DARTS code),
    gradient accumulation over ``grad_accum`` interleaved micro-batches, one optimiser."""

    def __init__(self, model: nn.Module, cfg: RetrainConfig, steps_per_epoch: int):
        self.cfg, self.steps_per_epoch = cfg, steps_per_epoch
        if cfg.sync_bn and D.world()[1] > 1:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.model = model
        groups = param_groups(model, cfg.weight_decay, cfg.wd_weights_only)
        lr = cfg.base_lr()
        if cfg.optimizer == "sgd":
            self.opt = torch.optim.SGD(groups, lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
        elif cfg.optimizer == "rmsprop":
            self.opt = torch.optim.RMSprop(groups, lr, alpha=cfg.rmsprop_decay, eps=cfg.rmsprop_eps,
                                           momentum=cfg.momentum)
        else:
            self.opt = RMSpropTF(groups, lr, cfg.rmsprop_decay, cfg.momentum, cfg.rmsprop_eps)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lr_lambda(cfg, steps_per_epoch))

    def optimizers(self):
        return {"net": self.opt}

    def schedulers(self):
        return {"lr": (self.sched, "step")}

    def drop_path_at(self, epoch: int) -> float:
        if self.cfg.drop_path_ramp == "none":
            return self.cfg.drop_path_prob
        return self.cfg.drop_path_prob * epoch / self.cfg.epochs

    def loss(self, out, y) -> torch.Tensor:
        logits, aux = out if isinstance(out, tuple) else (out, None)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=self.cfg.label_smoothing)
        if aux is not None:
            loss = loss + self.cfg.auxiliary_weight * F.cross_entropy(aux.float(), y, label_smoothing=self.cfg.label_smoothing)
        return loss

    def training_step(self, batches, ctx: StepContext):
        if hasattr(self.model, "drop_path_prob"):
            self.model.drop_path_prob = self.drop_path_at(ctx.epoch)
        x, y = ctx.to_device(batches["train"])
        k = self.cfg.grad_accum
        self.opt.zero_grad(set_to_none=True)
        total = torch.zeros((), device=ctx.device)
        correct = torch.zeros((), device=ctx.device)
        for i in range(k):
            # interleaved micro-batches: k micro-batches of one process are the shards that
            # k DDP ranks would get from the same sampler order (EpochSampler deals order[r::world])
            xi, yi = x[i::k], y[i::k]
            sync = ctx.no_sync() if i < k - 1 else _null()
            with sync:
                with ctx.autocast():
                    out = ctx.model(xi)
                loss = self.loss(out, yi) / k
                ctx.backward(loss)
            total += loss.detach()
            logits = out[0] if isinstance(out, tuple) else out
            correct += (logits.argmax(1) == yi).float().sum()
        ctx.optimizer_step(self.opt, clip=self.model.parameters(), clip_norm=self.cfg.grad_clip or 0)
        stats = torch.stack([total, correct, torch.tensor(float(y.numel()), device=ctx.device)])
        if ctx.trainer.distributed:  # the logged loss is the global batch's, as one process would see
            torch.distributed.all_reduce(stats)
            stats[0] /= ctx.trainer.world
        return {"loss": stats[0].item(), "acc": (stats[1] / stats[2]).item(), "lr": self.opt.param_groups[0]["lr"]}

    @torch.no_grad()
    def evaluate(self, loader, ctx):
        if self.cfg.max_eval_batches:
            from itertools import islice

            class _Capped:
                def __iter__(s):
                    return islice(iter(loader), self.cfg.max_eval_batches)
            return super().evaluate(_Capped(), ctx)
        return super().evaluate(loader, ctx)


def _null():
    import contextlib

    return contextlib.nullcontext()


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------

def _train_transform(cfg: RetrainConfig):
    """The recipe's ImageNet augmentation from torchvision (None: the dataset's default)."""
    from torchvision import transforms as T

    from .data import transforms as TT

    crop = cfg.train_crop or cfg.resolution or 224
    t = [T.RandomResizedCrop(crop), T.RandomHorizontalFlip()]
    if cfg.auto_augment == "autoaugment":
        t.append(T.AutoAugment(T.AutoAugmentPolicy.IMAGENET))
    elif cfg.auto_augment == "randaugment":
        t.append(T.RandAugment(magnitude=cfg.randaugment_magnitude or 9))
    elif cfg.color_jitter:
        t.append(T.ColorJitter(*cfg.color_jitter))
    t += [T.ToTensor(), T.Normalize(TT.IMAGENET_MEAN, TT.IMAGENET_STD)]
    if cfg.random_erasing:
        t.append(T.RandomErasing(cfg.random_erasing))
    return T.Compose(t)


def _eval_transform(cfg: RetrainConfig):
    from torchvision import transforms as T

    from .data import transforms as TT

    crop = cfg.eval_crop or cfg.resolution or 224
    interp = T.InterpolationMode.BICUBIC if cfg.eval_interpolation == "bicubic" else T.InterpolationMode.BILINEAR
    return T.Compose([T.Resize(cfg.eval_resize or int(round(crop / 0.875)), interpolation=interp), T.CenterCrop(crop),
                      T.ToTensor(), T.Normalize(TT.IMAGENET_MEAN, TT.IMAGENET_STD)])


def retrain_loaders(cfg: RetrainConfig):
    """Train loader (this rank's share of the global batch) and the evaluation loader."""
    from .data import get_dataset, make_loader

    rank, world = D.world()
    if cfg.batch_size % world:
        raise ValueError(f"batch_size: global batch {cfg.batch_size} is not divisible by {world} ranks")
    per_rank = cfg.batch_size // world
    if per_rank % cfg.grad_accum:
        raise ValueError(f"grad_accum: {cfg.grad_accum} must divide the per-rank batch {per_rank}")
    aa = cfg.auto_augment or None
    train, info = get_dataset(cfg.dataset, "train", cfg.data, cfg.download, cfg.resolution, True, cfg.cutout, aa)
    test, _ = get_dataset(cfg.dataset, "test", cfg.data, cfg.download, cfg.resolution, False)
    if cfg.dataset == "imagenet":
        train.transform, test.transform = _train_transform(cfg), _eval_transform(cfg)
    loaders = {"train": make_loader(train, per_rank, cfg.seed, None, True, cfg.workers, rank, world, 0, drop_last=True),
               "valid": make_loader(test, per_rank, cfg.seed, None, False, cfg.workers, rank, world, 1)}
    return loaders, info


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------

@dataclass
class RetrainResult:
    history: list
    run_dir: Path | None
    task: RetrainTask
    trainer: Trainer
    summary: dict


def _count(arch, cfg: RetrainConfig, shape) -> dict:
    """Params (auxiliary head excluded) and MACs, counted on the meta device (no compute)."""
    from .measure import complexity

    with torch.device("meta"):
        return complexity(build_net(arch, cfg)[0], shape)


def _print_epoch(event: str, info: dict) -> None:
    if event == "epoch" and D.is_main():
        acc = f" top-1 {100 * info['val_top1']:.2f}% top-5 {100 * info['val_top5']:.2f}%" if "val_top1" in info else ""
        print(f"epoch {info['epoch'] + 1}: {info['images_per_s']:.1f} images/s{acc}", flush=True)


def retrain(arch, recipe: str, out: str | Path | None = None, overrides: dict | None = None,
            resume: bool = False, hooks: Iterable = (), verbose: bool = True) -> RetrainResult:
    """Train ``arch`` (a zoo name, anything :func:`nasbook.spaces.load_arch` accepts, or a value) with
    ``recipe``; see the module docstring."""
    from . import zoo
    from .engine import seed_everything
    from .spaces import arch_to_dict, load_arch, space_of

    run_dir = Path(out) if out else None
    if resume:
        if run_dir is None or not (run_dir / "config.yaml").exists():
            raise ValueError(f"cannot resume: {run_dir} holds no config.yaml of an earlier retraining")
        saved = yaml.safe_load((run_dir / "config.yaml").read_text())
        values = dict(saved["config"])
        values.update(overrides or {})
        cfg = C.make_config(RetrainConfig, values)
        check_supported(cfg)
        recipe, arch = saved["recipe"], load_arch(saved["arch"])
    else:
        arch = zoo.resolve(arch)
        cfg = load_recipe(recipe, overrides)
    loaders, info = retrain_loaders(cfg)
    seed_everything(cfg.seed)  # the initial weights are part of the run
    net, not_applied = build_net(arch, cfg)
    loader = loaders["train"]
    spe = len(loader.sampler) // loader.batch_size
    if cfg.max_steps_per_epoch:
        spe = min(spe, cfg.max_steps_per_epoch)
    task = RetrainTask(net, cfg, spe)
    if run_dir is not None and D.is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(
            {"recipe": recipe, "arch": arch_to_dict(arch), "config": dataclasses.asdict(cfg)}, sort_keys=False))
    if not_applied and verbose and D.is_main():
        print(f"note: this {space_of(arch)} network takes no {', '.join(not_applied)} (recipe keys not applied)")
    trainer = Trainer(task, loaders, cfg.engine(), run_dir, [*(hooks or ()), *([_print_epoch] if verbose else [])])
    history = trainer.fit(resume=resume)
    epochs = [h for h in history if h.get("event") == "epoch"]
    shape = (info.in_channels, info.resolution, info.resolution)
    summary = {"recipe": recipe, "space": space_of(arch), "arch": arch_to_dict(arch), "not_applied": not_applied,
               **_count(arch, cfg, shape),
               **({k: epochs[-1][k] for k in ("val_top1", "val_top5", "val_loss") if k in epochs[-1]} if epochs else {})}
    if run_dir is not None and D.is_main():
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return RetrainResult(history, run_dir, task, trainer, summary)
