#!/usr/bin/env bash
# A no-op rerun of a pipeline whose inputs and artifacts total several GB must take well under a
# second: nothing unchanged is re-hashed or re-read. Runs the pipeline cold once (minutes), then
# times RUNS warm reruns and `status`, printing each and the medians.
#   bench/noop-rerun.sh [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
hm=$(scripts/build-release.sh hmpipe)
[ -f data/hm/transactions_train.csv ] || $hm synth data/hm --scale 1
$hm run bench/pipelines/noop.json >/dev/null 2>&1 || $hm run bench/pipelines/noop.json
store=bench/out/store
echo "inputs: $(du -shL data/hm/*.csv | awk '{s=s" "$2"="$1} END {print s}')"
echo "store:  $(du -sh $store/objects | cut -f1) of objects ($(find $store/objects -type f | wc -l) artifacts)"
raw=$(for f in $store/cache/*.json; do python3 -c "import json,sys; print(sum(o['rawBytes'] for o in json.load(open(sys.argv[1]))['outputs'].values()))" "$f"; done | paste -sd+ | bc)
echo "raw artifact bytes: $(echo "scale=2; $raw / 1000000000" | bc) GB"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for what in run status; do
  times=()
  for _ in $(seq "$runs"); do
    s=$(date +%s.%N); $hm $what bench/pipelines/noop.json >/dev/null 2>&1; e=$(date +%s.%N)
    times+=("$(echo "$e - $s" | bc)")
  done
  echo "warm $what: ${times[*]} s; median $(printf "%s\n" "${times[@]}" | median) s"
done
/usr/bin/time -v $hm run bench/pipelines/noop.json --json 2>&1 >/dev/null | grep -E "Maximum resident|File system inputs" | sed 's/^\s*/warm run: /'
