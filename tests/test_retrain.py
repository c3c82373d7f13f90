"""Retraining (issue 8): recipes, the schedule formulas, DDP = one process, exact resume,
export equality, and the zoo's counts against the papers."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from nasbook import retrain as R
from nasbook import zoo, zoo_listing

# A published architecture of the right space for each recipe family.
EXAMPLE_ARCH = {"darts": "darts_v2", "entrannas": "darts_v2", "mgas": "mg_darts_small",
                "metakernels": "efficientnet_b0", "nse": "nsenet", "fewshot_nl": "mobilenet_v2"}


def arch_for(recipe: str):
    if recipe == "mgas-imagenet_mobilenet_like_nasbook":   # our MobileNet-like space: no published member
        from nasbook.spaces.mgas_mobile import MobileSkeleton, single_path_arch

        return single_path_arch("ir_k5_e3", MobileSkeleton(8, 8, (8, 12, 16, 16, 24, 32), (2, 2, 2, 2, 2, 1),
                                                           (2, 2, 2, 1, 2, 1), 64))
    return EXAMPLE_ARCH[recipe.split("-")[0]]


@pytest.mark.parametrize("recipe", sorted(R.recipes()))
def test_recipe_validates_and_runs_two_steps(recipe):
    full = R.load_recipe(recipe)  # the full-scale recipe validates too
    assert full.epochs >= 1 and full.base_lr() > 0
    res = R.retrain(arch_for(recipe), recipe + "-tiny", out=None, verbose=False,
                    overrides={"device": "cpu", "log_every": 1, "max_eval_batches": 1})
    steps = [h for h in res.history if h["event"] == "step"]
    epochs = [h for h in res.history if h["event"] == "epoch"]
    assert len(steps) == 2 and all(math.isfinite(s["loss"]) for s in steps)
    assert len(epochs) == 2 and {"val_top1", "val_top5", "images_per_s"} <= set(epochs[-1])
    assert epochs[-1]["val_top5"] >= epochs[-1]["val_top1"]
    # the logged lr is the recipe's formula at the step it was taken (t = 0 and t = 1 epoch)
    cfg = R.load_recipe(recipe + "-tiny")
    assert steps[1]["lr"] == pytest.approx(R.lr_at(cfg, 1.0), rel=1e-9)


def test_unknown_keys_and_wrong_types_name_the_key():
    with pytest.raises(ValueError, match="drop_pth_prob"):
        R.load_recipe("darts-cifar10", {"drop_pth_prob": 0.3})
    with pytest.raises(ValueError, match="epochs"):
        R.load_recipe("darts-cifar10", {"epochs": "many"})
    with pytest.raises(ValueError, match="optimizer"):
        R.load_recipe("darts-cifar10", {"optimizer": "adamw"})
    with pytest.raises(ValueError, match="unknown recipe"):
        R.load_recipe("darts-cifar11")
    # zoo metadata names a method's retrain file; it resolves to that file's first recipe
    assert R.resolve_recipe("metakernels_retrain") == ("metakernels-paper", False)


def _cos(base, t, total, lo=0.0):
    return lo + (base - lo) * (1 + math.cos(math.pi * t / total)) / 2


def _pcdarts(e, base=0.5, E=250):
    lr = base * (E - 5 - e) / (E - 5) if E - e > 5 else base * (E - e) / ((E - 5) * 5)
    return lr * (e + 1) / 5 if e < 5 else lr


# recipe -> (lr_interval, formula of the epoch t), written from the papers / codes, not from lr_at
FORMULAS = {
    "darts-cifar10": lambda e: _cos(0.025, e, 600),                        # DARTS A.2: cosine, per epoch
    "darts-cifar100": lambda e: _cos(0.025, e, 600),
    "entrannas-cifar10": lambda e: _cos(0.025, e, 600),
    "mgas-cifar10": lambda e: _cos(0.025, e, 600),
    "mgas-cifar100": lambda e: _cos(0.02, e, 600),
    "darts-imagenet": lambda e: 0.1 * 0.97 ** e,                           # DARTS: x0.97 every epoch
    "entrannas-imagenet-darts": lambda e: 0.1 * 0.97 ** e,
    # PC-DARTS train_imagenet.py: adjust_lr decays linearly from epoch 0 (slope 1/245, the last
    # 5 epochs 1/1225); the first 5 epochs multiply that value by (e+1)/5
    "entrannas-imagenet": lambda e: _pcdarts(e),
    "mgas-imagenet_darts": lambda e: _pcdarts(e),
    # ours (docs/methods/mgas.md): 5 warm-up epochs from 0, then cosine from 0.4 to 0 over 295 (per step)
    "mgas-imagenet_mobilenet_like_nasbook": lambda t: 0.4 * t / 5 if t < 5 else _cos(0.4, t - 5, 295),
    # EfficientNet: 0.016 x batch/256, linear warm-up 5 epochs, x0.97 every 2.4 epochs (per step)
    "metakernels-paper": lambda t: 0.256 * t / 5 if t < 5 else 0.256 * 0.97 ** math.floor(t / 2.4),
    "metakernels-paper_gpu": lambda t: 1e-6 + (0.016 - 1e-6) * t / 5 if t < 5 else 0.016 * 0.97 ** math.floor(t / 2.4),
    "metakernels-tiny": lambda t: 0.004 * t if t < 1 else 0.004 * 0.97 ** math.floor(t / 2.4),
    "nse-paper": lambda t: 0.064 * t / 5 if t < 5 else 0.064 * 0.97 ** math.floor(t / 2.4),
    "nse-tiny": lambda t: 0.004 * t if t < 1 else 0.004 * 0.97 ** math.floor(t / 2.4),
    "nse-sgd": lambda t: 0.4 * t / 5 if t < 5 else _cos(0.4, t - 5, 295),
    "fewshot_nl-mobilenet": lambda t: _cos(0.5, t, 240),                    # cosine per iteration
}


@pytest.mark.parametrize("recipe", sorted(R.recipes()))
def test_schedule_matches_the_recipe_formula(recipe):
    assert recipe in FORMULAS, f"add the formula of new recipe {recipe}"
    cfg = R.load_recipe(recipe)
    spe = 10
    f = R.lr_lambda(cfg, spe)
    per_epoch = cfg.lr_interval == "epoch"
    for e in [0, 1, 2, 3, 4, 5, 6, 7, 24, cfg.epochs // 2, cfg.epochs - 1]:
        for frac in (0.0, 0.5):
            s = int((e + frac) * spe)
            t = e if per_epoch else e + frac
            assert f(s) * cfg.base_lr() == pytest.approx(FORMULAS[recipe](t), rel=1e-9, abs=1e-12), (recipe, e, frac)


def _params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_mid_epoch_reproduces_the_uninterrupted_weights(tmp_path):
    # 2 epochs x 2 steps; drop-path is 0.1 in the 2nd epoch, so the RNG must resume too
    ov = {"device": "cpu", "max_steps_per_epoch": 2, "checkpoint_every": 1, "max_eval_batches": 1}
    full = R.retrain("darts_v2", "darts-cifar10-tiny", tmp_path / "a", ov, verbose=False)
    R.retrain("darts_v2", "darts-cifar10-tiny", tmp_path / "b", {**ov, "stop_after_steps": 3}, verbose=False)
    resumed = R.retrain("darts_v2", "darts-cifar10-tiny", tmp_path / "b", {"stop_after_steps": None},
                        resume=True, verbose=False)
    assert resumed.trainer.global_step == 4
    a, b = _params(full.task.model), _params(resumed.task.model)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ddp_two_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    """gloo, 2 ranks x 8 images = 1 process x 16 images split into 2 interleaved micro-batches
    (so that BatchNorm sees the same 8 images in both)."""
    common = ["--set", "batch_size=16", "--set", "epochs=1", "--set", "max_steps_per_epoch=3",
              "--set", "log_every=1", "--set", "max_eval_batches=1", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        "-m", "nasbook", "retrain", "darts_v2", "--recipe", "darts-cifar10-tiny",
                        "--out", str(tmp_path / "ddp"), *common], capture_output=True, text=True, timeout=240, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    losses = {ln.split()[1]: json.loads(ln.split("losses: ")[1]) for ln in p.stdout.splitlines() if "losses:" in ln}
    hashes = {ln.split()[1]: ln.split()[-1] for ln in p.stdout.splitlines() if "sha256" in ln}
    assert len(losses) == 2 and len(set(hashes.values())) == 1
    one = R.retrain("darts_v2", "darts-cifar10-tiny", None, {
        "batch_size": 16, "grad_accum": 2, "epochs": 1, "max_steps_per_epoch": 3, "log_every": 1,
        "max_eval_batches": 1, "device": "cpu"}, verbose=False)
    single = [h["loss"] for h in one.history if h["event"] == "step"]
    assert len(single) == 3
    for curve in losses.values():
        np.testing.assert_allclose(curve, single, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["darts_v2", "mobilenet_v2"])
def test_export_equals_eager(tmp_path, name):
    import onnxruntime as ort

    from nasbook.export import export, load_trained

    torch.manual_seed(0)
    net, shape = load_trained(name, None, "darts-cifar10-tiny" if name == "darts_v2" else "fewshot_nl-mobilenet-tiny")
    # BN running statistics away from (0, 1), so that eval-mode BN is exercised
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(3, *shape)
    with torch.no_grad():
        ref = net(x).numpy()
    ts = torch.jit.load(str(export(net, shape, tmp_path / "m.pt", "torchscript")))
    np.testing.assert_allclose(ts(x).detach().numpy(), ref, atol=1e-5, rtol=0)
    sess = ort.InferenceSession(str(export(net, shape, tmp_path / "m.onnx", "onnx")), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"input": x.numpy()})[0], ref, atol=1e-5, rtol=0)


def test_every_zoo_entry_builds_counts_and_matches_the_paper():
    rows = {r["name"]: r for r in zoo_listing.rows()}
    assert set(rows) == set(zoo.names())
    checked = 0
    for name, r in rows.items():
        assert r["params"] > 0 and r["macs"] > 0, name
        rep = r["reported"]
        for key, ours in (("params_m", r["params"] / 1e6), ("macs_m", r["macs"] / 1e6)):
            if key in rep:
                assert abs(ours - rep[key]) <= zoo_listing.TOLERANCE * rep[key], (name, key, ours, rep[key])
                checked += 1
        official = zoo.get(name).meta.get("official_params")
        if official:  # MGAS: the released model's own count
            assert r["params"] == official[0], name
            checked += 1
        if r["recipe"]:
            R.resolve_recipe(r["recipe"])  # every zoo recipe names a real recipe
    assert checked >= 10
    # the meta-device count equals a real forward's count
    from nasbook.measure import complexity
    from nasbook.spaces import get_space

    e = zoo.get("darts_v2")
    real = complexity(get_space("darts").build(e.arch, 10, 3, 32), (3, 32, 32))   # CIFAR-10 sizes
    assert (real["params"], real["macs"]) == (rows["darts_v2"]["params"], rows["darts_v2"]["macs"])


def test_nse_recipe_is_applied_in_full():
    """drop_path, activation and SE of the NSE recipes reach the network (none 'not applied')."""
    from nasbook.zoo import resolve

    net, not_applied = R.build_net(resolve("nsenet"), R.load_recipe("nse-paper"))
    assert not_applied == []
    n = len(net.layers)
    assert [layer.drop_path for layer in net.layers] == [0.2 * i / n if layer.kind == "N" else 0.0
                                                         for i, layer in enumerate(net.layers)]
    assert max(layer.drop_path for layer in net.layers) > 0.15
    net, _ = R.build_net(resolve("nsenet"), R.load_recipe("nse-paper", {"activation": "relu", "se": False}))
    assert (net.arch.act, net.arch.se) == ("relu", False)
    assert not any(isinstance(m, torch.nn.SiLU) for m in net.modules())
