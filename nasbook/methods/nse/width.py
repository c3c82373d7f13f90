"""The width multiplier of a derived NSE network (docs/methods/nse.md §6.2).

The released final nets are not at x1.0: NSENet-27 uses 1.04 and NSENet 1.045, NSENet-GPU
1.0. Nothing in the authors' code chooses these values; the most plausible reading is that
each was set after the search so that the derived net reaches its FLOPs budget. We make that
step explicit: on a grid of 0.005, take the **largest** multiplier whose network still fits
the budget.

Widths are scaled by ``round8(w * c)`` for every stage but the stem's
(:func:`nasbook.spaces.nse_plans.scale_widths`), so the cost is a step function of ``w`` and
many grid points give the same network; the largest fitting grid point is the last one before
the next step. For the released nets this is exactly their value: 1.04 is the largest grid
point with NSENet-27's widths (1.045 turns its 96-wide stage into 104) and 1.045 the largest
with NSENet's (1.05 turns 80 into 88).

The cost is either MACs by the package's convention (:func:`nasbook.methods.nse.cost.arch_macs`,
the number ``nasbook info`` prints; SE counted when the net has it) or the parameter count of
the built network.
"""
from __future__ import annotations

from ...spaces.nse import NSEArch, NSENet

#: grid step of the width multiplier (ours; docs/methods/nse.md §6.2)
GRID_STEP = 0.005


def width_grid(low: float = 0.5, high: float = 2.0, step: float = GRID_STEP) -> list[float]:
    """Multipliers ``low, low + step, ..., high`` (exact decimals: ``round(i * step, 6)``)."""
    if step <= 0 or low <= 0 or high < low:
        raise ValueError(f"width grid needs 0 < low <= high and step > 0, got ({low}, {high}, {step})")
    i0, i1 = int(round(low / step)), int(round(high / step))
    return [round(i * step, 6) for i in range(i0, i1 + 1)]


def arch_cost(arch: NSEArch, metric: str = "macs", resolution: int = 224, in_channels: int = 3,
              num_classes: int = 1000) -> int:
    """MACs (package convention) or parameters of the standalone network of ``arch``."""
    if metric == "macs":
        from .cost import arch_macs

        return arch_macs(arch, resolution, in_channels, num_classes)
    if metric == "params":
        from ...measure import count_params

        return count_params(NSENet(arch, num_classes, in_channels))
    raise ValueError(f"metric must be 'macs' or 'params', got {metric!r}")


def fit_width_mult(arch: NSEArch, budget: float, metric: str = "macs", resolution: int = 224,
                   in_channels: int = 3, num_classes: int = 1000, low: float = 0.5, high: float = 2.0,
                   step: float = GRID_STEP) -> NSEArch:
    """``arch`` with the largest width multiplier on the grid whose network costs <= ``budget``
    (raw MACs or parameters). Raises if not even ``low`` fits."""
    best, cache = None, {}
    for w in width_grid(low, high, step):
        a = arch.replace(width_mult=w)
        widths = a.stage_widths()
        if widths not in cache:  # grid points with the same widths build the same network
            cache[widths] = arch_cost(a, metric, resolution, in_channels, num_classes)
        if cache[widths] <= budget:
            best = a
    if best is None:
        raise ValueError(f"no width multiplier in [{low}, {high}] fits the budget of {budget:,.0f} {metric} "
                         f"(x{low}: {cache[arch.replace(width_mult=low).stage_widths()]:,})")
    return best
