"""The cell explorer redraws when its controls change; cell depth and width by hand."""
from nasbook import zoo
from nasbook.spaces.darts import Genotype
from nasbook.viz.explorer import cell_explorer
from nasbook.viz.graphs import cell_depth, cell_summary, cell_width, op_histogram


def test_depth_width_and_ops_of_darts_v2():
    g = zoo.get("darts_v2").arch
    # normal cell: node 3 reads node 0 (dil_conv_3x3 from input index 2), node 0 reads the
    # inputs: the longest path is c_{k-2} -> 0 -> 3 = 2 op edges; all four nodes read an input
    assert cell_depth(g) == 2 and cell_width(g) == 4
    assert op_histogram(g) == {"sep_conv_3x3": 5, "skip_connect": 2, "dil_conv_3x3": 1}
    chain = Genotype([[("sep_conv_3x3", 1)], [("skip_connect", 2)], [("sep_conv_3x3", 3)], [("max_pool_3x3", 4)]],
                     [5], [[("sep_conv_3x3", 0), ("sep_conv_3x3", 1)]] * 4, [2, 3, 4, 5])
    assert (cell_depth(chain), cell_width(chain)) == (4, 1)           # c_{k-1} -> 0 -> 1 -> 2 -> 3
    assert (cell_depth(chain, "reduce"), cell_width(chain, "reduce")) == (1, 4)
    assert cell_summary(chain)["ops"] == {"sep_conv_3x3": 2, "skip_connect": 1, "max_pool_3x3": 1}


def test_explorer_redraws_on_change():
    ex = cell_explorer(value="darts_v2")
    assert ex.dropdown.description == "architecture" and "darts_v1" in ex.dropdown.options
    first = ex.view.value
    assert "<svg" in first and "darts_v2" in first and "depth 2" in first
    ex.dropdown.value = "pc_darts"          # observers fire synchronously in plain Python
    assert ex.view.value != first and "pc_darts" in ex.view.value and "depth 1" in ex.view.value
    before = ex.view.value
    ex.cell.value = "reduce"
    assert ex.view.value != before and "reduce cell" in ex.view.value and "depth 3" in ex.view.value
