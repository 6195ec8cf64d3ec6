#!/usr/bin/env bash
# Conformal intervals against the model's own ±2σ on Boston: N seeded random
# 90/10 splits (UCI protocol), `blitz fit --conformal 0.2` with the defaults
# otherwise; prints one JSON line per split and a summary (mean ± s.e.).
#   usage: scripts/conformal-boston.sh [SPLITS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
cargo build --release --bin blitz -q
B=$PWD/target/release/blitz
for s in $(seq 0 $((N - 1))); do
  "$B" fit data/boston_house_prices.csv --target MEDV --test-fraction 0.1 --seed "$s" --conformal 0.2 --json --quiet
done | tee /dev/stderr | python3 -c '
import json, sys, statistics as st
rows = [json.loads(l) for l in sys.stdin if l.strip()]
def ms(k):
    v = [r[k] for r in rows]
    return "%.4f ± %.4f" % (st.mean(v), st.stdev(v) / len(v) ** 0.5)
print(len(rows), "splits: rmse", ms("test_rmse"), " loglik", ms("test_loglik"))
print("  ±2σ:                coverage", ms("coverage_2sd"), " mean width", ms("mean_width_2sd"))
print("  conformal (α = 0.1): coverage", ms("conformal_coverage"), " mean width", ms("mean_width"))
'
