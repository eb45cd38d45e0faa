#!/usr/bin/env bash
# Batch-job launcher for Slurm (or any scheduler that sends SIGTERM before preempting): runs the same training
# command every time; longctx resumes from the newest valid checkpoint by itself. When the job is preempted,
# longctx finishes the step, writes a checkpoint and exits with 75; this script then requeues the job.
#   sbatch scripts/slurm-train.sh configs/llama2-7b-yarn-64k.yaml --set model.path=/models/Llama-2-7b-hf
#SBATCH --job-name=longctx
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --signal=B:TERM@300
#SBATCH --gres=gpu:1
#SBATCH --time=24:00:00
set -uo pipefail
root="${LONGCTX_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
[ $# -ge 1 ] || { echo "usage: slurm-train.sh RECIPE [longctx train options]" >&2; exit 2; }

# Forward the scheduler's SIGTERM to the JVM and wait for it to checkpoint.
"$root/scripts/longctx" train "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
wait "$child"
code=$?
if [ "$code" -gt 128 ]; then   # wait was interrupted by the trap: wait again for the real exit code
  wait "$child"
  code=$?
fi

case "$code" in
  0) echo "longctx: training finished" >&2 ;;
  75)
    echo "longctx: preempted at a checkpoint; requeueing" >&2
    if [ -n "${SLURM_JOB_ID:-}" ]; then scontrol requeue "$SLURM_JOB_ID"; fi
    ;;
  *) echo "longctx: training stopped with exit code $code (not requeued)" >&2 ;;
esac
exit "$code"
