"""Registers the DARTS cell space (see :mod:`nasbook.spaces.darts`)."""
from . import SpaceInfo
from .darts import Genotype, build_sized, sized_input_shape


SPACE = SpaceInfo(name="darts", arch_type=Genotype, build=build_sized, input_shape=sized_input_shape,
                  from_dict=Genotype.from_dict)
