#!/usr/bin/env bash
# Reruns a training command until it finishes, for machines without a scheduler (spot instances, shared boxes):
# exit code 75 means "preempted after writing a checkpoint", so the same command simply runs again.
#   scripts/run-until-done.sh configs/demo-yarn.yaml
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
while true; do
  "$root/scripts/longctx" train "$@"
  code=$?
  [ "$code" -eq 75 ] || exit "$code"
  echo "run-until-done: preempted; resuming" >&2
  sleep 2
done
