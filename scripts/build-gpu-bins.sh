#!/usr/bin/env bash
# Part 1 of the GPU check, on a CPU machine with the Rust toolchain: builds the
# release test binaries and examples with `--features cuda`, strips them and
# puts them in gpu-bins/ (default; first argument overrides) for
# scripts/gpu-check.sh to run on a GPU machine that has no Rust toolchain.
#   gpu-bins/tests/<name>    test executables (by default those named cuda_*;
#                            BLITZ_GPU_ALL_TESTS=1 takes every test binary)
#   gpu-bins/examples/<name> the examples
# The folder must stay under 64 MiB to be carried to the GPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-gpu-bins}"
export CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=symbols

rm -rf "$OUT"
mkdir -p "$OUT/tests" "$OUT/examples"

echo "build-gpu-bins: test binaries"
cargo test --release --workspace --features cuda --no-run --message-format=json 2>/dev/null \
    | python3 -c '
import json, sys, os
all_tests = os.environ.get("BLITZ_GPU_ALL_TESTS") == "1"
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    t = m["target"]
    if not m["profile"]["test"]:
        continue
    name = t["name"]
    if t["kind"] == ["lib"]:
        name = "unit_" + name
    if all_tests or name.startswith("cuda_"):
        print(name, m["executable"])
' > "$OUT/tests.list"
if [ ! -s "$OUT/tests.list" ]; then
    echo "build-gpu-bins: FAILED: no test binary found (does \`cargo test --release --features cuda --no-run\` build?)" >&2
    cargo test --release --workspace --features cuda --no-run
    exit 1
fi
while read -r name exe; do
    cp "$exe" "$OUT/tests/$name"
done < "$OUT/tests.list"
rm "$OUT/tests.list"

echo "build-gpu-bins: examples"
cargo build --release --features cuda --examples
for src in examples/*.rs; do
    name="$(basename "$src" .rs)"
    cp "${CARGO_TARGET_DIR:-target}/release/examples/$name" "$OUT/examples/$name"
done

command -v strip >/dev/null && strip "$OUT"/tests/* "$OUT"/examples/* 2>/dev/null || true
du -sh "$OUT"
ls -l "$OUT"/tests "$OUT"/examples
size_kib=$(du -sk "$OUT" | cut -f1)
if [ "$size_kib" -ge $((64 * 1024)) ]; then
    echo "build-gpu-bins: FAILED: $OUT is ${size_kib} KiB, over the 64 MiB that can be carried" >&2
    exit 1
fi
echo "build-gpu-bins: done; on the GPU machine run: bash scripts/gpu-check.sh $OUT"
