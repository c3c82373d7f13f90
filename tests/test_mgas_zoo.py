"""MGAS (mgas.md Sec. 9 check 13, Sec. 1.7, 4.5): the released MG-DARTS models build exactly,
their sizes under each proxy convention, the shipped mask, ``nasbook info``, presets."""
import json

import pytest
import torch

from nasbook import zoo
from nasbook.config import preset_values
from nasbook.measure import count_params
from nasbook.spaces import load_arch
from nasbook.spaces.mgas import MGASNetwork, count_params_analytic, proxy_size, size_report
from nasbook.spaces.mgas_zoo import OFFICIAL_PARAMS


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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
                                   "tiny": (3, 4, 0.3 * 70_768)}.items():
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
