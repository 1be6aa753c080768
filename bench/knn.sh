#!/usr/bin/env bash
# embed-neighbours against faiss-cpu IndexFlatIP (pip) on the same 105,542-row embedding matrix
# (synthetic image embeddings at scale 1) and threads, at each width: stage seconds, peak memory,
# GFLOP/s counted as faiss does (2·n²·d per all-pairs product; hmpipe multiplies each block pair
# once, so it does half of those), and how often the two agree on the neighbours.
#   bench/knn.sh [DIMS="512 2048"] [K=10]
set -euo pipefail
cd "$(dirname "$0")/.."
widths=${1:-"512 2048"}; k=${2:-10}
threads=${HMPIPE_THREADS:-$(nproc)}
hm=$(scripts/build-release.sh hmpipe)
python3 -c "import faiss, zstandard" 2>/dev/null || python3 -m pip install -q faiss-cpu zstandard
source bench/blas-kernel.sh   # faiss's bundled OpenBLAS and hmpipe: the same kernel
store=bench/out/store
[ -f data/hm/transactions_train.csv ] || $hm synth data/hm --scale 1
for d in $widths; do
  data=data/hm; [ "$d" = 512 ] || data=data/hm-d$d
  [ -f $data/image_embeddings.npy ] || $hm synth $data --scale 1 --embedding-dims "$d"
  out=$(/usr/bin/time -f %M -o /tmp/knn-mem $hm run bench/pipelines/full.json --store $store --set data=../../$data \
    --set k="$k" --stage neighbours --json 2>/dev/null | tail -1)
  read -r seconds neighbours articles < <(python3 -c "import json,sys; s={x['name']:x for x in json.loads(sys.argv[1])['stages']}; \
print(s['neighbours']['seconds'], s['neighbours']['outputs']['neighbours'], s['ingest']['outputs']['articles'])" "$out")
  peer=$(/usr/bin/time -f %M -o /tmp/faiss-mem python3 bench/peers/knn_faiss.py \
    $data/image_embeddings.npy $data/image_embeddings_ids.npy "$k" "$threads" $store "$neighbours" "$articles")
  python3 - "$seconds" "$(cat /tmp/knn-mem)" "$peer" "$(cat /tmp/faiss-mem)" "$k" <<'PY'
import json, sys
secs, mem, peer, fmem = float(sys.argv[1]), int(sys.argv[2]) // 1024, json.loads(sys.argv[3]), int(sys.argv[4]) // 1024
n, d = peer["rows"], peer["dims"]
flops = 2 * n * n * d / 1e9
print(f"{n} x {d}, k={sys.argv[5]}:")
print(f"  hmpipe embed-neighbours stage {secs:.1f} s ({flops / secs:.0f} GFLOP/s as 2n²d/s), peak {mem} MB")
print(f"  faiss IndexFlatIP search {peer['faiss_search_seconds']:.1f} s ({peer['faiss_gflops']:.0f} GFLOP/s), "
      f"whole script {peer['faiss_total_seconds']:.1f} s, peak {fmem} MB  ->  {peer['faiss_search_seconds'] / secs:.2f}x")
print(f"  neighbour agreement (1% sample): {peer['agreement'] * 100:.2f}%")
PY
done
