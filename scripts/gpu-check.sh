#!/usr/bin/env bash
# Part 2 of the GPU check, on the GPU machine (CUDA driver, NVRTC and PyTorch's
# CUDA libraries, no Rust toolchain), from the repository root:
#     bash scripts/gpu-check.sh [gpu-bins]
# with the folder made by scripts/build-gpu-bins.sh. It
#   1. finds libnvrtc and libcublas (system CUDA, or the nvidia-* wheels that
#      PyTorch installs) and puts their folders on LD_LIBRARY_PATH;
#   2. runs every test binary there with BLITZ_REQUIRE_GPU=1, so a GPU test
#      that would skip fails instead (GPU kernels vs CPU, autograd parity,
#      both GEMMs, the sampler);
#   3. trains each example briefly on the CPU and then with `--device cuda`,
#      printing both results side by side;
#   4. prints a summary, exiting non-zero if anything failed.
# Fits in about 5 minutes; BLITZ_GPU_EXAMPLE_TIMEOUT (seconds, default 100) bounds each run.
# GPU_CHECK_DEVICES (default "cpu cuda") picks the example devices; GPU_CHECK_FULL=1
# trains boston and mnist_lenet with their full settings (the quality figures).
set -uo pipefail
cd "$(dirname "$0")/.."
BINS="${1:-gpu-bins}"
EX_TIMEOUT="${BLITZ_GPU_EXAMPLE_TIMEOUT:-100}"
declare -a SUMMARY=()
FAILED=0
record() { SUMMARY+=("$(printf '%-6s %s' "$1" "$2")"); [ "$1" = FAIL ] && FAILED=1; return 0; }

if [ ! -d "$BINS/tests" ]; then
    echo "gpu-check: no $BINS/tests: run scripts/build-gpu-bins.sh on the CPU machine first" >&2
    exit 2
fi

echo "== device"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

# shellcheck source=scripts/gpu-env.sh
source "$(dirname "$0")/gpu-env.sh"
export BLITZ_REQUIRE_GPU=1 BLITZ_REQUIRE_NVRTC=1

echo "== tests"
for t in "$BINS"/tests/*; do
    name="$(basename "$t")"
    log="$(mktemp)"
    start=$(date +%s)
    # --nocapture: the tests print their measured GPU/CPU errors into the log.
    timeout 240 "$t" --nocapture --test-threads=1 >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    result="$(grep -E '^test result:' "$log" | tail -n1)"
    if [ $rc -eq 0 ]; then
        record PASS "test $name (${secs}s): $result"
    else
        record FAIL "test $name (rc $rc, ${secs}s): $result"
        grep -E -A3 'panicked' "$log" | head -n 60
    fi
    grep -E '^device:|SKIPPED' "$log" | head -n 5
    sed "s/^/    [$name] /" "$log" | grep -E 'relative error|worst|differ|largest|finite' | head -n 200
    rm -f "$log"
done

echo "== examples (CPU, then GPU, same seed and settings)"
example_args() {
    case "$1" in
        boston)
            if [ "${GPU_CHECK_FULL:-0}" = 1 ]; then
                echo "--data data/boston_house_prices.csv --svg /tmp/blitz-$1.svg --json"
            else
                echo "--epochs 60 --seed 1 --data data/boston_house_prices.csv --svg /tmp/blitz-$1.svg --json"
            fi ;;
        mnist_lenet)
            if [ "${GPU_CHECK_FULL:-0}" = 1 ]; then
                echo "--epochs 3 --data data/mnist10k --json"
            else
                echo "--epochs 1 --limit 2000 --seed 1 --data data/mnist10k --json"
            fi ;;
        mnist_mlp) echo "--epochs 1 --limit 2000 --seed 1 --data data/mnist10k --json" ;;
        sine) echo "--epochs 50" ;;
        sequence_forecast) echo "--epochs 5 --svg /tmp/blitz-sf.svg --json" ;;
        *) echo "-" ;;  # no short settings known: not run
    esac
}
for ex in "$BINS"/examples/*; do
    name="$(basename "$ex")"
    args="$(example_args "$name")"
    if [ "$args" = "-" ]; then
        record SKIP "example $name: no short settings known to this script"
        continue
    fi
    for device in ${GPU_CHECK_DEVICES:-cpu cuda}; do
        log="$(mktemp)"
        start=$(date +%s)
        # shellcheck disable=SC2086
        timeout "$EX_TIMEOUT" "$ex" $args --device "$device" >"$log" 2>&1
        rc=$?
        secs=$(( $(date +%s) - start ))
        last="$(grep -v '^\s*$' "$log" | tail -n 3 | tr '\n' ' ' | cut -c1-400)"
        if grep -q "unknown argument.*--device\|unknown argument --device" "$log"; then
            record SKIP "example $name: has no --device option yet"
            rm -f "$log"
            break
        elif [ $rc -eq 0 ]; then
            record PASS "example $name --device $device (${secs}s): $last"
        else
            record FAIL "example $name --device $device (rc $rc, ${secs}s): $last"
        fi
        rm -f "$log"
    done
done

echo
echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
if [ $FAILED -ne 0 ]; then
    echo "gpu-check: FAILED"
    exit 1
fi
echo "gpu-check: all passed"
