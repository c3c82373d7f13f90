"""Cost of one super-net training step over one MBConv space, for three kinds of super-net
(docs/methods/metakernels.md; notebook 02):

* ``meta``: the Meta Kernels super-net (one merged kernel per layer, one feature map);
* ``weighted_sum``: the DARTS/FBNet multi-path super-net (every candidate block runs, outputs
  mixed by their probabilities);
* ``single_path``: SPOS-style (Guo et al., ECCV 2020), one uniformly sampled architecture per
  step; a step costs what the sampled sub-network costs, so it is measured on the standalone
  network of that architecture, averaged over ``paths`` samples.

Same backbone, batch, resolution, data and seed for all three. The step is forward,
cross-entropy, backward and an SGD step on the weights. Memory is the saved-for-backward bytes
(exact and device independent) and, on CUDA, the allocator's peak; time is a wall-clock mean,
noisy on a busy CPU.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ...measure import count_params, peak_memory, time_step
from ...spaces.mbconv import Backbone, MBConvNet, sample_arch
from .supernet import ChainSupernet

KINDS = ("meta", "weighted_sum", "single_path")


def _step_of(model, params, batch, resolution, classes, device):
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, resolution, resolution, device=device)
    y = torch.randint(classes, (batch,), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def supernet_step_cost(kind: str, backbone: Backbone, resolution: int | None = None, batch: int = 16,
                       device: str = "cpu", iters: int = 3, warmup: int = 1, classes: int = 10, paths: int = 3,
                       seed: int = 0) -> dict:
    """One row: ``supernet, backbone, batch, input, candidates_per_layer, weights_M, step_s,
    step_std_s, saved_MiB, cuda_peak_MiB`` for ``kind`` in :data:`KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    res = resolution or backbone.resolution
    torch.manual_seed(seed)
    if kind == "single_path":
        gen = torch.Generator().manual_seed(seed)
        # no dropout: the super-nets have none during search
        models = [MBConvNet(sample_arch(backbone, gen), classes, 3, dropout=0.0).to(device) for _ in range(paths)]
        steps = [_step_of(m, m.parameters(), batch, res, classes, device) for m in models]
        weights = sum(count_params(m) for m in models) / len(models)
    else:
        model = ChainSupernet(backbone, classes, 3, res, block=kind).to(device)
        steps = [_step_of(model, model.weight_parameters(), batch, res, classes, device)]
        weights = count_params(model)
    saved, peak, times, stds = [], [], [], []
    for step in steps:
        step()  # allocate optimiser state before measuring memory
        mem = peak_memory(step, device)
        t = time_step(step, warmup, iters, device)
        saved.append(mem["saved_bytes"])
        peak.append(mem.get("cuda_peak_bytes", 0))
        times.append(t["mean_s"])
        stds.append(t["std_s"])
    n = len(steps)
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return {"supernet": kind, "backbone": backbone.name, "batch": batch, "input": res,
            "candidates_per_layer": len(backbone.kernels) * len(backbone.expansions),
            "weights_M": weights / 1e6, "step_s": sum(times) / n, "step_std_s": sum(stds) / n,
            "saved_MiB": sum(saved) / n / 2**20, "cuda_peak_MiB": (sum(peak) / n / 2**20) or None}
