"""Issue 16, item 4: the OpenVINO backend for the UNet (optional extra), its disk cache and its rules.

The first tests run without openvino; the others skip, each on its own, when it is not installed.
"""

from __future__ import annotations

import logging
import os
import shutil

import pytest
import torch

from cratedigger.errors import BadParameterError
from cratedigger.generate import GenerationRequest, generate
from cratedigger.model import load_model
from cratedigger.model.device import Precision
from cratedigger.openvino_unet import CONVERTING, MODEL_FILE, cache_key, inference_hint
from cratedigger.presets import preset_request


@pytest.fixture
def openvino_found(monkeypatch):
    """Pretend openvino is installed, for request checks that never run it."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "openvino" else real(name, *a))


def test_openvino_refuses_feature_reuse_at_request_time(openvino_found):
    with pytest.raises(BadParameterError) as refused:
        GenerationRequest(backend="openvino", reuse=2)
    assert str(refused.value) == (
        "feature reuse needs the torch backend: reuse 2 was asked for with backend 'openvino' (use reuse 1)"
    )
    for preset in ("standard", "draft"):
        with pytest.raises(BadParameterError, match=rf"^feature reuse needs the torch backend: preset '{preset}' reuses"
                           r" features every \d steps \(with backend 'openvino' use preset 'best'\)$"):
            preset_request(preset, backend="openvino")
    assert preset_request("best", backend="openvino").reuse == 1
    assert GenerationRequest(backend="openvino", precision="fast").backend == "openvino"


def test_the_missing_package_is_named_before_reuse(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    with pytest.raises(BadParameterError, match=r"backend 'openvino' is not installed \(pip install -e \.\[openvino\]\)"):
        preset_request("standard", backend="openvino")


def test_the_cache_key_follows_weights_config_revision_and_runtime(tiny_model_dir, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(tiny_model_dir, folder)
    key = cache_key(folder, revision=None, runtime="2026.4")
    assert cache_key(folder, revision=None, runtime="2026.4") == key  # stable
    assert cache_key(folder, revision="abc123", runtime="2026.4") != key
    assert cache_key(folder, revision=None, runtime="2025.1") != key
    weights = folder / "unet" / "diffusion_pytorch_model.bin"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # retrained, same size
    assert cache_key(folder, revision=None, runtime="2026.4") != key
    moved = cache_key(folder, revision=None, runtime="2026.4")
    with weights.open("ab") as f:
        f.write(b"\0")
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # same mtime, new size
    assert cache_key(folder, revision=None, runtime="2026.4") not in (key, moved)
    sized = cache_key(folder, revision=None, runtime="2026.4")
    config = folder / "unet" / "config.json"
    config.write_text(config.read_text().replace('"layers_per_block": 1', '"layers_per_block": 1 '))
    assert cache_key(folder, revision=None, runtime="2026.4") != sized


def test_bf16_is_asked_for_only_where_the_fast_precision_chose_it():
    assert inference_hint(Precision(torch.float32)) == "f32"
    assert inference_hint(Precision(torch.bfloat16, channels_last=True)) == "bf16"


# --- with openvino installed ---------------------------------------------------------------------


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    import cratedigger.openvino_unet as ovu

    folder = tmp_path / "ov-cache"
    monkeypatch.setattr(ovu, "default_cache_dir", lambda: folder)
    return folder


@pytest.fixture
def conversions(monkeypatch):
    """Counts openvino.convert_model calls."""
    ov = pytest.importorskip("openvino")
    calls = []
    real = ov.convert_model

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ov, "convert_model", counting)
    return calls


def _run(model_dir, backend, *, seeds=(11, 12), batch_size=2, stages=None):
    model = load_model(model_dir, device="cpu")
    request = GenerationRequest(count=len(seeds), steps=2, scheduler="ddim", seeds=seeds, batch_size=batch_size, backend=backend)
    return generate(model, request, on_stage=None if stages is None else stages.append)


def test_openvino_f32_matches_torch_fp32_and_the_second_run_loads_the_cache(tiny_model_dir, cache_dir, conversions):
    stages: list[str] = []
    # a batch of 2: the converted model takes any batch size
    ov_candidates = _run(tiny_model_dir, "openvino", stages=stages)
    torch_candidates = _run(tiny_model_dir, "torch")
    assert len(conversions) == 1 and stages[0] == CONVERTING
    for ov_c, torch_c in zip(ov_candidates, torch_candidates):
        assert ov_c.seed == torch_c.seed and ov_c.params["backend"] == "openvino"
        assert torch_c.params["backend"] == "torch"
        # uint8 mel images after 2 DDIM steps: f32 rounding may move a pixel by one level
        assert abs(ov_c.image.astype(int) - torch_c.image.astype(int)).max() <= 1
        assert abs(ov_c.audio - torch_c.audio).max() < 0.05

    saved = list(cache_dir.glob(f"*/{MODEL_FILE}"))
    assert len(saved) == 1
    mtime = saved[0].stat().st_mtime_ns
    stages.clear()
    again = _run(tiny_model_dir, "openvino", seeds=(11,), batch_size=1, stages=stages)  # a fresh load: nothing in memory
    assert len(conversions) == 1 and CONVERTING not in stages
    assert saved[0].stat().st_mtime_ns == mtime
    assert (again[0].image == ov_candidates[0].image).all()


def test_the_prediction_matches_the_torch_unet(tiny_model, cache_dir, conversions):
    from cratedigger.openvino_unet import openvino_forward

    forward = openvino_forward(tiny_model, Precision(torch.float32))
    sample = torch.randn(3, *tiny_model.sample_shape, generator=torch.Generator().manual_seed(5))
    for t in (torch.tensor(999), torch.tensor(20), 500):
        with torch.no_grad():
            expected = tiny_model.unet(sample, t).sample
        got = forward(sample, t)
        assert got.dtype == torch.float32 and got.shape == expected.shape
        assert (got - expected).abs().max() < 1e-4 * max(1.0, float(expected.abs().max()))
    # the fast precision compiles the same converted model again (bf16 where the CPU has it)
    fast = openvino_forward(tiny_model, Precision(torch.bfloat16, channels_last=True))
    with torch.no_grad():
        expected = tiny_model.unet(sample, torch.tensor(500)).sample
    off = (fast(sample, torch.tensor(500)) - expected).abs()
    assert len(conversions) == 1 and fast is not forward
    assert float(off.max()) < 0.1 * float(expected.std())


@pytest.mark.parametrize("damage", ["xml", "bin"])
def test_a_corrupt_cache_is_converted_again_with_one_log_line(tiny_model_dir, cache_dir, conversions, caplog, damage):
    first = _run(tiny_model_dir, "openvino", seeds=(3,), batch_size=1)
    (xml,) = cache_dir.glob(f"*/{MODEL_FILE}")
    target = xml if damage == "xml" else xml.with_suffix(".bin")
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 3])
    with caplog.at_level(logging.WARNING, logger="cratedigger.openvino_unet"):
        again = _run(tiny_model_dir, "openvino", seeds=(3,), batch_size=1)
    warnings = [r for r in caplog.records if r.name == "cratedigger.openvino_unet"]
    assert len(warnings) == 1 and "converting again" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()
    assert len(conversions) == 2
    assert (again[0].image == first[0].image).all()
    stages: list[str] = []
    _run(tiny_model_dir, "openvino", seeds=(3,), batch_size=1, stages=stages)  # repaired: no third conversion
    assert len(conversions) == 2 and CONVERTING not in stages


def test_cancel_still_stops_between_steps(tiny_model, cache_dir, conversions):
    from cratedigger.cancel import CancelToken
    from cratedigger.errors import CancelledError

    token, steps = CancelToken(), []

    def on_step(done, total):
        steps.append(done)
        token.cancel()

    request = GenerationRequest(count=1, steps=4, scheduler="ddim", seeds=(1,), backend="openvino")
    with pytest.raises(CancelledError):
        generate(tiny_model, request, on_step=on_step, cancel=token)
    assert steps == [1]
