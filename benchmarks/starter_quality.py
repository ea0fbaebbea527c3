"""Starter-model quality: generated candidates beside held-out real clips and a random-weight model.

    python benchmarks/starter_quality.py --heldout DIR/heldout [--model starter] [--count 64]
        [--preset standard] [--grid models/starter/quality.png]

DIR is what models/starter/make_data.py wrote; its held-out split was never trained on. In one run,
for the generated candidates (fixed seeds 0..count-1, the preset's settings), the held-out clips and
a random-weight model of the same shape, it prints:
- "whole bar": the share of clips in which cratedigger.analysis finds a tempo and the slicer cuts at
  least one whole bar (suggest_loop);
- FD: a Fréchet distance between Gaussians fitted to a fixed feature set (below) of each set and of
  the held-out clips. Real-vs-real compares the two halves of the held-out split, so it is the floor
  for sets of that size;
- seconds per candidate (denoise + decode + mel inversion, wall time, from generate itself).
It also writes a PNG grid: 16 generated mel images above 16 held-out ones.

Features (per clip, mono 22.05 kHz, its first model slice; no downloaded weights), 41 values:
- mean log-mel power of 32 Slaney mel bands (n_fft 2048, hop 512), in dB;
- the spread over time (std, dB) of 4 broad bands (mel bands 0-7, 8-15, 16-23, 24-31);
- onset strength: mean, std, and the highest normalised autocorrelation at lags of 0.25-1.5 s
  (how periodic the hits are);
- mean spectral flatness and log spectral centroid.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050


def features(audio: np.ndarray, sr: int = SR) -> np.ndarray:
    import librosa

    audio = np.asarray(audio, np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if sr != SR:
        audio = librosa.resample(y=audio, orig_sr=sr, target_sr=SR)
    audio = audio[: 256 * 512]
    mel = librosa.feature.melspectrogram(y=audio, sr=SR, n_fft=2048, hop_length=512, n_mels=32)
    db = librosa.power_to_db(mel + 1e-10, ref=1.0, top_db=100)
    spread = [db[i:i + 8].mean(axis=0).std() for i in range(0, 32, 8)]
    onset = librosa.onset.onset_strength(y=audio, sr=SR, hop_length=512)
    centred = onset - onset.mean()
    ac = np.correlate(centred, centred, mode="full")[centred.size - 1:]
    ac = ac / (ac[0] + 1e-9)
    lo, hi = int(0.25 * SR / 512), int(1.5 * SR / 512)
    flatness = librosa.feature.spectral_flatness(y=audio, n_fft=2048, hop_length=512).mean()
    centroid = np.log(librosa.feature.spectral_centroid(y=audio, sr=SR, n_fft=2048, hop_length=512).mean() + 1)
    return np.concatenate([db.mean(axis=1), spread, [onset.mean(), onset.std(), ac[lo:hi].max()],
                           [flatness, centroid]]).astype(np.float64)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of a and b."""
    from scipy import linalg

    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    eps = 1e-6 * np.eye(a.shape[1])
    cov_a, cov_b = np.cov(a, rowvar=False) + eps, np.cov(b, rowvar=False) + eps
    root = linalg.sqrtm(cov_a @ cov_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * np.real(root)))


def whole_bar(audio: np.ndarray, sr: int) -> bool:
    from cratedigger.analysis import analyze
    from cratedigger.slicing import suggest_loop

    result = analyze(audio, sample_rate=sr)
    return result.found and suggest_loop(result, sample_rate=sr, n_samples=audio.shape[0], bars=8) is not None


def random_weights(model):
    """The same model with a freshly initialised UNet (what training starts from)."""
    import torch
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel.from_config(model.unet.config).to(model.device, model.dtype).eval()
    return replace(model, unet=unet, ref=f"{model.ref} (random weights)")


def run_model(model, preset: str, count: int):
    from cratedigger.generate import generate
    from cratedigger.presets import preset_request

    request = preset_request(preset, count=count, seeds=tuple(range(count)), batch_size=1)
    candidates = generate(model, request)
    return candidates, [c.seconds for c in candidates if c.seconds]


def grid_png(path: Path, generated: list[np.ndarray], real: list[np.ndarray]) -> None:
    from PIL import Image

    def strip(images):
        tiles = [np.flipud(img) for img in images[:16]]  # low bands at the bottom
        tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % 4)  # fewer than 16: pad the last row
        rows = [np.hstack(tiles[i:i + 4]) for i in range(0, len(tiles), 4)]
        return np.vstack(rows)

    gap = np.full((8, strip(generated).shape[1]), 255, np.uint8)
    Image.fromarray(np.vstack([strip(generated), gap, strip(real)])).save(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--heldout", type=Path, required=True, help="held-out clips from make_data.py")
    p.add_argument("--model", default="starter")
    p.add_argument("--count", type=int, default=64)
    p.add_argument("--preset", default="standard")
    p.add_argument("--grid", type=Path, default=None, help="write the 16+16 mel image grid here")
    args = p.parse_args(argv)

    from cratedigger.mel import audio_to_image
    from cratedigger.model import load_model

    model = load_model(args.model, device="cpu")
    files = sorted(glob.glob(str(args.heldout / "*.wav")))
    if len(files) < 4:
        print(f"starter_quality: {args.heldout} has {len(files)} clips", file=sys.stderr)
        return 2
    real = [sf.read(f, dtype="float32")[0][: model.mel.slice_samples] for f in files]
    t0 = time.perf_counter()
    generated, gen_seconds = run_model(model, args.preset, args.count)
    noise, _ = run_model(random_weights(model), args.preset, min(args.count, 16))
    wall = time.perf_counter() - t0

    sets = {"generated": [c.audio for c in generated], "held-out real": real, "random weights": [c.audio for c in noise]}
    feats = {name: np.stack([features(a, model.mel.sample_rate) for a in clips]) for name, clips in sets.items()}
    half = len(real) // 2
    print(f"model {model.ref} · preset {args.preset} · {args.count} candidates · {len(real)} held-out clips · "
          f"cores {os.cpu_count()} · load {os.getloadavg()[0]:.1f}")
    print(f"{'set':16} {'clips':>5} {'whole bar':>9} {'FD to real':>10}")
    for name, clips in sets.items():
        share = np.mean([whole_bar(a, model.mel.sample_rate) for a in clips])
        if name == "held-out real":
            fd = frechet(feats[name][:half], feats[name][half:])
            label = f"{fd:10.1f} (half vs half)"
        else:
            label = f"{frechet(feats[name], feats['held-out real']):10.1f}"
        print(f"{name:16} {len(clips):5d} {share:9.0%} {label}")
    print(f"seconds per candidate ({args.preset}): mean {np.mean(gen_seconds):.2f}, "
          f"median {np.median(gen_seconds):.2f} (generation wall time {wall:.0f} s incl. random-weight set)")
    if args.grid:
        grid_png(args.grid, [c.image for c in generated], [audio_to_image(a, model.mel) for a in real])
        print(f"grid: {args.grid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
