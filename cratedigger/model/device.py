"""Which torch device and dtype to run on: cuda, then mps, then cpu unless told otherwise."""

from __future__ import annotations

import torch

from cratedigger.errors import BadParameterError


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
    """Half precision on GPUs (twice the throughput, same breaks to the ear), fp32 on the CPU."""
    return torch.float16 if device.type in ("cuda", "mps") else torch.float32
