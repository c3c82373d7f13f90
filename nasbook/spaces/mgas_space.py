"""Registers the MGAS space (see :mod:`nasbook.spaces.mgas`)."""
from . import SpaceInfo
from .darts import sized_input_shape
from .mgas import MGASGenotype, build_network, size_report


def _sizes(arch: MGASGenotype, net) -> dict:
    """``nasbook info`` extras (docs/methods/mgas.md): non-zero params next to the dense count and
    the size proxy Pi (``info`` itself adds the MACs with the weight masks applied)."""
    stem = net.stem_kind
    in_channels = (net.stem if stem == "cifar" else net.stem0)[0].in_channels
    return size_report(arch, net.classifier.out_features, in_channels, stem)


SPACE = SpaceInfo(name="mgas", arch_type=MGASGenotype, build=build_network, input_shape=sized_input_shape,
                  from_dict=MGASGenotype.from_dict, describe=lambda a: a.table(),
                  sizes=_sizes)
