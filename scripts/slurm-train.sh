#!/usr/bin/env bash
# Batch-job launcher for Slurm (or any scheduler that sends SIGTERM before preempting): runs the same training
# command every time; longctx resumes from the newest valid checkpoint by itself. On SIGTERM longctx finishes the
# current micro-batch, writes a checkpoint (holding the partial gradient when inside a step) and exits with 75; this
# script then requeues the job. A preempted job loses at most one micro-batch of work.
#
# Before the job's time limit, the script itself sends the SIGTERM, as early as the run needs: the signal lead is
# the run's own measurement (preemption.json in the run folder: slowest micro-batch + slowest checkpoint write, with
# a margin), or LONGCTX_DEFAULT_LEAD_S (900 s) until the run has written its first checkpoint.
#   sbatch scripts/slurm-train.sh configs/llama2-7b-yarn-64k.yaml --set model.path=/models/Llama-2-7b-hf
#
# Several GPUs or nodes: ask Slurm for one task per GPU; the script starts them with srun, each task a rank of one
# data-parallel job (rank, world size and local rank from SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID; the first node
# of the allocation serves the rendezvous). The recipe's train.grad_accum is the global batch in micro-batches.
#   sbatch --nodes=2 --ntasks-per-node=8 --gres=gpu:8 scripts/slurm-train.sh configs/llama2-7b-yarn-64k.yaml ...
# A lost rank makes the others exit within distributed.timeout_s; the job is then requeued (up to
# LONGCTX_MAX_REQUEUES times, default 3) and resumes from the newest complete checkpoint.
#SBATCH --job-name=longctx
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --gres=gpu:1
#SBATCH --time=24:00:00
set -uo pipefail
root="${LONGCTX_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
[ $# -ge 1 ] || { echo "usage: slurm-train.sh RECIPE [longctx train options]" >&2; exit 2; }
default_lead="${LONGCTX_DEFAULT_LEAD_S:-900}"
ntasks="${SLURM_NTASKS:-1}"
max_requeues="${LONGCTX_MAX_REQUEUES:-3}"

run_dir="$("$root/scripts/longctx" train "$@" --print-run-dir)" || exit 2

# The lead time in seconds: the run's measured figure, else the default.
signal_lead() {
  local file="$run_dir/preemption.json" lead=""
  [ -f "$file" ] && lead="$(sed -n 's/.*"signal_lead_s" *: *\([0-9]*\).*/\1/p' "$file" | head -n 1)"
  echo "${lead:-$default_lead}"
}

# Seconds since the epoch at which Slurm ends this job (empty outside Slurm or without a limit).
job_end() {
  [ -n "${SLURM_JOB_ID:-}" ] || return 0
  local end
  end="$(squeue -h -j "$SLURM_JOB_ID" -o %e 2>/dev/null)"
  case "$end" in ''|N/A|Unknown|NONE) return 0 ;; esac
  date -d "$end" +%s 2>/dev/null
}

echo "longctx: run folder $run_dir; signal lead $(signal_lead) s ($([ -f "$run_dir/preemption.json" ] \
  && echo "measured by the run" || echo "default until the run has measured it"))" >&2

if [ "$ntasks" -gt 1 ]; then
  "$root/scripts/build-c10d-shim.sh" >&2 || exit 2
  MASTER_ADDR="${MASTER_ADDR:-$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)}"
  MASTER_PORT="${MASTER_PORT:-$(( 20000 + ${SLURM_JOB_ID:-0} % 20000 ))}"
  export MASTER_ADDR MASTER_PORT
  echo "longctx: $ntasks ranks over ${SLURM_JOB_NUM_NODES:-1} node(s); rendezvous $MASTER_ADDR:$MASTER_PORT" >&2
  # srun passes SIGTERM on to every task; one task failing ends the step
  srun --kill-on-bad-exit=1 --ntasks="$ntasks" "$root/scripts/longctx" train "$@" &
else
  "$root/scripts/longctx" train "$@" &
fi
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT

# Watcher: SIGTERM the trainer once the time left is below the lead time (re-read as the run measures it).
end="$(job_end)"
if [ -n "$end" ]; then
  (
    while kill -0 "$child" 2>/dev/null; do
      if [ $(( end - $(date +%s) )) -le "$(signal_lead)" ]; then
        echo "longctx: $(signal_lead) s or less before the time limit: asking the trainer to checkpoint" >&2
        kill -TERM "$child" 2>/dev/null
        break
      fi
      sleep 15
    done
  ) &
  watcher=$!
fi

wait "$child"
code=$?
if [ "$code" -gt 128 ]; then   # wait was interrupted by the trap: wait again for the real exit code
  wait "$child"
  code=$?
fi
[ -n "${watcher:-}" ] && kill "$watcher" 2>/dev/null

case "$code" in
  0) echo "longctx: training finished" >&2 ;;
  75)
    echo "longctx: preempted at a checkpoint; requeueing" >&2
    if [ -n "${SLURM_JOB_ID:-}" ]; then scontrol requeue "$SLURM_JOB_ID"; fi
    ;;
  2) echo "longctx: training refused its input (exit code 2; not requeued)" >&2 ;;
  *)
    if [ "$ntasks" -gt 1 ] && [ -n "${SLURM_JOB_ID:-}" ] && [ "${SLURM_RESTART_COUNT:-0}" -lt "$max_requeues" ]; then
      echo "longctx: a rank was lost (exit code $code); requeueing the whole job to resume from the newest" \
           "complete checkpoint (restart ${SLURM_RESTART_COUNT:-0} of $max_requeues)" >&2
      scontrol requeue "$SLURM_JOB_ID"
    else
      echo "longctx: training stopped with exit code $code (not requeued)" >&2
    fi
    ;;
esac
exit "$code"
