#!/usr/bin/env python3
"""The goals of `scripts/compare-peer.sh`, read from the runs' JSON lines.

    scripts/compare_peer_goals.py PEER.jsonl OURS.jsonl BT.jsonl KERNELS.jsonl

PEER is PyTorch + BLiTZ (`blitz_bench.py`), BT bayesian-torch
(`bayestorch_bench.py`), OURS `examples/workloads --json`, KERNELS
`examples/kernels --json`. Prints the per-workload medians with the ratio
peer / blitz (> 1: blitz is faster), then the goals of issue 26, each met or
not. The FLOP counts come from the workloads' own `product_flops_per_step`
(the products of one training step), not from this file.
"""
import json
import statistics
import sys

# Issue 26's goals: (workload or kernel shape, goal).
STEP_GOALS_VS_BT = [("boston_readme", 20), ("mnist_mlp400", 4), ("mnist_lenet", 4)]
GEMM_GOALS = [("256^3", 80), ("1024^3", 80), ("mlp784_400_b128 x.W1t", 70), ("mlp784_400_b128 h.W2t", 70)]
VS_BLITZ_GOALS = [("boston_readme", "mc100_infer_ms", 20), ("sample_kl_4M", "ms_per_draw_fwd_bwd", 20)]
SAMPLER_FLOOR_GOAL = 2.0
STEP_PEAK_GOALS = [("mnist_mlp400", 50)]  # issue 17's goal, kept
TIME_KEYS = ["ms_per_step", "mc100_infer_ms", "ms_per_draw_fwd_bwd"]
QUALITY_KEYS = ["test_rmse_k_usd", "ci2sd_coverage", "test_loglik", "test_acc_mean_weights"]


def load(path):
    rows = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            rows.setdefault(r.get("workload", "?"), []).append(r)
    return rows


def med(rows, w, k):
    v = [r[k] for r in rows.get(w, []) if k in r]
    return statistics.median(v) if v else None


def ratio(a, b):
    return a / b if a is not None and b else None


def main(argv):
    if len(argv) != 5:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    peer, ours, bt = load(argv[1]), load(argv[2]), load(argv[3])
    kern = [json.loads(l) for l in open(argv[4]) if l.strip().startswith("{")]
    machine = next((r for r in kern if "fma_peak_gflops" in r), {})

    print("| workload | measure | peer median | blitz median | peer / blitz |")
    print("| --- | --- | --- | --- | --- |")
    for w in peer:
        for k in TIME_KEYS + QUALITY_KEYS:
            p, o = med(peer, w, k), med(ours, w, k)
            if p is None or o is None:
                continue
            shown = f"**{p / o:.1f}x**" if k in TIME_KEYS and o else ""
            print(f"| {w} | {k} | {p:.4g} | {o:.4g} | {shown} |")

    goals = []
    for w, g in STEP_GOALS_VS_BT:
        goals.append((f"{w} step vs bayesian-torch", g, ratio(med(bt, w, "ms_per_step"), med(ours, w, "ms_per_step")), "x", False))
    for w, k, g in VS_BLITZ_GOALS:
        goals.append((f"{w} {k} vs PyTorch + BLiTZ", g, ratio(med(peer, w, k), med(ours, w, k)), "x", False))
    fused = [r for r in kern if r.get("family") == "sampler" and r.get("variant") != "reference" and r.get("pct_of_peak")]
    floor = min((100.0 / r["pct_of_peak"] for r in fused), default=None)
    goals.append(("fused sample + KL / copy floor, best variant", SAMPLER_FLOOR_GOAL, floor, "x", True))
    for shape, g in GEMM_GOALS:
        best = max((r["pct_of_peak"] for r in kern if r.get("family") == "gemm" and shape in r.get("shape", "") and "pct_of_peak" in r), default=None)
        goals.append((f"GEMM {shape}, best variant, % of FMA peak", g, best, "%", False))
    peak = machine.get("fma_peak_gflops")
    for w, g in STEP_PEAK_GOALS:
        flops, step = med(ours, w, "product_flops_per_step"), med(ours, w, "ms_per_step")
        got = 100 * flops / (step * 1e6) / peak if flops and step and peak else None
        goals.append((f"{w} step's products, % of FMA peak", g, got, "%", False))

    print()
    print(f"machine: {machine}")
    print("| measure | goal | measured | met |")
    print("| --- | --- | --- | --- |")
    for name, goal, got, unit, at_most in goals:
        sign = "≤" if at_most else "≥"
        if got is None:
            print(f"| {name} | {sign} {goal}{unit} | (not measured) | |")
            continue
        met = got <= goal if at_most else got >= goal
        print(f"| {name} | {sign} {goal}{unit} | {got:.1f}{unit} | {'yes' if met else '**no**'} |")


if __name__ == "__main__":
    main(sys.argv)
