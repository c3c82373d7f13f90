"""Registers the DARTS cell space (see :mod:`nasbook.spaces.darts`)."""
from . import SpaceInfo
from .darts import Genotype, build_network


def _input_shape(dataset: str):
    return (3, 224, 224) if dataset.startswith("imagenet") else (3, 32, 32)


def _draw(arch, stem, formats=("svg", "png")):
    from ..viz.cells import draw_genotype

    return draw_genotype(arch, stem, formats=formats)


SPACE = SpaceInfo(name="darts", arch_type=Genotype, build=build_network, input_shape=_input_shape,
                  from_dict=Genotype.from_dict, draw=_draw)
