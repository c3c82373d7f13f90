"""The MBConv (inverted residual) block and the conv-BN-activation layer, defined once.

MBConv is the block of MobileNetV2 (Sandler et al., arXiv 1801.04381, Sec. 3.3 / Table 1),
extended with squeeze-and-excitation as in MnasNet/EfficientNet (arXiv 1807.11626, 1905.11946):

    expand 1x1 (C_in -> hidden, groups g_e) -> BN -> act
    depthwise k x k (stride s, dilation d)  -> BN -> act
    [squeeze-and-excitation on hidden]
    project 1x1 (hidden -> C_out, groups g_p) -> BN            (linear bottleneck: no act)
    + x  when s = 1 and C_in = C_out                              (inverted residual)

Every MBConv-chain space in nasbook builds its blocks from :class:`MBConv`: the standalone
networks of the MBConv space (MobileNetV2, EfficientNet-B0, the Meta Kernels and
ProxylessNAS-style backbones) and NSE's op pools (kernel, expansion, dilation and grouped 1x1
convs: ``expand_groups`` / ``project_groups``). Super-nets that need a different *weight
layout* (e.g. meta-kernel depthwise convs) keep the same sub-module names (``expand``,
``depthwise``, ``se``, ``project``) so that weights copy over by name.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import stochastic_depth

#: Activation names understood by :func:`make_activation`.
ACTIVATIONS = ("relu", "relu6", "swish", "hswish", "none")


def make_activation(name: str | None) -> nn.Module:
    """``relu``, ``relu6`` (MobileNetV2), ``swish`` = SiLU (EfficientNet), ``hswish``, ``none``."""
    if name in (None, "none"):
        return nn.Identity()
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "relu6":
        return nn.ReLU6(inplace=True)
    if name in ("swish", "silu"):
        return nn.SiLU(inplace=True)
    if name == "hswish":
        return nn.Hardswish(inplace=True)
    raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")


class ConvBNAct(nn.Sequential):
    """conv (no bias, "same" padding ``dilation * (k - 1) // 2``) -> BN -> activation.

    The plain layer of every MobileNet-family stem and head, and the three convs of MBConv.
    ``act=None`` leaves out the activation (the linear projection of MBConv).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 dilation: int = 1, act: str | None = "relu", bn_eps: float = 1e-5, bn_momentum: float = 0.1):
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel size must be a positive odd integer, got {kernel}")
        if c_in % groups or c_out % groups:
            raise ValueError(f"groups={groups} must divide both {c_in} input and {c_out} output channels")
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=dilation * (kernel - 1) // 2,
                              dilation=dilation, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=bn_eps, momentum=bn_momentum)
        self.act = make_activation(act)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al., arXiv 1709.01507) as in EfficientNet: global average
    pool -> 1x1 conv to ``reduced`` (bias) -> act -> 1x1 conv back (bias) -> sigmoid -> scale."""

    def __init__(self, channels: int, reduced: int, act: str = "swish"):
        super().__init__()
        if reduced < 1:
            raise ValueError(f"SE needs at least one reduced channel, got {reduced}")
        self.reduce = nn.Conv2d(channels, reduced, 1, bias=True)
        self.act = make_activation(act)
        self.expand = nn.Conv2d(reduced, channels, 1, bias=True)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel scale in (0, 1), shape (N, C, 1, 1)."""
        s = x.mean((2, 3), keepdim=True)
        return torch.sigmoid(self.expand(self.act(self.reduce(s))))

    def forward(self, x):
        return x * self.gate(x)


class MBConv(nn.Module):
    """One inverted-residual block (see the module docstring).

    Args:
        c_in, c_out: block input / output channels.
        kernel: depthwise kernel size (odd).
        expand: expansion ratio; the hidden width is ``expand * c_in`` unless ``hidden`` is given.
        stride, dilation: of the depthwise conv.
        act: activation after the expansion and the depthwise conv (``relu6``, ``swish``, ...).
        se_channels: reduced width of squeeze-and-excitation; 0 = no SE. (EfficientNet uses
            ``max(1, c_in // 4)`` of the block *input*; NSE ``hidden // 4``: the caller decides.)
        se_act: activation inside SE (default: ``act``).
        expand_groups, project_groups: groups of the two 1x1 convs (NSE's grouped pool).
        expand_conv: keep the 1x1 expansion conv. ``None`` (default) follows MobileNetV2: omit
            it exactly when ``hidden == c_in`` (the t=1 block). Spaces whose e=1 blocks keep
            the conv (NSE, the Meta Kernels search space) pass ``True``.
        residual: add the input when shapes allow (default); ``False`` never adds it.
        drop_connect: stochastic-depth rate of the residual branch (EfficientNet training).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, expand: int = 6, stride: int = 1,
                 dilation: int = 1, act: str = "relu6", se_channels: int = 0, se_act: str | None = None,
                 expand_groups: int = 1, project_groups: int = 1, expand_conv: bool | None = None,
                 hidden: int | None = None, residual: bool = True, drop_connect: float = 0.0,
                 bn_eps: float = 1e-5, bn_momentum: float = 0.1):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        hidden = expand * c_in if hidden is None else hidden
        if hidden < 1:
            raise ValueError(f"hidden width must be positive, got {hidden} (expand={expand}, c_in={c_in})")
        if expand_conv is None:
            expand_conv = hidden != c_in
        if not expand_conv and hidden != c_in:
            raise ValueError(f"without an expansion conv the hidden width must equal c_in={c_in}, got {hidden}")
        bn = dict(bn_eps=bn_eps, bn_momentum=bn_momentum)
        self.c_in, self.c_out, self.hidden = c_in, c_out, hidden
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.expand = ConvBNAct(c_in, hidden, 1, groups=expand_groups, act=act, **bn) if expand_conv else None
        self.depthwise = ConvBNAct(hidden, hidden, kernel, stride, groups=hidden, dilation=dilation, act=act, **bn)
        self.se = SqueezeExcite(hidden, se_channels, se_act or act) if se_channels else None
        self.project = ConvBNAct(hidden, c_out, 1, groups=project_groups, act=None, **bn)
        self.use_residual = residual and stride == 1 and c_in == c_out
        self.drop_connect = drop_connect

    def forward(self, x):
        h = self.expand(x) if self.expand is not None else x
        h = self.depthwise(h)
        if self.se is not None:
            h = self.se(h)
        h = self.project(h)
        if self.use_residual:
            return x + stochastic_depth(h, self.drop_connect, "row", self.training)
        return h

    def extra_repr(self) -> str:
        return (f"{self.c_in}->{self.c_out}, k={self.kernel}, hidden={self.hidden}, stride={self.stride}"
                + (f", dilation={self.dilation}" if self.dilation != 1 else "")
                + (", residual" if self.use_residual else ""))
