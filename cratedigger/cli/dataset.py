"""`cratedigger dataset`: slice a folder of audio into mel images that `cratedigger train` (and
Hugging Face `datasets`) load."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cratedigger.errors import BadParameterError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dataset",
        help="slice audio files into a mel-image training dataset",
        description=(
            "Slice every readable audio file under AUDIO_DIR into mel images (mono, resampled to the mel "
            "sample rate), written as an imagefolder with metadata.jsonl (source file, slice, offset). "
            "Unreadable files are skipped and listed with the reason."
        ),
    )
    p.add_argument("audio_dir", type=Path, metavar="AUDIO_DIR", help="folder of audio files (searched recursively)")
    p.add_argument("--out", required=True, type=Path, help="dataset folder to create")
    p.add_argument("--from", dest="base_model", metavar="REF",
                   help="take every mel setting from this model (hub id or folder): use it to fine-tune that model")
    p.add_argument("--resolution", default=None, help="N or WxH: time frames x mel bands per image (default 256)")
    p.add_argument("--hop", type=int, default=None, help="STFT hop length in samples (default 512)")
    p.add_argument("--sample-rate", type=int, default=None, help="Hz (default 22050)")
    p.add_argument("--n-fft", type=int, default=None, help="STFT size (default 2048)")
    p.add_argument("--top-db", type=int, default=None, help="dynamic range of the images in dB (default 80)")
    p.add_argument("--n-iter", type=int, default=None, help="Griffin-Lim iterations stored for decoding (default 32)")
    p.add_argument("--overlap", type=float, default=0.0, help="fraction consecutive slices share, 0 to <1 (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset folder")
    p.set_defaults(func=run)


def mel_from_args(args: argparse.Namespace):
    from cratedigger.mel import MelParams
    from cratedigger.training.config import parse_resolution

    explicit = {
        "hop_length": args.hop,
        "sample_rate": args.sample_rate,
        "n_fft": args.n_fft,
        "top_db": args.top_db,
        "n_iter": args.n_iter,
    }
    if args.resolution is not None:
        explicit["x_res"], explicit["y_res"] = parse_resolution(args.resolution)
    explicit = {k: v for k, v in explicit.items() if v is not None}
    if args.base_model is None:
        return MelParams(**explicit)
    if explicit:
        raise BadParameterError(f"--from {args.base_model} sets the mel settings; leave out --{', --'.join(explicit)}")
    return model_mel(args.base_model)


def model_mel(ref: str):
    """The MelParams of a model, read from mel/mel_config.json (loading the model only if it has none)."""
    from cratedigger.mel import MelParams
    from cratedigger.model import load_model, resolve_model

    folder = resolve_model(ref).folder
    config = folder / "mel" / "mel_config.json"
    if config.is_file():
        return MelParams.from_config_file(config)
    return load_model(ref, device="cpu").mel


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from cratedigger.training.dataset import build_dataset

    mel = mel_from_args(args)
    bar = tqdm(total=None, unit="file", desc="slicing", disable=not sys.stderr.isatty())

    def on_progress(done: int, total: int, current: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(current[-40:], refresh=True)

    try:
        report = build_dataset(args.audio_dir, args.out, mel=mel, overlap=args.overlap, overwrite=args.overwrite,
                               on_progress=on_progress)
    finally:
        bar.close()
    print(
        f"{report.images} images ({mel.x_res}x{mel.y_res}, {mel.slice_seconds:.2f} s each at {mel.sample_rate} Hz) "
        f"from {report.files_used} files -> {report.folder}"
    )
    if report.silent_slices:
        print(f"{report.silent_slices} silent slices left out")
    if report.skipped:
        print(f"{len(report.skipped)} files skipped:", file=sys.stderr)
        for item in report.skipped:
            print(f"  {item.audio_file}: {item.reason}", file=sys.stderr)
    return 0
