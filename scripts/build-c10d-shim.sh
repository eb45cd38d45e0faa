#!/usr/bin/env bash
# Builds native/c10d (longctx's bridge to PyTorch's distributed engine) against the libtorch DJL bundles, with c10d
# headers from Debian's libtorch-dev (fetched by package name into a private folder: nothing is installed), and
# caches the result by the hash of the source and the pinned package versions:
#   .cache/c10d/liblongctx_c10d.so
# Without a compiler or the packages it prints one line and exits 1; single-process training does not need it.
# NCCL (CUDA machines; not verified by this project's CI, which has no GPU): set PYTORCH_LIBRARY_PATH to the CUDA
# libtorch's lib/ folder DJL uses, CUDA_HOME to a CUDA toolkit (its include/), and NCCL_INCLUDE to a folder holding
# the nccl.h of the NCCL that libtorch carries; the shim then also links libtorch_cuda.so and speaks NCCL on CUDA.
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

cuda_lib="${PYTORCH_LIBRARY_PATH:-}"
nccl=""
if [ -n "$cuda_lib" ] && [ -f "$cuda_lib/libtorch_cuda.so" ]; then
  [ -n "${CUDA_HOME:-}" ] && [ -f "${CUDA_HOME}/include/cuda_runtime_api.h" ] \
      || fail "PYTORCH_LIBRARY_PATH names a CUDA libtorch: set CUDA_HOME to a CUDA toolkit with include/"
  [ -n "${NCCL_INCLUDE:-}" ] && [ -f "${NCCL_INCLUDE}/nccl.h" ] \
      || fail "set NCCL_INCLUDE to the folder of the nccl.h matching the NCCL in $cuda_lib"
  nccl="nccl $cuda_lib $(grep -m1 NCCL_VERSION_CODE "${NCCL_INCLUDE}/nccl.h" || true)"
fi
key="$( (cat "$source_file"; echo "$torch_dev $gloo_dev $(basename "$djl_native") $nccl") | sha256sum | cut -c1-16)"
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
flags=(-DUSE_C10D_GLOO)
libs=(-L"$work/lib" -l:libtorch_cpu.so -l:libc10.so)
if [ -n "$nccl" ]; then
  flags+=(-DUSE_C10D_NCCL -DUSE_CUDA -I"$CUDA_HOME/include" -I"$NCCL_INCLUDE")
  libs=(-L"$cuda_lib" -l:libtorch_cpu.so -l:libtorch_cuda.so -l:libc10.so -l:libc10_cuda.so)
fi
g++ -std=c++17 -O2 -fPIC -shared "${flags[@]}" -D_GLIBCXX_USE_CXX11_ABI=1 -w \
    -I"$inc" -I"$inc/torch/csrc/api/include" "$source_file" -o "$work/liblongctx_c10d.so" \
    -Wl,-z,defs -Wl,--no-as-needed "${libs[@]}" -ldl \
    2>"$work/compile.log" || fail "compile failed (see $work/compile.log)"
mv -f "$work/liblongctx_c10d.so" "$out.tmp" && mv -f "$out.tmp" "$out"
echo "$key" > "$cache/liblongctx_c10d.key"
rm -rf "$work/lib" "$work/debs"
echo "c10d shim: built $out (${nccl:+NCCL and }Gloo)"
