"""The released NSE architectures as values (docs/methods/nse.md), transcribed as data from the
authors' code (``orashi/NSE_NAS`` ``utils/supernet_utils.py``, final nets), and the released
final NSE-27 search state (Sec. 4.6) from which the G-72 continuation starts.

Final nets use SE + Swish ([I]: the published 333M FLOPs of NSENet match with SE, docs/methods/nse.md
Sec. 8.3 / Sec. 10 item 5); change ``se``/``act`` with ``arch.replace(...)``.
"""
from ..spaces.nse import NSEArch

NSENET_27 = NSEArch(
    pool="MAC-27", plan="NER", counts=(1, 2, 2, 2, 2, 3), width_mult=1.04,
    layers=([0],                      # N 16
            [6], [3], [0],            # R 16->24, N, N
            [16], [3], [9],           # R 24->40, N, N
            [11, 17], [9, 2], [12],   # R 40->80, N, N
            [1, 6], [9, 12], [9],     # E 80->96, N, N
            [17, 14], [21], [3], [13],  # R 96->200, N, N, N
            [19, 3, 14]))             # E 200->336

NSENET = NSEArch(
    pool="G-72", plan="NER", counts=(1, 1, 2, 3, 2, 3), width_mult=1.045,
    layers=([0],                          # N 16
            [34], [3],                    # R 16->24, N
            [52], [35], [38],             # R 24->40, N, N
            [17, 11, 49], [41], [35], [12],  # R 40->80, N, N, N
            [1, 10, 6], [9], [0, 9],      # E 80->104, N, N
            [35, 52, 61], [10, 32], [3, 57], [13],  # R 104->200, N, N, N
            [3, 19, 44]))                 # E 200->336

NSENET_GPU = NSEArch(
    pool="MB-19", plan="NR", counts=(0, 1, 3, 4, 2), width_mult=1.0,
    layers=([15], [11],                   # R 16->32, N
            [1, 17], [16, 1], [11], [11],  # R 32->64, N, N, N
            [2, 7], [3], [1, 6], [11], [11, 6],  # R 64->128, N x4
            [8, 2], [0, 1, 8, 11], [2, 6, 8, 12, 14]))  # R 128->256, N, N

#: The released final NSE-27 optimised subsets P_l (MAC-27 ids), one per layer of the NER
#: (1, 3, 3, 3, 3, 3) search supernet (docs/methods/nse.md): the start of the G-72 search.
NSE27_RETAINED: tuple[tuple[int, ...], ...] = (
    (0,), (9, 6), (0, 3), (0,), (), (16, 13), (3,), (9, 12), (9,), (17, 10, 11, 13), (9, 2),
    (9, 15), (12,), (1, 10, 6), (9, 12), (15,), (0, 9), (17, 13, 14), (10, 21), (3, 19), (13,),
    (3, 19, 14, 7))

_PAPER = "NSE (Ci et al., ICCV 2021)"

ENTRIES = {
    "nsenet_27": (NSENET_27, dict(paper=f"{_PAPER}, first space MAC-27 (released in code)", dataset="imagenet",
                                  reported={}, recipe="nse_retrain")),
    "nsenet": (NSENET, dict(paper=f"{_PAPER}, second space G-72, FLOPs-constrained", dataset="imagenet",
                            reported=dict(macs_m=333, top1=77.3), recipe="nse_retrain")),
    "nsenet_gpu": (NSENET_GPU, dict(paper=f"{_PAPER}, latency-constrained (MB-19)", dataset="imagenet",
                                    reported=dict(top1=77.9), recipe="nse_retrain")),
}
