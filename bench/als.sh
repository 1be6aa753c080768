#!/usr/bin/env bash
# als-train against implicit 0.7.3 (pip, CPU) on the same confidence matrix, same hyperparameters
# (15 iterations, regularization 0.01, alpha 1, 3 CG steps, the seed's thresholds and step
# weights) and the same threads: seconds per iteration (median of 15), whole stage / fit, peak
# memory, and the quality of both models on the held-out week (precision@12, MAP@12) with both final
# losses computed by implicit's own loss function. implicit runs as its docs ask: its own
# `num_threads` threads, OpenBLAS single-threaded.
#   bench/als.sh [SCALE=1] [FACTORS="64 128"]
# (synthetic data at SCALE in data/hm (1) or data/hm-SCALE, made when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/blas-kernel.sh   # implicit's BLAS and hmpipe: the same kernel, the best for this processor
scale=${1:-1}; factors=${2:-"64 128"}
threads=${HMPIPE_THREADS:-$(nproc)}
hm=$(scripts/build-release.sh hmpipe)
data=data/hm; [ "$scale" = 1 ] || data=data/hm-$scale
[ -f $data/transactions_train.csv ] || $hm synth $data --scale "$scale"
python3 -c "import implicit, scipy, zstandard" 2>/dev/null || python3 -m pip install -q implicit==0.7.3 scipy zstandard
store=bench/out/store
run() { $timed $hm run bench/pipelines/full.json --store $store --set data=../../$data "$@" --json 2>/dev/null | tail -1; }
timed=""
field() { python3 -c "import json,sys; r=json.loads(sys.argv[1]); s={x['name']:x for x in r['stages']}; print(eval(sys.argv[2]))" "$1" "$2"; }
split=$(run --until split)
train=$(field "$split" "s['split']['outputs']['train']"); test=$(field "$split" "s['split']['outputs']['test']")
echo "data: $data (scale $scale), $threads threads"
for f in $factors; do
  timed="/usr/bin/time -f %M -o /tmp/hm-als-mem"
  out=$(run --stage als --set factors="$f" --set iterations=15)
  timed=""
  users=$(field "$out" "s['als']['outputs']['users']"); items=$(field "$out" "s['als']['outputs']['items']")
  per=$(field "$out" "sorted(v for k,v in s['als']['figures'].items() if k.startswith('seconds.iteration'))[7]")
  stage=$(field "$out" "round(s['als']['seconds'], 1)")
  peer=$(OPENBLAS_NUM_THREADS=1 /usr/bin/time -f "%M" -o /tmp/implicit-mem \
    python3 bench/peers/als_implicit.py $store "$train" "$test" "$users" "$items" "$f" 15 "$threads")
  python3 - "$f" "$per" "$stage" "$(cat /tmp/hm-als-mem)" "$peer" <<'PY'
import json, sys
f, per, stage, mem, peer = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4]) // 1024, json.loads(sys.argv[5])
imp = peer["implicit_seconds_per_iteration"]
print(f"factors {f}: {peer['users']} users x {peer['items']} items, {peer['cells']} cells")
print(f"  seconds/iteration (median of 15): hmpipe {per:.2f}, implicit {imp:.2f}  ->  {imp / per:.2f}x")
print(f"  whole: hmpipe stage {stage} s (peak {mem} MB), implicit fit {peer['implicit_fit_seconds']:.1f} s (peak {peer['implicit_peak_mb']} MB)")
for name in ("precision12", "map12", "loss"):
    h, i = peer[name]["hmpipe"], peer[name]["implicit"]
    print(f"  {name}: hmpipe {h:.6f}, implicit {i:.6f}  ({(h - i) / i * 100:+.2f}%)")
print(f"  (quality over {peer['evaluated_customers']} test customers in the model)")
PY
done
