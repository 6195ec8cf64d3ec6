#!/usr/bin/env bash
# Builds and runs scripts/cuda/sample_kl_variants.cu on the GPU machine
# (nvcc from /usr/local/cuda), with the fast sampler's NVRTC options.
set -euo pipefail
cd "$(dirname "$0")/../.."
NVCC="${NVCC:-/usr/local/cuda/bin/nvcc}"
"$NVCC" -O3 -std=c++17 -arch=sm_90 -fmad=true -ftz=true -prec-sqrt=false \
    -o /tmp/sample_kl_variants scripts/cuda/sample_kl_variants.cu
/tmp/sample_kl_variants
