"""Published MBConv-chain networks as values of :mod:`nasbook.spaces.mbconv`.

- MobileNetV2 1.0 (Sandler et al., arXiv 1801.04381, Table 2): the ``mk-mbv2`` backbone with
  every searchable layer at k3 e6. Counts exactly as ``torchvision.models.mobilenet_v2``.
- EfficientNet-B0 (Tan & Le, arXiv 1905.11946, Table 1): the ``mk-b0`` backbone with B0's
  kernel sizes per stage (3, 5, 3, 5, 5, 3) at e6. Counts exactly as
  ``torchvision.models.efficientnet_b0``.
Reported figures are the papers' own (docs/methods/metakernels.md); nasbook counts its own MACs
(300.8M and 385.8M; the papers print 300M and 0.39B).
"""
from ..spaces.mbconv import MBConvArch

MOBILENET_V2 = MBConvArch.uniform("mk-mbv2", kernel=3, expand=6)

#: EfficientNet-B0's depthwise kernel per block (stages 2-7: k3 x2, k5 x2, k3 x3, k5 x3, k5 x4, k3 x1).
_B0_KERNELS = [3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3]
EFFICIENTNET_B0 = MBConvArch("mk-b0", ["k3_e1"] + [f"k{k}_e6" for k in _B0_KERNELS])

#: name -> (architecture, metadata).
ENTRIES = {
    "mobilenet_v2": (MOBILENET_V2, dict(
        paper="MobileNetV2 (Sandler et al., CVPR 2018), width 1.0, 224", dataset="imagenet",
        reported=dict(macs_m=300, params_m=3.4, top1=72.0))),
    "efficientnet_b0": (EFFICIENTNET_B0, dict(
        paper="EfficientNet-B0 (Tan & Le, ICML 2019)", dataset="imagenet",
        # top-1 76.3 in arXiv v1/v2, 77.1 in later versions (docs/methods/metakernels.md)
        reported=dict(macs_m=390, params_m=5.3, top1=77.1), recipe="metakernels_retrain")),
}
