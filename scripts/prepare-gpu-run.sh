#!/usr/bin/env bash
# Part 1 of the GPU run, on a CPU machine with the Rust toolchain and network:
# builds gpu-bins/ (scripts/build-gpu-bins.sh) and adds what the GPU machine
# cannot fetch: the BLiTZ 0.2.8 wheel and a copy of the peer's benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-gpu-bins}"
bash scripts/build-gpu-bins.sh "$OUT"
mkdir -p "$OUT/wheels" "$OUT/peer"
python3 -m pip download -q --no-deps blitz-bayesian-pytorch==0.2.8 -d "$OUT/wheels"
cp "${BLITZ_PEER_DIR:-../shared/peer}/blitz_bench.py" "$OUT/peer/"
du -sh "$OUT"
