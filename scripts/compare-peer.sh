#!/usr/bin/env bash
# Side-by-side CPU benchmark: the two peers (PyTorch + BLiTZ 0.2.8 and the
# faster bayesian-torch 0.5, ../shared/peer) and blitz's workload runner, run
# alternately RUNS times each (default 3) on THREADS threads (default 2); then
# the kernel variant bench once (GEMM and the sampler, against the machine's
# measured FMA peak and copy bandwidth); then a table of per-workload medians
# with the ratios peer / ours (> 1: blitz is faster) and the goals table of
# issue 26, each goal met or not (scripts/compare_peer_goals.py, which reads
# the FLOP counts the workloads print).
#     scripts/compare-peer.sh [--only boston_readme,...] [--quick]
# Logs: target/compare-peer/{peer,bt,ours,kernels}.jsonl. Makes the peers'
# Python environment first (../shared/peer/setup.sh: large, once per machine).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${BLITZ_SHARED:-../shared}"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-2}"
ARGS=("$@")
OUT=target/compare-peer
mkdir -p "$OUT"
: >"$OUT/peer.jsonl"
: >"$OUT/bt.jsonl"
: >"$OUT/ours.jsonl"

VENV="$(bash "$SHARED/peer/setup.sh")"
cargo build --release --example workloads --example kernels >&2
for run in $(seq "$RUNS"); do
    echo "run $run/$RUNS: peer" >&2
    # OPENBLAS_* are set on some machines for old numpy builds and slow a current
    # one: unset them for the peer alone, as the workplace notes advise.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE THREADS="$THREADS" \
        "$VENV/bin/python" "$SHARED/peer/blitz_bench.py" --data "$SHARED/data" "${ARGS[@]}" >>"$OUT/peer.jsonl"
    echo "run $run/$RUNS: bayesian-torch" >&2
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE THREADS="$THREADS" \
        "$VENV/bin/python" "$SHARED/peer/bayestorch_bench.py" --data "$SHARED/data" >>"$OUT/bt.jsonl"
    echo "run $run/$RUNS: blitz" >&2
    RAYON_NUM_THREADS="$THREADS" target/release/examples/workloads --json "${ARGS[@]}" >>"$OUT/ours.jsonl"
done
echo "kernel variants (gemm, sampler)" >&2
RAYON_NUM_THREADS="$THREADS" target/release/examples/kernels --json --only gemm,sampler --svg "$OUT/roofline.svg" >"$OUT/kernels.jsonl"

python3 scripts/compare_peer_goals.py "$OUT/peer.jsonl" "$OUT/ours.jsonl" "$OUT/bt.jsonl" "$OUT/kernels.jsonl"
