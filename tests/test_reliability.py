"""Bad input and faults end in one readable line, never a traceback, and never in silently
wrong work: numbers in exponent form, NaN losses, broken or hostile checkpoints, resumes
onto another configuration."""
from __future__ import annotations

import os
import pickle

import pytest
import torch

from nasbook.cli import _flag_overrides, main
from nasbook.config import parse_overrides
from nasbook.engine.checkpoint import load, save_atomic
from nasbook.search import make_config, search

TINY = {"epochs": 1, "max_steps_per_epoch": 2, "progress": False, "log_every": 1}


def _one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


# -- numbers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value", [("6e-4", 6e-4), ("1e-3", 1e-3), ("1E+2", 100.0), ("2.5E3", 2500.0),
                                        (".5", 0.5), ("3", 3.0)])
def test_numbers_in_exponent_form_are_numbers_from_flags_and_set(text, value):
    cfg = make_config("darts", "tiny", _flag_overrides(["--arch-lr", text]))
    assert cfg.arch_lr == value and isinstance(cfg.arch_lr, float)
    assert make_config("darts", "tiny", parse_overrides([f"lr={text}"])).lr == value
    from nasbook.config import _check_type

    assert _check_type("x", "-" + text, float) == -value  # a sign is part of the number


@pytest.mark.parametrize("text", [".nan", ".inf", "abc", "1e", "true"])
def test_a_float_field_refuses_what_is_not_a_finite_number(text):
    with pytest.raises(ValueError, match="^lr: expected a (finite )?number"):
        make_config("darts", "tiny", parse_overrides([f"lr={text}"]))


# -- NaN --------------------------------------------------------------------------------------
def test_a_nan_loss_stops_the_run_with_the_step_and_leaves_no_architecture(tmp_path, capsys):
    out = tmp_path / "nan"
    rc = main(["search", "darts", "--out", str(out), "--set", "lr=1e6", "--set", "epochs=2",
               "--set", "max_steps_per_epoch=12", "--set", "checkpoint_every=1", "--set", "progress=false"])
    assert rc == 1
    err = _one_line_error(capsys)
    assert "stopped" in err and "step" in err and "last good checkpoint" in err
    assert not (out / "arch.json").exists()
    st = load(out / "checkpoint.pt")
    assert all(torch.isfinite(v).all() for v in st["model"].values() if v.is_floating_point())


# -- checkpoints ------------------------------------------------------------------------------
class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/nasbook-pwned",))


def _bad_files(tmp_path):
    good = tmp_path / "good.pt"
    save_atomic({"model": {"w": torch.ones(3)}, "optimizers": {}, "position": {}}, good)
    raw = good.read_bytes()
    files = {"truncated": raw[: len(raw) // 2], "empty": b"", "random bytes": os.urandom(4096),
             "bit-flipped": raw[:100] + bytes([raw[100] ^ 0xFF]) + raw[101:]}
    out = {}
    for name, data in files.items():
        p = tmp_path / f"{name.replace(' ', '_')}.pt"
        p.write_bytes(data)
        out[name] = p
    mal = tmp_path / "malicious.pt"
    with open(mal, "wb") as f:
        pickle.dump({"model": _Payload()}, f)
    out["malicious"] = mal
    (tmp_path / "dir.pt").mkdir()
    out["a folder"] = tmp_path / "dir.pt"
    return out


def test_every_broken_checkpoint_is_one_value_error_naming_the_file(tmp_path):
    for what, path in _bad_files(tmp_path).items():
        with pytest.raises(ValueError) as e:
            load(path)
        assert str(path) in str(e.value), what
        assert len(str(e.value).splitlines()) == 1
    with pytest.raises(ValueError, match="refused"):
        load(tmp_path / "malicious.pt")
    assert not os.path.exists("/tmp/nasbook-pwned")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "darts"
    search("darts", "tiny", run, dict(TINY))
    return run


def test_derive_and_resume_on_a_broken_checkpoint_give_one_line(tiny_run, tmp_path, capsys):
    import shutil

    for what, bad in _bad_files(tmp_path).items():
        if bad.is_dir():
            continue
        run = tmp_path / f"run-{bad.stem}"
        shutil.copytree(tiny_run, run)
        shutil.copy(bad, run / "checkpoint.pt")
        assert main(["derive", str(run)]) == 2, what
        assert str(run / "checkpoint.pt") in _one_line_error(capsys)
        assert main(["search", "darts", "--resume", str(run)]) == 2, what
        _one_line_error(capsys)
    assert not os.path.exists("/tmp/nasbook-pwned")


def test_resume_onto_changed_settings_is_refused_and_writes_nothing(tiny_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "r"
    shutil.copytree(tiny_run, run)
    before = (run / "config.yaml").read_text()
    assert main(["search", "darts", "--resume", str(run), "--set", "C=8"]) == 2
    err = _one_line_error(capsys)
    assert "C: 4 -> 8" in err and "--force" in err
    assert (run / "config.yaml").read_text() == before  # a later plain resume still works
    (run / "checkpoint.pt").unlink()
    assert main(["search", "darts", "--resume", str(run)]) == 2
    assert "no checkpoint.pt" in _one_line_error(capsys)


def test_a_checkpoint_of_another_configuration_is_named_as_such(tiny_run, tmp_path):
    from nasbook.data import dataset_info
    from nasbook.engine import Trainer
    from nasbook.methods import get_method

    cfg = make_config("darts", "tiny", {**TINY, "C": 6})
    task = get_method("darts")(cfg, dataset_info("digits"))
    loaders, _ = task.search_loaders(cfg)
    tr = Trainer(task, loaders, cfg.engine())
    with pytest.raises(ValueError, match="made by another configuration.*size mismatch"):
        tr.load_checkpoint(tiny_run / "checkpoint.pt")


def test_export_never_runs_code_from_a_weights_file(tmp_path, capsys):
    mal = tmp_path / "w.pt"
    with open(mal, "wb") as f:
        pickle.dump({"model": _Payload()}, f)
    rc = main(["export", "darts_v2", "--weights", str(mal), "--out", str(tmp_path / "m.pt")])
    assert rc == 2 and "refused" in _one_line_error(capsys)
    assert not os.path.exists("/tmp/nasbook-pwned")


def test_any_unexpected_error_is_one_line_and_debug_shows_the_traceback(capsys, monkeypatch):
    import nasbook.cli.zoo as zoo_command

    def boom(args, extra):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(zoo_command, "cmd_zoo", boom)  # the parser binds the command when it is built
    assert main(["zoo"]) == 1
    assert "ZeroDivisionError: division by zero" in _one_line_error(capsys)
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "zoo"])


# -- data ---------------------------------------------------------------------------------------
def _image_tree(root, bad=True):
    from PIL import Image

    for c in ("a", "b"):
        (root / "train" / c).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (40, 40), (60 * i, 20, 200)).save(root / "train" / c / f"{i}.jpg")
    if bad:
        good = (root / "train" / "a" / "1.jpg").read_bytes()
        (root / "train" / "a" / "1.jpg").write_bytes(good[: len(good) // 3])  # a truncated JPEG
    return root


def test_an_unreadable_image_stops_with_its_name_or_is_skipped_when_asked(tmp_path):
    from nasbook.data import get_dataset
    from nasbook.data.datasets import BadImage

    root = _image_tree(tmp_path)
    ds, _ = get_dataset("imagenet", "train", root, resolution=32)
    with pytest.raises(BadImage, match=r"a/1\.jpg: unreadable image"):
        ds[1]
    ds, _ = get_dataset("imagenet", "train", root, resolution=32, skip_bad_images=True)
    with pytest.warns(UserWarning, match=r"skipping unreadable image .*a/1\.jpg"):
        x, y = ds[1]
    assert x.shape == (3, 32, 32) and y == 0  # the next readable image of the folder stands in


def test_a_corrupt_cifar_folder_names_the_folder(tmp_path):
    from nasbook.data import get_dataset

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
                 "batches.meta"):
        (folder / name).write_bytes(os.urandom(200))
    with pytest.raises(ValueError, match="cifar-10-batches-py cannot be read"):
        get_dataset("cifar10", "train", tmp_path)


# -- config validation --------------------------------------------------------------------------
@pytest.mark.parametrize("setting,field", [
    ("epochs=-1", "epochs"), ("epochs=0", "epochs"), ("layers=0", "layers"), ("steps=0", "steps"),
    ("grad_clip=-1", "grad_clip"), ("checkpoint_every=-1", "checkpoint_every"),
    ("max_steps_per_epoch=0", "max_steps_per_epoch"), ("resolution=0", "resolution"), ("log_every=0", "log_every"),
    ("amp_dtype=fp8", "amp_dtype"), ("device=tpu", "device"), ("lr=0", "lr"), ("seed=-3", "seed")])
def test_values_out_of_range_are_refused_naming_the_field(setting, field, capsys):
    with pytest.raises(ValueError, match=f"^{field}: "):
        make_config("darts", "tiny", parse_overrides([setting]))
    assert main(["search", "darts", "--set", setting, "--out", "/nonexistent/never-written"]) == 2
    assert _one_line_error(capsys).startswith(f"nasbook search: error: {field}: ")


def test_a_batch_larger_than_the_data_is_refused(capsys):
    assert main(["search", "darts", "--batch-size", "100000", "--out", "/nonexistent/never-written"]) == 2
    assert "batch_size: 100000 is larger than the" in _one_line_error(capsys)
