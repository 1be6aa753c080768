#!/usr/bin/env bash
# The learning-to-rank pipeline (pipelines/hm-ranker.json) on synthetic data: cold wall seconds and
# peak memory (whole process, and per stage from the run record), MAP@12 beside the popularity and
# repurchase + popularity baselines (evaluate's figures); then train-ranker against the xgboost
# Python package (pip) on the same rows and params: train-ranker rerun alone (--stage) REPS times
# against xgboost.train on the features exported as CSV, same threads. Medians.
#   bench/ranker.sh [SCALE=1] [SEED=1] [REPS=3]
# (data in data/hm (scale 1, seed 1) or data/hm-SCALE-sSEED, made when missing; store in bench/out)
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}; seed=${2:-1}; reps=${3:-3}
hm=$(scripts/build-release.sh hmpipe)
data=data/hm-$scale-s$seed; [ "$scale" = 1 ] && [ "$seed" = 1 ] && data=data/hm
[ -f $data/transactions_train.csv ] || $hm synth $data --scale "$scale" --seed "$seed" >/dev/null
python3 -c "import xgboost, polars, numpy" 2>/dev/null || python3 -m pip install -q xgboost polars numpy
store=bench/out/ranker-store-$scale-$seed; out=bench/out/ranker-$scale-$seed
rm -rf $store $out; mkdir -p $out
args=(pipelines/hm-ranker.json --store $store --set data=../$data --set output=../$out)
/usr/bin/time -f "%e %M" -o $out/time $hm run "${args[@]}" --json 2>$out/log | tail -1 > $out/cold.json
for i in $(seq "$reps"); do
  $hm run "${args[@]}" --stage train-ranker --json 2>/dev/null | tail -1 > $out/train-$i.json
done
for s in fit-features fit2-features; do $hm export "${args[@]}" $s.features --out $out/$s.csv >/dev/null; done
threads=2  # train-ranker's fixed thread count (its `threads` param; hm-ranker keeps the default)
rounds=$(python3 -c "import json; print(json.load(open('pipelines/hm-ranker.json'))['vars']['rounds'])")
python3 bench/peers/ranker_xgboost.py "$rounds" "$threads" "$reps" $out/fit-features.csv $out/fit2-features.csv > $out/xgboost.json
python3 - "$out" "$scale" "$seed" "$reps" <<'PY'
import json, statistics, sys
out, scale, seed, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
cold = json.load(open(f"{out}/cold.json"))
wall, peak = open(f"{out}/time").read().split()
stages = {s["name"]: s for s in cold["stages"]}
ev = stages["evaluate"]["figures"]
print(f"hm-ranker, synthetic scale {scale} seed {seed}: cold {float(wall):.0f} s, peak {int(peak) / 1048576:.2f} GB (whole process)")
print(f"  MAP@12 {ev['map@12']:.5f}; popularity {ev['baseline_popularity_map@12']:.5f} ({ev['ratio_to_popularity']:.3f}x); "
      f"repurchase + popularity {ev['baseline_repurchase_popularity_map@12']:.5f} ({ev['baseline_repurchase_popularity_ratio']:.3f}x); "
      f"candidate recall {ev['candidate_recall']:.4f}")
print("  stages by wall seconds (peak: the process's while the stage ran):")
for s in sorted(cold["stages"], key=lambda s: -s.get("seconds", 0))[:12]:
    print(f"    {s['name']:22s} {s.get('seconds', 0):7.1f} s  {s.get('peakMemoryBytes', 0) / 2**30:5.2f} GB")
ours = [[s for s in json.load(open(f"{out}/train-{i}.json"))["stages"] if s["name"] == "train-ranker"][0]["seconds"] for i in range(1, reps + 1)]
peer = json.load(open(f"{out}/xgboost.json"))
t = stages["train-ranker"]["figures"]
print(f"train-ranker: {int(t['training_rows'])} rows x {peer['columns']} features, {int(t['training_customers'])} groups "
      f"(xgboost {peer['version']}: {peer['rows']} rows, {peer['groups']} groups)")
m, p = statistics.median(ours), statistics.median(peer["train_seconds"])
print(f"  median of {reps}: hmpipe train-ranker stage {m:.1f} s (reading its inputs included), "
      f"xgboost.train {p:.1f} s (DMatrix included, CSV load {peer['load_seconds']:.0f} s not)  ->  xgboost / hmpipe {p / m:.2f}")
PY
