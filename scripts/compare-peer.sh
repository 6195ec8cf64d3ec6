#!/usr/bin/env bash
# Side-by-side CPU benchmark: the two peers (PyTorch + BLiTZ 0.2.8 and the
# faster bayesian-torch 0.5, ../shared/peer) and blitz's workload runner, run
# alternately RUNS times each (default 3) on THREADS threads (default 2); then
# the kernel variant bench once (GEMM and the sampler, against the machine's
# measured FMA peak and copy bandwidth); then a table of per-workload medians
# with the ratios peer / ours (> 1: blitz is faster) and the goals table of
# issue 17, each goal met or not.
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

python3 - "$OUT/peer.jsonl" "$OUT/ours.jsonl" "$OUT/bt.jsonl" "$OUT/kernels.jsonl" <<'PY'
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

bt = load(sys.argv[3])
kern = [json.loads(l) for l in open(sys.argv[4]) if l.strip().startswith("{")]
machine = next((r for r in kern if "fma_peak_gflops" in r), {})
def med(rows, w, k):
    v = [r[k] for r in rows.get(w, []) if k in r]
    return statistics.median(v) if v else None
def ratio(a, b):
    return a / b if a is not None and b else None
goals = []
for w, g in [("boston_readme", 20), ("mnist_mlp400", 4), ("mnist_lenet", 4)]:
    goals.append((f"{w} step vs bayesian-torch", g, ratio(med(bt, w, "ms_per_step"), med(ours, w, "ms_per_step")), "x"))
# mc100 in every run: each run's peer time over the same run's blitz time, the worst of them.
pm = [r["mc100_infer_ms"] for r in peer.get("boston_readme", []) if "mc100_infer_ms" in r]
om = [r["mc100_infer_ms"] for r in ours.get("boston_readme", []) if "mc100_infer_ms" in r]
goals.append(("mc100 vs BLiTZ, worst run", 20, min((p / o for p, o in zip(pm, om)), default=None), "x"))
goals.append(("sample_kl_4M vs BLiTZ", 20, ratio(med(peer, "sample_kl_4M", "ms_per_draw_fwd_bwd"), med(ours, "sample_kl_4M", "ms_per_draw_fwd_bwd")), "x"))
fused = [r for r in kern if r.get("family") == "sampler" and r.get("variant") != "reference"]
floor = min((100.0 / r["pct_of_peak"] for r in fused if r.get("pct_of_peak")), default=None)
goals.append(("sample_kl_4M forward / copy floor (at most)", 2, floor, "x"))
for shape in ["256^3", "1024^3"]:
    best = max((r["pct_of_peak"] for r in kern if r.get("family") == "gemm" and shape in r.get("shape", "")), default=None)
    goals.append((f"GEMM {shape} best variant, % of FMA peak", 75, best, "%"))
# The mlp400 step's FLOPs: forward 2·B·Σ in·out, backward twice that (dX and dW), one draw.
flops = 6 * 128 * (784 * 400 + 400 * 400 + 400 * 10)
step = med(ours, "mnist_mlp400", "ms_per_step")
peak = machine.get("fma_peak_gflops")
goals.append(("mnist_mlp400 step, % of FMA peak", 50, (100 * flops / (step * 1e6) / peak) if step and peak else None, "%"))
print()
print(f"machine: {machine}")
print("| measure | goal | measured | met |")
print("| --- | --- | --- | --- |")
for name, goal, got, unit in goals:
    if got is None:
        print(f"| {name} | {goal}{unit} | (not measured) | |")
        continue
    met = got <= goal if "at most" in name else got >= goal
    print(f"| {name} | {'≤' if 'at most' in name else '≥'} {goal}{unit} | {got:.1f}{unit} | {'yes' if met else '**no**'} |")
PY
