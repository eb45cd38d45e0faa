#!/usr/bin/env bash
# The main job on the embedded default, end to end on a CPU: fetch the demo corpus, pretrain a small byte-level
# Llama at a 256-token context, extend it 8x to 2048 tokens with YaRN (activation checkpointing on), evaluate
# base / PI / NTK-aware / YaRN / fine-tuned YaRN on held-out documents, run passkey retrieval, and write
# reports/demo/ (report.md, charts, the extended model in HF format). Re-running reuses what is done.
#   scripts/demo.sh [longctx demo options]      e.g. scripts/demo.sh --out /tmp/demo
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
start=$(date +%s)
scripts/fetch-demo-corpus.sh
scripts/longctx demo "$@"
echo "demo finished in $(( $(date +%s) - start )) s" >&2
