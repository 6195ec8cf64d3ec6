#!/usr/bin/env bash
# Where each workload's CPU time goes: runs the workload runner under
# `perf record` (software clock, DWARF call stacks) and prints one Markdown
# table per workload (scripts/profile_breakdown.py): each kernel family's
# share of the CPU samples, by phase of the step (forward, backward,
# optimizer, the 100-draw prediction). These are the measured causes behind
# the issue-17 goals table (BENCHMARKS.md).
#     scripts/profile-workloads.sh [WORKLOAD ...]   (default: all five)
# Needs `perf` (Debian: linux-perf) and perf_event_paranoid ≤ 2. Threads:
# THREADS (default 2). Data: target/profile/*.data.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${THREADS:-2}"
OUT=target/profile
mkdir -p "$OUT"
cargo build --release --example workloads >&2
names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then
    names=(boston_readme mnist_mlp400 mnist_lenet sample_kl_4M)
fi
for w in "${names[@]}"; do
    extra=()
    # The prediction is one 100-draw run of a few ms: repeat it so that it
    # holds enough samples to be read (the timing key is still the first run's).
    [[ $w == boston_readme ]] && extra=(--mc100-repeat 200)
    RAYON_NUM_THREADS="$THREADS" perf record -q -e cpu-clock -F 999 --call-graph dwarf,32768 -o "$OUT/$w.data" \
        -- target/release/examples/workloads --json --only "$w" "${extra[@]}" >"$OUT/$w.json"
    cat "$OUT/$w.json" >&2
    perf script -i "$OUT/$w.data" -F tid,time,ip,sym 2>/dev/null | python3 scripts/profile_breakdown.py --title "$w"
done
