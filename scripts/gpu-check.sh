#!/usr/bin/env bash
# One prepared check of the CUDA path, for a GPU machine, in under 10 minutes:
#   1. finds a libtorch 2.7.1 built for CUDA 12.8 (DJL's cu128 JNI needs one) and reports what it found;
#   2. bench on `small` and a 1B-shaped model (TinyLlama-1.1B's shape) at 8k and 32k, fp32 and bf16, with
#      activation checkpointing: tokens/s, MFU against the card's bf16 dense peak, device memory (nvidia-smi's
#      peak, sampled every 200 ms) next to the planner's prediction;
#   3. 20 LoRA steps (bf16) of the 1B shape at 32k.
#   4. with "multi" on a machine with several GPUs: the c10d shim built with NCCL (needs CUDA_HOME and NCCL_INCLUDE,
#      see the README), then bench --nproc <GPUs> on `small` at 8k: step time against one GPU for the same global
#      batch, the gradient all-reduce share, NCCL all-reduce bus bandwidth, tokens/s per GPU.
#   scripts/gpu-check.sh [multi] [OUT_DIR]
# Exits 0 with a report even where no CUDA libtorch is found, so a machine without one still says so.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
multi=""
if [ "${1:-}" = multi ]; then multi=1; shift; fi
out="${1:-${OUT:-$root/gpu-check}}"
mkdir -p "$out"
report="$out/report.txt"
: > "$report"
say() { echo "$*" | tee -a "$report"; }

say "gpu-check $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | sed 's/^/gpu: /' | tee -a "$report"

# 1. a CUDA libtorch: PYTORCH_LIBRARY_PATH, a pip/conda torch, or a libtorch folder
candidates=()
[ -n "${PYTORCH_LIBRARY_PATH:-}" ] && candidates+=("$PYTORCH_LIBRARY_PATH")
for py in python3 python; do
  dir=$("$py" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null) \
    && candidates+=("$dir")
done
while IFS= read -r lib; do candidates+=("$(dirname "$lib")"); done < <(find / -maxdepth 7 -name libtorch_cuda.so \
  -not -path '/proc/*' 2>/dev/null | head -5)
found=""
for dir in "${candidates[@]}"; do
  [ -f "$dir/libtorch_cuda.so" ] || continue
  version=$(cat "$dir/../version.py" 2>/dev/null | grep -o "__version__ = '[^']*'" | head -1)
  say "libtorch with CUDA: $dir ${version:-(version unknown)}"
  [ -z "$found" ] && found="$dir"
done
if [ -z "$found" ]; then
  say "no CUDA libtorch found (looked in PYTORCH_LIBRARY_PATH, python's torch, and libtorch_cuda.so under /);"
  say "DJL needs libtorch 2.7.1+cu128: set PYTORCH_LIBRARY_PATH to its lib/ folder and rerun"
  exit 0
fi
export PYTORCH_LIBRARY_PATH="$found" PYTORCH_FLAVOR=cu128 PYTORCH_VERSION=2.7.1

# the card's bf16 dense peak (TFLOP/s), for MFU
name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
case "$name" in
  *H200*|*H100*SXM*|*H100\ 80GB\ HBM3*) peak=989 ;;
  *H100*) peak=756 ;;
  *A100*) peak=312 ;;
  *L40S*) peak=362 ;;
  *) peak=0 ;;
esac
say "bf16 dense peak used for MFU: ${peak} TFLOP/s ($name)"

sample_memory() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$1" 2>/dev/null & echo $!; }

run_bench() {  # label, then bench arguments
  local label="$1"; shift
  local mem="$out/mem-$label.txt"
  local sampler; sampler=$(sample_memory "$mem")
  timeout 240 "$root/scripts/longctx" bench --device gpu --skip-attention --json --out "$out/$label.json" "$@" \
    > "$out/$label.stdout" 2> "$out/$label.stderr"
  local rc=$?
  kill "$sampler" 2>/dev/null
  local peak_mib; peak_mib=$(sort -n "$mem" 2>/dev/null | tail -1)
  say "$label: exit $rc, device memory peak ${peak_mib:-?} MiB (nvidia-smi)"
  [ $rc -ne 0 ] && tail -5 "$out/$label.stderr" | sed 's/^/  /' | tee -a "$report"
  python3 - "$out/$label.json" "$peak" >> "$report" 2>/dev/null <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1])); peak = float(sys.argv[2]) * 1e12
for s in r["steps"]:
    if "error" in s:
        print("  ", s); continue
    flops = s["achieved_gflops"] * 1e9
    mfu = f"{100 * flops / peak:.1f}%" if peak else "-"
    print(f"  {r['config']} L={s['length']} {s['precision']} lora={s['lora']}: {s['tokens_per_s']:.0f} tok/s, "
          f"step {s['step_s']:.2f} s, MFU {mfu}, planner {s['predicted_peak_mib']} MiB")
PY
  tail -n +1 "$report" | tail -3
}

run_bench small --config small --lengths 8192,32768 --checkpointing on --precision fp32,bf16 --steps 2 --warmup 1
run_bench 1b --config 1b --lengths 8192,32768 --checkpointing on --precision fp32,bf16 --steps 2 --warmup 1
run_bench 1b-lora --config 1b --lengths 32768 --checkpointing on --precision bf16 --lora on --steps 20 --warmup 0
if [ -n "$multi" ]; then
  gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
  if [ "$gpus" -lt 2 ]; then
    say "multi: $gpus GPU(s) found; the multi-GPU check needs 2 or more"
  elif ! PYTORCH_LIBRARY_PATH="$found" "$root/scripts/build-c10d-shim.sh" >> "$report" 2>&1; then
    say "multi: the NCCL shim did not build (CUDA_HOME and NCCL_INCLUDE must be set; see the README)"
  else
    timeout 300 "$root/scripts/longctx" bench --nproc "$gpus" --device gpu --config small --lengths 8192 \
      --checkpointing on --steps 3 --warmup 1 --json --out "$out/multi.json" > "$out/multi.stdout" 2> "$out/multi.stderr"
    say "multi: bench --nproc $gpus exit $?"
    python3 - "$out/multi.json" >> "$report" 2>/dev/null <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
for row in r["rows"]:
    one, many = row["one_rank"], row["ranks"]
    n = many["ranks"]
    print(f"  L={row['length']}: 1 GPU {one['step_s']:.3f} s, {n} GPUs {many['step_s']:.3f} s for the same global "
          f"batch; all-reduce {100 * many['communication_share']:.1f}% of the step; bus bandwidth "
          f"{many['allreduce_busbw_gb_s']:.1f} GB/s; {many['tokens_per_s'] / n:.0f} tok/s per GPU")
PY
  fi
fi
say "report: $report"
