"""Mel spectrogram images <-> audio, following the audio-diffusion models' conventions exactly.

Audio -> image: mono at `sample_rate`; mel power spectrogram (n_fft, hop_length, n_mels = y_res,
centred, zero padded); dB relative to the loudest bin, floored at -top_db; bytes =
round((dB + top_db) * 255 / top_db). Row index = mel band (row 0 is the lowest band), column = frame.

Image -> audio: bytes -> dB -> power; mel -> linear magnitude by non-negative least squares
(projected multiplicative updates, batched); then fast Griffin-Lim (with momentum) in torch, on
whatever device the images are sent to.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from cratedigger.errors import BadParameterError, ModelError

_AMIN = 1e-10  # librosa.power_to_db's floor


@dataclass(frozen=True)
class MelParams:
    """The numbers in a model's mel/mel_config.json."""

    x_res: int = 256
    y_res: int = 256
    sample_rate: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    top_db: int = 80
    n_iter: int = 32

    def __post_init__(self) -> None:
        for name in ("x_res", "y_res", "sample_rate", "n_fft", "hop_length", "top_db", "n_iter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise BadParameterError(f"MelParams.{name} must be a positive integer, got {value!r}")

    @property
    def slice_samples(self) -> int:
        """Samples covered by one image: x_res frames of hop_length."""
        return self.x_res * self.hop_length

    @property
    def slice_seconds(self) -> float:
        return self.slice_samples / self.sample_rate

    @property
    def columns_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, config: dict) -> "MelParams":
        fields = ("x_res", "y_res", "sample_rate", "n_fft", "hop_length", "top_db", "n_iter")
        missing = [f for f in fields if f not in config]
        if missing:
            raise ModelError(f"mel config lacks {', '.join(missing)}")
        try:
            return cls(**{f: int(config[f]) for f in fields})
        except (TypeError, ValueError) as exc:
            raise ModelError(f"mel config has a non-integer value ({exc})") from exc

    @classmethod
    def from_config_file(cls, path: str | os.PathLike) -> "MelParams":
        """Build from a model's mel/mel_config.json."""
        path = Path(path)
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelError(f"{path}: missing") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(config, dict):
            raise ModelError(f"{path}: expected a JSON object")
        return cls.from_dict(config)


@functools.lru_cache(maxsize=8)
def _mel_basis_np(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa  # deferred: heavy import, only needed once per parameter set

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).astype(np.float32)


def mel_basis(params: MelParams, *, device: str | torch.device = "cpu") -> torch.Tensor:
    """float32 [y_res, n_fft // 2 + 1], librosa's Slaney mel filterbank."""
    basis = _mel_basis_np(params.sample_rate, params.n_fft, params.y_res)
    return torch.from_numpy(basis).to(device)


def _check_params(params: MelParams) -> None:
    if not isinstance(params, MelParams):
        raise BadParameterError(f"expected MelParams, got {type(params).__name__}")


def audio_to_image(audio: np.ndarray, params: MelParams) -> np.ndarray:
    """Mono float audio [n] at params.sample_rate -> uint8 [y_res, x_res].

    Audio shorter than one slice is zero padded; longer audio uses its first slice.
    """
    return audio_to_images(audio, params)[0]


def audio_to_images(audio: np.ndarray, params: MelParams, *, hop_slices: int | None = None) -> np.ndarray:
    """Every full slice of mono audio [n] -> uint8 [n_slices, y_res, x_res] (at least one, zero padded).

    hop_slices: samples between slice starts (default: one slice, no overlap).
    """
    _check_params(params)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise BadParameterError(f"audio_to_image expects mono audio [n_samples], got shape {audio.shape}")
    if audio.size == 0:
        raise BadParameterError("audio_to_image got empty audio")
    if not np.all(np.isfinite(audio)):
        raise BadParameterError("audio_to_image got NaN or infinite samples")
    size = params.slice_samples
    step = hop_slices or size
    if audio.size < size:
        audio = np.pad(audio, (0, size - audio.size))
    starts = range(0, audio.size - size + 1, step)
    # teticio's slices hold x_res * hop - 1 samples so that a centred STFT gives exactly x_res frames.
    frames = np.stack([audio[s : s + size - 1] for s in starts])
    return _power_mel_to_bytes(_mel_power(torch.from_numpy(frames), params), params)


def _mel_power(frames: torch.Tensor, params: MelParams) -> torch.Tensor:
    window = torch.hann_window(params.n_fft, dtype=torch.float32)
    spec = torch.stft(
        frames,
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    power = spec.real.square() + spec.imag.square()
    return mel_basis(params) @ power  # [B, y_res, frames]


def _power_mel_to_bytes(mel: torch.Tensor, params: MelParams) -> np.ndarray:
    db = 10.0 * torch.log10(mel.clamp_min(_AMIN).double())
    ref = db.amax(dim=(-2, -1), keepdim=True)
    db = torch.maximum(db - ref, torch.tensor(-float(params.top_db), dtype=db.dtype))
    scaled = ((db + params.top_db) * 255.0 / params.top_db).clamp(0, 255) + 0.5
    return scaled.floor().to(torch.uint8).numpy()[..., : params.x_res]


def image_to_mel_power(images: torch.Tensor, params: MelParams) -> torch.Tensor:
    """uint8/float byte images [B, y_res, x_res] -> mel power [B, y_res, x_res] (loudest bin 1.0)."""
    db = images.float() * (params.top_db / 255.0) - params.top_db
    return torch.pow(10.0, db / 10.0)


def image_to_audio(
    images: np.ndarray | torch.Tensor,
    params: MelParams,
    *,
    n_iter: int | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
) -> np.ndarray:
    """uint8 [y_res, x_res] or [batch, y_res, x_res] -> float32 [batch, slice_samples].

    Runs batched on `device` (default: where `images` lives, else CPU). Phase starts from a seeded
    random draw so the same image always gives the same audio.
    """
    _check_params(params)
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8:
            raise BadParameterError(f"image_to_audio expects uint8 images, got {images.dtype}")
        images = torch.from_numpy(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or tuple(images.shape[1:]) != (params.y_res, params.x_res):
        raise BadParameterError(
            f"image_to_audio expects [batch, {params.y_res}, {params.x_res}], got {tuple(images.shape)}"
        )
    iterations = params.n_iter if n_iter is None else int(n_iter)
    if iterations < 0:
        raise BadParameterError(f"n_iter must be >= 0, got {iterations}")
    device = torch.device(device) if device is not None else images.device
    with torch.inference_mode():
        mel = image_to_mel_power(images.to(device), params)
        magnitude = mel_to_magnitude(mel, params)
        audio = griffin_lim(magnitude, params, n_iter=iterations, seed=seed)
    return audio.float().cpu().numpy()


def mel_to_magnitude(mel: torch.Tensor, params: MelParams, *, n_updates: int = 12) -> torch.Tensor:
    """Mel power [B, y_res, T] -> linear STFT magnitude [B, n_fft//2+1, T].

    Non-negative least squares by multiplicative updates (Lee & Seung), started from the
    transpose-normalised back-projection; cheaper than librosa's per-clip L-BFGS and batched.
    """
    basis = mel_basis(params, device=mel.device)  # [M, F]
    norm = basis.sum(dim=0).clamp_min(1e-8)  # how much each linear bin feeds the mel bands
    power = (basis.T @ mel) / norm[:, None]
    basis_t = basis.T
    gram_eps = 1e-12
    for _ in range(n_updates):
        numerator = basis_t @ mel
        denominator = basis_t @ (basis @ power) + gram_eps
        power = power * (numerator / denominator)
    return power.clamp_min(0).sqrt()


def griffin_lim(
    magnitude: torch.Tensor, params: MelParams, *, n_iter: int, momentum: float = 0.99, seed: int = 0
) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin et al. 2013) on magnitude [B, F, T] -> audio [B, slice_samples]."""
    window = torch.hann_window(params.n_fft, device=magnitude.device, dtype=magnitude.dtype)
    # x_res * hop - 1 samples give exactly x_res centred frames (teticio's slice); pad one at the end.
    length = params.slice_samples - 1
    stft_kwargs = dict(n_fft=params.n_fft, hop_length=params.hop_length, window=window, center=True)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    # One phase draw shared by every item: an image gives the same audio alone or in any batch.
    phase = torch.rand(magnitude.shape[-2:], generator=generator, dtype=torch.float32) * (2 * torch.pi)
    phase = phase.expand(magnitude.shape)
    angles = torch.polar(torch.ones_like(magnitude), phase.to(magnitude.device, magnitude.dtype))
    previous = torch.zeros_like(angles)
    for _ in range(n_iter):
        audio = torch.istft(magnitude * angles, length=length, **stft_kwargs)
        rebuilt = torch.stft(audio, return_complex=True, pad_mode="constant", **stft_kwargs)
        angles = rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / (angles.abs() + 1e-16)
        previous = rebuilt
    audio = torch.istft(magnitude * angles, length=length, **stft_kwargs)
    return torch.nn.functional.pad(audio, (0, 1))


def spectral_convergence(audio: np.ndarray, image: np.ndarray, params: MelParams) -> float:
    """||mel(audio) - mel(image)|| / ||mel(image)||, with both in power relative to their peak.

    Measures how faithfully audio reproduces a target mel image (lower is better).
    """
    audio = np.asarray(audio, dtype=np.float32)
    size = params.slice_samples
    frames = np.pad(audio, (0, max(0, size - audio.size)))[: size - 1]
    got = _mel_power(torch.from_numpy(frames[None]), params)[0, :, : params.x_res]
    got = got / got.max().clamp_min(_AMIN)
    want = image_to_mel_power(torch.from_numpy(np.asarray(image))[None], params)[0]
    got_mag, want_mag = got.sqrt(), want.sqrt()
    return float(torch.linalg.norm(got_mag - want_mag) / torch.linalg.norm(want_mag))
