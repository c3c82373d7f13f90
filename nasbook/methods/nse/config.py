"""NSE search settings (docs/methods/nse.md-6). Defaults are the NSE-27 values of the authors'
config; fields marked "ours" fill gaps of the released code (docs/methods/nse.md)."""
from __future__ import annotations

from dataclasses import dataclass

from ...config import SearchConfig


@dataclass
class NSEConfig(SearchConfig):
    """Every NSE setting; ``epochs`` is per round (the supernet is retrained each round)."""

    # -- space (Sec. 2-3) ----------------------------------------------------------------
    pools: list[str] = ("MAC-27",)        # one search stage per pool; a later pool continues (Sec. 4.6)
    pool_ops: list[int] | None = None      # restrict the first pool to these ids (tiny; ours)
    plan: str = "NER"
    counts: list[int] = (1, 3, 3, 3, 3, 3)
    widths: list[int] | None = None        # base stage widths; None: the plan's
    stem_stride: int = 2
    head_width: int = 1024
    # -- rounds (Sec. 4) -------------------------------------------------------------------
    K: int = 5                             # subset size
    max_rounds: list[int] | None = None    # cap per stage; None: floor((N - 1) / (K - 1))
    tau: float = -2.0                      # prune ops with alpha < tau
    initial_retained: str | None = None    # "nse27": start from the released NSE-27 state (Sec. 4.6)
    drop_front_on_continue: bool = True    # quirk of the code: a new pool's first round drops F (Sec. 10 #11)
    reinit_classifier: bool = False        # quirk: the code's re-init skips the FC (Sec. 10 #7)
    warm_start: bool = False               # teaching mode (not NSE): retained ops keep their weights
    sync_bn: bool = True                   # synchronised BN in the supernet under DDP (the code's; docs/methods/nse.md §7);
                                           # SyncBN needs GPUs: set false for a CPU (gloo) torchrun
    # -- weights (Sec. 6.1) ----------------------------------------------------------------
    lr: float = 0.4
    warmup_lr: float = 0.1
    warmup_epochs: float = 2.0
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 4e-5
    balance: float = 0.5                   # on-probability of each op in weight steps
    # -- architecture (Sec. 5, 6.2) ----------------------------------------------------------
    arch_lr: float = 0.005
    arch_betas: list[float] = (0.0, 0.999)
    arch_every: int = 2                    # Aiter
    p_eps: float = 5e-4                    # p = (1 - 2 eps) sigmoid(alpha) + eps
    enumerate_max: int = 5                 # enumerate all sets when |S_l| <= this
    cost: str = "flops"                    # flops | latency
    cost_unit: float = 1e6                 # FLOPs in millions of MACs
    target: float | None = 300.0           # T; None: median cost of uniform samples at the start (tiny; ours)
    penalty_beta: float = 2.0
    penalty_lambda: float = 1e-5
    latency_table: str | None = None       # JSON written by `nasbook latency measure`
    latency_count_stem: bool = True        # ours; the authors' LUT skipped a 16-wide stem (Sec. 10 #13)
    # -- end of round (Sec. 4.3 steps 3-7) ----------------------------------------------------
    window: list[float] = (0.0, 50.0)      # candidate cost window relative to T (ours, Sec. 10 #2)
    lower_band: float = 10.0               # width of the competitor band below the window
    num_candidates: int = 2000             # M
    num_lower: int = 100                   # M_x
    sample_tries: int = 200                # ours: stop drawing after tries * M draws
    bn_recal_batches: int = 50
    eval_batch_size: int | None = None     # held-out scoring batch (None: batch_size; ours, tiny only)
    bn_recal_mode: str = "cumulative"      # cumulative (ours, Sec. 10 #8) | momentum (the code's)
    heldout_per_class: int | None = None   # ours: random held-out images per class (ImageNet); None: train_portion split
    budget: float | None = None            # final pick: best top-1 with cost <= budget (None: window top; ours)
    # -- derived final net (Sec. 7) ------------------------------------------------------------
    final_se: bool = True
    final_act: str = "swish"
    # ours (docs/methods/nse.md §6.2): MACs budget of the derived net, in cost_unit MACs (e.g. 330
    # with cost_unit 1e6); derive then takes the largest width multiplier on the 0.005 grid whose
    # net (SE counted when final_se) fits. None: the derived net stays at x1.0.
    width_budget: float | None = None
    width_range: list[float] = (0.5, 2.0)  # the multipliers the grid spans

    def __post_init__(self):
        for name in ("pools", "counts", "arch_betas", "window", "width_range"):
            setattr(self, name, list(getattr(self, name)))
        if self.cost not in ("flops", "latency"):
            raise ValueError(f"cost must be 'flops' or 'latency', got {self.cost!r}")
        if self.bn_recal_mode not in ("cumulative", "momentum"):
            raise ValueError(f"bn_recal_mode must be 'cumulative' or 'momentum', got {self.bn_recal_mode!r}")
        if self.K < 2:
            raise ValueError(f"K must be at least 2 (rounds = (N - 1) / (K - 1)), got {self.K}")
        if len(self.window) != 2 or self.window[0] >= self.window[1]:
            raise ValueError(f"window must be [low, high] relative to the target, low < high, got {self.window}")
        if self.max_rounds is not None and len(self.max_rounds) != len(self.pools):
            raise ValueError(f"max_rounds needs one cap per pool ({len(self.pools)}), got {self.max_rounds}")
        if len(self.width_range) != 2 or not 0 < self.width_range[0] <= self.width_range[1]:
            raise ValueError(f"width_range must be [low, high] with 0 < low <= high, got {self.width_range}")
        if self.width_budget is not None and self.width_budget <= 0:
            raise ValueError(f"width_budget must be positive (MACs in cost_unit), got {self.width_budget}")
        if self.initial_retained not in (None, "nse27"):
            raise ValueError(f"initial_retained must be null or 'nse27', got {self.initial_retained!r}")
