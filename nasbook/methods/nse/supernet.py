"""The NSE supernet of one round (docs/methods/nse.md, 4.3, 5).

It builds, for every searchable layer, only the ops of that layer's current subset S_l (a
fresh supernet each round: weights are not inherited, Sec. 4.3 step 8), and holds the
Bernoulli logits ``alpha`` (layers x pool size, zeros at the start of a round) as a real
``nn.Parameter``, so that DDP, AMP and checkpoints treat it like any weight.

``forward(x, arch)`` runs one architecture (one active set per layer: the weight step, the
scoring). ``forward(x, pairs=...)`` runs the architecture step: for every layer either a fixed
set (no choice) or a pair (A+, A-) of different sets, composed with the two-sample binary
gate, and returns the logits and the expected cost of Sec. 5.3.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import nn

from ...ops.multibranch import MultiBranchLayer
from ...ops.nse_blocks import NSEHead, NSEStem, OpSpec, make_nse_op
from ...spaces.nse import init_weights
from ...spaces.nse_plans import LayerSpec
from .cost import CostModel
from .distribution import effective_p
from .estimator import binary_gate, pair_weights


class LayerPair(NamedTuple):
    """The architecture step's sample of one layer: ``ops`` = S_l, the sets A+ and A- (``minus``
    None for a layer without a choice, which runs ``plus`` plainly)."""

    ops: tuple[int, ...]
    plus: tuple[int, ...]
    minus: tuple[int, ...] | None


class NSESupernet(nn.Module):
    """Stem, multi-branch layers over the round's subsets, head; plus ``alpha``.

    Args:
        pool: op specs of the (largest) pool; ``alpha`` has one column per pool op.
        layers: layer specs of the plan (kinds, widths, strides).
        subsets: op ids to build per layer (S_l at the start of the round).
        cost: the :class:`CostModel` of this layout (for the expected-cost penalty).
    """

    def __init__(self, pool: Sequence[OpSpec], layers: Sequence[LayerSpec], subsets: Sequence[Sequence[int]],
                 num_classes: int, in_channels: int = 3, stem_stride: int = 2, head_width: int = 1024,
                 cost: CostModel | None = None, p_eps: float = 5e-4, act: str = "relu"):
        super().__init__()
        if len(subsets) != len(layers):
            raise ValueError(f"{len(subsets)} subsets for {len(layers)} layers")
        self.pool, self.specs, self.cost, self.p_eps = tuple(pool), list(layers), cost, p_eps
        # what each layer does follows its shape (stride 1 and c_in == c_out: a normal layer,
        # whatever the plan's letter), as the authors' cells decide (docs/methods/nse.md §2.2)
        self.kinds = [s.role for s in layers]
        self.stem = NSEStem(in_channels, layers[0].c_in, stem_stride, act)
        self.layers = nn.ModuleList(
            MultiBranchLayer(s.role, ids, lambda o, s=s: make_nse_op(self.pool[o], s.c_in, s.c_out, s.stride, act))
            for s, ids in zip(layers, subsets))
        self.head = NSEHead(layers[-1].c_out, num_classes, head_width, act)
        init_weights(self)
        self.alpha = nn.Parameter(torch.zeros(len(layers), len(self.pool)))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha]

    def weight_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p is not self.alpha]

    def probabilities(self) -> torch.Tensor:
        """On-probabilities p of every (layer, pool op), computed in float64 (Sec. 4.1)."""
        return effective_p(self.alpha.double(), self.p_eps)

    def forward(self, x: torch.Tensor, arch: Sequence[Sequence[int]] | None = None,
                pairs: Sequence[LayerPair] | None = None):
        x = self.stem(x)
        if pairs is None:
            if arch is None:
                raise ValueError("the supernet needs an architecture (one active set per layer)")
            for layer, active in zip(self.layers, arch):
                x = layer(x, active)
            return self.head(x)
        p_all = self.probabilities()
        expected = torch.zeros((), dtype=torch.float64, device=x.device) + (self.cost.fixed if self.cost else 0.0)
        for l, (layer, pr) in enumerate(zip(self.layers, pairs)):
            if pr.minus is None:
                x = layer(x, pr.plus)
                if self.cost is not None:
                    expected = expected + self.cost.layer_cost(l, pr.plus)
                continue
            q_plus, q_minus = pair_weights(p_all[l, list(pr.ops)], pr.ops, pr.plus, pr.minus)
            h_plus = layer(x, pr.plus)
            with torch.no_grad():
                h_minus = layer(x, pr.minus)
            x = binary_gate(h_plus, h_minus, q_plus, q_minus)
            if self.cost is not None:
                expected = expected + q_plus * self.cost.layer_cost(l, pr.plus) \
                    + q_minus * self.cost.layer_cost(l, pr.minus)
        return self.head(x), expected
