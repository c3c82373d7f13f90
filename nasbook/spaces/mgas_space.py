"""Registers the MGAS space (see :mod:`nasbook.spaces.mgas`)."""
from . import SpaceInfo
from .mgas import MGASGenotype, build_network, masked_macs, size_report


def _input_shape(dataset: str):
    return (3, 224, 224) if dataset.startswith("imagenet") else (3, 32, 32)


def _draw(arch, stem, formats=("svg", "png")):
    from ..viz.mgas_cells import draw_mgas

    return draw_mgas(arch, stem, formats=formats)


def _sizes(arch: MGASGenotype, net) -> dict:
    """``nasbook info`` extras (mgas.md Sec. 4.5): non-zero params next to the dense count,
    the size proxy Pi, and MACs with the weight masks applied."""
    stem = net.stem_kind
    in_channels = (net.stem if stem == "cifar" else net.stem0)[0].in_channels
    out = size_report(arch, net.classifier.out_features, in_channels, stem)
    if arch.weight_masks is not None:  # the dense MACs are info's "MACs" line
        shape = (in_channels,) + _input_shape("imagenet" if stem == "imagenet" else "cifar")[1:]
        out["macs_with_masks"] = masked_macs(net, shape)[1]
    return out


SPACE = SpaceInfo(name="mgas", arch_type=MGASGenotype, build=build_network, input_shape=_input_shape,
                  from_dict=MGASGenotype.from_dict, draw=_draw, describe=lambda a: a.table(),
                  sizes=_sizes)
