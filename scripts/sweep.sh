#!/usr/bin/env bash
# The width / batch / prediction sweep of issue 26, side by side: bayesian-torch
# (scripts/sweep_peer.py) and blitz (examples/sweep.rs), alternating RUNS times
# (default 3) on THREADS threads (default 2); then the medians per case and the
# ratios peer / blitz (> 1: blitz is faster) against the issue's goals.
#     scripts/sweep.sh
# Makes the peers' Python environment first (../shared/peer/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${BLITZ_SHARED:-../shared}"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-2}"
OUT=target/sweep
mkdir -p "$OUT"
: >"$OUT/peer.jsonl"
: >"$OUT/ours.jsonl"
VENV="$(bash "$SHARED/peer/setup.sh")"
cargo build --release --example sweep >&2
for run in $(seq "$RUNS"); do
    echo "run $run/$RUNS: bayesian-torch" >&2
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE THREADS="$THREADS" "$VENV/bin/python" scripts/sweep_peer.py >>"$OUT/peer.jsonl"
    echo "run $run/$RUNS: blitz" >&2
    RAYON_NUM_THREADS="$THREADS" target/release/examples/sweep >>"$OUT/ours.jsonl"
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
def medians(f):
    by = {}
    for l in open(f):
        d = json.loads(l); by.setdefault(d["case"], []).append(d["ms"])
    return {k: statistics.median(v) for k, v in by.items()}
peer, ours = medians(f"{out}/peer.jsonl"), medians(f"{out}/ours.jsonl")
goals = {"train_w1600_b128": 4.0, "train_w400_b1024": 2.2, "predict100_w400_n1024": 2.5, "predict100_w1600_n1024": 2.5}
print("| case | bayesian-torch ms | blitz ms | peer / blitz | goal |")
print("| --- | --- | --- | --- | --- |")
for k in peer:
    r = peer[k] / ours[k]
    g = goals.get(k)
    met = "" if g is None else (f"≥ {g}x: " + ("met" if r >= g else "**not met**"))
    print(f"| {k} | {peer[k]:.2f} | {ours[k]:.2f} | {r:.2f}x | {met} |")
PY
