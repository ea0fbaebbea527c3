"""Audio folder -> mel-image dataset that Hugging Face `datasets` loads, and loading it back.

Layout written by `build_dataset` (an imagefolder with a dataset card, so
`datasets.load_dataset(DIR, split="train")` gives columns image, audio_file, slice, offset_*):

    DIR/README.md            dataset card; YAML `configs` points `datasets` at train/
    DIR/mel_config.json      the MelParams every image was made with (training reads it)
    DIR/skipped.jsonl        {"audio_file", "reason"} for every file that could not be used
    DIR/train/metadata.jsonl {"file_name", "audio_file", "slice", "offset_samples", "offset_seconds", ...}
    DIR/train/000000.png     uint8 grey mel image [y_res, x_res], row 0 = lowest mel band

Images follow the models' conventions exactly (cratedigger.mel.audio_to_images); audio at another
sample rate is resampled to the mel sample rate (that is the request here, and each row records the
source rate).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from cratedigger.audio.dsp import to_mono
from cratedigger.audio.io import read_audio
from cratedigger.audio.resample import LISTEN, resample
from cratedigger.cancel import CancelToken
from cratedigger.errors import AudioFileError, BadParameterError, CrateDiggerError
from cratedigger.atomic import replace_folder
from cratedigger.mel import MelParams, audio_to_images

log = logging.getLogger(__name__)

# What libsndfile reads (soundfile 0.12+ with libsndfile >= 1.1 includes mp3).
AUDIO_EXTENSIONS = frozenset(
    ".wav .wave .aif .aiff .aifc .flac .ogg .oga .opus .mp3 .caf .w64 .rf64 .au .snd .voc .sd2".split()
)
MEL_CONFIG = "mel_config.json"
SKIPPED = "skipped.jsonl"
SPLIT = "train"

ProgressCallback = Callable[[int, int, str], None]  # (files done, files total, current file)


@dataclass(frozen=True)
class SkippedFile:
    audio_file: str  # POSIX path relative to the audio folder
    reason: str


@dataclass(frozen=True)
class DatasetReport:
    """What build_dataset wrote: image count, files used, files skipped (with reasons)."""

    folder: Path
    mel: MelParams
    images: int
    files_used: int
    skipped: tuple[SkippedFile, ...] = field(default_factory=tuple)
    silent_slices: int = 0


def find_audio_files(audio_dir: str | os.PathLike) -> list[Path]:
    """Audio files under `audio_dir` (recursive, sorted, hidden files and folders left out)."""
    root = Path(audio_dir)
    if not root.exists():
        raise BadParameterError(f"{root}: no such folder")
    if not root.is_dir():
        raise BadParameterError(f"{root}: not a folder (pass the folder that holds your audio)")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                found.append(Path(dirpath) / name)
    return found


def load_mono(path: Path, *, sample_rate: int) -> tuple[np.ndarray, int]:
    """float32 [n] at `sample_rate` (downmixed, resampled when the file's rate differs), source rate Hz."""
    audio, source_rate = read_audio(path)
    audio = to_mono(audio)
    if source_rate != sample_rate:  # only ever seen as an 8-bit mel image: LISTEN quality
        audio = resample(audio, from_rate=source_rate, to_rate=sample_rate, quality=LISTEN)
    if not np.any(audio):
        raise AudioFileError(f"{path}: is silent")
    return audio, source_rate


def build_dataset(
    audio_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    mel: MelParams,
    overlap: float = 0.0,
    overwrite: bool = False,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DatasetReport:
    """Slice every readable audio file under `audio_dir` into mel images in `out_dir`.

    Each file gives its full slices of mel.slice_samples (a file shorter than one slice gives one,
    padded with silence); `overlap` (0 <= overlap < 1) is the fraction consecutive slices share.
    Completely silent slices are left out. Unreadable files are skipped and listed with the reason.
    The folder is built aside and moved into place at the end, so a cancel leaves nothing half made.
    """
    if not isinstance(mel, MelParams):
        raise BadParameterError(f"mel must be MelParams, got {type(mel).__name__}")
    if not (isinstance(overlap, (int, float)) and 0.0 <= overlap < 1.0):
        raise BadParameterError(f"overlap must be at least 0 and below 1, got {overlap!r}")
    audio_root = Path(audio_dir)
    files = find_audio_files(audio_root)
    if not files:
        raise BadParameterError(
            f"{audio_root}: no audio files found (looked for {', '.join(sorted(AUDIO_EXTENSIONS))})"
        )
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise BadParameterError(
                f"{out}: already exists and is not empty (choose another folder, or overwrite it: --overwrite)"
            )
        if not out.is_dir() or not (out / MEL_CONFIG).is_file():
            raise BadParameterError(f"{out}: not a CrateDigger dataset; refusing to overwrite it")
    if out.resolve() == audio_root.resolve() or audio_root.resolve() in out.resolve().parents:
        raise BadParameterError(f"{out}: the dataset cannot go inside the audio folder it is made from")

    hop_slices = max(1, int(round(mel.slice_samples * (1.0 - overlap))))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        report = _write(files, audio_root, staging, mel, hop_slices, on_progress, cancel)
        replace_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return DatasetReport(folder=out, **report)


def _write(files, audio_root, staging, mel, hop_slices, on_progress, cancel) -> dict:
    from PIL import Image

    split_dir = staging / SPLIT
    split_dir.mkdir()
    skipped: list[SkippedFile] = []
    images = used = silent = 0
    with open(split_dir / "metadata.jsonl", "w", encoding="utf-8") as metadata:
        for done, path in enumerate(files):
            if cancel is not None:
                cancel.raise_if_cancelled()
            rel = path.relative_to(audio_root).as_posix()
            if on_progress is not None:
                on_progress(done, len(files), rel)
            try:
                audio, source_rate = load_mono(path, sample_rate=mel.sample_rate)
            except CrateDiggerError as exc:
                skipped.append(SkippedFile(rel, _reason(exc, path)))
                log.info("skipped %s: %s", rel, skipped[-1].reason)
                continue
            kept = 0
            for index, image in _slices(audio, mel, hop_slices):
                if image.min() == image.max():  # silence: every bin at the same (peak) level
                    silent += 1
                    continue
                name = f"{images:06d}.png"
                Image.fromarray(image).save(split_dir / name)
                offset = index * hop_slices
                row = {
                    "file_name": name,
                    "audio_file": rel,
                    "slice": index,
                    "offset_samples": offset,
                    "offset_seconds": round(offset / mel.sample_rate, 6),
                    "source_sample_rate": source_rate,
                }
                metadata.write(json.dumps(row) + "\n")
                images += 1
                kept += 1
            if kept:
                used += 1
            else:
                skipped.append(SkippedFile(rel, "only silence"))
    if on_progress is not None:
        on_progress(len(files), len(files), "")
    if images == 0:
        reasons = "; ".join(f"{s.audio_file}: {s.reason}" for s in skipped[:5])
        raise AudioFileError(f"no usable audio: every file was skipped ({reasons})")
    (staging / MEL_CONFIG).write_text(json.dumps(mel.to_dict(), indent=2) + "\n", encoding="utf-8")
    with open(staging / SKIPPED, "w", encoding="utf-8") as handle:
        for item in skipped:
            handle.write(json.dumps(asdict(item)) + "\n")
    (staging / "README.md").write_text(_card(mel, images, used), encoding="utf-8")
    return dict(mel=mel, images=images, files_used=used, skipped=tuple(skipped), silent_slices=silent)


def _slices(audio: np.ndarray, mel: MelParams, hop_slices: int, *, chunk: int = 64):
    """(index, uint8 image) for every slice, `chunk` slices at a time: a whole LP side in one STFT
    would need gigabytes. Each slice is computed on its own samples, so chunking changes nothing."""
    size = mel.slice_samples
    count = 1 if audio.size <= size else (audio.size - size) // hop_slices + 1
    for first in range(0, count, chunk):
        last = min(count, first + chunk)
        segment = audio[first * hop_slices : (last - 1) * hop_slices + size]
        yield from enumerate(audio_to_images(segment, mel, hop_slices=hop_slices), start=first)


def _reason(exc: Exception, path: Path) -> str:
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _card(mel: MelParams, images: int, files: int) -> str:
    return (
        "---\n"
        "configs:\n"
        "- config_name: default\n"
        "  data_files:\n"
        f"  - split: {SPLIT}\n"
        f"    path: {SPLIT}/**\n"
        "---\n"
        "# Mel-spectrogram slices for audio-diffusion training\n\n"
        f"{images} images of {mel.x_res}x{mel.y_res} from {files} audio files, made by CrateDigger.\n"
        f"Each image is {mel.slice_seconds:.2f} s of mono audio at {mel.sample_rate} Hz "
        f"(n_fft {mel.n_fft}, hop {mel.hop_length}, top_db {mel.top_db}); see mel_config.json.\n"
        "Columns: image, audio_file (relative to the audio folder), slice, offset_samples, "
        "offset_seconds, source_sample_rate.\n"
    )


# --- reading a dataset back for training ---------------------------------------------------------


def read_dataset_mel(folder: str | os.PathLike) -> MelParams | None:
    """The MelParams a CrateDigger dataset was made with, or None for other image datasets."""
    path = Path(folder) / MEL_CONFIG
    if not path.is_file():
        return None
    return MelParams.from_config_file(path)


def load_image_dataset(folder: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None):
    """A `datasets.Dataset` with an `image` column, from a dataset folder.

    Reads folders written by build_dataset (or any imagefolder / `load_dataset`-able folder) and
    folders written by `Dataset.save_to_disk` (teticio's audio_to_images.py makes those).
    """
    import datasets

    root = Path(folder)
    if not root.exists():
        raise BadParameterError(f"{root}: no such dataset folder (make one with `cratedigger dataset`)")
    if not root.is_dir():
        raise BadParameterError(f"{root}: a dataset is a folder, not a file")
    # A local folder is read, not downloaded: datasets' "Downloading data" / "Generating train
    # split" bars would say otherwise (and fill a log for every run).
    was_disabled = datasets.utils.logging.is_progress_bar_enabled() is False
    datasets.utils.logging.disable_progress_bar()
    try:
        if (root / "state.json").is_file() or (root / "dataset_dict.json").is_file():
            data = datasets.load_from_disk(str(root))
            if isinstance(data, datasets.DatasetDict):
                data = data[SPLIT] if SPLIT in data else next(iter(data.values()))
        else:
            data = datasets.load_dataset(str(root), split=SPLIT, cache_dir=None if cache_dir is None else str(cache_dir))
    except (FileNotFoundError, ValueError) as exc:
        raise BadParameterError(f"{root}: no images to train on ({exc})") from exc
    except Exception as exc:  # datasets raises many kinds (DatasetGenerationError, EmptyDatasetError...)
        raise BadParameterError(f"{root}: cannot be read as a dataset ({type(exc).__name__}: {exc})") from exc
    finally:
        if not was_disabled:
            datasets.utils.logging.enable_progress_bar()
    if "image" not in data.column_names:
        raise BadParameterError(f"{root}: the dataset has no 'image' column (columns: {', '.join(data.column_names)})")
    if len(data) == 0:
        raise BadParameterError(f"{root}: the dataset is empty")
    return data
