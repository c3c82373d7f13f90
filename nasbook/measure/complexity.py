from __future__ import annotations

import time
from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module, exclude: tuple[str, ...] = (), trainable_only: bool = False) -> int:
    """Number of parameters, leaving out those whose name starts with one of ``exclude``
    (e.g. ``("auxiliary_head",)``, the DARTS convention for reported sizes)."""
    return sum(p.numel() for n, p in model.named_parameters()
               if not any(n.startswith(e) for e in exclude) and (p.requires_grad or not trainable_only))


@torch.no_grad()
def count_macs(model: nn.Module, input_shape: tuple, batch: int = 1) -> int:
    """Multiply-accumulates of one forward pass of one sample, in eval mode.

    PyTorch's flop counter reports 2 FLOPs per multiply-add for conv and matmul, the ops
    that NAS papers count; we halve it. Pooling, BN and activations are not counted, which
    is the convention of the MobileNet/DARTS tables.

    A space whose method counts more declares it: every sub-module with an ``extra_macs()``
    method adds what it returns (per sample). NSE's head does, for its global pool (one MAC
    per output element), so that ``nasbook info`` and NSE's search cost model use one
    convention (docs/methods/nse.md §5, :mod:`nasbook.methods.nse.cost`).
    """
    was_training = model.training
    model.eval()
    try:
        p = next(model.parameters(), None)
        x = torch.zeros((batch, *input_shape), device=p.device if p is not None else "cpu",
                        dtype=p.dtype if p is not None and p.is_floating_point() else torch.float32)
        with FlopCounterMode(display=False) as fc:
            model(x)
        extra = sum(int(m.extra_macs()) for m in model.modules() if callable(getattr(m, "extra_macs", None)))
        return fc.get_total_flops() // 2 // batch + extra
    finally:
        model.train(was_training)


@torch.no_grad()
def masked_macs(net: nn.Module, input_shape: tuple) -> tuple[int, int]:
    """(dense MACs, MACs with the weight masks) of one sample: a masked-out weight of a
    :class:`~nasbook.ops.masked_conv.MaskedConv2d` saves one multiply-add per output position
    of its conv (MGAS, docs/methods/mgas.md). Dense MACs come from :func:`count_macs`."""
    from ..ops.masked_conv import masked_convs

    dense = count_macs(net, input_shape)
    saved = 0
    hooks = []
    positions: dict[int, int] = {}

    def hook(mod, inp, out):
        positions[id(mod)] = out.shape[-1] * out.shape[-2]

    for m in masked_convs(net):
        hooks.append(m.register_forward_hook(hook))
    was = net.training
    net.eval()
    try:
        p = next(net.parameters())
        net(torch.zeros((1, *input_shape), device=p.device, dtype=p.dtype))
    finally:
        net.train(was)
        for h in hooks:
            h.remove()
    for m in masked_convs(net):
        saved += int((~m.weight_mask).sum()) * positions.get(id(m), 0)
    return dense, dense - saved


def complexity(model: nn.Module, input_shape: tuple, exclude: tuple[str, ...] = ("auxiliary_head",)) -> dict:
    """``{"params": ..., "macs": ..., "input_shape": ...}`` for a model, auxiliary heads excluded."""
    return {"params": count_params(model, exclude), "macs": count_macs(model, input_shape),
            "input_shape": list(input_shape)}


def saved_tensor_bytes(fn: Callable[[], torch.Tensor]) -> int:
    """Bytes of distinct tensors autograd saves for backward while ``fn()`` runs its forward.

    The activation memory of a training step, independent of the allocator: the quantity
    super-net memory claims are about, and measurable on a CPU.
    """
    seen: dict[tuple, int] = {}

    def pack(t):
        try:
            key = (t.untyped_storage().data_ptr(), t.device.type)
            seen[key] = max(seen.get(key, 0), t.untyped_storage().nbytes())
        except (RuntimeError, NotImplementedError):
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def peak_memory(step: Callable[[], object], device: str | torch.device = "cpu") -> dict:
    """Memory of one call of ``step`` (a full training step): on CUDA the allocator's peak
    (``torch.cuda.max_memory_allocated``), everywhere the saved-for-backward bytes of its
    forward (``saved_tensor_bytes``)."""
    device = torch.device(device)
    out = {}
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        out["saved_bytes"] = saved_tensor_bytes(step)
        torch.cuda.synchronize(device)
        out["cuda_peak_bytes"] = torch.cuda.max_memory_allocated(device) - base
    else:
        out["saved_bytes"] = saved_tensor_bytes(step)
    return out


def time_step(step: Callable[[], object], warmup: int = 2, iters: int = 5, device="cpu") -> dict:
    """Mean and std wall time of ``step`` in seconds (CUDA synchronised). For benchmarks only."""
    device = torch.device(device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t)
    mean = sum(times) / len(times)
    std = (sum((t - mean) ** 2 for t in times) / max(1, len(times) - 1)) ** 0.5
    return {"mean_s": mean, "std_s": std, "iters": iters}
