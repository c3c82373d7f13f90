"""The command line: JSON contracts, errors, draw/derive on saved runs."""
import json
import subprocess
import sys

import pytest

from nasbook.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_info_json_is_one_object(capsys):
    code, out, _ = run(capsys, "info", "darts_v2", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["params"] == 3_349_342 and info["space"] == "darts"
    assert info["macs"] > 0 and info["reported"]["params_m"] == 3.3


def test_info_on_a_json_file(tmp_path, capsys):
    from nasbook.zoo.darts import DARTS_V1

    f = tmp_path / "g.json"
    f.write_text(DARTS_V1.to_json())
    code, out, _ = run(capsys, "info", str(f), "--json")
    assert code == 0 and json.loads(out)["arch"]["normal"][0][0] == ["sep_conv_3x3", 1]


def test_zoo_json(capsys):
    code, out, _ = run(capsys, "zoo", "--json")
    rows = json.loads(out)["architectures"]
    assert {"darts_v1", "darts_v2", "pc_darts"} <= {r["name"] for r in rows}


def test_bad_arch_is_a_clear_error(tmp_path, capsys):
    code, _, err = run(capsys, "info", "no_such_net")
    assert code == 2 and "no zoo architecture named 'no_such_net'" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"space": "darts", "normal": [[["conv_9x9", 0]]], "normal_concat": [2], "reduce": [], "reduce_concat": [2]}')
    code, _, err = run(capsys, "info", str(bad))
    assert code == 2 and "conv_9x9" in err


def test_draw_writes_svg_and_png(tmp_path, capsys):
    code, out, _ = run(capsys, "draw", "darts_v2", "--out", str(tmp_path / "v2"))
    assert code == 0
    svg = (tmp_path / "v2_normal.svg").read_text()
    assert "sep_conv_3x3" in svg and "dil_conv_3x3" in svg
    assert (tmp_path / "v2_reduce.png").read_bytes()[:4] == b"\x89PNG"


def test_drawing_is_deterministic(tmp_path, capsys):
    run(capsys, "draw", "pc_darts", "--out", str(tmp_path / "a"), "--format", "svg")
    run(capsys, "draw", "pc_darts", "--out", str(tmp_path / "b"), "--format", "svg")
    assert (tmp_path / "a_normal.svg").read_bytes() == (tmp_path / "b_normal.svg").read_bytes()


def test_search_then_derive(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "search", "darts", "--out", str(out), "--epochs", "1",
                          "--max-steps-per-epoch", "2", "--progress", "false")
    assert code == 0 and "Genotype(" in stdout
    before = json.loads((out / "arch.json").read_text())
    (out / "arch.json").unlink()
    code, stdout, _ = run(capsys, "derive", str(out))
    assert code == 0 and json.loads((out / "arch.json").read_text()) == before
    code, stdout, _ = run(capsys, "info", str(out), "--json")
    assert code == 0 and json.loads(stdout)["arch"] == before


def test_unknown_config_flag_is_an_error(capsys):
    code, _, err = run(capsys, "search", "darts", "--no-such-knob", "3")
    assert code == 2 and "no_such_knob" in err


def test_search_help_lists_config_fields(capsys):
    code, out, _ = run(capsys, "search", "darts", "--help")
    assert code == 0 and "--arch-lr" in out and "0.0003*" in out


def test_space_json(capsys):
    code, out, _ = run(capsys, "space", "darts", "--json")
    assert json.loads(out)["architectures"] == (180 * 7 ** 8) ** 2


def test_python_dash_m_is_the_same_program():
    p = subprocess.run([sys.executable, "-m", "nasbook", "zoo", "--json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "darts_v2" in {r["name"] for r in json.loads(p.stdout)["architectures"]}
    p = subprocess.run([sys.executable, "-m", "nasbook", "--help"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "search" in p.stdout and "demo" in p.stdout


def test_search_help_lists_the_methods_and_each_presets_values(capsys):
    from nasbook.methods import METHODS

    assert main(["search", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {m} " in out for m in METHODS)
    assert main(["search", "darts", "--help"]) == 0
    rows = {ln.split()[0]: ln.split()[1:] for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("--")}
    assert rows["--C"] == ["4*", "16*"] and rows["--epochs"] == ["4*", "50*"]  # tiny (the default), then paper
    assert main(["search"]) == 2
    assert "name a method: darts" in capsys.readouterr().err


def test_unknown_space_is_one_line_and_exit_2(capsys):
    assert main(["space", "no_such_space"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nasbook space: error: unknown space 'no_such_space'") and len(err.splitlines()) == 1
