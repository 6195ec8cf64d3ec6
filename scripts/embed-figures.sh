#!/usr/bin/env bash
# The "Embedding" figures of BENCHMARKS.md: the light build's crates, the
# stripped size of examples/embed (release, and the small `embed` profile),
# each build and `blitz predict` as whole processes on one row (20 runs
# each, alternating: wall time and peak memory, min / median / max), and
# the in-process latency (examples/predict_latency.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cargo build -q --release --bin blitz
cargo build -q --release --no-default-features --example embed --example predict_latency
cp target/release/examples/embed "$tmp/embed-release"
cargo build -q --profile embed --no-default-features --example embed
cp target/embed/examples/embed "$tmp/embed-small"

echo "light build: $(cargo tree -p blitz --no-default-features -e normal --prefix none --format '{p}' |
  grep -v '(/' | sed 's/ (\*)$//' | sort -u | wc -l) crates outside the workspace"
strip -o "$tmp/stripped" "$tmp/embed-release"
echo "embed, release, stripped: $(stat -c %s "$tmp/stripped") bytes"
echo "embed, --profile embed (stripped): $(stat -c %s "$tmp/embed-small") bytes"

data=data/boston_house_prices.csv
target/release/blitz fit "$data" --target MEDV --hidden 50 --epochs 5 --quiet --out "$tmp/m.safetensors"
sed -n 2,3p "$data" >"$tmp/one.csv"
summary() { sort -n | awk '{ v[NR] = $1 } END { printf "%s / %s / %s", v[1], v[int((NR + 1) / 2)], v[NR] }'; }
declare -A wall mem
names=(embed-release embed-small blitz-predict)
for _ in $(seq 20); do
  for n in "${names[@]}"; do
    case $n in
      blitz-predict) cmd=(target/release/blitz predict "$tmp/m.safetensors" "$tmp/one.csv") ;;
      *) cmd=("$tmp/$n" "$tmp/m.safetensors" "$tmp/one.csv") ;;
    esac
    t0=$(date +%s%N)
    "${cmd[@]}" >/dev/null
    t1=$(date +%s%N)
    wall[$n]+="$(( (t1 - t0) / 1000 )) "
    mem[$n]+="$( { /usr/bin/time -f %M "${cmd[@]}" >/dev/null; } 2>&1 | tail -1) "
  done
done
for n in "${names[@]}"; do
  echo "$n, one row: wall µs $(tr ' ' '\n' <<<"${wall[$n]}" | sed '/^$/d' | summary), peak KiB $(tr ' ' '\n' <<<"${mem[$n]}" | sed '/^$/d' | summary)"
done

target/release/examples/predict_latency --calls 10000 --seconds 3
