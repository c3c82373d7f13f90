import networkx as nx

from nasbook.spaces.darts_zoo import DARTS_V2
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
