#!/usr/bin/env bash
# The learning-to-rank pipeline's validation MAP@12 over several synthetic data sets (one per seed,
# made when missing in data/hm-SCALE-sSEED), beside the popularity and repurchase + popularity
# baselines on the same split: each seed's figures, then the mean and spread of the ratios.
#   bench/ranker_seeds.sh [SCALE=0.1] [SEEDS="1 2 3"]
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-0.1}; seeds=${2:-"1 2 3"}
hm=$(scripts/build-release.sh hmpipe)
mkdir -p bench/out
for seed in $seeds; do
  data=data/hm-$scale-s$seed
  [ -f $data/transactions_train.csv ] || $hm synth $data --scale "$scale" --seed "$seed" >/dev/null
  store=bench/out/ranker-seeds-store
  start=$(date +%s.%N)
  $hm run pipelines/hm-ranker.json --store $store --set data=../$data --set output=../bench/out/ranker-seeds-$seed \
    --json 2>/dev/null | tail -1 > bench/out/ranker-seed-$seed.json
  echo "$start $(date +%s.%N)" > bench/out/ranker-seed-$seed.seconds
done
python3 - "$scale" $seeds <<'PY'
import json, statistics, sys
scale, seeds = sys.argv[1], sys.argv[2:]
ratios, rep = [], []
for seed in seeds:
    r = json.load(open(f"bench/out/ranker-seed-{seed}.json"))
    ev = [s for s in r["stages"] if s["name"] == "evaluate"][0]["figures"]
    start, end = map(float, open(f"bench/out/ranker-seed-{seed}.seconds").read().split())
    secs = end - start
    ratios.append(ev["ratio_to_popularity"]); rep.append(ev["baseline_repurchase_popularity_ratio"])
    print(f"scale {scale} seed {seed}: MAP@12 {ev['map@12']:.5f}, popularity {ev['baseline_popularity_map@12']:.5f} "
          f"({ev['ratio_to_popularity']:.3f}x), repurchase + popularity {ev['baseline_repurchase_popularity_map@12']:.5f} "
          f"({ev['baseline_repurchase_popularity_ratio']:.3f}x), recall {ev['candidate_recall']:.4f}, {secs:.0f} s (store shared across seeds: ingest onwards recomputed)")
spread = lambda xs: f"mean {statistics.mean(xs):.3f}, min {min(xs):.3f}, max {max(xs):.3f}" + (f", sd {statistics.stdev(xs):.3f}" if len(xs) > 1 else "")
print(f"ratio to popularity: {spread(ratios)}; repurchase + popularity: {spread(rep)}")
PY
