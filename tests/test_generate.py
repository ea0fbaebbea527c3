"""Generation with tiny random models: shapes, rates, seeds, callbacks, cancel."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cratedigger.cancel import CancelToken
from cratedigger.errors import BadParameterError, CancelledError
from cratedigger.generate import GenerationRequest, generate
from tiny_models import TINY_MEL


def test_candidates_have_audio_image_seed_and_params(tiny_model):
    candidates = generate(tiny_model, GenerationRequest(count=3, steps=4, seeds=(7, 8, 9)))
    assert [c.seed for c in candidates] == [7, 8, 9]
    assert [c.index for c in candidates] == [0, 1, 2]
    for c in candidates:
        assert c.audio.dtype == np.float32 and c.audio.shape == (TINY_MEL["x_res"] * TINY_MEL["hop_length"],)
        assert c.sample_rate == TINY_MEL["sample_rate"]
        assert c.image.dtype == np.uint8 and c.image.shape == (TINY_MEL["y_res"], TINY_MEL["x_res"])
        assert 0.9 < np.abs(c.audio).max() <= 0.98 + 1e-6  # peak-normalised
        assert c.params["seed"] == c.seed and c.params["steps"] == 4 and c.params["scheduler"] == "ddim"
        assert c.params["model"] == tiny_model.ref and c.params["sample_rate"] == TINY_MEL["sample_rate"]
    assert not np.array_equal(candidates[0].audio, candidates[1].audio)


@pytest.mark.parametrize("scheduler, eta", [("ddim", 0.0), ("ddim", 1.0), ("ddpm", 0.0), ("dpm++", 0.0)])
def test_same_seed_same_audio(tiny_model, scheduler, eta):
    request = GenerationRequest(count=2, steps=5, scheduler=scheduler, seeds=(11, 12), eta=eta)
    first = generate(tiny_model, request)
    again = generate(tiny_model, request)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.audio, b.audio)
        np.testing.assert_array_equal(a.image, b.image)


def test_a_seed_gives_the_same_break_alone_or_in_a_batch(tiny_model):
    batch = generate(tiny_model, GenerationRequest(count=3, steps=4, seeds=(5, 6, 7), scheduler="ddpm"))
    alone = generate(tiny_model, GenerationRequest(count=1, steps=4, seeds=(6,), scheduler="ddpm"))
    assert np.abs(batch[1].image.astype(int) - alone[0].image.astype(int)).max() <= 1


def test_random_seeds_are_drawn_and_recorded(tiny_model):
    candidates = generate(tiny_model, GenerationRequest(count=2, steps=2))
    assert len({c.seed for c in candidates}) == 2
    again = generate(tiny_model, GenerationRequest(count=1, steps=2, seeds=(candidates[1].seed,)))
    np.testing.assert_array_equal(again[0].audio, candidates[1].audio)


def test_default_steps_per_scheduler(tiny_model):
    assert GenerationRequest(scheduler="ddim").resolved(tiny_model).steps == 50
    assert GenerationRequest(scheduler="dpm++").resolved(tiny_model).steps == 20
    assert GenerationRequest(scheduler="ddpm").resolved(tiny_model).steps == 1000


def test_batches_are_handed_over_as_they_finish(tiny_model):
    batches, steps = [], []
    generate(
        tiny_model,
        GenerationRequest(count=5, steps=3, batch_size=2, seeds=(1, 2, 3, 4, 5)),
        on_batch=lambda cs: batches.append(([c.index for c in cs], len(steps))),
        on_step=lambda done, total: steps.append((done, total)),
    )
    assert [b[0] for b in batches] == [[0, 1], [2, 3], [4]]
    # each batch arrives right after its own steps, before the next batch's steps
    assert [b[1] for b in batches] == [3, 6, 9]
    # progress counts candidate-steps: 2 per step of the 2-batches, 1 in the last
    assert steps == [(d, 15) for d in (2, 4, 6, 8, 10, 12, 13, 14, 15)]


def test_cancel_stops_within_one_step_and_keeps_finished_batches(tiny_model):
    token = CancelToken()
    delivered, steps = [], []

    def on_step(done, total):
        steps.append(done)
        if done == 8:  # after the first step of the second batch
            token.cancel()

    with pytest.raises(CancelledError):
        generate(
            tiny_model,
            GenerationRequest(count=4, steps=3, batch_size=2, seeds=(1, 2, 3, 4)),
            on_batch=delivered.extend,
            on_step=on_step,
            cancel=token,
        )
    assert steps[-1] == 8  # the check before the next step stops it
    assert [c.index for c in delivered] == [0, 1]


def test_cancel_from_another_thread(tiny_model):
    token = CancelToken()
    started = threading.Event()

    def on_step(done, total):
        started.set()

    timer = threading.Thread(target=lambda: (started.wait(10), token.cancel()))
    timer.start()
    with pytest.raises(CancelledError):
        generate(tiny_model, GenerationRequest(count=1, steps=200, seeds=(1,)), on_step=on_step, cancel=token)
    timer.join()


def test_latent_model_generates(tiny_latent_model):
    candidates = generate(tiny_latent_model, GenerationRequest(count=2, steps=3, seeds=(1, 2)))
    assert candidates[0].image.shape == (TINY_MEL["y_res"], TINY_MEL["x_res"])
    assert candidates[0].audio.shape == (TINY_MEL["x_res"] * TINY_MEL["hop_length"],)
    again = generate(tiny_latent_model, GenerationRequest(count=1, steps=3, seeds=(1,)))
    np.testing.assert_array_equal(again[0].audio, candidates[0].audio)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(count=0), "count"),
        (dict(count=2, seeds=(1,)), "2 candidates"),
        (dict(seeds=(-1,)), "seeds"),
        (dict(scheduler="euler"), "unknown scheduler"),
        (dict(steps=0), "steps"),
        (dict(eta=2.0), "eta"),
        (dict(batch_size=0), "batch_size"),
    ],
)
def test_bad_requests(kwargs, match):
    with pytest.raises(BadParameterError, match=match):
        GenerationRequest(**kwargs)


def test_too_many_steps_for_the_model(tiny_model):
    with pytest.raises(BadParameterError, match="exceeds"):
        generate(tiny_model, GenerationRequest(steps=5000))


def test_batch_size_defaults(tiny_model):
    from cratedigger.generate import default_batch_size, estimate_item_bytes

    assert default_batch_size(tiny_model, 1) == 1
    assert default_batch_size(tiny_model, 32) == 1  # CPU: batch 4 is no faster per item on 2 cores
    # fp32, 32x64 samples, 8 channels in the first block, ~16 maps alive
    assert estimate_item_bytes(tiny_model) == 16 * 32 * 64 * 8 * 4
