"""The UNet compiled by OpenVINO: the optional `openvino` backend (`pip install -e .[openvino]`).

Converting a breaks-256 UNet takes 75-95 s on two cores, so the converted model is saved once per
model folder and revision (and OpenVINO version) in the user cache and only compiled after that.
Measured on breaks-256 against torch (benchmarks/openvino_backend.py): f32 1.16-1.9x torch fp32 with
the same output, bf16 0.8-1.36x torch channels_last + bf16. So it pays mostly at full precision.

Feature reuse walks the torch UNet's blocks one by one, which a compiled graph cannot do: with this
backend every step is a full step (the request refuses reuse > 1).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import uuid
import warnings
import weakref
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from cratedigger.errors import BadParameterError
from cratedigger.model.device import Precision
from cratedigger.model.loading import WEIGHT_FILES, LoadedModel

log = logging.getLogger(__name__)

# Bump when the wrapper or the conversion options change, so that older cached models are not read.
FORMAT = 1
MODEL_FILE = "unet.xml"  # plus unet.bin beside it, written by openvino.save_model
CONVERTING = "converting the model for OpenVINO (once, about a minute)"
COMPILING = "compiling the model for OpenVINO"

StageCallback = Callable[[str], None]
Forward = Callable[[torch.Tensor, object], torch.Tensor]


def default_cache_dir() -> Path:
    import platformdirs

    return platformdirs.user_cache_path("CrateDigger", appauthor=False) / "openvino"


def runtime_version() -> str:
    try:
        return importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def cache_key(folder: Path, *, revision: str | None, runtime: str) -> str:
    """Names a converted UNet: the unet/ config's bytes, each weight file's size and mtime, the
    model's revision and the OpenVINO version. New weights or a new OpenVINO give a new key."""
    unet_dir = Path(folder) / "unet"
    parts: dict = {"format": FORMAT, "revision": revision, "runtime": runtime}
    config = unet_dir / "config.json"
    parts["config"] = hashlib.sha256(config.read_bytes()).hexdigest() if config.is_file() else None
    weights = []
    for name in WEIGHT_FILES:
        path = unet_dir / name
        if path.is_file():
            stat = path.stat()  # follows the hub cache's symlinks to the blob
            weights.append([name, stat.st_size, stat.st_mtime_ns])
    parts["weights"] = weights
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def inference_hint(precision: Precision) -> str:
    """OpenVINO's INFERENCE_PRECISION_HINT for a sampling precision: bf16 only where the fast
    precision chose it (a CPU with native bf16, see sampling_precision), f32 otherwise."""
    return "bf16" if precision.dtype == torch.bfloat16 else "f32"


class _UNetCall(torch.nn.Module):
    """The UNet as a plain tensor function (sample [B,C,H,W] f32, timestep [1] f32) -> prediction,
    which is what convert_model traces. The timestep is a float: the UNet's time projection casts
    it to float first, so integer and fractional schedules give the same graph."""

    def __init__(self, unet: torch.nn.Module) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        return self.unet(sample, timestep).sample


def convert_unet(unet: torch.nn.Module, sample_shape: tuple[int, int, int]):
    """The fp32 CPU UNet as an OpenVINO model with a dynamic batch dimension."""
    import openvino as ov

    channels, height, width = sample_shape
    example = (torch.zeros(1, channels, height, width), torch.tensor([500.0]))
    shapes = [ov.PartialShape([-1, channels, height, width]), ov.PartialShape([1])]
    # tracing records grads and version counters, which inference mode (denoise's) forbids
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # diffusers' shape checks are traced as constants: true for the fixed C, H, W given here
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.trace", category=DeprecationWarning)  # convert_model's own call
        return ov.convert_model(_UNetCall(unet), example_input=example, input=shapes)


# model.unet -> {(hint, threads, cache dir): forward}; dropped with the model.
_COMPILED: "weakref.WeakKeyDictionary[torch.nn.Module, dict]" = weakref.WeakKeyDictionary()


def openvino_forward(
    model: LoadedModel,
    precision: Precision,
    *,
    cache_dir: Path | None = None,
    on_stage: StageCallback | None = None,
) -> Forward:
    """forward(sample fp32 [B,C,H,W], t) -> prediction fp32 [B,C,H,W] on the CPU, like
    `unet(sample, t).sample`. Converts the model once (on_stage says so: it takes about a minute on
    breaks-256), loads it from `cache_dir` (default: the user cache) after that, and compiles it
    once per model and precision in this process. Blocking: call it from a worker thread."""
    if model.device.type != "cpu":
        raise BadParameterError(f"the openvino backend runs on the CPU, and the model is on {model.device} (use device cpu)")
    hint = inference_hint(precision)
    threads = torch.get_num_threads()  # the app leaves a core for the GUI; OpenVINO would take them all
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    compiled_for = _COMPILED.setdefault(model.unet, {})
    memo = (hint, threads, str(folder))
    if memo not in compiled_for:
        compiled_for[memo] = _compile(model, folder, hint=hint, threads=threads, on_stage=on_stage)
    return compiled_for[memo]


def _compile(model: LoadedModel, folder: Path, *, hint: str, threads: int, on_stage) -> Forward:
    import openvino as ov

    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
    path = folder / cache_key(model.folder, revision=model.revision, runtime=ov.__version__) / MODEL_FILE
    compiled = None
    if path.is_file():
        try:
            if on_stage is not None:
                on_stage(COMPILING)
            compiled = core.compile_model(core.read_model(path), "CPU", config)
        except Exception as exc:  # noqa: BLE001 - any unreadable cache is converted again
            log.warning("the cached OpenVINO model %s is unreadable (%s): converting again", path.parent, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            shutil.rmtree(path.parent, ignore_errors=True)
    if compiled is None:
        if on_stage is not None:
            on_stage(CONVERTING)
        converted = convert_unet(model.unet, model.sample_shape)
        _save(ov, converted, path)
        if on_stage is not None:
            on_stage(COMPILING)
        compiled = core.compile_model(converted, "CPU", config)
    request = compiled.create_infer_request()

    def forward(sample: torch.Tensor, timestep) -> torch.Tensor:
        t = np.asarray([float(timestep)], dtype=np.float32)
        x = np.ascontiguousarray(sample.detach().to("cpu", torch.float32).numpy())
        out = request.infer({0: x, 1: t}, share_outputs=False)[0]  # a copy: the next infer reuses the buffer
        return torch.from_numpy(np.asarray(out, dtype=np.float32))

    return forward


def _save(ov, converted, path: Path) -> None:
    """Write the model beside its final folder, then rename, so a killed run leaves no half cache."""
    path.parent.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent.with_name(f".{path.parent.name}.{uuid.uuid4().hex[:8]}")
    try:
        ov.save_model(converted, staging / MODEL_FILE, compress_to_fp16=False)  # fp16 weights would change f32 results
        try:
            os.replace(staging, path.parent)
        except OSError:  # another process saved it first: theirs is as good
            log.info("the OpenVINO model %s was saved meanwhile", path.parent)
    except (OSError, RuntimeError) as exc:  # a full disk must not cost the run: the model is in memory
        log.warning("could not cache the OpenVINO model in %s (%s): it will be converted again next time", path.parent, exc)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
