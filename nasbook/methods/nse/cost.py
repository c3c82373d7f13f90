"""NSE's cost models (docs/methods/nse.md): FLOPs by formula and latency by lookup table.

Both read the same list of convolutions of an op (:func:`op_convs`), so a pool op costs

- FLOPs: ``sum H_out W_out C_out (C_in / groups) kh kw`` over its convs (multiply-accumulates),
  SE not counted during search; fixed part: stem, head 1x1 conv, global pool (1 per output
  element) and classifier;

**The MACs convention** (one for the whole package, docs/methods/nse.md §5): the authors'
counter's. Multiply-accumulates of every conv and of the classifier, **plus the global average
pool counted as one MAC per output element** (``head_width``, e.g. 1,024); BN, activations,
the averaging of the branches, biases and SE's channel product are not counted; SE's two 1x1
convs are counted when the net has SE (final nets, ``se=True``; never in search). The search's
cost model (:class:`CostModel`, :func:`arch_macs`) and ``nasbook info`` / ``count_macs``
(through :meth:`nasbook.ops.nse_blocks.NSEHead.extra_macs`) give the same number for the
same architecture and resolution.
- latency: the sum of its convs' table entries, plus one element-wise add per op in an N layer
  and (|A| - 1) adds in a multi-branch R/E layer; fixed part: head conv, pool, classifier and
  (ours, default) the stem.

A multi-branch layer costs the sum of its ops. Costs are divided by ``unit`` (1e6: MFLOPs).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ...ops.nse_blocks import OpSpec
from ...spaces.nse_plans import LayerSpec


@dataclass(frozen=True)
class ConvDesc:
    """One convolution at a given input size; ``key()`` is its latency-table key."""

    h: int
    w: int
    c_in: int
    c_out: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: int = 1
    groups: int = 1

    @property
    def out_hw(self) -> tuple[int, int]:
        (kh, kw), (sh, sw), (ph, pw), d = self.kernel, self.stride, self.padding, self.dilation
        return ((self.h + 2 * ph - d * (kh - 1) - 1) // sh + 1, (self.w + 2 * pw - d * (kw - 1) - 1) // sw + 1)

    @property
    def macs(self) -> int:
        ho, wo = self.out_hw
        return ho * wo * self.c_out * (self.c_in // self.groups) * self.kernel[0] * self.kernel[1]

    def key(self) -> str:
        return "conv:{}x{}:{}:{}:{}x{}:{}x{}:{}x{}:{}:{}".format(
            self.h, self.w, self.c_in, self.c_out, *self.kernel, *self.stride, *self.padding, self.dilation, self.groups)


def add_key(h: int, w: int, c: int) -> str:
    return f"add:{h}x{w}:{c}"


def pool_key(h: int, w: int, c: int) -> str:
    return f"pool:{h}x{w}:{c}"


def linear_key(c_in: int, c_out: int) -> str:
    return f"linear:{c_in}:{c_out}"


def out_size(size: int, stride: int) -> int:
    return (size - 1) // stride + 1


def op_convs(spec: OpSpec, c_in: int, c_out: int, stride: int, size: int, se: bool = False) -> list[ConvDesc]:
    """The convolutions of pool op ``spec`` in a layer ``c_in -> c_out``, ``stride``, input
    ``size`` x ``size``, in forward order (docs/methods/nse.md)."""
    c, so = spec.t * c_in, out_size(size, stride)
    one = (1, 1)
    convs = [ConvDesc(size, size, c_in, c, one, groups=spec.ge)]
    if spec.type == "LB":
        pad = spec.d * (spec.k - 1) // 2
        convs.append(ConvDesc(size, size, c, c, (spec.k, spec.k), (stride, stride), (pad, pad), spec.d, c))
    elif spec.type == "NC":
        convs.append(ConvDesc(size, size, c, c, (3, 3), (stride, stride), (1, 1)))
    elif spec.type == "DC":
        convs += [ConvDesc(size, size, c, c, (3, 3), one, (1, 1)),
                  ConvDesc(size, size, c, c, (3, 3), (stride, stride), (1, 1))]
    elif spec.type == "SP":
        k = spec.k
        convs += [ConvDesc(size, size, c, c, (1, k), (1, stride), (0, k // 2)),
                  ConvDesc(size, so, c, c, (k, 1), (stride, 1), (k // 2, 0))]
    if se:  # squeeze-and-excitation 1x1 convs on the pooled (1x1) map; final nets only
        convs += [ConvDesc(1, 1, c, c // 4, one), ConvDesc(1, 1, c // 4, c, one)]
    convs.append(ConvDesc(so, so, c, c_out, one, groups=spec.gp))
    return convs


def op_macs(spec: OpSpec, c_in: int, c_out: int, stride: int, size: int, se: bool = False) -> int:
    return sum(cv.macs for cv in op_convs(spec, c_in, c_out, stride, size, se))


class CostModel:
    """Per-layer, per-op costs and the fixed part of one supernet layout.

    Args:
        pool: the pool's op specs (index = op id).
        layers: the layer specs of the plan (widths already scaled).
        resolution, in_channels, stem_stride, head_width, num_classes: the rest of the net.
        kind: ``"flops"`` or ``"latency"``; ``table``: the latency table (key -> value) for the latter.
        unit: costs are divided by this (1e6 for MFLOPs; 1 for the table's units).
        count_stem: count the stem in latency mode (ours; FLOPs always count it).
        se: count the ops' SE convs (a final net with SE; the search never does). FLOPs only.
    """

    def __init__(self, pool: Sequence[OpSpec], layers: Sequence[LayerSpec], resolution: int, in_channels: int = 3,
                 stem_stride: int = 2, head_width: int = 1024, num_classes: int = 1000, kind: str = "flops",
                 table: dict | None = None, unit: float = 1e6, count_stem: bool = True, se: bool = False):
        if kind not in ("flops", "latency"):
            raise ValueError(f"cost kind must be 'flops' or 'latency', got {kind!r}")
        if kind == "latency" and table is None:
            raise ValueError("latency cost needs a table: measure one with `nasbook latency measure` and pass "
                             "--latency-table FILE")
        if se and kind != "flops":
            raise ValueError("se=True (counting SE convs) is for the FLOPs cost only")
        self.pool, self.layers, self.kind, self.table, self.unit = tuple(pool), list(layers), kind, table, unit
        self.se = se
        self.sizes = []
        size = out_size(resolution, stem_stride)
        self.stem = ConvDesc(resolution, resolution, in_channels, layers[0].c_in, (3, 3), (stem_stride,) * 2, (1, 1))
        for spec in self.layers:
            self.sizes.append(size)
            size = out_size(size, spec.stride)
        self.last_size = size
        c_last = layers[-1].c_out
        self.head = head = ConvDesc(size, size, c_last, head_width, (1, 1))
        self.head_pool_key = pool_key(size, size, head_width)
        if kind == "flops":  # the package's MACs convention (module docstring): the pool is head_width MACs
            fixed = self.stem.macs + head.macs + head_width + head_width * num_classes
        else:
            fixed = (self._lookup(self.stem.key()) if count_stem else 0.0) + self._lookup(head.key()) \
                + self._lookup(self.head_pool_key) + self.table.get(linear_key(head_width, num_classes), 0.0)
        self.fixed = fixed / unit
        self._cache: dict[tuple[int, int], float] = {}

    def _lookup(self, key: str) -> float:
        if key not in self.table:
            raise KeyError(f"latency table has no entry {key!r}; re-measure it for this space "
                           f"(`nasbook latency measure`)")
        return float(self.table[key])

    def op_cost(self, layer: int, op: int) -> float:
        """Cost of pool op ``op`` alone in layer ``layer`` (its convs, plus its add in an N layer)."""
        if (layer, op) not in self._cache:
            s, size = self.layers[layer], self.sizes[layer]
            convs = op_convs(self.pool[op], s.c_in, s.c_out, s.stride, size, self.se)
            if self.kind == "flops":
                c = sum(cv.macs for cv in convs)
            else:
                c = sum(self._lookup(cv.key()) for cv in convs)
                if s.role == "N":  # a layer with the identity path (LayerSpec.role)
                    c += self._lookup(add_key(size, size, s.c_out))
            self._cache[(layer, op)] = c / self.unit
        return self._cache[(layer, op)]

    def layer_cost(self, layer: int, active: Sequence[int]) -> float:
        """Cost of a layer with active ops ``active`` (sum of its ops; plus the R/E adds)."""
        c = sum(self.op_cost(layer, o) for o in active)
        s = self.layers[layer]
        if self.kind == "latency" and s.role != "N" and len(active) > 1:
            so = out_size(self.sizes[layer], s.stride)
            c += (len(active) - 1) * self._lookup(add_key(so, so, s.c_out)) / self.unit
        return c

    def arch_cost(self, arch: Sequence[Sequence[int]]) -> float:
        """Cost of a whole architecture (one active set per layer)."""
        return self.fixed + sum(self.layer_cost(i, a) for i, a in enumerate(arch))

    def table_keys(self, op_ids_per_layer: Sequence[Sequence[int]]) -> set[str]:
        """Every table key these layers and the fixed part need (for measuring a table)."""
        return set(_keys_for(self, op_ids_per_layer))


def arch_macs(arch, resolution: int, in_channels: int = 3, num_classes: int = 1000) -> int:
    """MACs of the standalone network of an :class:`~nasbook.spaces.nse.NSEArch` (its widths
    after ``width_mult``, SE counted when ``arch.se``) at ``resolution``, by the package's
    MACs convention (module docstring): what ``nasbook info`` reports for it."""
    from ...spaces.nse_pools import get_pool

    model = CostModel(get_pool(arch.pool), arch.layer_specs(), resolution, in_channels, arch.stem_stride,
                      arch.head_width, num_classes, "flops", unit=1.0, se=arch.se)
    return int(round(model.arch_cost(arch.layers)))


def _keys_for(model: CostModel, op_ids_per_layer):
    yield model.stem.key()
    yield model.head.key()
    yield model.head_pool_key
    for i, (s, ids) in enumerate(zip(model.layers, op_ids_per_layer)):
        size = model.sizes[i]
        for o in ids:
            for cv in op_convs(model.pool[o], s.c_in, s.c_out, s.stride, size):
                yield cv.key()
        so = out_size(size, s.stride)
        yield add_key(so, so, s.c_out)


def load_table(path: str | Path) -> dict[str, float]:
    """A latency table written by ``nasbook latency measure`` (``{"entries": {key: value}}``)."""
    d = json.loads(Path(path).read_text())
    return {k: float(v) for k, v in d.get("entries", d).items()}
