#!/usr/bin/env bash
# The whole H&M pipeline (bench/pipelines/full.json: hm.json on the scale-1 synthetic files with
# their 512-d image embeddings) cold in an empty store, then warm (nothing to do), then with
# `--stage rank`: wall seconds and peak memory per stage, and the evaluation's figures.
#   bench/pipeline.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/blas-kernel.sh   # the best OpenBLAS kernel for this processor, whatever the environment presets
hm=$(scripts/build-release.sh hmpipe)
[ -f data/hm/transactions_train.csv ] || $hm synth data/hm --scale 1
store=bench/out/pipeline-store
rm -rf $store
report() {
  python3 -c "
import json, sys
r = json.loads(sys.argv[2])
print(f'{sys.argv[1]}: {r[\"seconds\"]:.1f} s wall')
for s in r['stages']:
    print(f'  {s[\"name\"]:<11} {s[\"status\"]:<7} {s[\"seconds\"]:7.1f} s  peak {s[\"peak_memory_bytes\"] / 2**20:6.0f} MB')
" "$1" "$2"
}
for phase in cold warm "--stage rank"; do
  args=(); [ "$phase" = "--stage rank" ] && args=(--stage rank)
  out=$(/usr/bin/time -f %M -o /tmp/pipeline-mem $hm run bench/pipelines/full.json --store $store "${args[@]}" --json 2>/dev/null | tail -1)
  report "$phase (process peak $(( $(cat /tmp/pipeline-mem) / 1024 )) MB)" "$out"
done
$hm inspect bench/pipelines/full.json evaluate.metrics --store $store 2>&1 | grep -E "^(map@12|baseline|evaluated|test_|candidate|customers_with|distinct|hits|predictions)" | sort -u
