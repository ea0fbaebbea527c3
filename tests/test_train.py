"""Training end to end on the CPU: real drum audio -> dataset -> a few steps -> a model folder the
engine loads and generates from; checkpoints, cancel and resume; fine-tuning and latent models."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # before `datasets` is imported: no hub, local folders only

from cratedigger.cancel import CancelToken  # noqa: E402
from cratedigger.errors import BadParameterError, CancelledError  # noqa: E402
from cratedigger.mel import MelParams  # noqa: E402
from cratedigger.model import load_model  # noqa: E402
from cratedigger.training import TrainConfig, build_dataset, train  # noqa: E402
from cratedigger.training.checkpoints import list_checkpoints  # noqa: E402
from test_dataset import MEL, make_drum_folder  # noqa: E402

TINY_NET = dict(block_out_channels=(8, 16), layers_per_block=1)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny nets gain nothing from a second thread, and on a busy 2-core box it only spins."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train")
    return build_dataset(make_drum_folder(root / "audio"), root / "dataset", mel=MEL).folder  # 10 images


def config(dataset_dir: Path, tmp_path: Path, **changes) -> TrainConfig:
    base = TrainConfig(
        dataset=dataset_dir, out=tmp_path / "model", max_steps=4, batch_size=4, checkpoint_every=2,
        sample_every=0, sample_count=1, sample_steps=2, cache_dir=tmp_path / "hf-cache", **TINY_NET,
    )
    return replace(base, **changes)


def unet_weights(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "unet" / "diffusion_pytorch_model.safetensors"))


def logged_steps(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_train_from_scratch_writes_a_model_that_loads_and_generates(dataset_dir, tmp_path):
    from cratedigger.generate import GenerationRequest, generate

    cfg = config(dataset_dir, tmp_path, sample_every=2)
    progress = []
    result = train(cfg, on_progress=progress.append)

    assert [p.step for p in progress] == [1, 2, 3, 4]
    assert all(np.isfinite(p.loss) and p.loss > 0 for p in progress)
    assert result.steps == 4 and result.start_step == 0 and result.steps_per_second > 0
    assert sorted(p.name for p in cfg.out.iterdir()) == ["mel", "model_index.json", "scheduler", "unet"]
    assert [p.name for p in list_checkpoints(result.run_dir)] == ["step-0000002", "step-0000004"]
    assert [row["step"] for row in logged_steps(result.run_dir)] == [1, 2, 3, 4]
    # samples at step 2 and at the end, as audio at the model's rate
    assert [p.parent.name for p in result.samples] == ["step-0000002", "step-0000004"]
    import soundfile as sf

    info = sf.info(str(result.samples[-1]))
    assert info.samplerate == MEL.sample_rate and info.frames == MEL.slice_samples

    model = load_model(cfg.out, device="cpu")
    assert model.mel == MEL and not model.is_latent
    assert model.sample_shape == (1, MEL.y_res, MEL.x_res)
    candidates = generate(model, GenerationRequest(count=2, steps=3, scheduler="ddim", seeds=(7, 8)))
    assert len(candidates) == 2
    for candidate in candidates:
        assert candidate.audio.shape == (MEL.slice_samples,) and np.all(np.isfinite(candidate.audio))
        assert candidate.image.shape == (MEL.y_res, MEL.x_res)

    # The model folder holds the EMA weights; the checkpoint holds the raw ones and the EMA's.
    from safetensors.torch import load_file

    saved = unet_weights(cfg.out)
    raw = load_file(str(result.checkpoint / "model.safetensors"))
    shadow = load_file(str(result.checkpoint / "ema.safetensors"))
    ema = [shadow[f"shadow.{i}"] for i in range(len(shadow))]
    names = [name for name, _ in model.unet.named_parameters()]
    assert all(torch.equal(saved[name], shadow) for name, shadow in zip(names, ema))
    assert any(not torch.equal(saved[name], raw[name]) for name in names)


def test_cancel_then_resume_continues_exactly_where_it_stopped(dataset_dir, tmp_path):
    # 10 images, batch 2, 2 batches per step: 3 steps an epoch, so step 2 stops mid-epoch.
    base = dict(max_steps=4, batch_size=2, gradient_accumulation_steps=2, checkpoint_every=0)
    straight = train(config(dataset_dir, tmp_path, out=tmp_path / "straight", **base))

    token = CancelToken()

    def stop_at_2(progress):
        if progress.step == 2:
            token.cancel()

    cfg = config(dataset_dir, tmp_path, out=tmp_path / "resumed", **base)
    with pytest.raises(CancelledError):
        train(cfg, on_progress=stop_at_2, cancel=token)
    assert not cfg.out.exists()
    assert [p.name for p in list_checkpoints(cfg.run_dir)] == ["step-0000002"]

    steps = []
    resumed = train(replace(cfg, resume="latest"), on_progress=lambda p: steps.append(p.step))
    assert resumed.start_step == 2 and resumed.steps == 4 and steps == [3, 4]
    assert [row["step"] for row in logged_steps(cfg.run_dir)] == [1, 2, 3, 4]
    # Weights, optimizer, EMA, LR schedule, RNG and data order all came back: bit-identical result.
    assert resumed.last_loss == straight.last_loss
    a, b = unet_weights(tmp_path / "straight"), unet_weights(cfg.out)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_interrupt_mid_save_leaves_the_last_checkpoint_usable(dataset_dir, tmp_path, monkeypatch):
    from accelerate import Accelerator

    cfg = config(dataset_dir, tmp_path, max_steps=2, checkpoint_every=1)
    real_save = Accelerator.save_state

    def save_then_interrupt(self, output_dir=None, **kwargs):
        real_save(self, output_dir, **kwargs)
        if "0000002" in str(output_dir):
            raise KeyboardInterrupt  # Ctrl-C while the step-2 checkpoint is half written

    monkeypatch.setattr(Accelerator, "save_state", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.undo()
    checkpoints_dir = cfg.run_dir / "checkpoints"
    assert sorted(p.name for p in checkpoints_dir.iterdir()) == ["step-0000001"]  # no half-written folder

    resumed = train(replace(cfg, resume="latest"))
    assert resumed.start_step == 1 and resumed.steps == 2
    assert load_model(cfg.out, device="cpu").unet is not None


def test_resume_past_the_end_just_exports_and_a_longer_run_continues(dataset_dir, tmp_path):
    cfg = config(dataset_dir, tmp_path, max_steps=2)
    train(cfg)
    again = train(replace(cfg, resume="latest"))
    assert again.start_step == 2 and again.steps == 2
    longer = train(replace(cfg, resume="latest", max_steps=3))
    assert longer.start_step == 2 and longer.steps == 3
    # A named checkpoint can seed a new work dir (a branch of the run): its model comes along.
    branch = train(replace(cfg, resume=str(again.checkpoint), work_dir=tmp_path / "branch", out=tmp_path / "m2",
                           max_steps=3))
    assert branch.start_step == 2 and branch.steps == 3 and (tmp_path / "branch" / "spec").is_dir()
    assert load_model(tmp_path / "m2", device="cpu").mel == MEL


def test_fine_tune_a_model_from_its_folder(tiny_model_dir, dataset_dir, tmp_path):
    before = load_model(tiny_model_dir, device="cpu")
    cfg = config(dataset_dir, tmp_path, base_model=str(tiny_model_dir), max_steps=2, block_out_channels=(4, 4, 4, 4))
    result = train(cfg)
    after = load_model(cfg.out, device="cpu")
    assert after.mel == before.mel == MEL
    assert dict(after.unet.config)["block_out_channels"] == dict(before.unet.config)["block_out_channels"]  # its own net
    changed = [
        name for name, p in after.unet.named_parameters() if not torch.equal(p, dict(before.unet.named_parameters())[name])
    ]
    assert changed  # the base weights were trained on, not replaced by a new network
    assert json.loads((result.run_dir / "spec" / "source.json").read_text())["base_model"] == str(tiny_model_dir)


def test_fine_tune_refuses_a_dataset_made_with_other_mel_settings(tiny_model_dir, tmp_path):
    other = replace(MEL, hop_length=512)
    folder = build_dataset(Path("/usr/share/lmms/samples/beats"), tmp_path / "ds", mel=other).folder
    with pytest.raises(BadParameterError, match=r"other mel settings.*hop_length 512 vs 256.*--from"):
        train(config(folder, tmp_path, base_model=str(tiny_model_dir)))


def test_latent_model_from_scratch_with_a_vae(tiny_latent_model_dir, dataset_dir, tmp_path):
    from cratedigger.generate import GenerationRequest, generate

    cfg = config(dataset_dir, tmp_path, vae=str(tiny_latent_model_dir), max_steps=2)
    train(cfg)
    assert (cfg.out / "vqvae" / "config.json").is_file()
    model = load_model(cfg.out, device="cpu")
    assert model.is_latent and model.sample_shape == (1, MEL.y_res // 2, MEL.x_res // 2)
    [candidate] = generate(model, GenerationRequest(count=1, steps=2, scheduler="ddim", seeds=(3,)))
    assert candidate.audio.shape == (MEL.slice_samples,)


def test_training_errors_name_the_problem(dataset_dir, tmp_path):
    with pytest.raises(BadParameterError, match="no such dataset folder"):
        train(config(tmp_path / "missing", tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadParameterError, match="no images to train on"):
        train(config(tmp_path / "empty", tmp_path))
    with pytest.raises(BadParameterError, match="does not match the dataset's 64x32"):
        train(config(dataset_dir, tmp_path, resolution=64))
    with pytest.raises(BadParameterError, match="multiples of 64; got 32x64"):
        train(config(dataset_dir, tmp_path, block_out_channels=(8,) * 7))
    with pytest.raises(BadParameterError, match="batch_size"):
        config(dataset_dir, tmp_path, batch_size=0)
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "keep.wav").write_bytes(b"precious")
    with pytest.raises(BadParameterError, match="not a model folder"):
        train(config(dataset_dir, tmp_path, out=tmp_path / "music"))
    assert (tmp_path / "music" / "keep.wav").read_bytes() == b"precious"
    with pytest.raises(BadParameterError, match="not both"):
        config(dataset_dir, tmp_path, base_model="a/b", vae="c/d")

    cfg = config(dataset_dir, tmp_path, max_steps=2)
    train(cfg)
    with pytest.raises(BadParameterError, match="--resume latest"):
        train(cfg)  # a second fresh run would silently mix with the first one's checkpoints


def test_cli_train(dataset_dir, tmp_path, capsys, monkeypatch):
    import datasets

    from cratedigger.cli import main

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    out = tmp_path / "model"
    args = ["train", str(dataset_dir), "--out", str(out), "--max-steps", "2", "--batch-size", "4", "--channels", "8,16",
            "--layers-per-block", "1", "--sample-every", "0", "--sample-count", "1", "--sample-steps", "2"]
    assert main(args) == 0, capsys.readouterr().err
    assert f"model written to {out} (step 2" in capsys.readouterr().out
    assert load_model(out, device="cpu").mel == MEL

    assert main(args) == 2
    assert "--resume latest" in capsys.readouterr().err
    assert main(args + ["--resume", "--max-steps", "3"]) == 0
    assert "(step 3" in capsys.readouterr().out

    assert main(["train", str(tmp_path / "nothing"), "--out", str(tmp_path / "m2")]) == 2
    assert "no such dataset folder" in capsys.readouterr().err
    assert MelParams.from_config_file(out / "mel" / "mel_config.json") == MEL


def test_mixed_precision_run_after_a_full_precision_one_in_the_same_process(dataset_dir, tmp_path):
    # accelerate keeps process-wide state; a second run with other settings must still work (the app does this).
    result = train(config(dataset_dir, tmp_path, max_steps=1, mixed_precision="bf16", checkpoint_every=0))
    assert np.isfinite(result.last_loss)
    assert load_model(result.model_dir, device="cpu").unet.dtype == torch.float32  # saved in full precision


def test_first_ctrl_c_cancels_after_the_step_second_stops_at_once():
    import signal

    from cratedigger.cli.train import _CtrlC

    token = CancelToken()
    before = signal.getsignal(signal.SIGINT)
    with _CtrlC(token):
        os.kill(os.getpid(), signal.SIGINT)
        assert token.cancelled
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_a_saved_to_disk_dataset_trains_with_the_mel_settings_of_the_model_it_fine_tunes(
    dataset_dir, tiny_model_dir, tmp_path
):
    # teticio's audio_to_images.py writes Dataset.save_to_disk folders with no mel settings in them.
    from cratedigger.training import load_image_dataset

    disk = tmp_path / "on-disk"
    load_image_dataset(dataset_dir, cache_dir=tmp_path / "hf-cache").save_to_disk(str(disk))
    with pytest.raises(BadParameterError, match="no mel_config.json"):
        train(config(disk, tmp_path, max_steps=1))
    result = train(config(disk, tmp_path, base_model=str(tiny_model_dir), max_steps=1, checkpoint_every=0))
    assert load_model(result.model_dir, device="cpu").mel == MEL
