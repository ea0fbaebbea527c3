"""Does OpenVINO earn its place as a UNet backend (issue 16, item 4)? One run, interleaved.

    pip install openvino && python benchmarks/openvino_backend.py [--size 256] [--reps 3]

Converts a breaks-256-shaped UNet (random weights) with `openvino.convert_model`, compiles it for
the CPU at f32 and at bf16 (INFERENCE_PRECISION_HINT), and times one forward at batch 1 against
torch fp32 and torch channels_last + bf16 (CrateDigger's fast precision), interleaved, min of
`--reps`. Prints the conversion and compile seconds, each runtime's ratio to torch fp32, and how
far its output lies from torch fp32 as a share of the output's spread (max and mean).

Feature reuse (cratedigger.feature_reuse) needs the UNet's inner blocks one by one, so on OpenVINO
every step would be a full step: compare OpenVINO bf16 with a torch reused step as well.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from _common import breaks_256_unet


class _Forward(torch.nn.Module):
    """The UNet as a plain tensor function, which is what convert_model traces."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep):
        return self.unet(sample, timestep).sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    try:
        import openvino as ov
    except ImportError:
        raise SystemExit("openvino is not installed: pip install openvino")
    torch.set_num_threads(torch.get_num_threads())
    unet = breaks_256_unet(size=args.size).eval().requires_grad_(False)
    x = torch.randn(1, 1, args.size, args.size)
    t = torch.tensor([500])
    start = time.perf_counter()
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # diffusers' shape asserts, traced as constants
    with torch.no_grad():
        converted = ov.convert_model(_Forward(unet), example_input=(x, t))
    print(f"openvino {ov.__version__}: convert {time.perf_counter() - start:.1f} s", flush=True)
    core = ov.Core()
    runs = {}
    for name, hint in (("openvino f32", "f32"), ("openvino bf16", "bf16")):
        start = time.perf_counter()
        compiled = core.compile_model(converted, "CPU", {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY"})
        print(f"{name}: compile {time.perf_counter() - start:.1f} s", flush=True)
        request = compiled.create_infer_request()
        runs[name] = lambda request=request: np.asarray(request.infer({0: x.numpy(), 1: t.numpy()})[0])
    fast = torch.nn.Module.to(breaks_256_unet(size=args.size), dtype=torch.bfloat16).eval().requires_grad_(False)
    fast = fast.to(memory_format=torch.channels_last)
    xb = x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    runs["torch fp32"] = lambda: unet(x, t).sample.numpy()
    runs["torch bf16+cl"] = lambda: fast(xb, t).sample.float().numpy()
    times: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        outputs = {name: run() for name, run in runs.items()}  # also the warm-up
        for _ in range(args.reps):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    ref = outputs["torch fp32"]
    spread = float(ref.std())
    base = min(times["torch fp32"])
    print(f"one UNet forward at batch 1, {args.size}x{args.size}, min of {args.reps} interleaved:")
    for name in runs:
        dev = np.abs(outputs[name] - ref) / spread
        print(f"  {name:14s} {min(times[name]):6.3f} s  {base / min(times[name]):5.2f}x torch fp32   "
              f"output off by {dev.max():.3f} of the spread at most, {dev.mean():.4f} on average")


if __name__ == "__main__":
    main()
