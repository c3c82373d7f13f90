"""MGAS (docs/methods/mgas.md check 13, Sec. 1.7, 4.5): the released MG-DARTS models build exactly,
their sizes under each proxy convention, the shipped mask, ``nasbook info``, presets."""
import json

import pytest
import torch

from nasbook import zoo
from nasbook.config import preset_values
from nasbook.measure import count_params
from nasbook.spaces import load_arch
from nasbook.spaces.mgas import MGASNetwork, count_params_analytic, proxy_size, size_report
from nasbook.zoo.mgas import OFFICIAL_PARAMS


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: one thread waits less (conftest)


@pytest.mark.parametrize("name, C, layers, ops", [("mg_darts", 44, 14, 285), ("mg_darts_small", 24, 8, 184)])
def test_released_models_build_with_the_official_parameter_counts(name, C, layers, ops):
    g = zoo.get(name).arch
    assert (g.stem_C, g.layers, g.n_ops()) == (C, layers, ops)
    net = MGASNetwork(g, num_classes=10, auxiliary=True)
    no_aux, with_aux = OFFICIAL_PARAMS[name]
    assert count_params(net, ("auxiliary_head",)) == no_aux == count_params_analytic(g, 10)
    assert count_params(net) == with_aux == count_params_analytic(g, 10, auxiliary=True)
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_released_sizes_under_each_proxy_convention():
    # Sec. 1.7 table (rounded there): 1.51 / 1.63 / 1.59 M and 0.52 / 0.54 / 0.56 M
    for name, want in [("mg_darts", (1.51, 1.63, 1.59)), ("mg_darts_small", (0.52, 0.54, 0.56))]:
        g = zoo.get(name).arch
        got = [proxy_size(g, c) / 1e6 for c in ("conv_only", "official_legacy", "nasbook")]
        assert got == pytest.approx(want, abs=0.006)


def test_small_mask_matches_the_conv_tensors():
    g = zoo.get("mg_darts_small").arch
    shapes = dict(g.mask_shapes())
    assert set(g.weight_masks.keys()) == set(shapes) and len(shapes) == 366
    assert all(g.weight_masks[k].shape == s and g.weight_masks[k].dtype == bool for k, s in shapes.items())
    assert g.weight_masks.total() == 518_232 and g.weight_masks.zeros() == 6_940
    net = MGASNetwork(g)
    assert sum(int((~m.weight_mask).sum()) for m in net.modules() if hasattr(m, "weight_mask")) == 6_940
    assert load_arch(json.loads(g.to_json())) == g          # the mask travels inside the JSON value


def test_info_reports_dense_and_nonzero_parameters(capsys):
    from nasbook.cli import main

    assert main(["info", "mg_darts_small", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    s = info["sizes"]
    assert info["params"] == s["dense_params"] == 704_082
    assert s["nonzero_params"] == 704_082 - 6_940 and s["proxy_nasbook"] == 555_096
    assert s["macs_with_masks"] < info["macs"]
    r = size_report(zoo.get("mg_darts").arch)
    assert r["dense_params"] == r["nonzero_params"] == 2_290_716      # no mask released for the large model


def test_provisional_presets_say_they_are_ours():
    from nasbook.cli import _preset_note

    for preset in ("imagenet_darts", "imagenet_darts_small", "imagenet_mobilenet_like_nasbook"):
        assert _preset_note("mgas", preset).startswith("OURS"), preset
    assert _preset_note("mgas", "paper") == "" and _preset_note("mgas", "paper_small") == ""
    assert "definition was not available" in _preset_note("mgas", "imagenet_mobilenet_like_nasbook")


def test_search_says_an_ours_preset_is_ours_before_anything_runs(tmp_path, capsys):
    from nasbook.cli import main

    assert main(["search", "mgas", "--preset", "imagenet_mobilenet_like_nasbook", "--data", str(tmp_path),
                 "--out", str(tmp_path / "run")]) == 2            # no ImageNet here: a clear error ...
    err = capsys.readouterr().err
    assert "is ours, not the paper's" in err and "imagenet was not found" in err   # ... after the note


def test_presets_resolve():
    from nasbook.search import make_config

    for preset, (L, C, target) in {"paper": (14, 44, 1_591_134), "paper_small": (8, 24, 555_096),
                                   "tiny": (3, 4, 0.1 * 70_768)}.items():
        cfg = make_config("mgas", preset)
        assert (cfg.layers, cfg.C) == (L, C) and cfg.resolved_target() == pytest.approx(target)
    for preset in ("imagenet_darts", "imagenet_darts_small", "paper_head"):
        make_config("mgas", preset)
    mobile = make_config("mgas", "imagenet_mobilenet_like_nasbook")
    assert mobile.space == "mobilenet_like" and mobile.dataset == "imagenet" and mobile.search_fraction == 0.1
    assert mobile.skeleton().plan()[0] == (16, 24, 2, 0) and mobile.skeleton().n_layers == 21
    tiny = make_config("mgas", "tiny_mobilenet_like_nasbook")
    assert tiny.space == "mobilenet_like" and tiny.dataset == "digits" and tiny.resolution == 32
    assert preset_values("mgas", "paper")["stage_ratio"] == [0.3, 0.3, 0.3]


def test_released_target_follows_the_reduction_index_convention():
    """With ``official_reduction_index`` the search measures the code's legacy proxy, so the
    "released" target must be the released model's legacy proxy too (docs/methods/mgas.md)."""
    from nasbook.methods.mgas.search import MgasConfig
    from nasbook.methods.mgas.size import released_size

    # by hand from the MG_DARTS genotype: 1,505,950 sep/dil weights; legacy: c^2 on the skips from
    # nodes 0/1 of cells 3 (4 of them, c = 2*44) and 8 (3, c = 4*44); ours: cells 4 (3, c = 88) and 9 (2, c = 176)
    legacy, ours = 1_505_950 + 4 * 88 ** 2 + 3 * 176 ** 2, 1_505_950 + 3 * 88 ** 2 + 2 * 176 ** 2
    assert (legacy, ours) == (1_629_854, 1_591_134)
    g = zoo.get("mg_darts").arch
    assert proxy_size(g, "official_legacy") == legacy
    for flag, want in ((True, legacy), (False, ours)):
        cfg = MgasConfig(layers=14, C=44, target_params="released", official_reduction_index=flag)
        assert cfg.resolved_target() == want and released_size(14, 44, "official_proxy", flag) == want
    # MG_DARTS_small: legacy, none in cell 1 and two in cell 4 (c = 4*24); ours, 4 in cell 2 (48) and 3 in cell 5 (96)
    small = MgasConfig(layers=8, C=24, target_params="released", official_reduction_index=True)
    assert small.resolved_target() == 518_232 + 2 * 96 ** 2 == 536_664
    assert MgasConfig(layers=8, C=24, target_params="released").resolved_target() == 518_232 + 4 * 48 ** 2 + 3 * 96 ** 2
    # the non-zero count has no reduction-index convention
    assert released_size(14, 44, "nonzero_params", True) == released_size(14, 44, "nonzero_params", False)


def test_paper_preset_has_the_official_code_values():
    """The values the spec tags [C] (train_search.py at HEAD 758f6f9; layers/C at ee6cab1)."""
    from nasbook.search import make_config

    official = {"layers": 14, "C": 44, "batch_size": 96, "lr": 0.01, "momentum": 0.9, "weight_decay": 3e-4,
                "grad_clip": 5.0, "op_lr": 1.0, "filter_lr": 1.0, "threshold_lr": 0.1, "weight_threshold_lr": 0.001,
                "lambda0": 1e-5, "c0": 2.0, "n0": 12, "lambda_cap": 100.0, "freeze_ratio_stage": 1.0,
                "freeze_ratio_final": 0.5, "mu": 0.0, "stages": 3, "warmup_epochs": 5, "prune_every": 2,
                "stage_ratio": (0.3, 0.3, 0.3), "regrow_ratio": 0.2, "cutout": 16, "auto_augment": True, "seed": 2,
                "levels": ("op", "filter", "weight"), "stem": "cifar", "heads": "cifar", "dataset": "cifar10",
                "search_fraction": 1.0, "size_fn": "official_proxy"}
    cfg = make_config("mgas", "paper")
    got = {k: tuple(v) if isinstance(v, list) else v for k, v in ((k, getattr(cfg, k)) for k in official)}
    assert got == official
    assert make_config("mgas", "paper_head").target_params == 100_000.0   # --min_flops 0.1 (M)
    # our fixes are the paper preset's defaults; paper_official turns the code's behaviour on
    assert not any(getattr(cfg, k) for k in ("official_nj_bug", "official_reduction_index",
                                             "official_final_commit", "official_stale_optimizers"))
    po = make_config("mgas", "paper_official")
    assert all(getattr(po, k) for k in ("official_nj_bug", "official_reduction_index",
                                        "official_final_commit", "official_stale_optimizers"))
    assert {k: getattr(po, k) for k in official} == {k: getattr(cfg, k) for k in official}
    assert po.resolved_target() == 1_629_854            # MG_DARTS' legacy proxy (the code's convention)


def test_space_mgas_on_the_command_line(capsys):
    from nasbook.cli import main

    assert main(["space", "mgas"]) == 0
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.strip().splitlines())
    assert lines["space"] == "mgas" and lines["op_units"] == "1372"          # 14 cells x 14 edges x 7 ops
    # per edge of width c: 6c^2 + 102c maskable weights; cells 0-3 at 44, 4-8 at 88, 9-13 at 176
    per = lambda c: 14 * (6 * c * c + 102 * c)  # noqa: E731
    maskable = 4 * per(44) + 5 * per(88) + 5 * per(176)
    assert int(lines["supernet_maskable_weights"]) == maskable == 19_049_184
    assert int(lines["supernet_proxy"]) == maskable + 8 * 88 ** 2 + 8 * 176 ** 2   # 8 strided skips per reduction cell
    # node j has j input edges: any non-empty subset of its 7j ops
    assert int(lines["architectures_per_cell"]) == (2 ** 14 - 1) * (2 ** 21 - 1) * (2 ** 28 - 1) * (2 ** 35 - 1)
    assert main(["space", "mgas", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["edges_per_cell"] == 14
