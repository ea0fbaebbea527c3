"""Issue 14 item 4: `train --resume` never runs pickled code from a checkpoint, and checkpoints in the
format earlier versions wrote (accelerate's custom_checkpoint_*.pkl, random_states_*.pkl) still resume."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from cratedigger.cancel import CancelToken  # noqa: E402
from cratedigger.errors import BadParameterError, CancelledError  # noqa: E402
from cratedigger.training import train  # noqa: E402
from cratedigger.training.checkpoints import list_checkpoints  # noqa: E402
from test_train import config, dataset_dir, one_torch_thread, unet_weights  # noqa: E402,F401

BASE = dict(max_steps=4, batch_size=2, gradient_accumulation_steps=2, checkpoint_every=0)


def _stopped_at_2(dataset_dir, tmp_path, name):
    token = CancelToken()

    def stop(progress):
        if progress.step == 2:
            token.cancel()

    cfg = config(dataset_dir, tmp_path, out=tmp_path / name, **BASE)
    with pytest.raises(CancelledError):
        train(cfg, on_progress=stop, cancel=token)
    (ckpt,) = list_checkpoints(cfg.run_dir)
    return cfg, ckpt


def _to_legacy_format(ckpt: Path) -> None:
    """Rewrite our JSON/safetensors state as the pickles accelerate's register_for_checkpointing and
    save_state wrote before (torch.save of the state dicts), as today's running jobs have them."""
    import random

    import numpy as np
    from safetensors import safe_open
    from safetensors.torch import load_file

    lr = json.loads((ckpt / "lr_schedule.json").read_text())
    torch.save(lr, ckpt / "custom_checkpoint_0.pkl")
    meta = json.loads((ckpt / "ema.json").read_text())
    shadow = load_file(str(ckpt / "ema.safetensors"))
    count = meta.pop("count")
    torch.save({**meta, "shadow_params": [shadow[f"shadow.{i}"] for i in range(count)]}, ckpt / "custom_checkpoint_1.pkl")
    with safe_open(str(ckpt / "rng_state_0.safetensors"), framework="pt") as handle:
        m, cpu = handle.metadata(), handle.get_tensor("torch_cpu")
    version, internal, gauss = json.loads(m["python"])
    name, keys, pos, has_gauss, cached = json.loads(m["numpy"])
    torch.save({"step": int(m["accelerator_step"]), "random_state": (version, tuple(internal), gauss),
                "numpy_random_seed": (name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached),
                "torch_manual_seed": cpu}, ckpt / "random_states_0.pkl")
    for ours in ("lr_schedule.json", "ema.json", "ema.safetensors", "rng_state_0.safetensors"):
        (ckpt / ours).unlink()
    assert random  # the state above is what random.getstate() gives


def test_fresh_checkpoint_holds_no_pickled_state_and_resumes_exactly(dataset_dir, tmp_path):
    straight = train(config(dataset_dir, tmp_path, out=tmp_path / "straight", **BASE))
    cfg, ckpt = _stopped_at_2(dataset_dir, tmp_path, "resumed")
    names = sorted(p.name for p in ckpt.iterdir())
    assert not [n for n in names if n.endswith(".pkl")], names
    assert {"lr_schedule.json", "ema.json", "ema.safetensors", "rng_state_0.safetensors"} <= set(names)
    resumed = train(replace(cfg, resume="latest"))
    assert resumed.start_step == 2 and resumed.last_loss == straight.last_loss
    a, b = unet_weights(tmp_path / "straight"), unet_weights(cfg.out)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_in_the_earlier_pickle_format_still_resumes_exactly(dataset_dir, tmp_path):
    straight = train(config(dataset_dir, tmp_path, out=tmp_path / "straight", **BASE))
    cfg, ckpt = _stopped_at_2(dataset_dir, tmp_path, "legacy")
    _to_legacy_format(ckpt)
    resumed = train(replace(cfg, resume="latest"))
    assert resumed.start_step == 2 and resumed.last_loss == straight.last_loss
    a, b = unet_weights(tmp_path / "straight"), unet_weights(cfg.out)
    assert all(torch.equal(a[k], b[k]) for k in a)


class _Payload:
    """Unpickling this calls Path.write_text: what a crafted checkpoint does to a victim."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


@pytest.mark.parametrize("victim", ["custom_checkpoint_0.pkl", "optimizer.bin", "random_states_0.pkl"])
def test_crafted_pickle_in_a_checkpoint_is_refused_and_never_runs(dataset_dir, tmp_path, victim):
    cfg, ckpt = _stopped_at_2(dataset_dir, tmp_path, "victim")
    _to_legacy_format(ckpt)
    marker = tmp_path / "ran.txt"
    torch.save({"state": _Payload(marker)}, ckpt / victim)
    with pytest.raises(BadParameterError, match=f"{victim}: refused.*nothing in it was run"):
        train(replace(cfg, resume="latest"))
    assert not marker.exists()


def test_cli_resume_of_a_crafted_checkpoint_is_one_line(dataset_dir, tmp_path, capsys, monkeypatch):
    import datasets

    from cratedigger.cli import main

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    cfg, ckpt = _stopped_at_2(dataset_dir, tmp_path, "cli")
    marker = tmp_path / "ran.txt"
    (ckpt / "lr_schedule.json").unlink()
    torch.save(_Payload(marker), ckpt / "custom_checkpoint_0.pkl")
    code = main(["train", str(cfg.dataset), "--out", str(cfg.out), "--resume", "--max-steps", "4", "--batch-size", "2",
                 "--channels", "8,16", "--layers-per-block", "1"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("cratedigger:")]
    assert code == 2 and not marker.exists()
    assert len(errors) == 1 and "refused" in errors[0] and "Traceback" not in err
