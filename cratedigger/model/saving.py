"""Write a model folder in exactly the layout load_model reads (and teticio's repos use)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from cratedigger.errors import ModelError
from cratedigger.atomic import replace_folder
from cratedigger.mel import MelParams


def save_model_folder(
    folder: str | os.PathLike,
    *,
    unet,
    scheduler,
    mel: MelParams,
    vqvae=None,
    safe_serialization: bool = True,
) -> Path:
    """Save unet/, scheduler/, mel/, optional vqvae/ and model_index.json; replaces `folder` atomically."""
    import diffusers

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        unet.save_pretrained(staging / "unet", safe_serialization=safe_serialization)
        scheduler.save_pretrained(staging / "scheduler")
        if vqvae is not None:
            vqvae.save_pretrained(staging / "vqvae", safe_serialization=safe_serialization)
        (staging / "mel").mkdir()
        mel_config = {"_class_name": "Mel", "_diffusers_version": diffusers.__version__, **mel.to_dict()}
        (staging / "mel" / "mel_config.json").write_text(json.dumps(mel_config, indent=2) + "\n")
        index = {
            "_class_name": "AudioDiffusionPipeline",
            "_diffusers_version": diffusers.__version__,
            "mel": ["diffusers", "Mel"],
            "scheduler": ["diffusers", type(scheduler).__name__],
            "unet": ["diffusers", type(unet).__name__],
            "vqvae": ["diffusers", type(vqvae).__name__] if vqvae is not None else [None, None],
        }
        (staging / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
        replace_folder(staging, folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelError(f"{folder}: cannot write model ({exc})") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder
