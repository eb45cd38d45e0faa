#!/usr/bin/env bash
# longctx's training step against the same model and step in PyTorch: a current PyTorch 2.x, eager and under
# torch.compile, in a virtual environment made once under .cache/bench-venv, and Debian's python3-torch (1.13, no
# fused attention) as an older row when it is installed. Same model, step, allocator and thread count, one process
# per configuration, SDPA on both sides where the torch has it. Benchmark tools only: the product runs no Python.
#   scripts/bench-vs-pytorch.sh [LENGTHS] [CONFIG] [STEPS]      # default 2048,8192 small 2 (plus 1 warm-up step)
# BENCH_TORCH pins the torch version put into the environment (default: the newest +cpu build the machine's
# configured package index offers, else its newest). Prints one table. --keep DIR keeps the raw JSON there, and a
# rerun with the same DIR measures only what it lacks. A configuration that fails (the 1.13 row's materialised
# attention scores at 8192 without checkpointing exceed 24 GiB) is shown as failed, the rest still run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
keep=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
lengths="${args[0]:-2048,8192}"
config="${args[1]:-small}"
steps="${args[2]:-2}"
threads="$(nproc)"
venv="$root/.cache/bench-venv"

if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  python3 -m venv "$venv" || { echo "bench-vs-pytorch: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 2; }
  version="${BENCH_TORCH:-}"
  if [ -z "$version" ]; then
    versions="$("$venv/bin/pip" index versions torch 2>/dev/null | sed -n 's/^Available versions: //p' \
      | tr -d ' ' | tr ',' '\n')"
    version="$(grep '+cpu$' <<< "$versions" | head -1 || true)"
    [ -n "$version" ] || version="$(head -1 <<< "$versions")"
  fi
  [ -n "$version" ] || { echo "bench-vs-pytorch: the package index offers no torch" >&2; exit 2; }
  echo "bench-vs-pytorch: installing torch $version into $venv (once)" >&2
  "$venv/bin/pip" install -q "torch==$version" numpy
fi
debian=/usr/bin/python3
"$debian" -c 'import torch' 2>/dev/null || debian=""

# every side runs on the same malloc (see scripts/lib/allocator.sh)
. "$root/scripts/lib/allocator.sh"
preload_allocator || exit 2
out="${keep:-$(mktemp -d)}"
mkdir -p "$out"
[ -n "$keep" ] || trap 'rm -rf "$out"' EXIT
# whether FILE already holds a result (or a failure) for LENGTH and CHECKPOINTING (true/false)
have() { [ -f "$1" ] && grep -q "\"length\": $2, \"checkpointing\": $3" "$1"; }

IFS=',' read -ra list <<< "$lengths"
for length in "${list[@]}"; do
  for ckpt in off on; do
    for row in eager compile debian; do
      py="$venv/bin/python"; flags=()
      case "$row" in
        compile) flags=(--compile) ;;
        debian) [ -n "$debian" ] || continue; py="$debian" ;;
      esac
      file="$out/pytorch-$row.jsonl"
      flag=false; [ "$ckpt" = on ] && flag=true
      have "$file" "$length" "$flag" && continue
      echo "pytorch $row: $config L=$length checkpointing $ckpt" >&2
      rc=0
      "$py" "$root/scripts/bench-pytorch.py" --config "$config" --lengths "$length" --checkpointing "$ckpt" \
        --threads "$threads" --steps "$steps" --warmup 1 "${flags[@]}" >> "$file" || rc=$?
      if [ "$rc" -ne 0 ]; then
        echo "pytorch $row: L=$length checkpointing $ckpt failed (exit $rc)" >&2
        echo "{\"length\": $length, \"checkpointing\": $flag, \"failed\": \"exit $rc\"}" >> "$file"
      fi
    done
  done
done
echo "longctx: $config $lengths" >&2
# longctx also runs its selective checkpointing (attention outputs kept), set beside PyTorch's full recompute
[ -f "$out/longctx.json" ] || "$root/scripts/longctx" bench --config "$config" --lengths "$lengths" --attention sdpa --skip-attention \
  --checkpointing off,on,selective --steps "$steps" --warmup 1 --out "$out/longctx.json" > /dev/null

"$venv/bin/python" - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
rows = {}
for name in ("eager", "compile", "debian"):
    f = out / f"pytorch-{name}.jsonl"
    if f.exists():
        rows[name] = [json.loads(l) for l in f.read_text().splitlines() if l.strip()]
measured = lambda name: [r for r in rows.get(name, []) if "failed" not in r]
ours = json.loads((out / "longctx.json").read_text())
key = lambda r: (r["length"], bool(r["checkpointing"]))
policy = lambda r: r.get("policy", "on" if r["checkpointing"] else "off")
def find(name, k):
    return next((r for r in rows.get(name, []) if key(r) == k), None)
eager = measured("eager")[0]
print("longctx (SDPA) vs PyTorch %s eager and torch.compile (%s)%s; %d threads; allocator %s" % (
    eager["torch"], eager["attention"],
    "" if not measured("debian") else "; Debian PyTorch %s (%s)" % (measured("debian")[0]["torch"],
                                                                      measured("debian")[0]["attention"]),
    eager["threads"], ours["allocator"]))
head = "| length | checkpointing | longctx s | PyTorch %s eager s | ratio | torch.compile s | ratio |" % eager["torch"]
if measured("debian"):
    head += " PyTorch %s s | ratio |" % measured("debian")[0]["torch"]
head += " peak MiB longctx / eager / compile |"
print(head)
print("|" + "---|" * (head.count("|") - 1))
for r in ours["steps"]:
    k = key(r)
    e, c, d = find("eager", k), find("compile", k), find("debian", k)
    cells = [str(k[0]), policy(r), "%.3f" % r["step_s"]]
    for t in (e, c) + ((d,) if measured("debian") else ()):
        if t is None or "failed" in t:
            cells += ["failed (%s)" % t["failed"] if t else "-", "-"]
        else:
            cells += ["%.3f" % t["step_s"], "%.2f" % (r["step_s"] / t["step_s"])]
    rss = lambda t: str(t["peak_rss_mib"]) if t and "failed" not in t else "-"
    cells.append("%d / %s / %s" % (r["peak_rss_mib"], rss(e), rss(c)))
    print("| " + " | ".join(cells) + " |")
for length in sorted({r["length"] for r in ours["steps"]}):
    mine = {policy(r): r for r in ours["steps"] if r["length"] == length}
    off = mine.get("off")
    e_on, e_off = find("eager", (length, True)), find("eager", (length, False))
    for name in ("on", "selective"):
        on = mine.get(name)
        if on and off and e_on and e_off and "failed" not in e_on and "failed" not in e_off:
            print("L=%d: checkpointing %s costs longctx %.2fx its plain step; PyTorch eager's full recompute %.2fx"
                  % (length, name, on["step_s"] / off["step_s"], e_on["step_s"] / e_off["step_s"]))
PY
