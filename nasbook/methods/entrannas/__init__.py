"""EnTranNAS and EnTranNAS-DST (Yang et al., CVPR 2021, arXiv:2101.11342;
see ``docs/methods/entrannas.md``).

DARTS trains a dense mixture but evaluates a top-2 sub-graph. EnTranNAS closes most of that
gap: a few *Engine-cells* stay differentiable, while *Transit-cells* run only the currently
derived architecture, re-derived on every iteration. Each cell shares one op module per
(source node, op) among all later nodes (*feature sharing*). EnTranNAS-DST replaces the
top-2 rule by learnable per-node thresholds, so the Engine-cell's active graph *is* the
derived cell and a node may take any number of inputs.

One concept per file, in reading order:

* :mod:`.relaxation`   softmax with temperature; the DST threshold and renormalisation
* :mod:`.derivation`   top-2 and DST derivation
* :mod:`.sharing`      feature sharing: one module per (source, op), each run once
* :mod:`.engine_cell`  the differentiable cell
* :mod:`.transit_cell` the derived-sub-graph cell
* :mod:`.supernet`     the super-net, Engine-cell placement, ImageNet search stem
* :mod:`.method`       config and the engine task (the search iteration)
"""
from .derivation import derive_dst, derive_top2, pair_indices  # noqa: F401
from .engine_cell import EngineCell, engine_forward  # noqa: F401
from .method import EnTranNASConfig, EnTranNASSearch  # noqa: F401
from .relaxation import DSTWeights, dst_weights, node_rows, softmax_weights  # noqa: F401
from .sharing import SharedFeatures, SharingCell  # noqa: F401
from .supernet import EnTranNASSupernet, engine_cells_at, primitives_for, reduction_cells  # noqa: F401
from .transit_cell import TransitCell, transit_forward  # noqa: F401
