"""The two-sample binary-gate gradient estimator of NSE's architecture step (docs/methods/nse.md).

ProxylessNAS's two-path estimator applied to *sets* of ops: for two different sets A+, A-
of a layer, renormalise their probabilities over the pair,

    q+ = P(A+) / (P(A+) + P(A-)),   q- = 1 - q+,

and let the layer output

    z = h+ (1 + q+ - sg(q+)) + h- (q- - sg(q-))        (sg = stop-gradient)

where h+ = layer(x; A+) carries gradients and h- = layer(x; A-) is computed without them.
Numerically z = h+; the gradient reaching q+- is <dL/dz, h+->, and flows to alpha through P.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .distribution import Set, set_probability


def pair_weights(p: torch.Tensor, ops: Sequence[int], plus: Set, minus: Set) -> tuple[torch.Tensor, torch.Tensor]:
    """``(q+, q-)``: the pair's probabilities renormalised to sum to one (differentiable in p)."""
    pp, pm = set_probability(p, ops, plus), set_probability(p, ops, minus)
    q_plus = pp / (pp + pm)
    return q_plus, 1 - q_plus


def binary_gate(h_plus: torch.Tensor, h_minus: torch.Tensor, q_plus: torch.Tensor, q_minus: torch.Tensor) -> torch.Tensor:
    """The straight-through composition: forward value ``h_plus``, gradients to ``q+-``."""
    q_plus = q_plus.to(h_plus.dtype)
    q_minus = q_minus.to(h_plus.dtype)
    return h_plus * (1 + q_plus - q_plus.detach()) + h_minus.detach() * (q_minus - q_minus.detach())
