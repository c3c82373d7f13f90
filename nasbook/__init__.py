"""nasbook: neural architecture search, taught by doing it for real.

Layers (see docs/architecture.md): ``spaces`` (architectures as values) -> ``ops`` -> ``methods``
(super-nets, search steps, derivations) -> ``engine`` (the training loop) -> ``data`` ->
``measure`` -> ``viz``/``widgets`` -> ``cli``.
"""
__version__ = "0.1.0"
