"""Mel -> audio: our batched torch inversion vs librosa.feature.inverse.mel_to_audio one by one.

Eight 256x256 images (breaks-256 numbers) from real drum recordings; prints seconds, the speed
ratio and the spectral convergence of each (how faithfully the audio reproduces its image; lower
is better). Run: python benchmarks/mel_inversion.py
"""

from __future__ import annotations

import numpy as np
import torch

from _common import real_break, rock_pattern, timed
from cratedigger.mel import MelParams, audio_to_image, image_to_audio, spectral_convergence


def main() -> None:
    params = MelParams()  # breaks-256: 256x256, 22.05 kHz, n_fft 2048, hop 512, top_db 80, n_iter 32
    clips = [real_break(params.sample_rate, name, repeats=6) for name in ("break01.ogg", "break02.ogg", "break03.ogg", "jungle01.ogg")]
    clips += [rock_pattern(bpm=bpm, bars=4, sample_rate=params.sample_rate) for bpm in (84, 96, 128, 174)]
    images = np.stack([audio_to_image(c, params) for c in clips])

    import librosa

    def librosa_one_by_one():
        out = []
        for image in images:
            power = librosa.db_to_power(image.astype(np.float32) * params.top_db / 255 - params.top_db)
            out.append(
                librosa.feature.inverse.mel_to_audio(
                    power, sr=params.sample_rate, n_fft=params.n_fft, hop_length=params.hop_length, n_iter=params.n_iter
                )
            )
        return out

    image_to_audio(images[:1], params)  # warm-up: mel basis, FFT plans
    librosa_one_by_one.__wrapped__ = None
    t_ref, ref_audio = timed(librosa_one_by_one)
    t_ours, our_audio = timed(image_to_audio, images, params, repeat=3)
    sc_ref = np.mean([spectral_convergence(a, im, params) for a, im in zip(ref_audio, images)])
    sc_ours = np.mean([spectral_convergence(a, im, params) for a, im in zip(our_audio, images)])
    print(f"torch threads: {torch.get_num_threads()}  batch: {len(images)} images {params.y_res}x{params.x_res}, n_iter {params.n_iter}")
    print(f"{'method':<40}{'seconds':>10}{'per clip':>10}{'spectral conv.':>16}")
    print(f"{'librosa mel_to_audio, one by one':<40}{t_ref:>10.2f}{t_ref / len(images):>10.3f}{sc_ref:>16.4f}")
    print(f"{'cratedigger image_to_audio, batched':<40}{t_ours:>10.2f}{t_ours / len(images):>10.3f}{sc_ours:>16.4f}")
    print(f"speed-up at the same n_iter: {t_ref / t_ours:.1f}x   convergence ratio (ours/librosa): {sc_ours / sc_ref:.3f}")

    # Our NNLS start and momentum converge faster: the fewest iterations that still match librosa's
    # 32-iteration fidelity is the fair speed comparison at equal quality.
    for n_iter in (8, 12, 16, 20, 24):
        t_n, audio_n = timed(image_to_audio, images, params, n_iter=n_iter, repeat=3)
        sc_n = np.mean([spectral_convergence(a, im, params) for a, im in zip(audio_n, images)])
        if sc_n <= sc_ref:
            print(f"{f'cratedigger, n_iter={n_iter} (equal quality)':<40}{t_n:>10.2f}{t_n / len(images):>10.3f}{sc_n:>16.4f}")
            print(f"speed-up at equal spectral convergence: {t_ref / t_n:.1f}x")
            break


if __name__ == "__main__":
    main()
