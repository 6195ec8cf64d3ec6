#!/usr/bin/env bash
# CI for the CUDA backend on a machine without a GPU.
#   1. installs NVRTC 13 from PyPI (`nvidia-cuda-nvrtc`: libnvrtc.so.13 and its
#      libnvrtc-builtins) into a cache folder, once;
#   2. points the loader at it;
#   3. runs `cargo test --workspace --features cuda` with BLITZ_REQUIRE_NVRTC=1,
#      so the NVRTC test compiles every kernel source (a syntax error fails CI),
#      the no-driver tests check the typed errors, and GPU tests print why they skip.
# Extra arguments go to `cargo test` (e.g. `-p blitz-kernels`).
set -euo pipefail
cd "$(dirname "$0")/.."

NVRTC_DIR="${BLITZ_NVRTC_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blitz/nvrtc13}"
NVRTC_SPEC="${BLITZ_NVRTC_SPEC:-nvidia-cuda-nvrtc>=13,<14}"

find_lib() { find "$NVRTC_DIR" -name 'libnvrtc.so.13*' 2>/dev/null | head -n1; }

if [ -z "$(find_lib)" ]; then
    echo "ci-cuda: installing $NVRTC_SPEC into $NVRTC_DIR"
    PY="$(command -v python3 || command -v python)"
    "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --target "$NVRTC_DIR" "$NVRTC_SPEC"
fi
LIB="$(find_lib)"
if [ -z "$LIB" ]; then
    echo "ci-cuda: FAILED: pip's nvidia-cuda-nvrtc did not provide libnvrtc.so.13 under $NVRTC_DIR" >&2
    exit 1
fi
LIBDIR="$(dirname "$LIB")"
if ! ls "$LIBDIR"/libnvrtc-builtins.so.13* >/dev/null 2>&1; then
    echo "ci-cuda: FAILED: libnvrtc-builtins.so.13.* missing beside $LIB" >&2
    exit 1
fi
echo "ci-cuda: NVRTC from $LIBDIR: $(cd "$LIBDIR" && ls libnvrtc*.so* | tr '\n' ' ')"

export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export BLITZ_REQUIRE_NVRTC=1
cargo test --workspace --features cuda "$@"

# libtest captures what a passing test prints: show the GPU tests' skip reasons.
echo "ci-cuda: GPU tests on this machine:"
cargo test --features cuda -p blitz-kernels --test cuda_ops -- --nocapture --test-threads=1 2>&1 | grep -oE 'SKIPPED.*' | head -n 3 || true
cargo test --features cuda -p blitz-autograd --test cuda_parity -- --nocapture --test-threads=1 2>&1 | grep -oE 'SKIPPED.*' | head -n 3 || true
