# Sourced by scripts/longctx and scripts/bench-vs-pytorch.sh: chooses the malloc that libtorch runs on.
# Every training step frees and reallocates hundreds of large tensors; glibc's malloc keeps much of that freed memory
# resident (the small bench model at L=8192 with checkpointing peaks at 3.6 GiB under glibc, 2.1 GiB under tcmalloc,
# which is also faster). tcmalloc is preloaded when installed (apt-get install libtcmalloc-minimal4).
# LONGCTX_ALLOCATOR: auto (default), tcmalloc (insist on it) or system (keep the C library's malloc).

find_tcmalloc() {
  local name dir
  for name in libtcmalloc_minimal.so.4 libtcmalloc.so.4; do
    for dir in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib \
        /usr/local/lib; do
      [ -e "$dir/$name" ] && { echo "$dir/$name"; return 0; }
    done
  done
  return 1
}

# Exports LD_PRELOAD for the chosen allocator; returns 1 with a message when the setting cannot be honoured.
preload_allocator() {
  local choice="${LONGCTX_ALLOCATOR:-auto}" lib
  case "$choice" in
    auto|tcmalloc)
      if lib="$(find_tcmalloc)"; then
        case ":${LD_PRELOAD:-}:" in
          *":$lib:"*) ;;
          *) export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" ;;
        esac
      elif [ "$choice" = tcmalloc ]; then
        echo "longctx: LONGCTX_ALLOCATOR=tcmalloc, but no libtcmalloc is installed (apt-get install libtcmalloc-minimal4)" >&2
        return 1
      fi ;;
    system) ;;
    *) echo "longctx: LONGCTX_ALLOCATOR must be auto, tcmalloc or system, got '$choice'" >&2; return 1 ;;
  esac
}
