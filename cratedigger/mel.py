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

from cratedigger.audio.validate import validate_audio
from cratedigger.errors import BadParameterError, ModelError

_AMIN = 1e-10  # librosa.power_to_db's floor
# What a model's mel_config.json may say (inclusive). Published models use 64-256 px, 16-48 kHz;
# x_res/y_res cap what an image (and so generation) may cost in memory.
MEL_RANGES = {
    "x_res": (8, 1024), "y_res": (8, 1024), "sample_rate": (4000, 192000), "n_fft": (16, 16384),
    "hop_length": (1, 16384), "top_db": (1, 200), "n_iter": (1, 1000),
}


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
    def from_dict(cls, config: dict, *, source: str = "mel config") -> "MelParams":
        """Every number checked (whole, in range), never coerced: `n_fft: 2.5` or `hop_length: true`
        would otherwise load and make silence. Errors name `source` and the key."""
        fields = ("x_res", "y_res", "sample_rate", "n_fft", "hop_length", "top_db", "n_iter")
        missing = [f for f in fields if f not in config]
        if missing:
            raise ModelError(f"{source} lacks {', '.join(missing)}")
        values = {}
        for key in fields:
            value = config[key]
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # 2048.0 is a whole number; 2.5 and true are not
            lo, hi = MEL_RANGES[key]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ModelError(f"{source}: {key} must be a whole number from {lo} to {hi}, got {value!r}")
            values[key] = value
        if values["hop_length"] > values["n_fft"]:
            raise ModelError(f"{source}: hop_length {values['hop_length']} is larger than n_fft {values['n_fft']}")
        if values["y_res"] > values["n_fft"] // 2 + 1:
            raise ModelError(f"{source}: y_res {values['y_res']} mel bands need n_fft of at least {2 * values['y_res'] - 2}, "
                             f"got {values['n_fft']}")
        return cls(**values)

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
        return cls.from_dict(config, source=str(path))


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
    audio = validate_audio(audio, what="audio_to_image", mono=True)
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


class _BandedBasis:
    """The mel filterbank kept as, for each linear bin, the few bands it feeds and their weights.

    Slaney triangles overlap only their neighbours, so each bin feeds at most two bands: products
    with the basis become a gather and a scatter-add, ~100x cheaper than dense matmuls.
    """

    def __init__(self, dense: torch.Tensor) -> None:
        n_mels, n_bins = dense.shape
        width = max(1, int((dense > 0).sum(dim=0).max()))
        weights, bands = torch.topk(dense.T, k=width, dim=1)  # [F, K]: zeros pad bins with fewer bands
        self.n_mels, self.bands, self.weights = n_mels, bands, weights
        self.bin_totals = dense.sum(dim=0)

    def to_bins(self, mel: torch.Tensor) -> torch.Tensor:
        """basis.T @ mel: [M, N] -> [F, N]."""
        return (mel[self.bands] * self.weights[..., None]).sum(dim=1)

    def to_mels(self, power: torch.Tensor) -> torch.Tensor:
        """basis @ power: [F, N] -> [M, N]."""
        contributions = (power[:, None, :] * self.weights[..., None]).reshape(-1, power.shape[1])
        out = torch.zeros(self.n_mels, power.shape[1], dtype=power.dtype, device=power.device)
        return out.index_add_(0, self.bands.reshape(-1), contributions)


def mel_to_magnitude(mel: torch.Tensor, params: MelParams, *, n_updates: int = 12) -> torch.Tensor:
    """Mel power [B, y_res, T] -> linear STFT magnitude [B, n_fft//2+1, T].

    Non-negative least squares by multiplicative updates (Lee & Seung), started from the
    normalised back-projection, over the whole batch at once: far cheaper than librosa's per-clip
    L-BFGS and as close to the target.
    """
    batch, n_mels, frames = mel.shape
    basis = _BandedBasis(mel_basis(params, device=mel.device))
    target = mel.permute(1, 0, 2).reshape(n_mels, batch * frames)  # [M, B*T]
    numerator = basis.to_bins(target)  # [F, B*T]
    power = numerator / basis.bin_totals.clamp_min(1e-8)[:, None]
    for _ in range(n_updates):
        power = power * (numerator / (basis.to_bins(basis.to_mels(power)) + 1e-12))
        # Updates drive silent bins towards zero; denormal floats would make every op ~10x slower.
        power.clamp_min_(1e-20)
    n_bins = power.shape[0]
    return power.clamp_min(0).sqrt().reshape(n_bins, batch, frames).permute(1, 0, 2)


class _Stft:
    """Centred STFT / inverse STFT pair in frames-major layout [B, T, F], tuned for Griffin-Lim.

    Same maths as torch.stft/istft (periodic Hann, zero padding, window-square normalised
    overlap-add) but the window envelope is computed once and the overlap-add is a few strided
    adds, which makes an iteration about twice as fast on the CPU.
    """

    def __init__(self, params: MelParams, n_frames: int, *, device, dtype=torch.float32) -> None:
        self.n_fft, self.hop, self.n_frames = params.n_fft, params.hop_length, n_frames
        self.window = torch.hann_window(self.n_fft, device=device, dtype=dtype)
        self.padded_length = self.n_fft + self.hop * (n_frames - 1)
        self.length = self.hop * (n_frames - 1)  # what a centred STFT of n_frames came from
        ones = torch.ones(1, n_frames, self.n_fft, device=device, dtype=dtype)
        envelope = self._overlap_add(ones * self.window.square())[0]
        # 1/envelope inside the signal, 0 in the centring pads: the inverse yields the padded signal
        # that the next forward transform frames directly, with no trim-and-pad copies in between.
        self.pad = self.n_fft // 2
        self.inverse_envelope = torch.zeros_like(envelope)
        inside = slice(self.pad, self.pad + self.length)
        self.inverse_envelope[inside] = 1.0 / envelope[inside].clamp_min(1e-11)

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        batch, n_frames, n_fft = frames.shape
        if n_fft % self.hop:
            return torch.nn.functional.fold(
                frames.transpose(1, 2), output_size=(1, self.padded_length), kernel_size=(1, n_fft), stride=(1, self.hop)
            ).reshape(batch, -1)
        ratio = n_fft // self.hop
        parts = frames.reshape(batch, n_frames, ratio, self.hop)
        out = frames.new_zeros(batch, n_frames + ratio - 1, self.hop)
        for j in range(ratio):
            out[:, j : j + n_frames] += parts[:, :, j]
        return out.reshape(batch, -1)

    def inverse_padded(self, spec: torch.Tensor) -> torch.Tensor:
        """[B, T, F] complex -> [B, n_fft + hop * (T - 1)]: the signal with zeroed centring pads."""
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1).mul_(self.window)
        return self._overlap_add(frames).mul_(self.inverse_envelope)

    def forward_padded(self, padded: torch.Tensor) -> torch.Tensor:
        """[B, n_fft + hop * (T - 1)] (already padded) -> [B, T, F] complex."""
        return torch.fft.rfft(padded.unfold(-1, self.n_fft, self.hop) * self.window, dim=-1)

    def inverse(self, spec: torch.Tensor) -> torch.Tensor:
        """[B, T, F] complex -> [B, hop * (T - 1)] real, like torch.istft(center=True)."""
        return self.inverse_padded(spec)[:, self.pad : self.pad + self.length]

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """[B, hop * (T - 1)] real -> [B, T, F] complex, like torch.stft(center=True, pad_mode='constant')."""
        return self.forward_padded(torch.nn.functional.pad(audio, (self.pad, self.pad)))


def griffin_lim(
    magnitude: torch.Tensor, params: MelParams, *, n_iter: int, momentum: float = 0.99, seed: int = 0
) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin et al. 2013, as librosa) on magnitude [B, F, T] -> audio [B, slice_samples]."""
    magnitude = magnitude.transpose(1, 2).contiguous()  # frames-major: contiguous FFT rows
    stft = _Stft(params, magnitude.shape[1], device=magnitude.device, dtype=magnitude.dtype)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    # One phase draw shared by every item: an image gives the same audio alone or in any batch.
    phase = torch.rand(magnitude.shape[-2:], generator=generator, dtype=torch.float32) * (2 * torch.pi)
    angles = torch.polar(torch.ones_like(magnitude), phase.to(magnitude.device, magnitude.dtype).expand(magnitude.shape))
    previous = torch.zeros_like(angles)
    for _ in range(n_iter):
        rebuilt = stft.forward_padded(stft.inverse_padded(magnitude * angles))
        angles = torch.sgn(rebuilt - (momentum / (1 + momentum)) * previous)
        previous = rebuilt
    audio = stft.inverse(magnitude * angles)
    # The image covers x_res * hop samples; its centred frames end hop before that: pad the tail.
    return torch.nn.functional.pad(audio, (0, params.slice_samples - audio.shape[-1]))


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
