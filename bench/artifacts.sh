#!/usr/bin/env bash
# Artifact write/read throughput against the zstd command-line tool on the same bytes, same level,
# same thread count. Prints a table; quote the medians.
#   bench/artifacts.sh [SCALE=0.25] [LEVEL=3] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-0.25}; level=${2:-3}; runs=${3:-5}
threads=${HMPIPE_THREADS:-$(nproc)}
out=bench/out/artifacts
mkdir -p "$out"
command -v zstd >/dev/null || { echo "needs the zstd command (apt-get install zstd)" >&2; exit 1; }
bench=$(scripts/build-release.sh artifact-bench)
HMPIPE_THREADS=$threads $bench "$out" "$scale" "$level" "$runs" > "$out/hmpipe.csv"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-14s %12s %8s | %10s %10s | %10s %10s | %8s\n" column raw_MB ratio hm_write zstd_comp hm_read zstd_dec zstd_ratio
tail -n +2 "$out/hmpipe.csv" | while IFS=, read -r name raw stored ratio write read threads lvl; do
  file="$out/$name.raw"
  comp=(); dec=()
  for _ in $(seq 0 "$runs"); do
    s=$(date +%s.%N); zstd -q -f -"$level" -T"$threads" "$file" -o "$file.zst"; e=$(date +%s.%N); comp+=("$(echo "$e - $s" | bc)")
    s=$(date +%s.%N); zstd -q -f -d -T"$threads" "$file.zst" -o "$file.out"; e=$(date +%s.%N); dec+=("$(echo "$e - $s" | bc)")
  done
  c=$(printf "%s\n" "${comp[@]:1}" | median); d=$(printf "%s\n" "${dec[@]:1}" | median)
  mb=$(echo "$raw / 1000000" | bc -l)
  zr=$(echo "$raw / $(stat -c %s "$file.zst")" | bc -l)
  printf "%-14s %12.1f %8.2f | %8.0f/s %8.0f/s | %8.0f/s %8.0f/s | %8.2f\n" "$name" "$mb" "$ratio" "$write" "$(echo "$mb / $c" | bc -l)" "$read" "$(echo "$mb / $d" | bc -l)" "$zr"
done
echo "(MB/s, medians of $runs runs after a warm-up; level $level, $threads threads; hmpipe includes SHA-256 of every chunk)"
