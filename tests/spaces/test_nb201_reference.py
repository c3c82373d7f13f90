"""Differential tests of our NAS-Bench-201 code against the benchmark authors' own code (xautodl).

xautodl (Dong & Yang's AutoDL-Projects, pip ``xautodl``) is the reference. Checked here:

* arch strings and connectivity: ``NB201Cell`` against xautodl's ``CellStructure`` for all 15,625
  cells (same op list, same string, ``connected`` == ``check_valid()``);
* the standalone network: ``build_network(cell)`` against xautodl's ``TinyNetwork(C, N, genotype)``
  for 54 cells (random with a fixed seed, plus hand-picked ``none`` / ``skip`` / pool / disconnected
  ones) at small sizes, in float64. The weights (randomised BN scales, shifts and running statistics
  included) are copied module by module; the pairing must be complete with equal types, shapes,
  conv geometry and BN flags. Then logits, input gradients and every parameter gradient must agree
  in train mode, the running statistics after those train steps, and everything again in eval mode;
* the single-path (SPOS) super-net of ``nasbook.methods.fewshot_nl`` (``build_bank``, archs from
  ``sampling.draw``) against xautodl's ``TinyNetworkRANDOM`` and ``GenericNAS201Model`` run on one
  fixed arch (``forward_dynamic``), for several archs on the same weights.

Known, deliberate divergence of the super-nets (asserted below, so a change shows up): our super-net
BNs have no affine parameters and always use batch statistics, everywhere (docs/methods/fewshot_nl.md,
after the method's code). xautodl keeps affine, running-statistics BNs in the stem and the
reduction blocks (and ``TinyNetworkRANDOM`` in the head), and its affine-free cell convs carry a bias
(``bias=not affine``), which batch-statistics BN cancels exactly. For the comparison those reference
BNs are set to scale 1 / shift 0 and switched to batch statistics; the conv biases are left random
and their gradients must be zero.
"""
import random

import pytest
import torch
from torch import nn

_REASON = "xautodl (the NAS-Bench-201 authors' code) is not importable: pip install xautodl==1.0.0 --no-deps"
pytest.importorskip("xautodl.models.cell_infers.tiny_network", reason=_REASON, exc_type=ImportError)

from xautodl.models.cell_infers.tiny_network import TinyNetwork  # noqa: E402
from xautodl.models.cell_operations import NAS_BENCH_201  # noqa: E402
from xautodl.models.cell_searchs import CellStructure, GenericNAS201Model, TinyNetworkRANDOM  # noqa: E402

from nasbook.methods.fewshot_nl.sampling import draw  # noqa: E402
from nasbook.methods.fewshot_nl.subspaces import NB201Subspaces  # noqa: E402
from nasbook.methods.fewshot_nl.supernets import build_bank  # noqa: E402
from nasbook.spaces.nb201 import OPS, NB201Cell, all_cells, build_network  # noqa: E402

DTYPE = torch.float64
TOL = dict(rtol=1e-9, atol=1e-11)
BATCH, CLASSES = 4, 10
_STATEFUL = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)
_BN_FLAGS = ("affine", "track_running_stats", "eps", "momentum")
_CONV_GEOMETRY = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups")


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one thread waits less (conftest)


# -- the cells --------------------------------------------------------------------------------
HAND_PICKED = [
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",                                 # all zero
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|",                 # cut off
    "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|avg_pool_3x3~2|",         # only p4 live
    "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|nor_conv_1x1~1|skip_connect~2|",  # asymmetric
]


def _cells():
    rng = random.Random(201)
    cells = [NB201Cell.parse(s) for s in HAND_PICKED]
    while len(cells) < 54:
        c = NB201Cell(tuple(rng.choice(OPS) for _ in range(6)))
        if c not in cells:
            cells.append(c)
    return cells


CELLS = _cells()
#: (C, N, image side), cycled over the cells.
SIZES = [(4, 1, 16), (8, 1, 16), (4, 2, 16), (8, 2, 32), (4, 1, 32)]
CASES = [(cell, *SIZES[k % len(SIZES)]) for k, cell in enumerate(CELLS)]


def test_the_cell_sample_covers_every_op_on_every_edge_and_both_connectivities():
    for e in range(6):
        assert {c.ops[e] for c in CELLS} == set(OPS), f"edge {e} misses an op"
    assert {c.connected for c in CELLS} == {True, False}


def test_arch_strings_ops_and_connectivity_agree_with_xautodl_for_every_cell():
    assert tuple(NAS_BENCH_201) == OPS
    for cell in all_cells():
        s = CellStructure.str2structure(str(cell))
        assert s.tostr() == str(cell) and NB201Cell.parse(s.tostr()) == cell
        assert [op for node in s.nodes for op, _ in node] == list(cell.ops)
        assert s.check_valid() == cell.connected, str(cell)


# -- pairing and copying weights ----------------------------------------------------------------
def _stateful(model):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, _STATEFUL)]


def pair_modules(ours, ref):
    """Pair the conv / BN / linear modules of both nets in registration order. Asserts the pairing is
    complete and that types, weight shapes and conv geometry agree; returns the pairs and the flags
    that differ as (reference module name, flag, ours, reference)."""
    a, b = _stateful(ours), _stateful(ref)
    assert len(a) == len(b), f"{len(a)} conv/BN/linear modules in ours, {len(b)} in xautodl"
    pairs, diffs = [], []
    for (na, ma), (nb, mb) in zip(a, b):
        assert type(ma) is type(mb), f"{na} ({type(ma).__name__}) paired with {nb} ({type(mb).__name__})"
        assert ma.weight is None or mb.weight is None or ma.weight.shape == mb.weight.shape, (na, nb)
        if isinstance(ma, nn.Conv2d):
            for f in _CONV_GEOMETRY:
                assert getattr(ma, f) == getattr(mb, f), f"{na} vs {nb}: {f} {getattr(ma, f)} != {getattr(mb, f)}"
        if isinstance(ma, nn.BatchNorm2d):
            assert ma.num_features == mb.num_features, (na, nb)
            diffs += [(nb, f, getattr(ma, f), getattr(mb, f)) for f in _BN_FLAGS if getattr(ma, f) != getattr(mb, f)]
        else:
            if (ma.bias is None) != (mb.bias is None):
                diffs.append((nb, "bias", ma.bias is not None, mb.bias is not None))
        pairs.append((na, ma, nb, mb))
    return pairs, diffs


_TENSORS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


@torch.no_grad()
def randomise_bn(model, gen):
    """Non-trivial BN scales, shifts and running statistics (init values would hide affine bugs)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            if m.affine:
                m.weight.copy_(0.5 + torch.rand(n, generator=gen, dtype=DTYPE))
                m.bias.copy_(0.2 * torch.randn(n, generator=gen, dtype=DTYPE))
            if m.track_running_stats:
                m.running_mean.copy_(0.2 * torch.randn(n, generator=gen, dtype=DTYPE))
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen, dtype=DTYPE))
                m.num_batches_tracked.fill_(3)


@torch.no_grad()
def copy_reference_into_ours(pairs):
    for na, ma, nb, mb in pairs:
        for t in _TENSORS:
            src, dst = getattr(mb, t, None), getattr(ma, t, None)
            if src is not None and dst is not None:
                assert src.shape == dst.shape, f"{nb}.{t} {tuple(src.shape)} -> {na}.{t} {tuple(dst.shape)}"
                dst.copy_(src)


def assert_same_state(pairs):
    for na, ma, nb, mb in pairs:
        for t in _TENSORS:
            x, y = getattr(ma, t, None), getattr(mb, t, None)
            if x is not None and y is not None:
                torch.testing.assert_close(x, y, **TOL, msg=lambda m: f"{na}.{t} vs {nb}.{t}: {m}")


# -- running both -------------------------------------------------------------------------------
def forward_backward(model, run, x, proj):
    """Logits, input gradient and parameter gradients of the loss sum(logits * proj)."""
    model.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    logits = run(x)
    (logits * proj).sum().backward()
    return logits.detach(), x.grad


def assert_same_step(ours, run_ours, ref, run_ref, pairs, x, proj, what):
    lo, go = forward_backward(ours, run_ours, x, proj)
    lr, gr = forward_backward(ref, run_ref, x, proj)
    torch.testing.assert_close(lo, lr, **TOL, msg=lambda m: f"{what}: logits differ: {m}")
    torch.testing.assert_close(go, gr, **TOL, msg=lambda m: f"{what}: input gradients differ: {m}")
    n_grads = 0
    for na, ma, nb, mb in pairs:
        for t in ("weight", "bias"):
            pa, pb = getattr(ma, t, None), getattr(mb, t, None)
            if pa is None or pb is None:
                continue
            assert (pa.grad is None) == (pb.grad is None), f"{what}: {na}.{t} / {nb}.{t}: only one has a gradient"
            if pa.grad is not None:
                n_grads += 1
                torch.testing.assert_close(pa.grad, pb.grad, **TOL,
                                           msg=lambda m: f"{what}: gradient of {na}.{t} vs {nb}.{t}: {m}")
    assert n_grads > 0


def _data(gen, side, steps):
    xs = [torch.randn(BATCH, 3, side, side, generator=gen, dtype=DTYPE) for _ in range(steps)]
    return xs, torch.randn(BATCH, CLASSES, generator=gen, dtype=DTYPE)


# -- 1. the standalone network ----------------------------------------------------------------
@pytest.mark.parametrize("cell,C,N,side", CASES, ids=[f"{k:02d}-C{C}N{N}-{s}px" for k, (_, C, N, s) in enumerate(CASES)])
def test_standalone_network_matches_tiny_network(cell, C, N, side):
    gen = torch.Generator().manual_seed(cell.index)
    torch.manual_seed(cell.index)
    ref = TinyNetwork(C, N, CellStructure.str2structure(str(cell)), CLASSES).to(DTYPE)
    ours = build_network(cell, "cifar10", C=C, N=N).to(DTYPE)
    pairs, diffs = pair_modules(ours, ref)
    assert diffs == [], f"{cell}: module flags differ from xautodl: {diffs}"
    randomise_bn(ref, gen)
    copy_reference_into_ours(pairs)

    xs, proj = _data(gen, side, 4)
    ours.train(), ref.train()
    for t, x in enumerate(xs[:3]):
        assert_same_step(ours, ours, ref, lambda v: ref(v)[1], pairs, x, proj, f"{cell} train step {t}")
    assert_same_state(pairs)  # running statistics moved the same way

    ours.eval(), ref.eval()
    assert_same_step(ours, ours, ref, lambda v: ref(v)[1], pairs, xs[3], proj, f"{cell} eval")


# -- 2. the single-path super-net ---------------------------------------------------------------
def _section(name):
    if "lastact" in name:
        return "head"
    if name.lstrip("_").startswith("stem"):
        return "stem"
    if any(k in name for k in ("conv_a", "conv_b", "downsample")):
        return "reduction"
    return "cell"


#: The documented divergence (module docstring): (section, flag) -> (ours, xautodl).
_SUPERNET_DIVERGENCE = {
    ("stem", "affine"): (False, True), ("stem", "track_running_stats"): (False, True),
    ("reduction", "affine"): (False, True), ("reduction", "track_running_stats"): (False, True),
    ("cell", "bias"): (False, True),
}
REFERENCE_SUPERNETS = {
    "TinyNetworkRANDOM": (TinyNetworkRANDOM, {**_SUPERNET_DIVERGENCE, ("head", "affine"): (False, True),
                                              ("head", "track_running_stats"): (False, True)}),
    "GenericNAS201Model": (GenericNAS201Model, _SUPERNET_DIVERGENCE),
}
#: Hand-picked archs on top of the SPOS draws: disconnected ones are scored in ranking evaluation.
SUPERNET_EXTRA = [HAND_PICKED[0], HAND_PICKED[3], HAND_PICKED[4], HAND_PICKED[5]]


@pytest.fixture(scope="module")
def spos_subspaces():
    return NB201Subspaces(groups=1)


@torch.no_grad()
def _neutralise_reference_bn(ref, pairs):
    """Make the reference's affine / running-statistics BNs act like ours: scale 1, shift 0, batch
    statistics (plain torch on the reference; the conv biases are left as they are)."""
    for na, ma, nb, mb in pairs:
        if isinstance(mb, nn.BatchNorm2d) and not ma.affine and mb.affine:
            mb.weight.fill_(1.0), mb.bias.zero_()
        if isinstance(mb, nn.BatchNorm2d) and not ma.track_running_stats and mb.track_running_stats:
            mb.track_running_stats = False
            mb.running_mean = mb.running_var = mb.num_batches_tracked = None


@pytest.mark.parametrize("C,N,side", [(4, 1, 16), (8, 2, 16)])
@pytest.mark.parametrize("reference", sorted(REFERENCE_SUPERNETS))
def test_spos_supernet_matches_xautodl_search_model_on_fixed_archs(reference, C, N, side, spos_subspaces):
    cls, divergence = REFERENCE_SUPERNETS[reference]
    torch.manual_seed(7)
    ref = cls(C, N, 4, CLASSES, list(NAS_BENCH_201), affine=False, track_running_stats=False).to(DTYPE)
    bank = build_bank(spos_subspaces, "single", CLASSES, 3, width=C, N=N).to(DTYPE)
    net = bank.nets[0]
    pairs, diffs = pair_modules(net, ref)
    found = {(_section(nb), f): (a, b) for nb, f, a, b in diffs}
    assert found == divergence, f"super-net divergence from xautodl {reference} changed: {found}"
    _neutralise_reference_bn(ref, pairs)
    copy_reference_into_ours(pairs)

    archs = [a for step in range(6) for _, a in draw("uniform", spos_subspaces, step, seed=3)]
    archs += [NB201Cell.parse(s) for s in SUPERNET_EXTRA]
    gen = torch.Generator().manual_seed(11)
    for arch in archs:
        structure = CellStructure.str2structure(str(arch))
        if reference == "TinyNetworkRANDOM":
            ref.arch_cache = structure
        else:
            ref.set_cal_mode("dynamic", structure)
        xs, proj = _data(gen, side, 2)
        for mode, x in (("train", xs[0]), ("eval", xs[1])):
            bank.train(mode == "train"), ref.train(mode == "train")
            assert_same_step(bank, lambda v: bank(v, arch), ref, lambda v: ref(v)[1], pairs, x, proj,
                             f"{reference} {arch} {mode}")
            for na, ma, nb, mb in pairs:  # the reference's extra cell-conv biases: cancelled by BN
                if isinstance(mb, nn.Conv2d) and ma.bias is None and mb.bias is not None and mb.bias.grad is not None:
                    torch.testing.assert_close(mb.bias.grad, torch.zeros_like(mb.bias), rtol=0, atol=1e-10)
