"""Training-step throughput of a nasbook-built network against the same network written
directly with torchvision: MobileNetV2 1.0 as a nasbook MBConv architecture (zoo entry
``mobilenet_v2``) vs ``torchvision.models.mobilenet_v2``, same batch, input and optimiser,
in one run. Target: nasbook >= 0.95x torchvision's images/s. On CUDA it also measures both
with AMP (bf16) + channels_last.

    python benchmarks/retrain_throughput.py [--json] [--batch 32] [--resolution 224] [--device cuda]
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torchvision  # noqa: E402

from _common import emit, parser  # noqa: E402
from nasbook import zoo  # noqa: E402
from nasbook.measure import count_params, time_step  # noqa: E402
from nasbook.spaces import get_space  # noqa: E402


def make_step(model, batch, resolution, device, amp=False, channels_last=False):
    model.to(device).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, resolution, resolution, device=device).contiguous(memory_format=fmt)
    y = torch.randint(1000, (batch,), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()
        with ctx:
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def main(argv=None):
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=None, help="batch (default 16 on CPU, 256 on CUDA)")
    p.add_argument("--resolution", type=int, default=None, help="input size (default 128 on CPU, 224 on CUDA)")
    args = p.parse_args(argv)
    cuda = args.device.startswith("cuda")
    batch = args.batch or (256 if cuda else 16)
    res = args.resolution or (224 if cuda else 128)
    settings = [("fp32", False, False)] + ([("amp_bf16+channels_last", True, True)] if cuda else [])
    rows, ratios = [], {}
    for name, amp, cl in settings:
        ips, params = {}, {}
        # alternate the two to spread any drift of the machine evenly
        for impl in ("torchvision", "nasbook", "torchvision", "nasbook"):
            torch.manual_seed(0)
            if impl == "nasbook":
                model = get_space("mbconv").build(zoo.get("mobilenet_v2").arch, 1000, 3, 224)  # ImageNet sizes
            else:
                model = torchvision.models.mobilenet_v2()
            t = time_step(make_step(model, batch, res, args.device, amp, cl), args.warmup, args.iters, args.device)
            ips.setdefault(impl, []).append(batch / t["mean_s"])
            params[impl] = count_params(model)
        for impl, v in ips.items():
            rows.append({"setting": name, "impl": impl, "batch": batch, "input": res,
                         "images_per_s": max(v), "params": params[impl]})
        ratios[f"{name}_nasbook_over_torchvision"] = max(ips["nasbook"]) / max(ips["torchvision"])
    emit(args, "MobileNetV2 1.0 training step: nasbook MBConv build vs torchvision",
         ["setting", "impl", "batch", "input", "images_per_s", "params"], rows,
         {"ratios": ratios, "target": ">= 0.95", "device": args.device})


if __name__ == "__main__":
    main()
