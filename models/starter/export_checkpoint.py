"""Write a model folder from a training checkpoint's EMA weights (what a finished run would save).

    python models/starter/export_checkpoint.py CHECKPOINT TEMPLATE OUT

CHECKPOINT is ROOT/work/checkpoints/step-N (from train.sh); TEMPLATE a model folder of the same run
(its configs: model_index.json, unet/config.json, scheduler/, mel/); OUT the folder to write. Lets a
snapshot be taken mid-chunk, without stopping the run.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from diffusers import UNet2DModel
from safetensors.torch import load_file


def main(argv: list[str]) -> int:
    checkpoint, template, out = (Path(a) for a in argv)
    unet = UNet2DModel.from_config(UNet2DModel.load_config(template / "unet"))
    tensors = load_file(str(checkpoint / "ema.safetensors"))
    params = list(unet.parameters())
    if len(params) != sum(1 for k in tensors if k.startswith("shadow.")):
        print(f"export: {checkpoint} does not hold this UNet's EMA weights", file=sys.stderr)
        return 2
    with torch.no_grad():
        for i, p in enumerate(params):
            p.copy_(tensors[f"shadow.{i}"])
    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(template, staging, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "__init__.py", "__pycache__"))
    unet.save_pretrained(staging / "unet", safe_serialization=True)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    print(f"{out}: EMA weights of {checkpoint.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
