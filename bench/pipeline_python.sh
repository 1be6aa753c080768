#!/usr/bin/env bash
# The whole H&M process cold, side by side on the same files and threads: hmpipe
# (bench/pipelines/full.json in an empty store) and bench/peers/hm_pipeline.py, the same steps as a
# Kaggler would write them in Python (polars, numpy, faiss, implicit; vectorised, no per-customer
# loop). Runs alternate; prints each run's wall seconds and peak memory, each side's seconds per
# stage, the medians and their ratio, and both MAP@12s with the candidate and prediction counts, which
# show it is the same process. Each side starts with the input files in the page cache (read just
# before it, untimed): the Python side's 18 GB peak evicts them, and the hmpipe run after it would
# otherwise read 3.5 GB from disk that the Python run, started right after hmpipe's, finds cached.
#   bench/pipeline_python.sh [RUNS=1] [DATA=data/hm]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}; data=${2:-data/hm}
threads=${HMPIPE_THREADS:-$(nproc)}
hm=$(scripts/build-release.sh hmpipe)
[ -f $data/transactions_train.csv ] || $hm synth $data --scale 1
python3 -c "import polars, numpy, faiss, implicit, scipy, threadpoolctl" 2>/dev/null ||
  python3 -m pip install -q polars numpy faiss-cpu implicit==0.7.3 scipy threadpoolctl
source bench/blas-kernel.sh   # hmpipe and the peers' OpenBLAS: the same kernel
store=bench/out/pipeline-python-store; out=bench/out/pipeline-python
mkdir -p $out
echo "data: $data, $threads threads, $runs run(s) each, alternating"
warm() { cat $data/*.csv $data/*.npy > /dev/null; }
for run in $(seq "$runs"); do
  rm -rf $store
  warm
  /usr/bin/time -f "%e %M" -o $out/hmpipe-$run.time $hm run bench/pipelines/full.json --store $store \
    --set data="$(realpath $data)" --set output="$(realpath $out)/hmpipe" --publish-outside-project --json 2>/dev/null |
    tail -1 > $out/hmpipe-$run.json
  warm
  POLARS_MAX_THREADS=$threads /usr/bin/time -f "%e %M" -o $out/python-$run.time \
    python3 bench/peers/hm_pipeline.py $data $out/python "$threads" 2> $out/python-$run.log > $out/python-$run.json ||
    { echo "the Python pipeline failed: $out/python-$run.log, $out/python-$run.time"; exit 1; }
  echo "run $run: hmpipe $(cut -d' ' -f1 $out/hmpipe-$run.time) s, python $(cut -d' ' -f1 $out/python-$run.time) s"
done
python3 - "$out" "$runs" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
def load(side, run):
    wall, peak = open(f"{out}/{side}-{run}.time").read().split()
    return float(wall), int(peak) // 1024, json.load(open(f"{out}/{side}-{run}.json"))
hm = [load("hmpipe", r) for r in range(1, runs + 1)]
py = [load("python", r) for r in range(1, runs + 1)]
hm_wall, py_wall = statistics.median(r[0] for r in hm), statistics.median(r[0] for r in py)
stages = {s["name"]: s for s in hm[-1][2]["stages"]}
figures = stages["evaluate"]["figures"]
print(f"{'stage':<11} {'hmpipe s':>9} {'python s':>9}   (last run; hmpipe's stages overlap, python's run one after another)")
for name, seconds in py[-1][2]["seconds"].items():
    print(f"{name:<11} {stages[name]['seconds']:9.1f} {seconds:9.1f}")
print(f"wall (median of {runs}): hmpipe {hm_wall:.1f} s (peak {statistics.median(r[1] for r in hm)} MB), "
      f"python {py_wall:.1f} s (peak {statistics.median(r[1] for r in py)} MB)  ->  {py_wall / hm_wall:.2f}x")
last = py[-1][2]
print(f"map@12: hmpipe {figures['map@12']:.6f}, python {last['map@12']:.6f} over {last['evaluated_customers']} customers "
      f"(hmpipe {int(figures['evaluated_customers'])})")
print(f"candidates: hmpipe {int(stages['filter']['figures']['candidates'])}, python {last['candidates']}")
for source in ("rank", "fill", "co-purchase", "popularity"):
    print(f"predictions from {source}: hmpipe {int(figures['predictions.' + source])}, python {last['predictions'].get(source, 0)}")
PY
