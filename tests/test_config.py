"""Presets and config validation."""
import pytest

from nasbook.config import parse_overrides, preset_values
from nasbook.search import make_config


def test_paper_preset_is_the_darts_setting():
    cfg = make_config("darts", "paper")
    assert (cfg.C, cfg.layers, cfg.epochs, cfg.batch_size) == (16, 8, 50, 64)
    assert (cfg.lr, cfg.lr_min, cfg.arch_lr, cfg.arch_weight_decay) == (0.025, 0.001, 3e-4, 1e-3)
    assert cfg.arch_betas == (0.5, 0.999) and cfg.order == "second" and cfg.dataset == "cifar10"
    assert make_config("darts", "paper-first").order == "first"


def test_tiny_inherits_paper_and_shrinks_only_sizes():
    paper, tiny = preset_values("darts", "paper"), preset_values("darts", "tiny")
    sizes = {"dataset", "C", "layers", "epochs", "batch_size", "order", "log_every"}
    assert {k for k in paper if paper[k] != tiny.get(k)} <= sizes


@pytest.mark.parametrize("bad,msg", [({"lr": "fast"}, "lr: expected a number"),
                                     ({"C": 1.5}, "C: expected an integer"),
                                     ({"nope": 1}, "unknown config key"),
                                     ({"arch_betas": [0.5]}, "arch_betas: expected 2 values"),
                                     ({"order": "third"}, "order must be")])
def test_bad_values_name_the_key(bad, msg):
    with pytest.raises(ValueError, match=msg):
        make_config("darts", "tiny", bad)


def test_unknown_preset_and_method():
    with pytest.raises(ValueError, match="no preset 'huge'"):
        make_config("darts", "huge")
    with pytest.raises(ValueError, match="unknown method"):
        make_config("nope", "tiny")


def test_parse_overrides():
    assert parse_overrides(["lr=0.1", "C=8", "amp=true", "data=/x"]) == {"lr": 0.1, "C": 8, "amp": True, "data": "/x"}
    with pytest.raises(ValueError):
        parse_overrides(["lr"])
