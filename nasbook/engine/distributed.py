"""DDP under ``torchrun``: process-group set-up from the environment torchrun exports."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world_size); (0, 1) outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def init_from_env(device: torch.device) -> bool:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1).

    gloo on CPU, NCCL on CUDA; each rank takes the GPU of its ``LOCAL_RANK``.
    Returns True when running distributed.
    """
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1:
        return False
    if dist.is_initialized():
        return True
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend=backend)
    return True


def backend() -> str | None:
    """The process group's backend ("nccl", "gloo", ...), or None outside DDP."""
    return dist.get_backend() if dist.is_available() and dist.is_initialized() else None


def is_main() -> bool:
    return world()[0] == 0


def barrier():
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(tensors):
    """Average gradients or values across ranks in place (for steps that bypass DDP's hooks,
    e.g. the DARTS second-order architecture gradient)."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    n = dist.get_world_size()
    for t in tensors:
        if t is not None:
            dist.all_reduce(t)
            t.div_(n)


def cleanup():
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
