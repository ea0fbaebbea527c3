"""`cratedigger train`: train or fine-tune an audio-diffusion model on a dataset folder.

Runs on the CPU or one GPU as it is; on several GPUs through accelerate:
    accelerate launch --multi_gpu -m cratedigger train DATASET --out MODEL_DIR ...
The first Ctrl-C stops after the current step and saves a checkpoint; a second one stops at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from cratedigger.errors import CancelledError


def _channels(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def register(subparsers) -> None:
    from cratedigger.training.config import BREAKS_CHANNELS, LR_SCHEDULERS, MIXED_PRECISION, QUICK_CHANNELS, QUICK_MAX_SIDE, TrainConfig

    d = TrainConfig.__dataclass_fields__
    p = subparsers.add_parser(
        "train",
        help="train or fine-tune a model on a dataset folder",
        description=(
            "Train a mel-spectrogram diffusion model with accelerate and write a model folder the app loads. "
            "Checkpoints, samples and the loss log go to MODEL_DIR.training/ (or --work-dir). "
            "Several GPUs: accelerate launch --multi_gpu -m cratedigger train ..."
        ),
    )
    p.add_argument("dataset", type=Path, metavar="DATASET", help="folder made by `cratedigger dataset`")
    p.add_argument("--out", required=True, type=Path, help="model folder to write")
    p.add_argument("--work-dir", type=Path, default=None, help="checkpoints, samples, log (default MODEL_DIR.training)")
    p.add_argument("--resolution", default=None, help="N or WxH; must match the dataset (default: the dataset's)")
    p.add_argument("--from", dest="base_model", metavar="REF", help="fine-tune this model (hub id or folder)")
    p.add_argument("--vae", metavar="REF", help="latent model: AutoencoderKL folder, or a latent model holding vqvae/")
    p.add_argument("--max-steps", type=int, default=None, help="optimizer steps (default: --epochs over the data)")
    p.add_argument("--epochs", type=int, default=d["epochs"].default)
    p.add_argument("--batch-size", type=int, default=d["batch_size"].default, help="per process")
    p.add_argument("--grad-accum", type=int, default=1, help="batches per optimizer step")
    p.add_argument("--lr", type=float, default=d["learning_rate"].default)
    p.add_argument("--lr-scheduler", choices=LR_SCHEDULERS, default=d["lr_scheduler"].default)
    p.add_argument("--warmup-steps", type=int, default=None, help="LR warm-up (default min(500, a tenth of the run))")
    p.add_argument("--mixed-precision", choices=MIXED_PRECISION, default="no")
    p.add_argument("--no-ema", action="store_true", help="save the raw weights instead of their moving average")
    p.add_argument("--ema-max-decay", type=float, default=d["ema_max_decay"].default)
    p.add_argument("--checkpoint-every", type=int, default=d["checkpoint_every"].default, help="steps; 0: only at the end")
    p.add_argument("--keep-checkpoints", type=int, default=d["checkpoints_keep"].default)
    p.add_argument("--resume", nargs="?", const="latest", default=None, metavar="CHECKPOINT",
                   help="continue a run: 'latest' (the default when given bare) or a checkpoints/step-N folder")
    p.add_argument("--sample-every", type=int, default=d["sample_every"].default, help="steps; 0: only at the end")
    p.add_argument("--sample-count", type=int, default=d["sample_count"].default)
    p.add_argument("--sample-steps", type=int, default=d["sample_steps"].default, help="DDIM steps for samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--channels", type=_channels, default=None,
                   help=f"new UNet's channels per level (default {','.join(map(str, QUICK_CHANNELS))} for images up to "
                        f"{QUICK_MAX_SIDE} px, a quick model; else {','.join(map(str, BREAKS_CHANNELS))}, the breaks models')")
    p.add_argument("--layers-per-block", type=int, default=d["layers_per_block"].default)
    p.add_argument("--workers", type=int, default=0, help="data loader processes")
    p.add_argument("--cpu", action="store_true", help="train on the CPU even when a GPU is present")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from cratedigger.training.config import TrainConfig

    return TrainConfig(
        dataset=args.dataset,
        out=args.out,
        work_dir=args.work_dir,
        resolution=args.resolution,
        base_model=args.base_model,
        vae=args.vae,
        max_steps=args.max_steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        learning_rate=args.lr,
        lr_scheduler=args.lr_scheduler,
        lr_warmup_steps=args.warmup_steps,
        mixed_precision=args.mixed_precision,
        use_ema=not args.no_ema,
        ema_max_decay=args.ema_max_decay,
        checkpoint_every=args.checkpoint_every,
        checkpoints_keep=args.keep_checkpoints,
        resume=args.resume,
        sample_every=args.sample_every,
        sample_count=args.sample_count,
        sample_steps=args.sample_steps,
        seed=args.seed,
        block_out_channels=args.channels,
        layers_per_block=args.layers_per_block,
        dataloader_workers=args.workers,
        cpu=args.cpu,
    )


class _CtrlC:
    """First Ctrl-C: cancel after the current step (a checkpoint is saved). Second: stop now."""

    def __init__(self, token) -> None:
        self.token = token
        self.previous = None

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.token.cancelled:
            raise KeyboardInterrupt
        print("\nstopping after this step and saving a checkpoint (Ctrl-C again to stop at once)", file=sys.stderr)
        self.token.cancel()

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self.previous)


class _ProgressLines:
    """One stderr line for the first step, then every `every_s` seconds and at the last step:
    step, loss, learning rate, speed and the time left at that speed."""

    def __init__(self, every_s: float = 30.0) -> None:
        import time

        self.clock = time.monotonic
        self.every_s = every_s
        self.first: tuple[float, int] | None = None
        self.last_print = -float("inf")

    def __call__(self, progress) -> None:
        now = self.clock()
        if self.first is None:
            self.first = (now, progress.step - 1)
        done = progress.step >= progress.max_steps
        if now - self.last_print < self.every_s and not done and progress.step != self.first[1] + 1:
            return
        self.last_print = now
        elapsed, steps = now - self.first[0], progress.step - self.first[1]
        rate = steps / elapsed if elapsed > 0 else 0.0
        left = (progress.max_steps - progress.step) / rate if rate > 0 else None
        eta = "" if left is None or done else f", about {_duration(left)} left"
        print(f"step {progress.step}/{progress.max_steps}  loss {progress.loss:.4f}  lr {progress.learning_rate:.2e}  "
              f"{rate:.2f} steps/s{eta}", file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from cratedigger.cancel import CancelToken
    from cratedigger.training import train

    config = config_from_args(args)
    token = CancelToken()
    bar = None
    last = {}

    lines = _ProgressLines()

    def on_progress(progress) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=progress.max_steps, initial=progress.step - 1, unit="step", desc="training",
                       disable=not sys.stderr.isatty())
        bar.update(progress.step - bar.n)
        bar.set_postfix(loss=f"{progress.loss:.4f}", lr=f"{progress.learning_rate:.2e}", refresh=False)
        if bar.disable:  # a log file or a pipe: a plain line now and then instead of a bar
            lines(progress)
        last["step"] = progress.step

    if not sys.stderr.isatty():
        print(f"training: loading {config.dataset} and building the model...", file=sys.stderr, flush=True)

    try:
        with _CtrlC(token):
            result = train(config, on_progress=on_progress, cancel=token)
    except CancelledError:
        if bar is not None:
            bar.close()
        if bar is None and not last:  # another process of a multi-process launch: the main one reports
            raise
        print(f"stopped at step {last.get('step', '?')}; checkpoint saved in {config.run_dir / 'checkpoints'} "
              "(continue with --resume)", file=sys.stderr)
        raise
    finally:
        if bar is not None:
            bar.close()
    if not result.main_process:
        return 0
    loss = "n/a" if result.last_loss is None else f"{result.last_loss:.4f}"
    print(f"model written to {result.model_dir} (step {result.steps}, loss {loss}, {result.steps_per_second:.2f} steps/s)")
    print(f"checkpoints: {result.run_dir / 'checkpoints'}  samples: {result.run_dir / 'samples'}  "
          f"log: {result.run_dir / 'log.jsonl'}")
    return 0
