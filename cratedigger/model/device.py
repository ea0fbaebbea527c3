"""Which torch device and dtype to run on: cuda, then mps, then cpu unless told otherwise.

Two precisions per device: the *load* dtype weights are kept in (`dtype_for`), and the *sampling*
precision a request runs the UNet in (`sampling_precision`): "full" is the load dtype as it always
was, "fast" is the cheapest one that holds quality on that device (bf16 + channels_last on CPUs with
native bf16, fp16 + channels_last on CUDA, fp32 elsewhere).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import torch

from cratedigger.errors import BadParameterError

PRECISIONS = ("fast", "full")


def choose_device(preference: str | None = None) -> torch.device:
    """'auto' / None picks cuda, then mps, then cpu; an explicit device must be available."""
    pref = (preference or "auto").strip().lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(pref)
    except (RuntimeError, ValueError) as exc:
        raise BadParameterError(f"unknown device {preference!r} (use auto, cpu, cuda, cuda:N or mps)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BadParameterError(f"device {preference!r} requested but no CUDA GPU is available")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise BadParameterError(f"device {preference!r}: only {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise BadParameterError(f"device {preference!r} requested but MPS is not available")
    if device.type not in ("cpu", "cuda", "mps"):
        raise BadParameterError(f"unsupported device {preference!r}")
    return device


def dtype_for(device: torch.device) -> torch.dtype:
    """The dtype weights are loaded in: half on GPUs (twice the throughput, same breaks to the ear),
    fp32 on the CPU, so a "full" precision run there is exact and "fast" casts a copy."""
    return torch.float16 if device.type in ("cuda", "mps") else torch.float32


def _cpuinfo_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_supports_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX). Without it oneDNN emulates
    bf16 and a step gets slower, not faster, so only native support counts."""
    capability = ""
    try:
        capability = str(torch.backends.cpu.get_cpu_capability()).upper()
    except (AttributeError, RuntimeError):
        pass
    if "AMX" in capability:
        return True
    if sys.platform.startswith("linux"):
        flags = _cpuinfo_flags()
        return bool({"avx512_bf16", "amx_bf16"} & flags)
    return False


@dataclass(frozen=True)
class Precision:
    """How the UNet runs: its dtype and whether its feature maps are channels_last (NHWC)."""

    dtype: torch.dtype
    channels_last: bool = False

    @property
    def name(self) -> str:
        base = str(self.dtype).removeprefix("torch.").replace("bfloat16", "bf16").replace("float", "fp")
        return f"{base}+channels_last" if self.channels_last else base


def sampling_precision(
    device: torch.device, mode: str = "full", *, bf16_probe: Callable[[], bool] | None = None
) -> Precision:
    """The precision a request's UNet runs in on `device`; mode "full" (the load dtype) or "fast".
    bf16_probe: whether the CPU has native bf16 (default cpu_supports_bf16)."""
    if mode not in PRECISIONS:
        raise BadParameterError(f"unknown precision {mode!r} (choose from {', '.join(PRECISIONS)})")
    load = dtype_for(device)
    if mode == "full":
        return Precision(load)
    if device.type == "cuda":
        return Precision(torch.float16, channels_last=True)  # NHWC feeds the tensor cores directly
    if device.type == "cpu" and (bf16_probe or cpu_supports_bf16)():
        # measured on an avx512_bf16 CPU at batch 1: 2.2x over fp32 (bf16 alone 1.9x)
        return Precision(torch.bfloat16, channels_last=True)
    return Precision(load)
