"""``nasbook export``: a trained network as a deployable TorchScript or ONNX file.

The network is rebuilt from its architecture value exactly as :func:`nasbook.retrain.retrain`
built it (the recipe saved in the run's ``config.yaml`` next to the checkpoint, when there is
one), its weights loaded, and traced in eval mode (no auxiliary head, no drop-path).
"""
from __future__ import annotations

from pathlib import Path

import torch
import yaml
from torch import nn

from .engine.checkpoint import load as load_checkpoint


def load_trained(arch, weights: str | Path | None = None, recipe: str | None = None,
                 overrides: dict | None = None) -> tuple[nn.Module, tuple]:
    """(eval-mode network, input shape (C, H, W)) of ``arch`` with ``weights`` (an engine
    checkpoint or a plain state dict)."""
    from .config import make_config
    from .data import dataset_info
    from .retrain import RetrainConfig, build_net, load_recipe
    from .zoo import resolve

    arch = resolve(arch)   # a zoo name, a JSON file or run folder, or a value
    saved = Path(weights).parent / "config.yaml" if weights else None
    if recipe is not None:
        cfg = load_recipe(recipe, overrides)
    elif saved is not None and saved.exists() and "recipe" in (y := yaml.safe_load(saved.read_text())):
        cfg = make_config(RetrainConfig, {**y["config"], **(overrides or {})})
    else:
        cfg = make_config(RetrainConfig, dict(overrides or {}))
    net, _ = build_net(arch, cfg)
    if weights:
        st = load_checkpoint(weights)  # weights_only: a weights file never runs code
        net.load_state_dict(st["model"] if isinstance(st, dict) and "model" in st else st)
    info = dataset_info(cfg.dataset, cfg.resolution)
    return net.eval(), (info.in_channels, info.resolution, info.resolution)


def export(net: nn.Module, input_shape: tuple, path: str | Path, fmt: str = "torchscript") -> Path:
    """Write ``net`` (eval mode) as ``torchscript`` (traced) or ``onnx`` (opset 17, dynamic batch)."""
    path = Path(path)
    net = net.eval()
    x = torch.randn(2, *input_shape)
    if fmt == "torchscript":
        with torch.no_grad():
            torch.jit.trace(net, x).save(str(path))
    elif fmt == "onnx":
        torch.onnx.export(net, (x,), str(path), input_names=["input"], output_names=["logits"], opset_version=17,
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)
    else:
        raise ValueError(f"format must be torchscript or onnx, got {fmt!r}")
    return path
