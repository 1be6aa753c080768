#!/usr/bin/env bash
# `hmpipe runs`, `diff` and `report` on a store holding RECORDS run records of the scale-1
# learning-to-rank pipeline (41 stages): each must answer in well under a second. The store is a
# hard-linked copy of bench/ranker.sh's (made first when missing: a cold scale-1 run, ~6 minutes),
# topped up with real, fully cached reruns until it holds RECORDS records. Prints each command's
# times over REPS repetitions and the median.
#   bench/history.sh [RECORDS=200] [REPS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-200}
reps=${2:-5}
hm=$(scripts/build-release.sh hmpipe)
source_store=bench/out/ranker-store-1-1
[ -d $source_store ] || bench/ranker.sh 1 1 0
store=bench/out/history-store
[ -d $store ] || cp -al $source_store $store
args=(pipelines/hm-ranker.json --store $store --set data=../data/hm --set output=../bench/out/ranker-1-1)
have=$(ls $store/runs | wc -l)
if [ "$have" -lt "$records" ]; then
  echo "adding $((records - have)) cached reruns to $store (it holds $have run records)"
  for _ in $(seq $((records - have))); do $hm run "${args[@]}" >/dev/null 2>&1; done
fi
echo "store: $(ls $store/runs | wc -l) run records ($(du -sh $store/runs | cut -f1)), $(ls $store/cache | wc -l) cache entries"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for what in "runs" "runs --json" "diff" "diff --json" "report --out bench/out/history-report.html"; do
  times=()
  for _ in $(seq "$reps"); do
    # shellcheck disable=SC2086
    s=$(date +%s.%N); $hm $what "${args[@]}" >/dev/null; e=$(date +%s.%N)
    times+=("$(echo "$e - $s" | bc)")
  done
  printf "%-20s %s s; median %s s\n" "$what" "${times[*]}" "$(printf "%s\n" "${times[@]}" | median)"
done
echo "report: $(du -h bench/out/history-report.html | cut -f1)"
