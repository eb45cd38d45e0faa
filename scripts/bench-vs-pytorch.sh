#!/usr/bin/env bash
# longctx's training step against the same model and step in plain PyTorch (Debian's python3-torch, a benchmark
# tool only), same thread count, one process per configuration. Prints step times and the ratio longctx / PyTorch
# per length: with the same attention (plain, materialised scores) and with longctx's fused SDPA.
#   apt-get install python3-torch libopenblas0-pthread     # once
#   scripts/bench-vs-pytorch.sh [LENGTHS] [CONFIG]          # default 512,2048 small
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lengths="${1:-512,2048}"
config="${2:-small}"
threads="$(nproc)"
py=/usr/bin/python3
"$py" -c 'import torch' 2>/dev/null || { echo "needs Debian's python3-torch: apt-get install python3-torch libopenblas0-pthread" >&2; exit 2; }
# both sides run on the same malloc (see scripts/lib/allocator.sh)
. "$root/scripts/lib/allocator.sh"
preload_allocator || exit 2
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

IFS=',' read -ra list <<< "$lengths"
for length in "${list[@]}"; do
  for ckpt in off on; do
    echo "pytorch: $config L=$length checkpointing $ckpt" >&2
    "$py" "$root/scripts/bench-pytorch.py" --config "$config" --lengths "$length" --checkpointing "$ckpt" \
      --threads "$threads" >> "$out/pytorch.jsonl"
  done
done
for attention in plain sdpa; do
  echo "longctx: attention $attention" >&2
  "$root/scripts/longctx" bench --config "$config" --lengths "$lengths" --attention "$attention" --skip-attention \
    --out "$out/longctx-$attention.json" > /dev/null
done

"$py" - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
torch_rows = [json.loads(l) for l in (out / "pytorch.jsonl").read_text().splitlines() if l.strip()]
ours = {a: json.loads((out / f"longctx-{a}.json").read_text()) for a in ("plain", "sdpa")}
key = lambda r: (r["length"], bool(r["checkpointing"]))
print("PyTorch %s (attention %s), %d threads; longctx matmul peak %.1f GFLOP/s; allocator %s" % (
    torch_rows[0]["torch"], torch_rows[0]["attention"], torch_rows[0]["threads"], ours["plain"]["matmul_peak_gflops"],
    ours["plain"]["allocator"]))
print("%7s %5s | %10s | %13s %6s | %12s %6s | %s" % ("length", "ckpt", "pytorch s", "longctx plain", "ratio",
      "longctx sdpa", "ratio", "peak MiB pytorch / plain / sdpa"))
for t in torch_rows:
    p = next(r for r in ours["plain"]["steps"] if key(r) == key(t))
    s = next(r for r in ours["sdpa"]["steps"] if key(r) == key(t))
    print("%7d %5s | %10.3f | %13.3f %6.2f | %12.3f %6.2f | %d / %d / %d" % (
        t["length"], "on" if t["checkpointing"] else "off", t["step_s"], p["step_s"], p["step_s"] / t["step_s"],
        s["step_s"], s["step_s"] / t["step_s"], t["peak_rss_mib"], p["peak_rss_mib"], s["peak_rss_mib"]))
PY
