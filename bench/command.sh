#!/usr/bin/env bash
# A command stage's cost over its program's own run time, on the scale-1 data (31.8M transactions):
# a no-op program (sh writing an empty file), and the transactions table handed to Python (the
# hmpipe package reads all five columns into numpy) and back (Python writes it as a table output,
# hmpipe checks and commits it). Side by side: polars reading the same five columns from Parquet
# (written once here), and the bare programs timed outside hmpipe. Medians of REPS.
#   bench/command.sh [REPS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-5}
hm=$(scripts/build-release.sh hmpipe)
[ -f data/hm/transactions_train.csv ] || $hm synth data/hm --scale 1
venv=bench/out/venv-polars
[ -x $venv/bin/python ] || { python3 -m venv $venv && $venv/bin/pip install -q polars numpy zstandard; }
py=$venv/bin/python
store=bench/out/command-store
pipeline=bench/pipelines/command.json
PATH="$PWD/$venv/bin:$PATH" $hm run $pipeline --store $store --until ingest >/dev/null 2>&1
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
stage_seconds() {  # stage → its seconds in a forced rerun, REPS times
  for _ in $(seq "$reps"); do
    PATH="$PWD/$venv/bin:$PATH" $hm run $pipeline --store $store --stage "$1" --json 2>/dev/null | tail -1 |
      $py -c "import json,sys; print([s for s in json.load(sys.stdin)['stages'] if s['name']=='$1'][0]['seconds'])"
  done
}
wall() {  # command… → wall seconds, REPS times
  for _ in $(seq "$reps"); do s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; done
}
object=$($hm inspect $pipeline ingest.transactions --store $store | awk '/^artifact/ {print $2}')
path=$store/objects/${object:0:2}/$object
parquet=bench/out/transactions.parquet
[ -f $parquet ] || $py - "$path" "$parquet" <<'PY'
import sys; sys.path.insert(0, "python")
import hmpipe, polars as pl
a = hmpipe.open_artifact(sys.argv[1])
pl.DataFrame({n: a.raw_column(n)["values"] for n in a.columns}).write_parquet(sys.argv[2])
PY
echo "transactions: $($hm inspect $pipeline ingest.transactions --store $store | sed -n 2,3p | tr '\n' ' ')"
echo "parquet: $(du -h $parquet | cut -f1)"
report() { printf "%-52s %s; median %s s\n" "$1" "$(echo $2 | tr '\n' ' ')" "$(echo "$2" | median)"; }
report "noop command stage (hmpipe --stage noop)" "$(stage_seconds noop)"
report "  bare: sh -c ': > file'" "$(wall sh -c ': > /dev/null')"
report "read: 31.8M rows into numpy in a command stage" "$(stage_seconds read)"
report "  bare: the same script, outside hmpipe" "$(wall $py bench/pipelines/command_handover.py read "$path" /tmp/hmpipe-bench-done)"
report "  polars.read_parquet, same five columns" "$(wall $py -c "import polars as pl; pl.read_parquet('$parquet')")"
report "roundtrip: read, write back, hmpipe commits it" "$(stage_seconds roundtrip)"
report "  bare: the same script, outside hmpipe" "$(wall $py bench/pipelines/command_handover.py roundtrip "$path" /tmp/hmpipe-bench-table)"
rm -f /tmp/hmpipe-bench-done /tmp/hmpipe-bench-table
