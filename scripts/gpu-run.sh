#!/usr/bin/env bash
# The whole GPU run (the CUDA and GPU-run issues) in one call on the GPU
# machine, from the repository root, with the folder that
# scripts/build-gpu-bins.sh made (it also holds the BLiTZ wheel and a copy of
# the peer's benchmark script: see scripts/prepare-gpu-run.sh):
#     bash scripts/gpu-run.sh [gpu-bins]
#  1. scripts/gpu-check.sh: every GPU test (CPU/GPU parity included) and the
#     examples trained on the GPU with their full settings (quality figures);
#  2. the workload runner on the GPU (`--quick`: fewer epochs, same per-step work);
#  3. the peer (PyTorch + BLiTZ 0.2.8) on the same GPU, same workloads;
#  4. gpu_bench, five times: the fused sampler against a device-to-device
#     copy, and the hand-written GEMM against cuBLAS at 1024³ and 4096³.
# Logs go to $OUT (the device tool brings them back) or /tmp/gpu-run.
set -uo pipefail
cd "$(dirname "$0")/.."
BINS="${1:-gpu-bins}"
LOGS="${OUT:-/tmp/gpu-run}"
mkdir -p "$LOGS"
# shellcheck source=scripts/gpu-env.sh
source scripts/gpu-env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null

echo "== 1. GPU tests and examples"
GPU_CHECK_DEVICES=cuda GPU_CHECK_FULL=1 BLITZ_GPU_EXAMPLE_TIMEOUT=150 timeout 360 \
    bash scripts/gpu-check.sh "$BINS" >"$LOGS/gpu-check.log" 2>&1
echo "gpu-check exit $?"
sed -n '/== summary/,$p' "$LOGS/gpu-check.log"

echo "== 2. workloads, blitz on cuda"
timeout 150 "$BINS/examples/workloads" --json --quick --device cuda --data data 2>&1 | tee "$LOGS/ours.jsonl"

echo "== 3. workloads, the peer on cuda"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$BINS"/wheels/*.whl 2>&1 | tail -n 2
mkdir -p /tmp/pdata/uci
ln -sf "$PWD/data/boston_house_prices.csv" /tmp/pdata/uci/boston_house_prices.csv
ln -sfn "$PWD/data/mnist10k" /tmp/pdata/mnist10k
PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 timeout 200 \
    python3 "$BINS/peer/blitz_bench.py" --device cuda --quick --data /tmp/pdata 2>&1 | tee "$LOGS/peer.jsonl"

echo "== 4. gpu_bench (five runs: the sampler's fractions move with the clocks)"
: >"$LOGS/gpu_bench.jsonl" # a warm machine keeps /tmp: count this call's runs only
for run in 1 2 3 4 5; do
    timeout 60 "$BINS/examples/gpu_bench" 2>&1 | tee -a "$LOGS/gpu_bench.jsonl"
done
echo "fused sample+KL fractions of copy bandwidth (math, run by run):"
grep '"sampler"' "$LOGS/gpu_bench.jsonl" | sed -E 's/.*"math": "([A-Za-z]+)".*"sample_kl_fraction_of_copy_bw": ([0-9.]+).*/\1 \2/' | awk '{a[$1]=a[$1]" "$2} END {for (k in a) print k":"a[k]}'
echo "== done"
