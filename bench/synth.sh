#!/usr/bin/env bash
# hmpipe synth at a scale (default 1: 31.8M transactions, ~3.5 GB of CSV): wall seconds, peak memory,
# and bytes written, RUNS times; prints each run and the medians.
#   bench/synth.sh [SCALE=1] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}; runs=${2:-3}
out=bench/out/synth
hm=$(scripts/build-release.sh hmpipe)
secs=(); mem=()
for _ in $(seq "$runs"); do
  rm -rf "$out"
  r=$(/usr/bin/time -f "%e %M" $hm synth "$out" --scale "$scale" 2>&1 >/dev/null | tail -1)
  secs+=("$(echo "$r" | cut -d' ' -f1)"); mem+=("$(echo "$r" | awk '{printf "%.0f", $2 / 1024}')")
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "scale $scale: wrote $(du -sh "$out" | cut -f1) ($(ls "$out" | tr '\n' ' '))"
echo "seconds: ${secs[*]} (median $(printf "%s\n" "${secs[@]}" | median))"
echo "peak MB: ${mem[*]} (median $(printf "%s\n" "${mem[@]}" | median))"
