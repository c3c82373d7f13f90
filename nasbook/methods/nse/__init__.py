"""NSE: Neural Search-space Evolution (Ci et al., "Evolving Search Space for Neural Architecture
Search", ICCV 2021; docs/methods/nse.md). Specified from the authors' released search code.

One concept per file:

- ``nasbook.spaces.nse_pools`` / ``nse_plans`` / ``nse``: the op pools, layer plans and the
  architecture value (shared with the zoo and the standalone networks);
- :mod:`.distribution`   per-op Bernoulli distribution over multi-branch layers (Sec. 5.1);
- :mod:`.estimator`      the two-sample binary-gate gradient (Sec. 5.2);
- :mod:`.cost`           FLOPs formula and latency table (Sec. 5.3-5.4);
- :mod:`.supernet`       the round's supernet with alpha (Sec. 3, 4.3);
- :mod:`.state`          subsets, queues, retained subsets, pruning, refill (Sec. 4.1-4.3);
- :mod:`.candidates`     end-of-round sampling under the cost window (Sec. 4.3 step 3);
- :mod:`.scoring`        BN recalibration and held-out top-1 (step 4);
- :mod:`.pareto`         the Pareto front (step 5);
- :mod:`.rounds`         the end of a round (steps 3-7);
- :mod:`.method`         the engine task and the round loop;
- :mod:`.latency`        measuring a latency table (``nasbook latency``).
"""
from .config import NSEConfig  # noqa: F401
from .method import NSESearch  # noqa: F401
