#!/usr/bin/env bash
# Side-by-side CPU benchmark: the peer (PyTorch + BLiTZ 0.2.8, ../shared/peer)
# and blitz's workload runner, run alternately RUNS times each (default 3) on
# THREADS threads (default 2), then a table of per-workload medians and the
# ratio peer / ours (> 1: blitz is faster).
#     scripts/compare-peer.sh [--only boston_readme,...] [--quick]
# Logs: target/compare-peer/{peer,ours}.jsonl. Makes the peer's Python
# environment first (../shared/peer/setup.sh: large, once per machine).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${BLITZ_SHARED:-../shared}"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-2}"
ARGS=("$@")
OUT=target/compare-peer
mkdir -p "$OUT"
: >"$OUT/peer.jsonl"
: >"$OUT/ours.jsonl"

VENV="$(bash "$SHARED/peer/setup.sh")"
cargo build --release --example workloads >&2
for run in $(seq "$RUNS"); do
    echo "run $run/$RUNS: peer" >&2
    # OPENBLAS_* are set on some machines for old numpy builds and slow a current
    # one: unset them for the peer alone, as the workplace notes advise.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE THREADS="$THREADS" \
        "$VENV/bin/python" "$SHARED/peer/blitz_bench.py" --data "$SHARED/data" "${ARGS[@]}" >>"$OUT/peer.jsonl"
    echo "run $run/$RUNS: blitz" >&2
    RAYON_NUM_THREADS="$THREADS" target/release/examples/workloads --json "${ARGS[@]}" >>"$OUT/ours.jsonl"
done

python3 - "$OUT/peer.jsonl" "$OUT/ours.jsonl" <<'PY'
import json, statistics, sys
def load(path):
    rows = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            rows.setdefault(r["workload"], []).append(r)
    return rows
peer, ours = load(sys.argv[1]), load(sys.argv[2])
keys = ["ms_per_step", "mc100_infer_ms", "ms_per_draw_fwd_bwd"]
quality = ["test_rmse_k_usd", "ci2sd_coverage", "test_loglik", "test_acc_mean_weights"]
print("| workload | measure | peer median | blitz median | peer / blitz |")
print("| --- | --- | --- | --- | --- |")
for w in peer:
    for k in keys + quality:
        p = [r[k] for r in peer[w] if k in r]
        o = [r[k] for r in ours.get(w, []) if k in r]
        if not p or not o:
            continue
        mp, mo = statistics.median(p), statistics.median(o)
        ratio = f"**{mp / mo:.1f}x**" if k in keys else ""
        print(f"| {w} | {k} | {mp:.4g} | {mo:.4g} | {ratio} |")
PY
