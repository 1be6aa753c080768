#!/usr/bin/env bash
# The learning-to-rank pipeline (pipelines/hm-ranker.json) on synthetic data: cold wall seconds and
# peak memory (whole process, and per stage from the run record), MAP@12 beside the popularity and
# repurchase + popularity baselines (evaluate's figures); then, with REPS > 0, train-ranker against
# the xgboost Python package (pip) on the same rows and params (every not-bought row: negatives=0,
# as sampling is hmpipe's): train-ranker rerun alone (--stage) REPS times against xgboost.train on
# the features exported as CSV, same threads. Medians. Peak memory: the process's resident set,
# sampled every 0.2 s.
#   bench/ranker.sh [SCALE=1] [SEED=1] [REPS=3]
# (data in data/hm (scale 1, seed 1) or data/hm-SCALE-sSEED, made when missing; store in bench/out)
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}; seed=${2:-1}; reps=${3:-3}
hm=$(scripts/build-release.sh hmpipe)
data=data/hm-$scale-s$seed; [ "$scale" = 1 ] && [ "$seed" = 1 ] && data=data/hm
[ -f $data/transactions_train.csv ] || $hm synth $data --scale "$scale" --seed "$seed" >/dev/null
store=bench/out/ranker-store-$scale-$seed; out=bench/out/ranker-$scale-$seed
rm -rf $store $out; mkdir -p $out
args=(pipelines/hm-ranker.json --store $store --set data=../$data --set output=../$out)
start=$(date +%s.%N)
$hm run "${args[@]}" --json 2>$out/log > $out/cold.out & pid=$!
peak=0
while kill -0 $pid 2>/dev/null; do
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status 2>/dev/null || true)
  [ -n "$rss" ] && [ "$rss" -gt "$peak" ] && peak=$rss
  sleep 0.2
done
wait $pid
tail -1 $out/cold.out > $out/cold.json
echo "$(python3 -c "import time; print(time.time() - $start)") $peak" > $out/time
if [ "$reps" -gt 0 ]; then
  for i in $(seq "$reps"); do
    $hm run "${args[@]}" --set negatives=0 --stage train-ranker --json 2>/dev/null | tail -1 > $out/train-$i.json
  done
  for s in fit-features fit2-features; do $hm export "${args[@]}" $s.features --out $out/$s.csv >/dev/null; done
  threads=2  # train-ranker's fixed thread count (its `threads` param; hm-ranker keeps the default)
  rounds=$(python3 -c "import json; print(json.load(open('pipelines/hm-ranker.json'))['vars']['rounds'])")
  # The newest xgboost and the 1.7 line Debian's libxgboost (hmpipe's) comes from, each in its own venv.
  for version in ${XGBOOST_VERSIONS:-3.2.0 1.7.6}; do
    venv=bench/out/venv-xgboost-$version
    [ -x $venv/bin/python ] || { python3 -m venv $venv && $venv/bin/pip install -q "xgboost==$version" polars numpy; }
    $venv/bin/python bench/peers/ranker_xgboost.py "$rounds" "$threads" "$reps" $out/fit-features.csv $out/fit2-features.csv \
      > $out/xgboost-$version.json
  done
fi
python3 - "$out" "$scale" "$seed" "$reps" <<'PY'
import json, statistics, sys
out, scale, seed, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
cold = json.load(open(f"{out}/cold.json"))
wall, peak = open(f"{out}/time").read().split()
stages = {s["name"]: s for s in cold["stages"]}
ev = stages["evaluate"]["figures"]
print(f"hm-ranker, synthetic scale {scale} seed {seed}: cold {float(wall):.0f} s, peak {int(peak) / 1048576:.2f} GB resident (whole process)")
print(f"  MAP@12 {ev['map@12']:.5f}; popularity {ev['baseline_popularity_map@12']:.5f} ({ev['ratio_to_popularity']:.3f}x); "
      f"repurchase + popularity {ev['baseline_repurchase_popularity_map@12']:.5f} ({ev['baseline_repurchase_popularity_ratio']:.3f}x); "
      f"candidate recall {ev['candidate_recall']:.4f}")
print("  stages by wall seconds (peak: the process's while the stage ran):")
for s in sorted(cold["stages"], key=lambda s: -s.get("seconds", 0))[:12]:
    print(f"    {s['name']:22s} {s.get('seconds', 0):7.1f} s  {s.get('peak_memory_bytes', 0) / 2**30:5.2f} GB")
if reps == 0:
    sys.exit(0)
runs = [[s for s in json.load(open(f"{out}/train-{i}.json"))["stages"] if s["name"] == "train-ranker"][0] for i in range(1, reps + 1)]
t = runs[0]["figures"]
stage, training = statistics.median(r["seconds"] for r in runs), statistics.median(r["figures"]["seconds.training"] for r in runs)
print(f"train-ranker on every row (negatives=0): {int(t['training_rows'])} rows, {int(t['training_customers'])} groups; "
      f"median of {reps}: stage {stage:.1f} s, of which training {training:.1f} s (matrix and rounds)")
import glob
for path in sorted(glob.glob(f"{out}/xgboost-*.json")):
    peer = json.load(open(path))
    p = statistics.median(peer["train_seconds"])
    print(f"  xgboost {peer['version']} (pip): {peer['rows']} rows x {peer['columns']} features, {peer['groups']} groups; "
          f"xgboost.train {p:.1f} s (DMatrix included, CSV load not)  ->  xgboost / hmpipe training {p / training:.2f}")
PY
