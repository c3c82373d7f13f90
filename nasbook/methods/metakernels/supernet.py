"""The search network over an MBConv chain backbone, its architecture parameters and the
differentiable expected-FLOPs term (docs/methods/metakernels.md and 3.3).

``ChainSupernet(backbone, block="meta")`` is the Meta Kernels super-net; ``block="weighted_sum"``
builds the DARTS/FBNet multi-path super-net of the same space and the same parameterisation
(the baseline of the benchmark). Fixed layers (e.g. B0's first MBConv1) are plain
:class:`~nasbook.ops.mbconv.MBConv` blocks; no dropout or drop-connect during search.

Architecture parameters per searchable layer l [O]: kernel logits α_l (|𝒦|, or (U, |𝒦|)
with ``kernel_groups: per_unit``) and width logits β_l (|𝓔| + 1 if skippable, skip first),
initialised to 0. ``p = softmax(α/τ)``, ``q̃ = softmax(β/τ)``; with ``relaxation="gumbel"``
Gumbel(0, 1) noise is added to the logits in every training forward (FBNet-style, soft).
"""
from __future__ import annotations

import torch
from torch import nn

from ...ops.mbconv import ConvBNAct, MBConv
from ...spaces.mbconv import Backbone, fixed_macs, init_mobilenet_, layer_macs, Choice
from .blocks import MetaKernelMBConv, WeightedSumMBConv, split_width_weights

BLOCKS = {"meta": MetaKernelMBConv, "weighted_sum": WeightedSumMBConv}


class ChainSupernet(nn.Module):
    """Stem -> layers of ``backbone`` (searchable ones relaxed) -> head -> pool -> FC."""

    def __init__(self, backbone: Backbone, num_classes: int = 1000, in_channels: int = 3,
                 resolution: int | None = None, block: str = "meta", kernel_weights: str = "independent",
                 kernel_groups: int | str = 1, relaxation: str = "softmax", bn_eps: float = 1e-5,
                 bn_momentum: float = 0.1):
        super().__init__()
        if block not in BLOCKS:
            raise ValueError(f"block must be one of {sorted(BLOCKS)}, got {block!r}")
        if relaxation not in ("softmax", "gumbel"):
            raise ValueError(f"relaxation must be 'softmax' or 'gumbel', got {relaxation!r}")
        if kernel_groups not in (1, "per_unit"):
            raise ValueError(f"kernel_groups must be 1 or 'per_unit', got {kernel_groups!r}")
        if kernel_groups == "per_unit" and block != "meta":
            raise ValueError("kernel_groups='per_unit' exists only for the meta-kernel super-net")
        self.backbone, self.block_kind, self.relaxation = backbone, block, relaxation
        self.resolution = resolution or backbone.resolution
        self.num_classes, self.in_channels = num_classes, in_channels
        self.per_unit = kernel_groups == "per_unit"
        self.tau = 1.0  # set by the search task every step (schedule in MetaKernelsConfig)
        bb, act = backbone, backbone.activation
        bn = dict(bn_eps=bn_eps, bn_momentum=bn_momentum)
        self.specs = bb.layers(self.resolution)
        self.stem = ConvBNAct(in_channels, bb.stem_channels, 3, bb.stem_stride, act=act, **bn)
        self.blocks = nn.ModuleList()
        self.searchable: list[int] = []
        for s in self.specs:
            se = bb.se_channels(s.c_in)
            if s.fixed is not None:
                k, e = s.fixed
                self.blocks.append(MBConv(s.c_in, s.c_out, k, e, s.stride, act=act, se_channels=se,
                                          expand_conv=e != 1, **bn))
            else:
                self.searchable.append(s.index)
                self.blocks.append(BLOCKS[block](s, bb.kernels, bb.expansions, act, se, kernel_weights=kernel_weights,
                                                 per_unit=self.per_unit, **bn))
        self.head = ConvBNAct(bb.last_channels, bb.head_channels, 1, act=act, **bn)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(bb.head_channels, num_classes)
        init_mobilenet_(self)
        units = max(bb.expansions)
        self.alphas = nn.ParameterList(
            nn.Parameter(torch.zeros(units, len(bb.kernels)) if self.per_unit else torch.zeros(len(bb.kernels)))
            for _ in self.searchable)
        self.betas = nn.ParameterList(
            nn.Parameter(torch.zeros(len(bb.expansions) + int(self.specs[i].skippable))) for i in self.searchable)
        self._fixed_macs = fixed_macs(bb, num_classes, in_channels, self.resolution) + sum(
            layer_macs(bb, s, Choice(*s.fixed)) for s in self.specs if s.fixed is not None)
        self.last_probs: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    # -- parameters ----------------------------------------------------------------------
    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.alphas) + list(self.betas)

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def probabilities(self, noise: bool = False) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``[(p_l, q̃_l)]`` per searchable layer, computed in fp32 (Gumbel noise if ``noise``)."""
        out = []
        for a, b in zip(self.alphas, self.betas):
            a, b = a.float(), b.float()
            if noise:
                a = a - torch.empty_like(a).exponential_().log()  # + Gumbel(0, 1)
                b = b - torch.empty_like(b).exponential_().log()
            out.append((torch.softmax(a / self.tau, -1), torch.softmax(b / self.tau, -1)))
        return out

    # -- forward -------------------------------------------------------------------------
    def forward(self, x, probs: list | None = None):
        """Logits. ``probs`` overrides the relaxed choices (e.g. one-hot); otherwise they come
        from the logits (with noise for Gumbel in training) and are kept in ``last_probs``
        so that the cost term of the same step sees the same relaxation."""
        if probs is None:
            probs = self.probabilities(noise=self.training and self.relaxation == "gumbel")
        self.last_probs = probs
        it = iter(probs)
        h = self.stem(x)
        for s, block in zip(self.specs, self.blocks):
            h = block(h) if s.fixed is not None else block(h, *next(it))
        return self.classifier(torch.flatten(self.pool(self.head(h)), 1))

    # -- cost ----------------------------------------------------------------------------
    def expected_macs(self, probs: list | None = None) -> torch.Tensor:
        """E[MACs] under the product distribution (p, q̃), float64 (docs/methods/metakernels.md):

            E[MACs_l] = g_l C_in [ E_q[e] (H_in² C_in + 2r + H_out² C_out) + H_out² Σ_j s_j E_{p_j}[k²] ]

        where s_j is the staircase value of width unit j (E_q[e] = Σ_j s_j). Exact at one-hot.
        """
        probs = self.probabilities() if probs is None else probs
        bb = self.backbone
        f64 = dict(dtype=torch.float64, device=probs[0][0].device if probs else "cpu")
        k2 = torch.tensor([k * k for k in bb.kernels], **f64)
        # unit_in[i, j] = 1 when width candidate e_i keeps unit j (hidden channels j*C_in .. (j+1)*C_in - 1)
        unit_in = (torch.arange(max(bb.expansions), **f64)[None, :] < torch.tensor(bb.expansions, **f64)[:, None])
        total = torch.tensor(float(self._fixed_macs), **f64)
        for i, (p, qt) in zip(self.searchable, probs):
            s = self.specs[i]
            p, qt = p.double(), qt.double()
            g, q = split_width_weights(qt, s.skippable)
            stair = q @ unit_in.double()                  # s_j: probability that unit j is kept
            ek2 = p @ k2                                  # E_p[k²], scalar or per unit
            per_hidden = s.size_in ** 2 * s.c_in + 2 * bb.se_channels(s.c_in) + s.size_out ** 2 * s.c_out
            macs = s.c_in * (stair.sum() * per_hidden + s.size_out ** 2 * (stair * ek2).sum())
            total = total + (macs if g is None else g * macs)
        return total


def architecture_loss(ce: torch.Tensor, e_macs: torch.Tensor, target: float, form: str = "target",
                      lam: float = 0.2, fbnet_a: float = 0.2, fbnet_b: float = 0.6) -> torch.Tensor:
    """The architecture-step loss (docs/methods/metakernels.md "cost loss") [O]:

    * ``target``: CE + λ · |E[MACs] / T − 1|           (default; TF-NAS-style two-sided target)
    * ``log``:    CE + λ · log E[MACs]                 (Single-Path-NAS style)
    * ``fbnet``:  CE · a · (log E[MACs in millions])^b   (FBNet's multiplicative form, a=0.2, b=0.6)
    """
    if form == "target":
        return ce + lam * (e_macs / target - 1).abs().to(ce.dtype)
    if form == "log":
        return ce + lam * e_macs.log().to(ce.dtype)
    if form == "fbnet":
        return ce * fbnet_a * (e_macs / 1e6).log().pow(fbnet_b).to(ce.dtype)
    raise ValueError(f"cost form must be 'target', 'log' or 'fbnet', got {form!r}")
