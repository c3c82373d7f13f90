"""Complexity measures (docs/architecture.md): parameters, MACs through PyTorch's own
``torch.utils.flop_counter`` (no hand-written counter), step memory, step time and ranking
correlations (scipy)."""
from .complexity import count_macs, count_params, complexity, masked_macs, peak_memory, saved_tensor_bytes, time_step  # noqa: F401
from .ranking import kendall_tau, spearman_rho  # noqa: F401
