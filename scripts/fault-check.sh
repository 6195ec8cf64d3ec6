#!/usr/bin/env bash
# Fault injection on `blitz fit` (issue 24's fault results), run by hand as
# root on Linux (it mounts small tmpfs folders); not part of CI.
#
#   1. K SIGKILLs at random moments (some inside the checkpoint write), each
#      followed by `--resume`: the finished model must hold the same tensors,
#      bit for bit, as an uninterrupted run (scripts/same_tensors.py), and no
#      stray temporary file may be left.
#   2. A disk that fills up mid-run: the error is one line, and the file at
#      --out is the last checkpoint that fitted, intact and loadable.
#   3. The output folder remounted read-only mid-run: the same.
#
# usage: scripts/fault-check.sh [KILLS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS=${1:-20}
cargo build --release --bin blitz -q
B=$PWD/target/release/blitz
DATA=$PWD/data/boston_house_prices.csv
W=$(mktemp -d)
trap 'umount "$W/small" 2>/dev/null || true; umount "$W/ro" 2>/dev/null || true; rm -rf "$W"' EXIT
FIT=(fit "$DATA" --target MEDV --test-every 4 --epochs 300 --checkpoint-every 1 --seed 7 --quiet)

echo "== 1. $KILLS kills, each resumed"
"$B" "${FIT[@]}" --out "$W/ref.safetensors"
kills=0 runs=0
rm -f "$W/run.safetensors"
while :; do
  args=("${FIT[@]}" --out "$W/run.safetensors")
  [[ -e $W/run.safetensors ]] && args+=(--resume)
  "$B" "${args[@]}" 2>"$W/err" &
  pid=$!
  runs=$((runs + 1))
  if (( kills < KILLS )); then
    sleep "0.$(printf '%03d' $((RANDOM % 400 + 20)))"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  fi
  set +e
  wait "$pid" 2>/dev/null
  status=$?
  set -e
  (( status == 0 )) && break
  if (( status != 137 )); then echo "run $runs failed ($status): $(cat "$W/err")"; exit 1; fi
done
python3 scripts/same_tensors.py "$W/ref.safetensors" "$W/run.safetensors"
stray=$(find "$W" -maxdepth 1 -name '.run.safetensors.tmp-*' | wc -l)
echo "kills: $kills, runs: $runs; resumed model = uninterrupted model, bit for bit; stray temporary files: $stray"
(( stray == 0 ))

echo "== 2. a disk that fills up mid-run"
mkdir -p "$W/small"
size=$(stat -c %s "$W/ref.safetensors")
# Room for one checkpoint and a little: the second write cannot fit beside the first.
mount -t tmpfs -o size=$(( (size * 3 / 2 / 4096 + 1) * 4096 )) tmpfs "$W/small"
set +e
"$B" "${FIT[@]}" --out "$W/small/m.safetensors" 2>"$W/err"
status=$?
set -e
echo "exit $status: $(cat "$W/err")"
(( status == 1 )) && (( $(wc -l <"$W/err") == 1 ))
ls -la "$W/small"
"$B" evaluate "$W/small/m.safetensors" "$DATA" --json >/dev/null 2>&1 \
  && echo "the file left at --out loads (the last checkpoint that fitted)" \
  || { [[ ! -e $W/small/m.safetensors ]] && echo "refused before training: nothing written"; }
umount "$W/small"

echo "== 3. the output folder remounted read-only mid-run"
mkdir -p "$W/ro"
mount -t tmpfs -o size=8m tmpfs "$W/ro"
"$B" "${FIT[@]}" --epochs 4000 --out "$W/ro/m.safetensors" 2>"$W/err" &
pid=$!
for _ in $(seq 100); do [[ -e $W/ro/m.safetensors ]] && break; sleep 0.05; done
mount -o remount,ro "$W/ro"
set +e
wait "$pid"
status=$?
set -e
echo "exit $status: $(cat "$W/err")"
(( status == 1 )) && (( $(wc -l <"$W/err") == 1 ))
"$B" evaluate "$W/ro/m.safetensors" "$DATA" --json >/dev/null && echo "the checkpoint left at --out loads"
umount "$W/ro"
echo "fault-check: all held"
