import networkx as nx

from nasbook.zoo.darts import DARTS_V2
from nasbook.viz import genotype_to_networkx, plot_arch_weights


def test_networkx_graph_of_darts_v2():
    g = genotype_to_networkx(DARTS_V2, "normal")
    assert nx.is_directed_acyclic_graph(g)
    assert g.number_of_nodes() == 7
    # node 3 of DARTS V2 normal reads c_{k-2} by skip and node 0 by dil_conv_3x3
    assert g["c_{k-2}"]["3"]["op"] == "skip_connect" and g["0"]["3"]["op"] == "dil_conv_3x3"
    assert nx.dag_longest_path_length(g) == 3  # input -> 0 -> 3 -> output


def test_plot_arch_weights_from_history():
    hist = [{"event": "epoch", "epoch": e, "alphas_normal": [[1 / 8] * 8] * 14} for e in range(3)]
    fig = plot_arch_weights(hist, edges=[0, 1, 2])
    assert len([a for a in fig.axes if a.has_data()]) == 3


def test_every_space_has_a_registered_drawer_and_a_missing_one_is_a_clear_error(tmp_path, monkeypatch):
    import pytest

    from nasbook.spaces import spaces
    from nasbook.viz import registry
    from nasbook.viz.registry import draw_arch, drawers

    assert set(drawers()) == set(spaces())  # filled by the viz modules, not by the spaces
    assert [p.name for p in draw_arch(DARTS_V2, tmp_path / "v2", formats=("svg",))] == ["v2_normal.svg", "v2_reduce.svg"]
    monkeypatch.delitem(registry.DRAWERS, "darts")
    monkeypatch.setattr(registry, "_MODULES", [])
    with pytest.raises(ValueError, match="darts space has no drawing"):
        draw_arch(DARTS_V2, tmp_path / "none")


def test_nse_layers_are_drawn_by_their_role():
    """A stride-1 E layer that keeps its width behaves as an N layer (LayerSpec.role): it is
    drawn with the dashed identity edge; an E layer that widens and an R layer are not."""
    from nasbook.spaces.nse import NSEArch
    from nasbook.spaces.nse_plans import layer_specs
    from nasbook.viz.nse import arch_dot

    widths = (8, 8, 12, 16, 16, 24, 32)
    specs = layer_specs("NER", (1,) * 6, widths)
    arch = NSEArch("MAC-27", "NER", (1,) * 6, tuple((0,) for _ in specs), widths=widths, stem_stride=1,
                   head_width=64, se=False, act="relu")
    src = arch_dot(arch).source
    prev = ["stem"] + [f"l{i}" for i in range(len(specs) - 1)]
    e_same = next(i for i, s in enumerate(specs) if s.kind == "E" and s.c_in == s.c_out)
    e_wider = next(i for i, s in enumerate(specs) if s.kind == "E" and s.c_in != s.c_out)
    r = next(i for i, s in enumerate(specs) if s.kind == "R")
    identity = lambda i: f"{prev[i]} -> l{i} [color=gray40 style=dashed]" in src  # noqa: E731
    assert identity(e_same) and f"E{e_same + 1} (as N): (x + sum) / 2" in src
    assert not identity(e_wider) and not identity(r)
    assert all(identity(i) for i, s in enumerate(specs) if s.role == "N")


def test_knob_panel_reruns_show_with_every_controls_value():
    import ipywidgets as W

    from nasbook.viz.widgets import knob_panel

    calls = []
    controls = {"a": W.IntSlider(value=1, min=0, max=5), "b": W.ToggleButtons(options=["x", "y"])}
    panel = knob_panel(controls, lambda **kw: calls.append(kw))
    assert list(panel.children[:2]) == list(controls.values())
    controls["a"].value = 3  # observers fire synchronously outside a kernel
    controls["b"].value = "y"
    assert calls == [{"a": 3, "b": "x"}, {"a": 3, "b": "y"}]
