#!/usr/bin/env bash
# ingest against polars and pandas on the same transactions file, same machine, same threads:
# wall seconds and peak memory, RUNS times each, alternating; prints every run and the medians.
# hmpipe parses all three files (articles, customers, transactions) and writes its artifacts; the
# peers read the transactions file alone into typed columns with customer_id as a category
# (`polars-strings`: as plain strings, less work than ingest does).
#   bench/ingest.sh [RUNS=3] [PEERS="polars pandas", or polars-strings]   (needs data/hm at scale 1)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; peers=${2:-"polars pandas"}
threads=${HMPIPE_THREADS:-$(nproc)}
hm=$(scripts/build-release.sh hmpipe)
[ -f data/hm/transactions_train.csv ] || $hm synth data/hm --scale 1
python3 -c "import polars, pandas" 2>/dev/null || python3 -m pip install -q polars pandas
$hm run pipelines/hm.json --until ingest >/dev/null 2>&1   # hashes the inputs once
measure() {  # prints "seconds peak_MB"
  /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.2f %.0f\n", $1, $2 / 1024}'
}
declare -A secs mem
for _ in $(seq "$runs"); do
  for tool in hmpipe $peers; do
    if [ "$tool" = hmpipe ]; then r=$(HMPIPE_THREADS=$threads measure $hm run pipelines/hm.json --stage ingest)
    else r=$(measure python3 bench/peers/read_transactions.py "$tool" data/hm/transactions_train.csv "$threads"); fi
    secs[$tool]+="$(echo "$r" | cut -d' ' -f1) "; mem[$tool]+="$(echo "$r" | cut -d' ' -f2) "
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "file: data/hm/transactions_train.csv ($(du -h data/hm/transactions_train.csv | cut -f1)), $threads threads"
for tool in hmpipe $peers; do
  echo "$tool: seconds ${secs[$tool]}(median $(echo "${secs[$tool]}" | median)); peak MB ${mem[$tool]}(median $(echo "${mem[$tool]}" | median))"
done
for tool in $peers; do
  ratios=$(paste -d' ' <(echo "${secs[$tool]}" | tr ' ' '\n' | grep .) <(echo "${secs[hmpipe]}" | tr ' ' '\n' | grep .) | awk '{printf "%.2f ", $1 / $2}')
  echo "$tool / hmpipe, pair by pair: ${ratios}(median $(echo "$ratios" | median))"
done
