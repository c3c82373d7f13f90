"""Meta Kernels (Chen, Chen, Yan, Feng, arXiv 1912.04749): differentiable NAS in which the
candidate convolution kernels of an edge are merged into one *meta kernel* before the
convolution, so that one feature map is produced per edge (spec: methods/metakernels.md).

One paper concept per file:

* :mod:`.kernels`  the meta kernel (independent and shared candidates) and its convolution;
* :mod:`.blocks`   the searchable MBConv block (kernel, width and skip meta kernels) and the
  weighted-sum multi-path block of the same space (the baseline);
* :mod:`.supernet` the super-net over an MBConv backbone, architecture parameters, E[MACs];
* :mod:`.derive`   derivation to an :class:`~nasbook.spaces.mbconv.MBConvArch`, weight inheritance;
* :mod:`.method`   the config and the search task (``nasbook search metakernels``).
"""
from .blocks import MetaKernelMBConv, WeightedSumMBConv, split_width_weights  # noqa: F401
from .derive import derive_arch, inherit_block, inherited_network  # noqa: F401
from .kernels import MetaKernelConv, centre_masks, meta_kernel, pad_kernel, ring_weights, shared_meta_kernel  # noqa: F401
from .method import ArchTracer, MetaKernelsConfig, MetaKernelsSearch  # noqa: F401
from .supernet import ChainSupernet, architecture_loss  # noqa: F401
