"""The meta kernel: candidate kernels merged *before* the convolution (docs/methods/metakernels.md-1.3).

For kernel sizes 𝒦 with K = max 𝒦 and mixing weights p, the meta kernel is

    M(p) = Σ_k p_k · P_K(W_k)          P_K: centred zero padding of a k x k kernel to K x K

and, by the additivity of convolution (ACNet, arXiv 1908.03930; Sec. 1.2 (★)),

    conv(x, M(p); stride s, pad K//2) = Σ_k p_k · conv(x, W_k; stride s, pad k//2)

for any stride and input size, dense, grouped or depthwise. One convolution, one feature map.
Two ownerships of the candidate weights (Sec. 1.3, ``kernel_weights``):

* ``independent`` (default [I]): one kernel W_k per candidate size.
* ``shared`` (Single-Path-NAS-style nesting [O]): one K x K kernel W, candidate k is its
  centre crop, so M(p) = W ⊙ R(p) with R(p)[u, v] = Σ_{k: (u,v) inside the centre k x k} p_k.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def pad_kernel(w: torch.Tensor, size: int) -> torch.Tensor:
    """P_K: zero-pad the last two (odd, square) dims of ``w`` symmetrically to ``size``."""
    d = (size - w.shape[-1]) // 2
    return F.pad(w, (d, d, d, d)) if d else w


def centre_masks(kernels: Sequence[int], size: int | None = None, dtype=torch.float32, device=None) -> torch.Tensor:
    """(|𝒦|, K, K) 0/1 masks: row i is 1 inside the centre ``kernels[i]`` x ``kernels[i]`` square."""
    size = size or max(kernels)
    out = torch.zeros(len(kernels), size, size, dtype=dtype, device=device)
    for i, k in enumerate(kernels):
        d = (size - k) // 2
        out[i, d:d + k, d:d + k] = 1
    return out


def meta_kernel(candidates: Sequence[torch.Tensor], p: torch.Tensor) -> torch.Tensor:
    """M(p) = Σ_k p_k P_K(W_k) for independent candidate kernels ``W_k`` of shape (O, I, k, k).

    ``p`` has shape (|𝒦|,) (one mixture for all output channels) or (O, |𝒦|) (one mixture per
    output channel: the ``per_unit`` kernel groups of Sec. 1.3).
    """
    size = max(w.shape[-1] for w in candidates)
    out = 0
    for i, w in enumerate(candidates):
        pi = p[..., i]
        scale = pi.reshape(-1, 1, 1, 1) if pi.dim() else pi
        out = out + scale * pad_kernel(w, size)
    return out


def ring_weights(p: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """R(p) = Σ_k p_k · mask_k: (K, K) for p of shape (|𝒦|,), (O, K, K) for p of shape (O, |𝒦|)."""
    return torch.tensordot(p, masks, dims=([p.dim() - 1], [0]))


def shared_meta_kernel(w: torch.Tensor, p: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """M(p) = W ⊙ R(p) for one K x K kernel ``w`` (O, I, K, K) whose centre crops are the candidates."""
    r = ring_weights(p, masks)
    return w * (r.unsqueeze(1) if r.dim() == 3 else r)


def _full(t: torch.Tensor) -> torch.Tensor:
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


class MetaKernelConv(nn.Module):
    """A convolution whose kernel is the meta kernel of several candidate sizes.

    ``forward(x, p)`` composes M(p) in fp32 (Sec. 3.2 "precision") and runs one convolution
    with padding K//2. ``groups=channels`` gives the depthwise conv of an MBConv block.
    ``weight_of(k)`` returns candidate k's effective k x k kernel (for derivation by slicing).
    """

    def __init__(self, c_in: int, c_out: int, kernels: Sequence[int] = (3, 5, 7), stride: int = 1,
                 groups: int = 1, kernel_weights: str = "independent"):
        super().__init__()
        kernels = tuple(sorted(kernels))
        if any(k < 1 or k % 2 == 0 for k in kernels) or len(set(kernels)) != len(kernels):
            raise ValueError(f"meta-kernel candidates must be distinct positive odd sizes, got {kernels}")
        if kernel_weights not in ("independent", "shared"):
            raise ValueError(f"kernel_weights must be 'independent' or 'shared', got {kernel_weights!r}")
        self.kernels, self.size, self.stride, self.groups = kernels, max(kernels), stride, groups
        self.kernel_weights = kernel_weights
        shape = (c_out, c_in // groups)
        if kernel_weights == "independent":
            self.candidates = nn.ParameterList(nn.Parameter(torch.empty(*shape, k, k)) for k in kernels)
        else:
            self.weight = nn.Parameter(torch.empty(*shape, self.size, self.size))
        self.register_buffer("masks", centre_masks(kernels), persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        # Kaiming fan-out as in torchvision's MobileNets (nasbook.spaces.mbconv.init_mobilenet_)
        for w in (self.candidates if self.kernel_weights == "independent" else [self.weight]):
            nn.init.kaiming_normal_(w, mode="fan_out")

    def compose(self, p: torch.Tensor) -> torch.Tensor:
        """The meta kernel M(p), in fp32 at least (fp64 when the weights are fp64)."""
        if self.kernel_weights == "independent":
            ws = [_full(w) for w in self.candidates]
            return meta_kernel(ws, p.to(ws[0].dtype))
        w = _full(self.weight)
        return shared_meta_kernel(w, p.to(w.dtype), self.masks.to(w.dtype))

    def weight_of(self, k: int) -> torch.Tensor:
        """Candidate k's own k x k kernel (independent: W_k; shared: the centre crop of W)."""
        if self.kernel_weights == "independent":
            return self.candidates[self.kernels.index(k)]
        d = (self.size - k) // 2
        return self.weight[..., d:d + k, d:d + k]

    def forward(self, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        m = self.compose(p)  # under autocast, conv2d casts it to the autocast dtype itself
        return F.conv2d(x, m if torch.is_autocast_enabled() else m.to(x.dtype), None, self.stride,
                        self.size // 2, 1, self.groups)

    def extra_repr(self) -> str:
        return f"kernels={self.kernels}, stride={self.stride}, groups={self.groups}, {self.kernel_weights}"
