#!/usr/bin/env bash
# Train the built-in starter model with `cratedigger train`, in chunks that each end with a model
# folder, so a usable snapshot exists at every stage and the run resumes after any stop.
#   bash models/starter/train.sh ROOT [FINAL_STEPS]
# ROOT holds dataset/ (from make_data.py + `cratedigger dataset`); writes ROOT/work (checkpoints,
# loss log), ROOT/model (the latest chunk's EMA weights) and ROOT/current (a copy of the last good one).
# Run it at low priority: nice -n 19 bash models/starter/train.sh ROOT
set -uo pipefail
root=${1:?usage: train.sh ROOT [FINAL_STEPS]}
final=${2:-30000}
chunk=${CHUNK:-400}
# datasets caches imagefolders by a key that another folder of the same file names can share: keep ours apart.
export HF_DATASETS_CACHE="$root/hf-datasets-cache"
done_steps() { ls -d "$root"/work/checkpoints/step-* 2>/dev/null | sed 's/.*step-0*//' | sort -n | tail -1; }
while :; do
  now=$(done_steps); now=${now:-0}
  [ "$now" -ge "$final" ] && break
  target=$(( (now / chunk + 1) * chunk )); [ "$target" -gt "$final" ] && target=$final
  echo "$(date -u +%FT%TZ) training to step $target" >&2
  # ROOT/threads, when present, caps torch's threads per chunk (on a contended CPU, 1 thread beats 2)
  [ -s "$root/threads" ] && export OMP_NUM_THREADS=$(cat "$root/threads") || unset OMP_NUM_THREADS
  if cratedigger train "$root/dataset" --out "$root/model" --work-dir "$root/work" \
      --channels 16,32,64,128 --layers-per-block 1 --batch-size 8 --lr 5e-4 \
      --lr-scheduler constant_with_warmup --warmup-steps 200 --max-steps "$target" \
      --checkpoint-every 100 --keep-checkpoints 2 --sample-every 0 --sample-count 1 --sample-steps 20 \
      --seed 0 --resume latest; then
    rm -rf "$root/.current.tmp" && cp -r "$root/model" "$root/.current.tmp" \
      && rm -rf "$root/current" && mv "$root/.current.tmp" "$root/current"
    echo "$target" > "$root/current.step"
  else
    echo "$(date -u +%FT%TZ) chunk failed; retrying in 60 s" >&2; sleep 60
  fi
done
