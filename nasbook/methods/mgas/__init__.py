"""MGAS / MG-DARTS: Multi-Granularity Architecture Search (Liu, Saxena, Cao, Zhao, Ruan;
arXiv:2310.15074, TNNLS), implemented from the spec ``methods/mgas.md`` (the paper body was
not available; the method follows the official code ``lxy12357/MG_DARTS``).

One concept per module:

* :mod:`.units`        the three unit levels, scores, learned thresholds, surrogate gradient
* :mod:`.gated_ops`    the search-time candidate ops with filter and weight gates
* :mod:`.supernet`     search cells, stage heads, the super-net
* :mod:`.loss`         R_op, R_tau and the adaptive lambda controller
* :mod:`.rounds`       pruning rounds and mask commits
* :mod:`.size`         the size proxy, non-zero parameters, the target and its checks
* :mod:`.stages`       the multi-stage plan and the analytic memory expectation
* :mod:`.reevaluation` re-pruning and regrowth
* :mod:`.compaction`   channel compaction and width harmonisation
* :mod:`.derive`       derivation to an :class:`~nasbook.spaces.mgas.MGASGenotype`
* :mod:`.search`       the config and the engine task (phases)
* :mod:`.mobile`       OURS: the provisional MobileNet-like space (Sec. 2.3): its super-net,
                       compaction and derivation; everything else above is shared with it
"""
from .search import MgasConfig, MgasSearch  # noqa: F401
