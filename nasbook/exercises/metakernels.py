"""Exercises of ``metakernels.ipynb``: the meta kernel itself, the rings of the shared kernel,
and the expected MACs that the cost term differentiates."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..methods.metakernels import ChainSupernet, centre_masks, meta_kernel, ring_weights
from ..methods.metakernels.kernels import pad_kernel, shared_meta_kernel
from ..spaces.mbconv import BACKBONES, SKIP, Choice, block_macs, layer_macs
from .core import expect_callable, exercise, fail


def _tensor(value, what: str, shape) -> torch.Tensor:
    if value is None or value is Ellipsis:
        fail(f"{what} returned None: not answered yet (fill in the `...`)")
    if not isinstance(value, torch.Tensor):
        fail(f"{what} should return a torch.Tensor, got {type(value).__name__}")
    if tuple(value.shape) != tuple(shape):
        fail(f"{what} has shape {tuple(value.shape)}, expected {tuple(shape)}")
    return value


# --- metakernels.meta_kernel: M(p) = sum_k p_k pad(W_k) -----------------------------------------

def _meta_solution():
    def my_meta_kernel(kernels, p):
        K = max(w.shape[-1] for w in kernels)
        out = 0
        for pk, w in zip(p, kernels):
            d = (K - w.shape[-1]) // 2                         # centred: d zeros on every side
            out = out + pk * F.pad(w, (d, d, d, d))
        return out
    return my_meta_kernel


def _meta_wrong():
    def corner_padding(kernels, p):  # pads on the right and bottom only
        K = max(w.shape[-1] for w in kernels)
        return sum(pk * F.pad(w, (0, K - w.shape[-1], 0, K - w.shape[-1])) for pk, w in zip(p, kernels))

    def unweighted(kernels, p):      # forgets the mixing weights
        K = max(w.shape[-1] for w in kernels)
        return sum(F.pad(w, ((K - w.shape[-1]) // 2,) * 4) for w in kernels)

    def average(kernels, p):         # mean of the kernels (p uniform)
        K = max(w.shape[-1] for w in kernels)
        return sum(F.pad(w, ((K - w.shape[-1]) // 2,) * 4) for w in kernels) / len(kernels)
    return [corner_padding, unweighted, average]


def _cases():
    g = torch.Generator().manual_seed(0)
    for sizes, (o, i) in (((3, 5, 7), (1, 1)), ((3, 5), (4, 2)), ((1, 3, 5, 7), (3, 3)), ((5, 3, 7), (2, 1))):
        ws = [torch.randn(o, i, k, k, generator=g, dtype=torch.float64) for k in sizes]
        p = torch.softmax(torch.randn(len(sizes), generator=g, dtype=torch.float64), 0)
        yield sizes, ws, p


@exercise("metakernels.meta_kernel", "the meta kernel of candidate kernels", _meta_solution, _meta_wrong)
def check_meta_kernel(my_meta_kernel):
    my_meta_kernel = expect_callable(my_meta_kernel, "my_meta_kernel")
    g = torch.Generator().manual_seed(1)
    for sizes, ws, p in _cases():
        K = max(sizes)
        m = _tensor(my_meta_kernel([w.clone() for w in ws], p.clone()), f"my_meta_kernel for sizes {sizes}",
                    (*ws[0].shape[:2], K, K))
        # the defining property: one convolution with M equals the p-weighted sum of the convolutions
        x = torch.randn(2, ws[0].shape[1], 11, 11, generator=g, dtype=torch.float64)
        one = F.conv2d(x, m.to(x.dtype), padding=K // 2)
        many = sum(pk * F.conv2d(x, w, padding=w.shape[-1] // 2) for pk, w in zip(p, ws))
        if not torch.allclose(one, many, atol=1e-9):
            same_sums = torch.allclose(m.sum((-1, -2)), meta_kernel(ws, p).sum((-1, -2)))
            hint = ("the kernels are not centred in the K x K square" if same_sums
                    else "each padded kernel must be scaled by its own p_k")
            fail(f"candidates of sizes {sizes}: conv(x, M) differs from Σ p_k conv(x, W_k) by "
                 f"{(one - many).abs().max():.2g} ({hint})")
        if not torch.allclose(m, meta_kernel(ws, p), atol=1e-12):  # (cannot happen if the above holds)
            fail(f"candidates of sizes {sizes}: not the meta kernel")


# --- metakernels.rings: R(p) of the shared kernel -----------------------------------------------

def _rings_solution():
    def rings(p, kernels):
        K = max(kernels)
        r = torch.zeros(K, K, dtype=p.dtype)
        for pk, k in zip(p, kernels):
            d = (K - k) // 2
            r[d:d + k, d:d + k] += pk      # candidate k reads the centre k x k crop of the one kernel
        return r
    return rings


def _rings_wrong():
    def smallest_only(p, kernels):  # each position gets the p of the smallest square that holds it
        K = max(kernels)
        r = torch.zeros(K, K, dtype=p.dtype)
        for pk, k in sorted(zip(p.tolist(), kernels), key=lambda t: -t[1]):
            d = (K - k) // 2
            r[d:d + k, d:d + k] = pk
        return r

    def ones(p, kernels):           # as if every position were used by every candidate
        K = max(kernels)
        return torch.ones(K, K, dtype=p.dtype) * p.sum()

    def outermost_ring(p, kernels):  # only the largest square containing the position counts
        K = max(kernels)
        r = torch.zeros(K, K, dtype=p.dtype)
        for pk, k in sorted(zip(p.tolist(), kernels), key=lambda t: t[1]):
            d = (K - k) // 2
            r[d:d + k, d:d + k] = pk
        return r
    return [smallest_only, ones, outermost_ring]


@exercise("metakernels.rings", "the ring weights of a shared kernel", _rings_solution, _rings_wrong)
def check_rings(rings):
    rings = expect_callable(rings, "rings")
    g = torch.Generator().manual_seed(2)
    for kernels in ((3, 5, 7), (3, 5), (1, 3, 5, 7), (3, 7)):
        K = max(kernels)
        p = torch.softmax(torch.randn(len(kernels), generator=g, dtype=torch.float64), 0)
        r = _tensor(rings(p.clone(), kernels), f"rings(p, {kernels})", (K, K))
        want = ring_weights(p, centre_masks(kernels, dtype=torch.float64))
        # what R is for: M(p) = W ⊙ R(p) equals mixing the centre crops of one shared kernel W
        w = torch.randn(2, 1, K, K, generator=g, dtype=torch.float64)
        crops = [w[..., (K - k) // 2:(K + k) // 2, (K - k) // 2:(K + k) // 2] for k in kernels]
        mixed = sum(pk * pad_kernel(c, K) for pk, c in zip(p, crops))
        assert torch.allclose(shared_meta_kernel(w, p, centre_masks(kernels, dtype=torch.float64)), mixed)
        if not torch.allclose(w * r.to(w.dtype), mixed, atol=1e-12):
            bad = (r.to(want.dtype) - want).abs().argmax().item()
            u, v = divmod(bad, K)
            fail(f"candidates {kernels}: W ⊙ R(p) is not Σ p_k pad(crop_k(W)); position ({u}, {v}) of your R "
                 f"is {float(r[u, v]):.3f} (which candidates' centre squares contain that position?)")


# --- metakernels.expected_macs: E[MACs] of one searchable layer ----------------------------------

def _macs_solution():
    def expected_layer_macs(backbone, spec, p, q_tilde):
        widths = ([0] if spec.skippable else []) + list(backbone.expansions)   # q̃ = [skip, e_1, e_2, ...]
        total = 0.0
        for qe, e in zip(q_tilde.tolist(), widths):
            for pk, k in zip(p.tolist(), backbone.kernels):
                total += qe * pk * layer_macs(backbone, spec, Choice(k, e) if e else SKIP)
        return total
    return expected_layer_macs


def _macs_wrong():
    def plug_in_mean(backbone, spec, p, q_tilde):  # MACs of the "average" kernel and width
        widths = ([0] if spec.skippable else []) + list(backbone.expansions)
        k = sum(pk * kk for pk, kk in zip(p.tolist(), backbone.kernels))
        e = sum(qe * ee for qe, ee in zip(q_tilde.tolist(), widths))
        return block_macs(spec.c_in, spec.c_out, spec.size_in, spec.size_out, k, e * spec.c_in,
                          backbone.se_channels(spec.c_in), expand_conv=True)

    def ignores_skip(backbone, spec, p, q_tilde):  # treats q̃ as if it held only the widths
        q = q_tilde[1:] / q_tilde[1:].sum() if spec.skippable else q_tilde
        return sum(qe * pk * layer_macs(backbone, spec, Choice(k, e))
                   for qe, e in zip(q.tolist(), backbone.expansions) for pk, k in zip(p.tolist(), backbone.kernels))

    def argmax_choice(backbone, spec, p, q_tilde):  # the cost of the most likely block only
        widths = ([0] if spec.skippable else []) + list(backbone.expansions)
        e, k = widths[int(q_tilde.argmax())], backbone.kernels[int(p.argmax())]
        return layer_macs(backbone, spec, Choice(k, e) if e else SKIP)
    return [plug_in_mean, ignores_skip, argmax_choice]


@exercise("metakernels.expected_macs", "E[MACs] of one searchable layer", _macs_solution, _macs_wrong)
def check_expected_macs(expected_layer_macs):
    expected_layer_macs = expect_callable(expected_layer_macs, "expected_layer_macs")
    bb = BACKBONES["mk-tiny"]
    net = ChainSupernet(bb, 10, 3, 32)
    g = torch.Generator().manual_seed(3)
    for trial in range(6):
        sharp = 0.5 + trial  # from nearly uniform to nearly one-hot
        probs = [(torch.softmax(sharp * torch.randn(a.shape, generator=g, dtype=torch.float64), -1),
                  torch.softmax(sharp * torch.randn(b.shape, generator=g, dtype=torch.float64), -1))
                 for a, b in zip(net.alphas, net.betas)]
        want = float(net.expected_macs(probs))   # the super-net's closed form (staircase, E_p[k²])
        parts = []
        for i, (p, qt) in zip(net.searchable, probs):
            got = expected_layer_macs(bb, net.specs[i], p.clone(), qt.clone())
            if got is None or got is Ellipsis:
                fail("expected_layer_macs returned None: not answered yet (fill in the `...`)")
            parts.append(float(got))
        total = net._fixed_macs + sum(parts)
        if abs(total - want) > 1e-6 * want:
            where = [i for i in net.searchable if net.specs[i].skippable]
            fail(f"fixed part + Σ your per-layer E[MACs] = {total:,.0f} is {'too large' if total > want else 'too small'} "
                 f"compared with the super-net's E[MACs] (probabilities of sharpness {sharp}); remember that E is "
                 f"linear, that k enters as k², and that skippable layers (spec.skippable: blocks {where}) have "
                 "q̃[0] = P(skip)")
