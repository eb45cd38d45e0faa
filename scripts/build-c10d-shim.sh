#!/usr/bin/env bash
# Builds native/c10d (longctx's bridge to PyTorch's distributed engine) against the libtorch DJL bundles, with c10d
# headers from Debian's libtorch-dev (fetched by package name into a private folder: nothing is installed), and
# caches the result by the hash of the source and the pinned package versions:
#   .cache/c10d/liblongctx_c10d.so
# Without a compiler or the packages it prints one line and exits 1; single-process training does not need it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source_file="$root/native/c10d/longctx_c10d.cpp"
# headers: libtorch-dev 2.6 compiles against DJL's libtorch 2.7.1 (the layouts are checked when the shim loads)
torch_dev="libtorch-dev=2.6.0+dfsg-7"
gloo_dev="libgloo-dev=0.0~git20231202.5354032-3+b2"
suite="trixie"
djl_native="${DJL_NATIVE_JAR:-$HOME/.m2/repository/ai/djl/pytorch/pytorch-native-cpu/2.7.1/pytorch-native-cpu-2.7.1-linux-x86_64.jar}"
cache="$root/.cache/c10d"
out="$cache/liblongctx_c10d.so"

fail() { echo "c10d shim: $*" >&2; exit 1; }

key="$( (cat "$source_file"; echo "$torch_dev $gloo_dev $(basename "$djl_native")") | sha256sum | cut -c1-16)"
if [ -f "$out" ] && [ "$(cat "$cache/liblongctx_c10d.key" 2>/dev/null)" = "$key" ]; then
  echo "c10d shim: up to date ($out)"
  exit 0
fi
command -v g++ >/dev/null || fail "no g++ on this machine; multi-process training is unavailable"
if [ ! -f "$djl_native" ]; then
  command -v mvn >/dev/null || fail "DJL's libtorch jar is missing ($djl_native) and there is no mvn to fetch it"
  mvn -B -q dependency:get -Dartifact=ai.djl.pytorch:pytorch-native-cpu:2.7.1:jar:linux-x86_64 -Dtransitive=false \
      >/dev/null 2>&1 || fail "cannot fetch DJL's libtorch jar from Maven Central"
  [ -f "$djl_native" ] || fail "DJL's libtorch jar is missing ($djl_native)"
fi
mkdir -p "$cache"
work="$cache/build-$key"
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/debs" "$work/root" "$work/lib"

if [ ! -d "$work/root/usr/include/torch/csrc/distributed/c10d" ]; then
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
      > "$work/apt/sources.list"
  apt_opts=(-q -o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache" -o Debug::NoLocking=1
            -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update >"$work/apt.log" 2>&1 || fail "apt-get update for Debian $suite failed (see $work/apt.log)"
  (cd "$work/debs" && apt-get "${apt_opts[@]}" download "$torch_dev" "$gloo_dev") >>"$work/apt.log" 2>&1 \
      || fail "cannot download $torch_dev and $gloo_dev from Debian $suite (a newer version may have replaced them; see $work/apt.log)"
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
fi
if [ ! -f "$work/lib/libtorch_cpu.so" ]; then
  unzip -q -j -o "$djl_native" 'pytorch/cpu/linux-x86_64/libtorch_cpu.so' 'pytorch/cpu/linux-x86_64/libc10.so' \
      -d "$work/lib" || fail "cannot unpack libtorch from $djl_native"
fi

inc="$work/root/usr/include"
g++ -std=c++17 -O2 -fPIC -shared -DUSE_C10D_GLOO -D_GLIBCXX_USE_CXX11_ABI=1 -w \
    -I"$inc" -I"$inc/torch/csrc/api/include" "$source_file" -o "$work/liblongctx_c10d.so" \
    -L"$work/lib" -Wl,-z,defs -Wl,--no-as-needed -l:libtorch_cpu.so -l:libc10.so -ldl \
    2>"$work/compile.log" || fail "compile failed (see $work/compile.log)"
mv -f "$work/liblongctx_c10d.so" "$out.tmp" && mv -f "$out.tmp" "$out"
echo "$key" > "$cache/liblongctx_c10d.key"
rm -rf "$work/lib" "$work/debs"
echo "c10d shim: built $out"
