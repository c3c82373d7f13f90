#!/usr/bin/env python
"""The one GPU check of nasbook: full-scale step time and memory of every method's ``paper`` preset.

For each entry of ENTRIES (in order of importance) it builds the method's full-scale super-net
(or, for the two retraining recipes, the full-scale network), runs a handful of real engine
steps (``Trainer`` + the method's own ``training_step`` and ``run``) with AMP on synthetic data
of the preset's true shape (channels x resolution^2, classes, and the true training-set size, so
that the method's own split and the engine's steps per epoch are the real ones), and records:
the median time of one training step after warm-up, ``torch.cuda.max_memory_allocated``,
images/s, the amp / channels_last flags, the batch size used (halved until it fits when the
paper's batch does not), the GPU name, the torch and CUDA versions, the paper's reported search
cost in GPU-days (where known) and the cost of a full search extrapolated from the measured step
(steps per epoch x epochs x step time). One ImageNet entry (metakernels/paper) reads a real
ImageFolder tree of random 224x224 JPEGs written into a temporary folder through the ``imagenet``
data path, so it also measures the step with data loading. With 2+ GPUs a 2-process
``torchrun --nproc_per_node=2`` NCCL run of one tiny search is checked too.

Records are written as they are made, to benchmarks/results/gpu-<date>-<gpu>.json.

CPU dry run (same code path at the tiny presets, one step, no AMP)::

    python scripts/gpu_check.py --device cpu --steps 1 --scale tiny
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch.utils.data import Dataset  # noqa: E402

ESTIMATE = "under 8 minutes on one recent GPU (H100/H200-class) at the defaults"

#: Search (or, for retraining, training) cost reported by the papers, in GPU-days, where known.
PAPER_GPU_DAYS = {
    "darts/paper": 4.0,         # DARTS (second order), Liu et al. ICLR 2019, Table 1: 4 GPU-days
    "darts/paper-first": 1.5,   # DARTS (first order), Table 1: 1.5 GPU-days
    "pc_darts": 0.1,            # PC-DARTS (Xu et al. ICLR 2020), Table 1: 0.1 GPU-days (reference; no preset here)
    "entrannas/paper": 0.06,    # EnTranNAS (Yang et al.), abstract: 0.06 GPU-day on CIFAR-10
    "entrannas/paper-dst": 0.07,  # EnTranNAS-DST, abstract: 0.07 GPU-day on CIFAR-10
    "entrannas/imagenet": 2.1,  # EnTranNAS-DST searched on ImageNet, abstract: 2.1 GPU-days
    # metakernels, mgas, nse, fewshot_nl, spos: no reported figure available to us (left empty)
}

#: true training-set / test-set sizes (the synthetic stand-ins have this many samples)
TRAIN_SIZE = {"digits": 1437, "cifar10": 50_000, "cifar100": 50_000, "imagenet": 1_281_167}
TEST_SIZE = {"digits": 360, "cifar10": 10_000, "cifar100": 10_000, "imagenet": 50_000}


@dataclass
class Entry:
    name: str                 # e.g. "darts/paper"
    kind: str                 # "search" | "retrain"
    method: str               # method key, or the recipe for retraining
    paper: str                # preset (search) or recipe (retrain) at --scale paper
    tiny: str                 # ... at --scale tiny
    arch: str | None = None   # zoo architecture for retraining
    imagefolder: bool = False  # read a temporary ImageFolder tree of random JPEGs (the real data path)
    overrides: dict = field(default_factory=dict)


#: in order of importance (a cut-off run keeps the first ones)
ENTRIES = [
    Entry("darts/paper", "search", "darts", "paper", "tiny"),
    Entry("entrannas/paper", "search", "entrannas", "paper", "tiny", overrides={"warmup_epochs": 0}),
    Entry("metakernels/paper", "search", "metakernels", "paper", "tiny", imagefolder=True,
          overrides={"warmup_epochs": 0}),
    Entry("mgas/paper", "search", "mgas", "paper", "tiny"),
    Entry("nse/paper", "search", "nse", "paper", "tiny", overrides={"warmup_epochs": 0.0}),
    Entry("fewshot_nl/paper", "search", "fewshot_nl", "paper", "tiny"),
    Entry("spos/paper", "search", "spos", "paper", "tiny"),
    Entry("entrannas/imagenet", "search", "entrannas", "imagenet", "tiny", overrides={"warmup_epochs": 0}),
    Entry("fewshot_nl/mobilenet", "search", "fewshot_nl", "mobilenet", "mobilenet-tiny"),
    Entry("mgas/imagenet_darts", "search", "mgas", "imagenet_darts", "tiny"),
    Entry("mgas/imagenet_mobilenet_like_nasbook", "search", "mgas", "imagenet_mobilenet_like_nasbook",
          "tiny_mobilenet_like_nasbook"),
    Entry("retrain/darts-cifar10", "retrain", "retrain", "darts-cifar10", "darts-cifar10-tiny", arch="darts_v2"),
    Entry("retrain/nse-paper", "retrain", "retrain", "nse-paper", "nse-paper-tiny", arch="nsenet"),
]


# -- synthetic data ------------------------------------------------------------------------------

class SyntheticImages(Dataset):
    """``n`` samples of shape (C, R, R) with labels ``i % classes``, drawn from a small pool of
    random images (so a 1.28M-sample ImageNet stand-in costs a pool, not 770 GB)."""

    def __init__(self, n: int, channels: int, resolution: int, classes: int, pool: int = 64, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.pool = torch.randn(min(pool, n), channels, resolution, resolution, generator=g)
        self.targets = [i % classes for i in range(n)]
        self.transform = None  # methods that re-view ImageNet (NSE) set this; ignored

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return self.pool[i % len(self.pool)], self.targets[i]


@contextlib.contextmanager
def synthetic_datasets():
    """Replace ``get_dataset`` everywhere nasbook imported it by the synthetic stand-in."""
    from nasbook.data import datasets as DS

    original = DS.get_dataset
    cache: dict = {}

    def fake(name, split="train", root=None, download=False, resolution=None, *args, **kwargs):
        info = DS.dataset_info(name, resolution)
        key = (name, split, info.resolution)
        if key not in cache:
            n = (TRAIN_SIZE if split == "train" else TEST_SIZE)[name]
            cache[key] = SyntheticImages(n, info.in_channels, info.resolution, info.num_classes)
        return cache[key], info

    patched = [(m, a) for m in list(sys.modules.values()) if getattr(m, "__name__", "").startswith("nasbook")
               for a in ("get_dataset",) if getattr(m, a, None) is original]
    for m, a in patched:
        setattr(m, a, fake)
    try:
        yield
    finally:
        for m, a in patched:
            setattr(m, a, original)


def write_imagefolder(root: Path, n_images: int, size: int, classes: int = 4, seed: int = 0) -> Path:
    """An ImageFolder tree ``root/train/cK/*.jpg`` of random ``size`` x ``size`` JPEGs."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(n_images):
        d = root / "train" / f"c{i % classes}"
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(d / f"{i}.jpg", quality=85)
    return root


# -- one measurement -----------------------------------------------------------------------------

class Timer:
    """Wraps a task's ``training_step`` (synchronised on CUDA) and stops the run after ``total`` steps."""

    def __init__(self, device: torch.device, total: int):
        self.device, self.total = device, total
        self.step_s: list[float] = []
        self.wall_s: list[float] = []
        self._last = None

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def wrap(self, task):
        inner = task.training_step

        def timed(batches, ctx):
            self._sync()
            t0 = time.perf_counter()
            out = inner(batches, ctx)
            self._sync()
            self.step_s.append(time.perf_counter() - t0)
            return out

        task.training_step = timed

    def hook(self, event, info):
        from nasbook.engine.trainer import StopTraining

        if event != "step":
            return
        now = time.perf_counter()
        if self._last is not None:
            self.wall_s.append(now - self._last)  # step to step, data loading included
        self._last = now
        if len(self.step_s) >= self.total:
            raise StopTraining


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, getattr(torch, "OutOfMemoryError", ())) or "out of memory" in str(e).lower()


def _steps_per_epoch(loader) -> int:
    """One pass over a loader made by make_loader, as the engine counts it (no max_steps_per_epoch)."""
    n, bs = loader.sampler.per_rank, loader.batch_size
    return n // bs if loader.drop_last else math.ceil(n / bs)


def _search_epochs(method: str, cfg, task) -> float | None:
    if method == "nse":
        return cfg.epochs * task.total_rounds() if hasattr(task, "total_rounds") else None
    if method == "mgas":
        return None  # phases end on a size rule; no fixed epoch count
    return cfg.epochs


def measure_once(entry: Entry, preset: str, args, device: torch.device, batch: int | None, data_dir: str | None):
    """Build and run ``entry`` once at ``batch`` (None: the preset's); returns a partial record."""
    from nasbook.engine import Trainer, seed_everything
    from nasbook.methods import get_method

    total = args.warmup + args.steps
    timer = Timer(device, total)
    common = {"device": str(device), "amp": args.amp, "progress": False}
    over = {"max_steps_per_epoch": None, **entry.overrides}  # the true epoch; stop_after_steps ends the run
    if batch is not None:
        over["batch_size"] = batch
    if data_dir is not None:
        over["data"] = data_dir
        if args.scale == "tiny":  # the tiny preset's digits become a tiny ImageNet tree
            over.update(dataset="imagenet", resolution=32)
        over["workers"] = min(8, os.cpu_count() or 1)
    else:
        over["workers"] = 0  # synthetic tensors in memory: no loading processes
    if args.channels_last:
        common["channels_last"] = True
    if entry.kind == "search":
        from nasbook.search import make_config

        cls = get_method(entry.method)
        known = set(cls.Config.__dataclass_fields__)
        cfg = make_config(entry.method, preset, {**{k: v for k, v in over.items() if k in known},
                                                  **common, "stop_after_steps": total})
        ctx = synthetic_datasets() if data_dir is None else contextlib.nullcontext()
        with ctx:
            loaders, info = cls.search_loaders(cfg)
            seed_everything(cfg.seed)
            task = cls(cfg, info)
            timer.wrap(task)
            trainer = Trainer(task, loaders, cfg.engine(), None, [timer.hook])
            spe = trainer.steps_per_epoch()
            task.run(trainer)
        if data_dir is not None:  # the epoch of the true ImageNet, not of the small JPEG tree
            with synthetic_datasets():
                spe = _steps_per_epoch(cls.search_loaders(cfg)[0][cls.streams[0]])
        epochs = _search_epochs(entry.method, cfg, task)
    else:
        from nasbook import retrain as R
        from nasbook import zoo

        known = set(R.RetrainConfig.__dataclass_fields__)
        cfg = R.load_recipe(preset, {**{k: v for k, v in over.items() if k in known}, **common,
                                     "stop_after_steps": total})
        ctx = synthetic_datasets() if data_dir is None else contextlib.nullcontext()
        with ctx:
            loaders, info = R.retrain_loaders(cfg)
            seed_everything(cfg.seed)
            net, _ = R.build_net(zoo.resolve(entry.arch), cfg)
            loader = loaders["train"]
            spe = len(loader.sampler) // loader.batch_size
            task = R.RetrainTask(net, cfg, spe)
            timer.wrap(task)
            trainer = Trainer(task, loaders, cfg.engine(), None, [timer.hook])
            trainer.fit()
        if data_dir is not None:
            with synthetic_datasets():
                spe = _steps_per_epoch(R.retrain_loaders(cfg)[0]["train"])
        epochs = cfg.epochs
    timed = timer.step_s[args.warmup:] or timer.step_s[-1:]
    if not timed:
        raise RuntimeError("no training step ran")
    step = statistics.median(timed)
    bs = cfg.batch_size
    wall = timer.wall_s[max(args.warmup - 1, 0):]
    rec = {"preset": preset, "dataset": info.name, "input": [info.in_channels, info.resolution, info.resolution],
           "classes": info.num_classes, "batch_size": bs, "paper_batch_size": None,
           "amp": bool(cfg.amp and device.type == "cuda"), "amp_dtype": cfg.amp_dtype,
           "channels_last": bool(cfg.channels_last), "steps_timed": len(timed), "step_s": step,
           "step_s_all": timer.step_s, "images_per_s": bs / step if step > 0 else None,
           "wall_step_s": statistics.median(wall) if wall else None,
           "params_M": sum(p.numel() for p in task.model.parameters()) / 1e6,
           "steps_per_epoch": spe, "epochs": epochs, "data": "imagefolder-jpeg" if data_dir else "synthetic"}
    rec["extrapolated_gpu_days"] = (spe * epochs * step / 86400) if epochs else None
    return rec


def measure(entry: Entry, args, device: torch.device) -> dict:
    preset = entry.paper if args.scale == "paper" else entry.tiny
    base = {"name": entry.name, "kind": entry.kind, "method": entry.method, "arch": entry.arch,
            "paper_gpu_days": PAPER_GPU_DAYS.get(entry.name) if args.scale == "paper" else None}
    paper_bs = _preset_batch(entry, preset)
    batch, tried, tmp = None, [], None
    t0 = time.perf_counter()
    try:
        data_dir = None
        if entry.imagefolder:
            tmp = Path(tempfile.mkdtemp(prefix="nasbook-gpu-check-"))
            bs0 = paper_bs or 64
            # enough for every step on the 80 % weight split and one batch of the 20 % architecture split
            n = max(math.ceil((args.warmup + args.steps + 1) * bs0 / 0.8), math.ceil(1.25 * bs0 / 0.2))
            write_imagefolder(tmp, n, 224 if args.scale == "paper" else 40)
            data_dir = str(tmp)
        while True:
            if device.type == "cuda":
                gc.collect()
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            try:
                rec = measure_once(entry, preset, args, device, batch, data_dir)
                break
            except Exception as e:  # noqa: BLE001 - an OOM halves the batch, anything else is recorded
                if not (device.type == "cuda" and _is_oom(e)):
                    raise
                tried.append(batch or paper_bs)
                e = None  # drop the traceback's frames (and their tensors) before retrying
                gc.collect()
                torch.cuda.empty_cache()
                cur = tried[-1] or 2
                if cur <= 1:
                    return {**base, "preset": preset, "status": "oom", "oom_batches": tried,
                            "seconds": time.perf_counter() - t0}
                batch = cur // 2
        rec["paper_batch_size"] = paper_bs
        rec["oom_batches"] = tried
        rec["max_memory_allocated_MiB"] = (torch.cuda.max_memory_allocated(device) / 2**20
                                           if device.type == "cuda" else None)
        return {**base, **rec, "status": "ok", "seconds": time.perf_counter() - t0}
    except Exception as e:  # noqa: BLE001 - one broken preset must not stop the check
        return {**base, "preset": preset, "status": "error", "error": f"{type(e).__name__}: {e}"[:500],
                "seconds": time.perf_counter() - t0}
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _preset_batch(entry: Entry, preset: str) -> int | None:
    try:
        if entry.kind == "search":
            from nasbook.search import make_config

            return make_config(entry.method, preset).batch_size
        from nasbook.retrain import load_recipe

        return load_recipe(preset).batch_size
    except Exception:  # noqa: BLE001 - reported by the measurement itself
        return None


DDP_SCRIPT = """
import sys
from pathlib import Path
from nasbook.engine import distributed as D
from nasbook.search import search
r = search("darts", "tiny", sys.argv[1], overrides={"device": sys.argv[2], "epochs": 1, "max_steps_per_epoch": 4,
                                                     "progress": False})
rank, world = D.world()
print(f"rank {rank}/{world} ok: {r.arch}", flush=True)
"""


def ddp_command(run_dir: Path, device: str = "cuda", nproc: int = 2) -> list[str]:
    """The command of the DDP check: a tiny DARTS search under ``torchrun --nproc_per_node=nproc``
    (``nproc=0``: the same script in this process's Python, without torchrun)."""
    script = run_dir.parent / "ddp_search.py"
    script.write_text(DDP_SCRIPT)
    launch = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] if nproc else []
    return [sys.executable, *launch, str(script), str(run_dir), device]


def ddp_check(args, device: torch.device) -> dict:
    """``torchrun --nproc_per_node=2`` of one tiny DARTS search over NCCL, with 2+ GPUs."""
    row = {"name": "ddp/nccl-2gpu", "kind": "ddp", "method": "darts", "preset": "tiny"}
    n = torch.cuda.device_count() if device.type == "cuda" else 0
    if n < 2:
        return {**row, "status": "skipped", "error": f"needs 2+ GPUs (found {n}): the 2-process NCCL check is skipped"}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nasbook-ddp-") as d:
        run = Path(d) / "run"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        try:
            p = subprocess.run(ddp_command(run), capture_output=True, text=True, timeout=180, cwd=str(ROOT), env=env)
            ok = p.returncode == 0 and (run / "arch.json").exists() and p.stdout.count(" ok: ") == 2
            return {**row, "status": "ok" if ok else "error", "rc": p.returncode, "seconds": time.perf_counter() - t0,
                    **({} if ok else {"error": (p.stderr or p.stdout)[-500:]})}
        except subprocess.TimeoutExpired:
            return {**row, "status": "error", "error": "timed out after 180 s", "seconds": time.perf_counter() - t0}


# -- output -------------------------------------------------------------------------------------

def environment(device: torch.device) -> dict:
    env = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": str(device),
           "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
           "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
           "gpus": torch.cuda.device_count() if torch.cuda.is_available() else 0,
           "threads": torch.get_num_threads()}
    return env


def default_out(device: torch.device, env: dict) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", env["gpu"] or device.type).strip("-").lower()
    return ROOT / "benchmarks" / "results" / f"gpu-{_dt.date.today().isoformat()}-{slug}.json"


def write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)


COLUMNS = ["name", "preset", "status", "batch_size", "step_s", "images_per_s", "max_memory_allocated_MiB",
           "amp", "channels_last", "paper_gpu_days", "extrapolated_gpu_days"]


def print_table(doc: dict, file=None) -> None:
    file = file or sys.stdout
    env = doc["environment"]
    print(f"nasbook GPU check ({doc['scale']}, {env['device']}, gpu {env['gpu']}, torch {env['torch']}, "
          f"cuda {env['cuda']}; {doc['steps']} timed steps after {doc['warmup']} warm-up)", file=file)
    rows = doc["records"]
    fmt = [[_fmt(r.get(c)) for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(f[i]) for f in fmt)) if fmt else len(c) for i, c in enumerate(COLUMNS)]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)), file=file)
    print("  ".join("-" * w for w in widths), file=file)
    for f in fmt:
        print("  ".join(v.ljust(w) for v, w in zip(f, widths)), file=file)
    for r in rows:
        if r.get("status") != "ok" and r.get("error"):
            print(f"{r['name']}: {r['status']}: {r['error']}", file=file)
        elif r.get("oom_batches"):
            print(f"{r['name']}: batch {r['paper_batch_size']} did not fit; largest that fits {r['batch_size']}",
                  file=file)
    print(f"written: {doc['out']} ({doc['seconds']:.0f} s)", file=file)


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="The nasbook GPU check. For every method's paper preset (plus few-shot MobileNet, the two MGAS "
                    "ImageNet presets and two retraining recipes) it builds the full-scale super-net, runs a few "
                    "real engine steps with AMP on synthetic data of the preset's true shape (one ImageNet preset "
                    "reads a temporary ImageFolder of random JPEGs), and measures the median step time, "
                    "torch.cuda.max_memory_allocated, images/s, the largest batch that fits (the paper's, halved "
                    "on out-of-memory), and the extrapolated GPU-days of a full search next to the paper's "
                    f"reported cost; plus a 2-GPU NCCL torchrun check when 2+ GPUs are present. Takes {ESTIMATE}; "
                    "--budget-s stops starting new presets. CPU dry run: --device cpu --steps 1 --scale tiny.")
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    p.add_argument("--steps", type=int, default=5, help="timed steps per preset (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed warm-up steps per preset (default 2)")
    p.add_argument("--only", help="comma-separated entry names (e.g. darts/paper,mgas), method keys, or ddp (see --list)")
    p.add_argument("--scale", choices=("paper", "tiny"), default="paper", help="paper presets (default) or tiny ones")
    p.add_argument("--out", help="JSON file, or a folder for gpu-<date>-<gpu>.json (default benchmarks/results/)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--budget-s", type=float, default=420.0, help="stop starting new presets after this many s (420)")
    p.add_argument("--no-amp", dest="amp", action="store_false", help="no autocast (default: AMP on CUDA)")
    p.add_argument("--channels-last", action="store_true", help="force channels_last (default: the preset's)")
    p.add_argument("--no-ddp", action="store_true", help="skip the 2-GPU torchrun check")
    p.add_argument("--list", action="store_true", help="list the entries and exit")
    return p


def select(only: str | None) -> list[Entry]:
    if not only:
        return list(ENTRIES)
    want = [w.strip() for w in only.split(",") if w.strip() and w.strip() not in ("ddp", "ddp/nccl-2gpu")]
    out = [e for e in ENTRIES if any(w == e.name or w == e.name.split("/")[0] for w in want)]
    unknown = [w for w in want if not any(w == e.name or w == e.name.split("/")[0] for e in ENTRIES)]
    if unknown:
        raise SystemExit(f"unknown entries {unknown}; known: {', '.join(e.name for e in ENTRIES)}")
    return out


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.list:
        for e in ENTRIES:
            print(f"{e.name:40s} paper: {e.paper:32s} tiny: {e.tiny}")
        return {}
    from nasbook.engine.trainer import select_device

    device = select_device(args.device)
    args.amp = bool(args.amp and device.type == "cuda")
    entries = select(args.only)
    env = environment(device)
    out = Path(args.out) if args.out else default_out(device, env)
    if out.suffix != ".json":
        out = out / default_out(device, env).name
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    t0 = time.perf_counter()
    doc = {"benchmark": "gpu_check", "date": _dt.datetime.now().isoformat(timespec="seconds"), "scale": args.scale,
           "steps": args.steps, "warmup": args.warmup, "environment": env, "out": str(out), "records": [],
           "seconds": 0.0}
    for e in entries:
        elapsed = time.perf_counter() - t0
        if elapsed > args.budget_s:
            rec = {"name": e.name, "kind": e.kind, "method": e.method, "status": "skipped",
                   "error": f"budget: {elapsed:.0f} s > --budget-s {args.budget_s:.0f}"}
        else:
            rec = measure(e, args, device)
            rec.update(gpu=env["gpu"], torch=env["torch"], cuda=env["cuda"])
        doc["records"].append(rec)
        doc["seconds"] = time.perf_counter() - t0
        write(out, doc)
        if not args.json:
            print(f"[{doc['seconds']:6.0f} s] {e.name}: {rec['status']}"
                  + (f" {rec['step_s']:.4g} s/step at batch {rec['batch_size']}" if rec["status"] == "ok" else ""),
                  flush=True)
    if not args.no_ddp and (not args.only or "ddp" in args.only):
        doc["records"].append(ddp_check(args, device))
    doc["seconds"] = time.perf_counter() - t0
    write(out, doc)
    if args.json:
        print(json.dumps(doc))
    else:
        print_table(doc)
    return doc


if __name__ == "__main__":
    main()
