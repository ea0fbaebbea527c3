"""The training loop: denoising-score matching on mel images (or their VAE latents) with accelerate.

Runs the same on the CPU, one GPU, or several through `accelerate launch` (each process takes its
shard of every batch). A step is one optimizer update. Checkpoints hold everything needed to
continue bit for bit; a cancel saves one at the step it stops on. A KeyboardInterrupt that is not
turned into a cancel (the CLI does that for the first Ctrl-C) stops at once and leaves the previous
checkpoint, which was written aside and renamed into place, usable.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from cratedigger.cancel import CancelToken
from cratedigger.errors import BadParameterError, CancelledError, CrateDiggerError
from cratedigger.model.saving import save_model_folder
from cratedigger.training import checkpoints
from cratedigger.training.config import TrainConfig
from cratedigger.training.dataset import load_image_dataset, read_dataset_mel
from cratedigger.training.samples import write_samples
from cratedigger.training.setup import ModelParts, build_parts, load_spec, save_spec

log = logging.getLogger(__name__)

LOG_FILE = "log.jsonl"


@dataclass(frozen=True)
class TrainProgress:
    """Sent after every optimizer step (main process only)."""

    step: int
    max_steps: int
    epoch: int
    loss: float
    learning_rate: float


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    run_dir: Path
    start_step: int  # 0, or the checkpoint's step when resumed
    steps: int  # the step the run ended on
    last_loss: float | None
    checkpoint: Path | None
    samples: tuple[Path, ...]
    train_seconds: float  # time spent in training steps (no checkpoints, samples or export)
    main_process: bool = True  # False in the other processes of a multi-process launch

    @property
    def steps_per_second(self) -> float:
        done = self.steps - self.start_step
        return done / self.train_seconds if self.train_seconds > 0 else 0.0


def train(
    config: TrainConfig,
    *,
    on_progress: Callable[[TrainProgress], None] | None = None,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Train per `config` and write the model folder config.out (loadable by cratedigger.model.load_model).

    Raises BadParameterError for unusable datasets or settings, ModelError for models that do not
    load, CancelledError when `cancel` is set (after saving a checkpoint at the current step).
    """
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, set_seed
    from diffusers.optimization import get_scheduler

    run_dir = config.run_dir
    _check_out(config.out)
    resume_from = _resume_point(config, run_dir)
    _reset_accelerate_state()
    accelerator = Accelerator(
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        mixed_precision=config.mixed_precision,
        cpu=config.cpu,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=config.seed),
    )
    set_seed(config.seed)
    if config.mixed_precision == "fp16" and accelerator.device.type == "cpu":
        log.warning("fp16 mixed precision does nothing on the CPU (it trains in fp32); use bf16 there")

    data, image_size = _load_data(config, accelerator)
    parts = _model_parts(config, accelerator, run_dir, resume_from, image_size)

    loader = torch.utils.data.DataLoader(
        data.with_transform(_ImageTransform(image_size)),
        batch_size=config.batch_size,
        shuffle=True,
        num_workers=config.dataloader_workers,
        # Its own generator: a new iterator (as on resume) must not draw from the global RNG that
        # makes the noise, or a resumed run would diverge from an uninterrupted one.
        generator=torch.Generator().manual_seed(config.seed),
    )
    unet = parts.unet.requires_grad_(True).train()
    optimizer = torch.optim.AdamW(
        unet.parameters(),
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        weight_decay=config.adam_weight_decay,
        eps=config.adam_epsilon,
    )
    unet, optimizer, loader = accelerator.prepare(unet, optimizer, loader)
    steps_per_epoch = math.ceil(len(loader) / config.gradient_accumulation_steps)
    max_steps = config.max_steps or config.epochs * steps_per_epoch
    warmup = config.lr_warmup_steps if config.lr_warmup_steps is not None else min(500, max_steps // 10)
    # Stepped once per optimizer update on every process, so not handed to accelerate.prepare
    # (which would step it once per process).
    lr_schedule = get_scheduler(
        config.lr_scheduler, optimizer.optimizer, num_warmup_steps=warmup, num_training_steps=max_steps
    )
    ema = _make_ema(accelerator.unwrap_model(unet), config) if config.use_ema else None
    # The LR schedule and EMA are saved by checkpoints.py as JSON/safetensors, not registered with
    # accelerate (whose loader unpickles them with weights_only=False).

    vqvae = parts.vqvae.to(accelerator.device) if parts.vqvae is not None else None
    start_step = 0
    if resume_from is not None:
        start_step = checkpoints.load_checkpoint(accelerator, resume_from, unet=unet, optimizer=optimizer,
                                                 lr_schedule=lr_schedule, ema=ema)
        if ema is not None:
            ema.to(accelerator.device)
        _trim_log(run_dir / LOG_FILE, start_step, accelerator)
        log.info("resumed from %s at step %d", resume_from, start_step)

    trainer = _Trainer(config, accelerator, parts, unet, optimizer, lr_schedule, ema, vqvae, run_dir, max_steps,
                       steps_per_epoch, len(data), on_progress, cancel)
    trainer.last_checkpoint = resume_from
    try:
        trainer.run(loader, start_step)
        trainer.finish()
    finally:
        accelerator.end_training()
    return TrainResult(
        model_dir=config.out,
        run_dir=run_dir,
        start_step=start_step,
        steps=trainer.step,
        last_loss=trainer.last_loss,
        checkpoint=trainer.last_checkpoint,
        samples=tuple(trainer.samples),
        train_seconds=trainer.train_seconds,
        main_process=accelerator.is_main_process,
    )


def _load_data(config: TrainConfig, accelerator):
    """The dataset and its image size (x_res, y_res), checked against --resolution and mel_config.json."""
    with accelerator.main_process_first():  # one process fills the `datasets` cache, the others read it
        data = load_image_dataset(config.dataset, cache_dir=config.cache_dir)
    image_size = tuple(data[0]["image"].size)  # PIL: (width, height) = (x_res, y_res)
    if config.resolution is not None and tuple(config.resolution) != image_size:
        raise BadParameterError(
            f"--resolution {config.resolution[0]}x{config.resolution[1]} does not match the dataset's "
            f"{image_size[0]}x{image_size[1]} images; rebuild the dataset at that resolution"
        )
    mel = read_dataset_mel(config.dataset)
    if mel is not None and (mel.x_res, mel.y_res) != image_size:
        raise BadParameterError(
            f"{config.dataset}: mel_config.json says {mel.x_res}x{mel.y_res} but the images are "
            f"{image_size[0]}x{image_size[1]}"
        )
    return data, image_size


def _model_parts(config: TrainConfig, accelerator, run_dir: Path, resume_from: Path | None, image_size) -> ModelParts:
    """A resumed run rebuilds its model from run_dir/spec; a new one builds it and writes the spec."""
    if resume_from is not None:
        if config.base_model or config.vae:
            log.warning("resuming: the model comes from the checkpoint; --from/--vae are ignored")
        origin = resume_from.parent.parent  # RUN_DIR/checkpoints/step-N: the run that wrote it
        parts = load_spec(origin)
        if (parts.mel.x_res, parts.mel.y_res) != image_size:
            raise BadParameterError(
                f"the checkpoint's model takes {parts.mel.x_res}x{parts.mel.y_res} images; "
                f"the dataset has {image_size[0]}x{image_size[1]}"
            )
        if accelerator.is_main_process and origin.resolve() != run_dir.resolve():  # continuing into a new work dir
            run_dir.mkdir(parents=True, exist_ok=True)
            save_spec(parts, run_dir)
        accelerator.wait_for_everyone()
        return parts
    parts = build_parts(config, read_dataset_mel(config.dataset), image_size)
    if accelerator.is_main_process:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_spec(parts, run_dir)
        (run_dir / LOG_FILE).unlink(missing_ok=True)
    accelerator.wait_for_everyone()
    return parts


def _reset_accelerate_state() -> None:
    """Let a second run in the same process (the app, the tests) use other settings.

    accelerate keeps its state in process-wide singletons that refuse a new mixed precision or
    device. Single-process: forget all of it. Under `accelerate launch`: keep the process group.
    """
    from accelerate.state import AcceleratorState, GradientState, PartialState

    distributed = PartialState._shared_state != {} and PartialState().use_distributed
    AcceleratorState._reset_state(reset_partial_state=not distributed)
    GradientState._reset_state()


def _check_out(out: Path) -> None:
    """The model folder is replaced at the end: never let that be a folder that is not a model."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "model_index.json").is_file())):
        raise BadParameterError(f"{out}: exists and is not a model folder; --out must be a new folder or a model to replace")


def _resume_point(config: TrainConfig, run_dir: Path) -> Path | None:
    if config.resume is not None:
        found = checkpoints.find_checkpoint(run_dir, config.resume)
        if found is None:
            log.info("no checkpoint in %s yet: starting a new run", run_dir)
        return found
    if checkpoints.list_checkpoints(run_dir):
        raise BadParameterError(
            f"{run_dir} holds checkpoints of an earlier run: continue it with --resume latest, "
            "or pick another --work-dir (or delete that folder) to start over"
        )
    return None


class _ImageTransform:
    """datasets batch {"image": [PIL]} -> {"pixels": float32 [B, 1, y_res, x_res] in [-1, 1]}."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = tuple(size)

    def __call__(self, batch: dict) -> dict:
        arrays = []
        for image in batch["image"]:
            if image.size != self.size:
                raise BadParameterError(f"dataset images differ in size: {image.size} and {self.size}")
            arrays.append(np.asarray(image.convert("L"), dtype=np.float32))
        pixels = torch.from_numpy(np.stack(arrays))[:, None] / 255.0 * 2.0 - 1.0
        return {"pixels": pixels}


def _make_ema(unet, config: TrainConfig):
    from diffusers.training_utils import EMAModel

    return EMAModel(
        unet.parameters(),
        decay=config.ema_max_decay,
        use_ema_warmup=True,
        inv_gamma=config.ema_inv_gamma,
        power=config.ema_power,
        model_cls=type(unet),
        model_config=unet.config,
    )


def _trim_log(path: Path, step: int, accelerator) -> None:
    """Drop log lines past the resumed step (an interrupted run may have logged beyond its checkpoint)."""
    if accelerator.is_main_process and path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
        path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


class _Trainer:
    """Holds the loop's state so checkpoints, samples and cancel handling can share it."""

    def __init__(self, config, accelerator, parts: ModelParts, unet, optimizer, lr_schedule, ema, vqvae, run_dir,
                 max_steps, steps_per_epoch, dataset_size, on_progress, cancel):
        self.config = config
        self.accelerator = accelerator
        self.parts = parts
        self.unet = unet
        self.optimizer = optimizer
        self.lr_schedule = lr_schedule
        self.ema = ema
        self.vqvae = vqvae
        self.run_dir = Path(run_dir)
        self.max_steps = max_steps
        self.steps_per_epoch = steps_per_epoch
        self.dataset_size = dataset_size
        self.on_progress = on_progress
        self.cancel = cancel
        self.step = 0
        self.last_loss: float | None = None
        self.last_checkpoint: Path | None = None
        self.checkpoint_step = -1
        self.samples: list[Path] = []
        self.train_seconds = 0.0
        self.scaling = float(getattr(vqvae.config, "scaling_factor", 1.0) or 1.0) if vqvae is not None else 1.0

    def run(self, loader, start_step: int) -> None:
        self.step = self.checkpoint_step = start_step
        epoch = start_step // self.steps_per_epoch
        skip = (start_step % self.steps_per_epoch) * self.config.gradient_accumulation_steps
        try:
            while self.step < self.max_steps:
                batches = self.accelerator.skip_first_batches(loader, skip) if skip else loader
                batches.set_epoch(epoch)  # the shuffle order of an epoch depends on (seed, epoch) only
                skip = 0
                if self._epoch(batches, epoch):
                    break
                epoch += 1
        except CancelledError:
            if self.step > self.checkpoint_step:
                self.save_checkpoint()
            raise

    def _epoch(self, batches, epoch: int) -> bool:
        """One pass over the data; True when max_steps is reached."""
        accelerator = self.accelerator
        losses = []
        started = time.perf_counter()
        for batch in batches:
            with accelerator.accumulate(self.unet):
                loss = self._loss(batch["pixels"])
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(self.unet.parameters(), self.config.max_grad_norm)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
            losses.append(loss.detach())
            if not accelerator.sync_gradients:
                continue
            self.lr_schedule.step()
            if self.ema is not None:
                self.ema.step(self.unet.parameters())
            self.step += 1
            self.last_loss = float(accelerator.reduce(torch.stack(losses).mean(), reduction="mean"))
            losses = []
            self.train_seconds += time.perf_counter() - started
            self._report(epoch)
            if self.config.checkpoint_every and self.step % self.config.checkpoint_every == 0:
                self.save_checkpoint()
            if self.config.sample_every and self.step % self.config.sample_every == 0 and self.step < self.max_steps:
                self.sample()
            self._check_cancel()
            if self.step >= self.max_steps:
                return True
            started = time.perf_counter()
        return False

    def _check_cancel(self) -> None:
        """Raise CancelledError when cancelled; with several processes, when any one of them is
        (they must all stop on the same step to save one checkpoint together)."""
        cancelled = self.cancel is not None and self.cancel.cancelled
        if self.accelerator.num_processes > 1:
            flag = torch.tensor([1.0 if cancelled else 0.0], device=self.accelerator.device)
            cancelled = bool(self.accelerator.reduce(flag, reduction="sum").item() > 0)
        if cancelled:
            raise CancelledError("training cancelled")

    def _loss(self, pixels: torch.Tensor) -> torch.Tensor:
        scheduler = self.parts.scheduler
        clean = pixels
        if self.vqvae is not None:
            with torch.no_grad():
                clean = self.vqvae.encode(pixels).latent_dist.sample() * self.scaling
        noise = torch.randn(clean.shape, device=clean.device)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (clean.shape[0],), device=clean.device)
        noisy = scheduler.add_noise(clean, noise, timesteps)
        prediction = self.unet(noisy, timesteps).sample
        kind = self.parts.prediction_type
        if kind == "epsilon":
            target = noise
        elif kind == "v_prediction":
            target = scheduler.get_velocity(clean, noise, timesteps)
        elif kind == "sample":
            target = clean
        else:
            raise BadParameterError(f"scheduler prediction_type {kind!r} is not supported for training")
        return F.mse_loss(prediction.float(), target.float())

    def _report(self, epoch: int) -> None:
        if not self.accelerator.is_main_process:
            return
        lr = float(self.lr_schedule.get_last_lr()[0])
        entry = {"step": self.step, "epoch": epoch, "loss": self.last_loss, "lr": lr, "time": round(time.time(), 3)}
        with open(self.run_dir / LOG_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
        if self.on_progress is not None:
            self.on_progress(TrainProgress(self.step, self.max_steps, epoch, self.last_loss, lr))

    def save_checkpoint(self) -> None:
        state = {"max_steps": self.max_steps, "dataset_size": self.dataset_size, "config": self.config.to_json()}
        self.last_checkpoint = checkpoints.save_checkpoint(
            self.accelerator, self.run_dir, step=self.step, state=state, keep=self.config.checkpoints_keep,
            lr_schedule=self.lr_schedule, ema=self.ema,
        )
        self.checkpoint_step = self.step

    def _with_ema_weights(self, action):
        """Run action(unet) with the EMA weights swapped in (the weights a saved model gets)."""
        unet = self.accelerator.unwrap_model(self.unet)
        if self.ema is None:
            return action(unet)
        self.ema.store(unet.parameters())
        self.ema.copy_to(unet.parameters())
        try:
            return action(unet)
        finally:
            self.ema.restore(unet.parameters())

    def sample(self) -> None:
        if not self.accelerator.is_main_process:
            self.accelerator.wait_for_everyone()
            return
        folder = self.run_dir / "samples" / f"step-{self.step:07d}"
        seeds = tuple(self.config.seed + i for i in range(self.config.sample_count))

        def sample(unet):
            return write_samples(
                folder, unet=unet, scheduler_config=dict(self.parts.scheduler.config), mel=self.parts.mel,
                vqvae=self.vqvae, device=self.accelerator.device, seeds=seeds, steps=self.config.sample_steps,
                cancel=self.cancel,
            )

        try:
            self.samples.extend(self._with_ema_weights(sample))
        except CancelledError:
            raise
        except CrateDiggerError as exc:  # a sample that cannot be made must not end a long run
            log.warning("samples at step %d failed: %s", self.step, exc)
        finally:
            self.accelerator.wait_for_everyone()
        log.info("samples at step %d: %s", self.step, folder)

    def finish(self) -> None:
        """Final checkpoint (so a longer run can continue), the model folder, and last samples."""
        if self.step > self.checkpoint_step:
            self.save_checkpoint()
        if self.accelerator.is_main_process:
            self._with_ema_weights(
                lambda unet: save_model_folder(
                    self.config.out, unet=unet, scheduler=self.parts.scheduler, mel=self.parts.mel,
                    vqvae=self.parts.vqvae,
                )
            )
            (self.run_dir / "train_config.json").write_text(json.dumps(self.config.to_json(), indent=2) + "\n")
            log.info("model written to %s", self.config.out)
        self.accelerator.wait_for_everyone()
        self.sample()
