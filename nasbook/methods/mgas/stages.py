"""Multi-stage sub-net search (docs/methods/mgas.md, 3.2) and its analytic memory expectation
(Sec. 6.1).

The network is cut at its two reduction cells into three depth segments::

    end_1 = floor(L/3) - 1,   end_2 = floor(2L/3) - 1
    stage 1 = cells 0..end_1,  stage 2 = end_1+1..end_2,  stage 3 = end_2+1..L-1

Stage s trains stem + cells ``0..end_s`` + stage head s; the final phase trains the whole
network with its classifier. With ``stages=1`` only the final phase runs (the single-stage
ablation of Sec. 6.2 (a)).
"""
from __future__ import annotations

from dataclasses import dataclass

FINAL = 0  # the stage index of the final phase (whole network, final classifier)


def stage_ends(layers: int) -> tuple[int, int, int]:
    """``(end_1, end_2, L-1)``: 3, 8, 13 for L=14; 1, 4, 7 for L=8; 0, 1, 2 for L=3."""
    if layers < 3:
        raise ValueError(f"MGAS needs at least 3 cells (one per stage), got layers={layers}")
    return layers // 3 - 1, 2 * layers // 3 - 1, layers - 1


def stage_end(layers: int, stage: int) -> int:
    """Last cell executed in ``stage`` (1, 2, 3; ``FINAL``: the whole network)."""
    return stage_ends(layers)[stage - 1] if stage in (1, 2, 3) else layers - 1


def stage_cells(layers: int, stage: int, ends: tuple[int, int, int] | None = None) -> range:
    """The cells that belong to ``stage`` (R_op covers these, Sec. 1.5); all cells for FINAL.
    ``ends``: the stage ends when they are not the DARTS cut (the MobileNet-like space)."""
    if stage == FINAL:
        return range(layers)
    ends = ends or stage_ends(layers)
    start = 0 if stage == 1 else ends[stage - 2] + 1
    return range(start, ends[stage - 1] + 1)


@dataclass(frozen=True)
class Phase:
    """One engine run: stage 1-3 (with its regrowth refresh epoch) or the final phase."""

    name: str
    stage: int             # 1, 2, 3 or FINAL


def phase_plan(stages: int) -> list[Phase]:
    """Sec. 3.2: stages 1-3 (``stages=3``), then the final phase."""
    if stages not in (1, 3):
        raise ValueError(f"stages must be 1 (single-stage) or 3 (multi-stage), got {stages}")
    return [Phase(f"stage{s}", s) for s in ((1, 2, 3) if stages == 3 else ())] + [Phase("final", FINAL)]


# ---------------------------------------------------------------------------------------
# Sec. 6.1: analytic memory expectation
# ---------------------------------------------------------------------------------------

def stage_activation_sums(layers: int, C: int, resolution: int = 32, convention: str = "out") -> dict:
    """Sums of ``H * W * c`` over the cells of each stage (Sec. 6.1).

    A normal cell with all ops is assumed to keep activations proportional to
    ``H * W * width``. A reduction cell is counted at its output resolution (``"out"``) or
    at its input resolution (``"in"``). Returns ``{"stage1", "stage2", "stage3", "whole",
    "stage1_share"}``; e.g. (14, 44) "out": 180,224 / 112,640 / 56,320, share 0.516.
    """
    if convention not in ("out", "in"):
        raise ValueError(f"convention must be 'out' or 'in', got {convention!r}")
    r1, r2 = layers // 3, 2 * layers // 3
    sums = [0, 0, 0]
    ends = stage_ends(layers)
    for i in range(layers):
        scale = 4 if i >= r2 else 2 if i >= r1 else 1      # width multiplier and down-sampling factor
        side = resolution // scale
        if convention == "in" and i in (r1, r2):
            side *= 2
        stage = 0 if i <= ends[0] else 1 if i <= ends[1] else 2
        sums[stage] += side * side * C * scale
    whole = sum(sums)
    return {"stage1": sums[0], "stage2": sums[1], "stage3": sums[2], "whole": whole,
            "stage1_share": sums[0] / whole}


def expected_peak_ratio(layers: int, C: int, resolution: int = 32, convention: str = "out",
                        earlier_kept: float = 0.3) -> dict:
    """Sec. 6.1's expected multi-stage / single-stage activation peak: the largest of
    stage 1, stage 2 with stage 1 shrunk to ``earlier_kept``, and stage 3 with stages 1-2
    shrunk, each divided by the whole super-net."""
    s = stage_activation_sums(layers, C, resolution, convention)
    per_stage = {"stage1": s["stage1"] / s["whole"],
                 "stage2": (earlier_kept * s["stage1"] + s["stage2"]) / s["whole"],
                 "stage3": (earlier_kept * (s["stage1"] + s["stage2"]) + s["stage3"]) / s["whole"]}
    return {**per_stage, "peak": max(per_stage.values())}
