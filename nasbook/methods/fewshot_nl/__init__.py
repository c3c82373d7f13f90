"""Few-shot NAS by counting nonlinear functions (Oh, Lee, Ham, AAAI 2025, arXiv 2412.14678)
and its SPOS baseline; see ``docs/methods/fewshot_nl.md``.

The space is split by how many nonlinear functions a subnet's signal passes through
(:mod:`.counting`), into disjoint subspaces (:mod:`.subspaces`); each gets its own supernet,
narrowed by a width divisor (:mod:`.supernets`); supernet-balanced sampling trains them all
on every step (:mod:`.sampling`); evolution then searches the whole space, scoring each
candidate with the supernet of its subspace (:mod:`.evolution`). :mod:`.method` holds the
engine tasks (``fewshot_nl`` and ``spos``); :mod:`.rank` scores NAS-Bench-201 cells against
the benchmark table (``nasbook rank``).
"""
from .counting import nonlinearity_count  # noqa: F401
from .method import FewShotNLConfig, FewShotNLSearch, SposConfig, SposSearch  # noqa: F401
from .sampling import MODES, draw, expected_updates  # noqa: F401
from .subspaces import MBConvSubspaces, NB201Subspaces, make_partition, make_subspaces  # noqa: F401
from .supernets import SupernetBank, build_bank, nb201_supernet  # noqa: F401
