"""Fast sampling (issue 16): solvers, presets, feature reuse, precision per device, on tiny models."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from cratedigger.errors import BadParameterError
from cratedigger.feature_reuse import ReuseForward
from cratedigger.generate import GenerationRequest, generate
from cratedigger.model import device as device_mod
from cratedigger.model.device import Precision, sampling_precision
from cratedigger.presets import PRESETS, get_preset, preset_request
from cratedigger.schedulers import SCHEDULERS, make_scheduler


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_each_solver_runs_and_repeats_its_seeds(tiny_model, name):
    request = GenerationRequest(count=2, steps=4, scheduler=name, seeds=(3, 4))
    first, again = generate(tiny_model, request), generate(tiny_model, request)
    for a, b in zip(first, again):
        assert np.isfinite(a.audio).all() and a.params["scheduler"] == name
        np.testing.assert_array_equal(a.image, b.image)
    assert not np.array_equal(first[0].image, first[1].image)


@pytest.mark.parametrize("name", ["unipc", "dpm++3"])
def test_solvers_run_on_a_latent_model(tiny_latent_model, name):
    [c] = generate(tiny_latent_model, GenerationRequest(count=1, steps=3, scheduler=name, seeds=(1,)))
    assert c.image.shape == (32, 64) and np.isfinite(c.audio).all()


def test_solvers_are_built_from_the_models_config_with_order_3_for_unconditional(tiny_model):
    for name in ("dpm++3", "unipc"):
        sched = make_scheduler(tiny_model.scheduler_config, name)
        assert sched.config.solver_order == 3
        assert sched.config.num_train_timesteps == tiny_model.train_timesteps
        assert sched.config.beta_schedule == tiny_model.scheduler_config["beta_schedule"]
    assert make_scheduler(tiny_model.scheduler_config, "dpm++").config.solver_order == 2  # stored seeds keep their break


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_runs_and_repeats_its_seeds(tiny_model, name):
    request = preset_request(name, count=2, seeds=(21, 22), steps=3)
    first, again = generate(tiny_model, request), generate(tiny_model, request)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.audio, b.audio)
        assert a.params["preset"] == name and a.params["reuse"] == PRESETS[name].reuse
        assert a.seconds is not None and a.seconds > 0


def test_preset_values_and_overrides():
    best = preset_request("best")
    assert (best.scheduler, best.steps, best.precision, best.reuse) == ("ddim", 50, "full", 1)
    longer = preset_request("best", steps=200)
    assert (longer.scheduler, longer.steps, longer.precision) == ("ddim", 200, "full")
    std = preset_request("standard", scheduler="unipc")
    assert std.scheduler == "unipc" and std.steps == PRESETS["standard"].steps and std.precision == "fast"


def test_unknown_preset_is_one_clear_error():
    with pytest.raises(BadParameterError, match=r"unknown preset 'turbo' \(choose from draft, standard, best\)"):
        get_preset("turbo")
    with pytest.raises(BadParameterError, match="unknown preset"):
        preset_request("turbo")


def test_reuse_interval_1_is_plain_sampling_exactly(tiny_model):
    plain = generate(tiny_model, GenerationRequest(count=2, steps=5, scheduler="dpm++3", seeds=(8, 9)))
    k1 = generate(tiny_model, GenerationRequest(count=2, steps=5, scheduler="dpm++3", seeds=(8, 9), reuse=1))
    k2 = generate(tiny_model, GenerationRequest(count=2, steps=5, scheduler="dpm++3", seeds=(8, 9), reuse=2))
    for a, b in zip(plain, k1):
        np.testing.assert_array_equal(a.audio, b.audio)
        np.testing.assert_array_equal(a.image, b.image)
    assert not np.array_equal(plain[0].image, k2[0].image)  # reuse does change something...
    assert k2[0].params["reuse"] == 2


def test_our_forward_is_bit_identical_to_the_unets_on_full_steps(tiny_model):
    unet = tiny_model.unet
    x = torch.randn((2, *tiny_model.sample_shape), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = [unet(x, t).sample for t in (900, 500, 100)]
        full = ReuseForward(unet, 3)
        got = full(x, torch.tensor(900))  # step 0 of interval 3: a full step through our own walk
        torch.testing.assert_close(got, expected[0], rtol=0, atol=0)
        reused = full(x, torch.tensor(500))  # step 1: shallow path, deep features from step 0
        assert not torch.equal(reused, expected[1])
        assert (reused - expected[1]).abs().max() < (expected[1] - expected[0]).abs().max()
        assert full.full_steps == 1
        for t, want in zip((900, 500, 100), expected):
            torch.testing.assert_close(ReuseForward(unet, 1)(x, torch.tensor(t)), want, rtol=0, atol=0)


def test_reuse_is_refused_for_unets_it_cannot_serve(tiny_model):
    with pytest.raises(BadParameterError, match="reuse interval"):
        GenerationRequest(reuse=0)

    class Skip(torch.nn.Module):
        skip_conv = None

    class FakeUnet:
        down_blocks = [Skip()]
        up_blocks = [Skip()]

    with pytest.raises(BadParameterError, match="skip blocks"):
        ReuseForward(FakeUnet(), 2)


def test_bf16_is_not_chosen_on_a_cpu_without_it(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(device_mod, "_cpuinfo_flags", lambda: {"avx2", "fma", "avx512f"})
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert not device_mod.cpu_supports_bf16()
    assert sampling_precision(cpu, "fast") == Precision(torch.float32)
    monkeypatch.setattr(device_mod, "_cpuinfo_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    assert device_mod.cpu_supports_bf16()
    assert sampling_precision(cpu, "fast") == Precision(torch.bfloat16, channels_last=True)
    assert sampling_precision(cpu, "full") == Precision(torch.float32)
    with pytest.raises(BadParameterError, match="unknown precision"):
        sampling_precision(cpu, "turbo")


def test_fast_request_on_a_cpu_without_bf16_runs_fp32(tiny_model, monkeypatch):
    monkeypatch.setattr(device_mod, "cpu_supports_bf16", lambda: False)
    [c] = generate(tiny_model, GenerationRequest(count=1, steps=2, seeds=(1,), precision="fast"))
    assert c.params["dtype"] == "float32" and c.params["precision"] == "fp32"


def test_fast_request_on_a_bf16_cpu_runs_bf16_channels_last_and_stays_close(tiny_model, monkeypatch):
    monkeypatch.setattr(device_mod, "cpu_supports_bf16", lambda: True)
    request = GenerationRequest(count=1, steps=4, seeds=(5,), scheduler="dpm++3")
    [full] = generate(tiny_model, request)
    [fast] = generate(tiny_model, replace(request, precision="fast"))
    assert fast.params["dtype"] == "bfloat16" and fast.params["precision"] == "bf16+channels_last"
    assert tiny_model.unet.dtype == torch.float32  # the loaded weights stay as they were
    spread = full.image.astype(float).std()
    assert np.abs(fast.image.astype(float) - full.image.astype(float)).mean() < 0.25 * spread


def test_a_backend_that_is_not_installed_is_one_clear_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    with pytest.raises(BadParameterError, match=r"backend 'openvino' is not installed \(pip install -e \.\[openvino\]\)"):
        GenerationRequest(backend="openvino")
    with pytest.raises(BadParameterError, match="unknown backend 'tensorrt'"):
        preset_request("standard", backend="tensorrt")
    assert GenerationRequest().backend == "torch"


@pytest.mark.parametrize("name", ["dpm++", "dpm++3", "unipc"])
def test_multistep_solvers_clip_like_ddim_when_the_model_clips(tiny_model, name):
    # The model's config clips x0 to [-1, 1] (DDIM honours it); the multistep solvers get the same
    # clip as thresholding, so their last step (x0 itself) stays inside the range too.
    assert tiny_model.scheduler_config.get("clip_sample", True)
    g = [torch.Generator().manual_seed(7)]
    from cratedigger.generate import _noise, denoise

    sample = denoise(tiny_model, noise=_noise(tiny_model, g) * 3, scheduler=name, steps=4, generators=g)
    assert float(sample.abs().max()) <= 1.0 + 1e-5
    unclipped = dict(tiny_model.scheduler_config, clip_sample=False)
    assert not make_scheduler(unclipped, name).config.thresholding
