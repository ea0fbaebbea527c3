"""Turn a model reference (local folder or Hugging Face hub id) into a folder on disk."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from cratedigger.errors import ModelError
from cratedigger.model import starter

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
# Only what the engine loads: configs and weights of each component.
_ALLOW = ["model_index.json", "*/*.json", "*/*.safetensors", "*/*.bin"]


@dataclass(frozen=True)
class ResolvedModel:
    """A model reference made concrete: its folder, and the hub revision (commit) when it has one."""

    ref: str
    folder: Path
    revision: str | None


def is_hub_id(ref: str) -> bool:
    return bool(_HUB_ID.match(ref)) and not ref.startswith((".", "/"))


def resolve_model(
    ref: str | os.PathLike | None,
    *,
    revision: str | None = None,
    offline: bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    tqdm_class=None,
) -> ResolvedModel:
    """Local folders are used as they are; 'starter' is the built-in model; hub ids go through the
    Hugging Face cache; None is the default model (default_model_reference).

    Online, a hub id downloads what is missing (with a progress bar); offline
    (`offline=True` or HF_HUB_OFFLINE=1), or when the hub cannot be reached, only the cache is used.
    """
    if ref is None:  # no model named: the default rule (cratedigger.model.starter)
        ref = starter.default_model_reference(cache_dir=cache_dir)
    text = os.fspath(ref).strip()
    if not text:
        raise ModelError("no model given: pass 'starter', a hub id such as teticio/audio-diffusion-breaks-256, or a folder")
    if starter.is_starter(text) and not Path(text).exists():
        return ResolvedModel(ref=starter.STARTER, folder=starter.starter_folder(), revision=None)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelError(f"{path}: is a file; a model is a folder with model_index.json")
        return ResolvedModel(ref=text, folder=path.resolve(), revision=None)
    if not is_hub_id(text):
        raise ModelError(f"{text}: no such folder, and not a hub id of the form owner/name")
    return _resolve_hub(text, revision=revision, offline=offline, cache_dir=cache_dir, tqdm_class=tqdm_class)


def _resolve_hub(repo_id: str, *, revision, offline, cache_dir, tqdm_class) -> ResolvedModel:
    import huggingface_hub
    from huggingface_hub import errors as hf_errors

    if offline is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    kwargs = dict(revision=revision, cache_dir=cache_dir, allow_patterns=_ALLOW)
    if tqdm_class is not None:
        kwargs["tqdm_class"] = tqdm_class
    folder = None
    if not offline:
        try:
            folder = huggingface_hub.snapshot_download(repo_id, **kwargs)
        except hf_errors.RepositoryNotFoundError as exc:
            raise ModelError(f"{repo_id}: no such model on the Hugging Face hub (or it is private)") from exc
        except hf_errors.RevisionNotFoundError as exc:
            raise ModelError(f"{repo_id}: revision {revision!r} not found") from exc
        except Exception:  # no network, hub down, proxy: fall back to what is cached
            folder = None
    if folder is None:
        try:
            folder = huggingface_hub.snapshot_download(repo_id, local_files_only=True, **kwargs)
        except Exception as exc:
            raise ModelError(
                f"{repo_id}: not in the Hugging Face cache and the hub cannot be reached "
                "(connect once to download it, or pass a local model folder)"
            ) from exc
    folder = Path(folder)
    return ResolvedModel(ref=repo_id, folder=folder, revision=folder.name if folder.parent.name == "snapshots" else revision)
