#!/usr/bin/env bash
# Perplexity by context length of llama2.c's stories260K (trained at 512 tokens), unscaled and with YaRN, on long
# documents that the model writes itself: independent stories sampled from BOS, concatenated with BOS between them
# (the model has no tokenizer, so there is no text corpus to tokenize).
#   scripts/eval-stories260k.sh [MODEL_DIR] [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="${1:-$root/../shared/models/stories260K}"
out="${2:-$root/reports/stories260k-eval}"
docs="$out/docs"
[ -f "$model/model.safetensors" ] || { echo "no model at $model" >&2; exit 2; }
mkdir -p "$docs"
echo 1 > "$out/bos.ids"

# Three documents of at least 2100 tokens, each a run of stories with seeds 1000*d + k.
for d in 0 1 2; do
  doc="$docs/doc$d.ids"
  [ -s "$doc" ] && continue
  ids=""
  count=0
  k=0
  while [ "$count" -lt 2100 ]; do
    story=$("$root/scripts/longctx" generate --model "$model" --ids "$out/bos.ids" --max-new-tokens 480 \
      --temperature 1.0 --seed $((1000 * d + k)) --json | sed -E 's/.*"generated_ids":\[([^]]*)\].*/\1/' | tr ',' ' ')
    ids="$ids 1 $story"
    count=$(echo $ids | wc -w)
    k=$((k + 1))
  done
  echo $ids > "$doc"
  echo "doc$d: $count tokens from $k stories" >&2
done

"$root/scripts/longctx" eval --model "$model" --data "$docs" --lengths 256,512,1024,2048 --stride 256 \
  --rope-scaling none \
  --rope-scaling '{"rope_type":"linear","factor":4}' \
  --rope-scaling '{"rope_type":"ntk","factor":4}' \
  --rope-scaling '{"rope_type":"yarn","factor":4,"original_max_position_embeddings":512}' \
  --out "$out"
