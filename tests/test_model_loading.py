"""Loading model folders and hub ids, and every way a model can be broken."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from cratedigger.errors import BadParameterError, ModelError
from cratedigger.mel import MelParams
from cratedigger.model import choose_device, load_model, resolve_model
from tiny_models import TINY_MEL


def copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_loads_plain_model_with_bin_weights(tiny_model_dir):
    assert (tiny_model_dir / "unet" / "diffusion_pytorch_model.bin").is_file()
    model = load_model(tiny_model_dir, device="cpu")
    assert model.mel == MelParams(**TINY_MEL)
    assert model.sample_shape == (1, TINY_MEL["y_res"], TINY_MEL["x_res"])
    assert not model.is_latent
    assert model.dtype == torch.float32 and model.device.type == "cpu"
    assert model.train_timesteps == 1000
    assert model.revision is None and model.folder == tiny_model_dir.resolve()


def test_loads_latent_model_with_safetensors(tiny_latent_model_dir):
    assert (tiny_latent_model_dir / "vqvae" / "diffusion_pytorch_model.safetensors").is_file()
    model = load_model(tiny_latent_model_dir, device="cpu")
    assert model.is_latent
    assert model.sample_shape == (1, TINY_MEL["y_res"] // 2, TINY_MEL["x_res"] // 2)


@pytest.mark.parametrize("mel_entry", [["audio_diffusion", "Mel"], ["audiodiffusion.mel", "Mel"], ["diffusers", "Mel"]])
def test_mel_component_names_in_the_wild(tiny_model_dir, tmp_path, mel_entry):
    folder = copy_model(tiny_model_dir, tmp_path / "m")
    edit_json(folder / "model_index.json", lambda d: d.update(mel=mel_entry))
    assert load_model(folder, device="cpu").mel.x_res == TINY_MEL["x_res"]


def test_early_ddpm_pipeline_without_mel_folder(tmp_path):
    """Early revisions: a DDPMPipeline of a square UNet and no mel/ folder -> Mel defaults."""
    from diffusers import DDPMScheduler

    from cratedigger.model.saving import save_model_folder
    from tiny_models import tiny_unet

    folder = save_model_folder(
        tmp_path / "early", unet=tiny_unet(sample_size=32), scheduler=DDPMScheduler(), mel=MelParams(x_res=32, y_res=32)
    )
    shutil.rmtree(folder / "mel")
    edit_json(folder / "model_index.json", lambda d: (d.update(_class_name="DDPMPipeline"), d.pop("mel"), d.pop("vqvae")))
    model = load_model(folder, device="cpu")
    assert model.mel == MelParams(x_res=32, y_res=32)


def test_old_unet_config_missing_newer_keys(tiny_model_dir, tmp_path):
    folder = copy_model(tiny_model_dir, tmp_path / "m")
    newer = ["resnet_time_scale_shift", "add_attention", "class_embed_type", "num_class_embeds", "attn_norm_num_groups"]
    edit_json(folder / "unet" / "config.json", lambda d: [d.pop(k, None) for k in newer])
    assert load_model(folder, device="cpu").sample_shape[1:] == (TINY_MEL["y_res"], TINY_MEL["x_res"])


def test_save_model_folder_round_trips(tiny_model, tmp_path):
    from cratedigger.generate import make_scheduler
    from cratedigger.model.saving import save_model_folder

    folder = save_model_folder(
        tmp_path / "saved", unet=tiny_model.unet, scheduler=make_scheduler(tiny_model, "ddpm"), mel=tiny_model.mel
    )
    again = load_model(folder, device="cpu")
    assert again.mel == tiny_model.mel
    for a, b in zip(again.unet.parameters(), tiny_model.unet.parameters()):
        assert torch.equal(a, b)


def break_remove(folder: Path, name: str) -> None:
    target = folder / name
    shutil.rmtree(target) if target.is_dir() else target.unlink()


@pytest.mark.parametrize(
    "breakage, match",
    [
        (lambda f: break_remove(f, "model_index.json"), "model_index.json is missing"),
        (lambda f: (f / "model_index.json").write_text("{oops"), "not valid JSON"),
        (lambda f: (f / "model_index.json").write_text("[1, 2]"), "JSON object"),
        (lambda f: edit_json(f / "model_index.json", lambda d: d.update(_class_name="StableDiffusionPipeline")), "unsupported pipeline"),
        (lambda f: edit_json(f / "model_index.json", lambda d: d.update(unet=["diffusers", "UNet2DConditionModel"])), "unsupported class 'UNet2DConditionModel'"),
        (lambda f: edit_json(f / "model_index.json", lambda d: d.update(scheduler=["diffusers", "EulerScheduler"])), "unsupported class 'EulerScheduler'"),
        (lambda f: edit_json(f / "model_index.json", lambda d: d.update(vqvae=["diffusers", "VQModel"])), "unsupported class 'VQModel'"),
        (lambda f: edit_json(f / "model_index.json", lambda d: d.pop("unet")), "no unet"),
        (lambda f: break_remove(f, "unet"), "unet: folder .* is missing"),
        (lambda f: break_remove(f, "scheduler"), "scheduler: .*scheduler_config.json is missing"),
        (lambda f: break_remove(f, "mel"), "mel_config.json: missing"),
        (lambda f: (f / "mel" / "mel_config.json").write_text("nope"), "not valid JSON"),
        (lambda f: break_remove(f, "unet/diffusion_pytorch_model.bin"), "no weights"),
        (lambda f: (f / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"garbage" * 100), "cannot load weights"),
        (lambda f: (f / "unet" / "config.json").write_text("{"), "not valid JSON"),
        (lambda f: edit_json(f / "unet" / "config.json", lambda d: d.update(block_out_channels=[16, 32])), "do not match|cannot load"),
        (lambda f: edit_json(f / "mel" / "mel_config.json", lambda d: d.update(x_res=128)), "does not match mel"),
    ],
)
def test_broken_model_folders_give_clear_errors(tiny_model_dir, tmp_path, breakage, match):
    folder = copy_model(tiny_model_dir, tmp_path / "broken")
    breakage(folder)
    with pytest.raises(ModelError, match=match):
        load_model(folder, device="cpu")


def test_corrupt_safetensors(tiny_latent_model_dir, tmp_path):
    folder = copy_model(tiny_latent_model_dir, tmp_path / "broken")
    weights = folder / "vqvae" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(ModelError, match="vqvae: cannot load weights"):
        load_model(folder, device="cpu")


def test_missing_folder_and_non_hub_text(tmp_path):
    with pytest.raises(ModelError, match="no such folder"):
        load_model(tmp_path / "nothing" / "here", device="cpu")
    with pytest.raises(ModelError, match="no model given"):
        load_model("  ", device="cpu")
    file = tmp_path / "f.json"
    file.write_text("{}")
    with pytest.raises(ModelError, match="is a file"):
        load_model(file, device="cpu")


def fake_hub_cache(cache: Path, repo_id: str, model_dir: Path, commit: str = "0123456789abcdef0123456789abcdef01234567") -> Path:
    """Lay a model out as huggingface_hub's cache does: models--owner--name/{refs/main, snapshots/<commit>/}."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return repo / "snapshots" / commit


def test_hub_id_resolves_from_cache_offline(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    snapshot = fake_hub_cache(tmp_path / "hub", "teticio/audio-diffusion-breaks-256", tiny_model_dir)
    resolved = resolve_model("teticio/audio-diffusion-breaks-256", cache_dir=tmp_path / "hub")
    assert resolved.folder == snapshot and resolved.revision == snapshot.name
    model = load_model(resolved, device="cpu")
    assert model.ref == "teticio/audio-diffusion-breaks-256" and model.revision == snapshot.name


def test_hub_id_not_cached_while_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not in the Hugging Face cache"):
        resolve_model("teticio/audio-diffusion-breaks-256", cache_dir=tmp_path / "empty")


def test_device_choice():
    assert choose_device("cpu").type == "cpu"
    assert choose_device(None).type in ("cpu", "cuda", "mps")
    with pytest.raises(BadParameterError, match="unknown device"):
        choose_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(BadParameterError, match="no CUDA GPU"):
            choose_device("cuda")
