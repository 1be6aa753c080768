#!/usr/bin/env bash
# Each stage's I/O bound against what it achieved, for the last cold run of a pipeline in a store
# (default: bench/pipeline.sh's). A stage must at least read (decompress) its inputs and write
# (compress and hash) its outputs; at this machine's artifact read and write speeds — measured here
# by bench/ArtifactBench at the store's level 1 over scale-1 columns — that takes
#   bound = input raw bytes / read speed + output raw bytes / write speed
# (file inputs count as read at the CSV scanner's speed, which is not measured here: ingest's bound
# is left out). The kernels' own work (kNN, ALS) is compute-bound and not in this bound.
#   bench/bounds.sh [STORE=bench/out/pipeline-store] [PIPELINE=bench/pipelines/full.json]
set -euo pipefail
cd "$(dirname "$0")/.."
store=${1:-bench/out/pipeline-store}
pipeline=${2:-bench/pipelines/full.json}
bench=$(scripts/build-release.sh artifact-bench)
speeds=$($bench bench/out/artifacts 1 1 3 | tail -n +2)
python3 - "$store" "$pipeline" "$speeds" <<'EOF'
import glob, json, os, sys
sys.path.insert(0, "python")
import hmpipe.format as fmt
store, pipeline, speeds = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
raw = written = read = 0.0
for line in speeds.splitlines():
    name, raw_bytes, stored, ratio, write_mbps, read_mbps, threads, level = line.split(",")
    mb = int(raw_bytes) / 1e6
    raw += mb; written += mb / float(write_mbps); read += mb / float(read_mbps)
write_speed, read_speed = raw / written, raw / read  # byte-weighted over the four columns
runs = [json.load(open(p)) for p in sorted(glob.glob(f"{store}/runs/*.json"))]
cold = [r for r in runs if r["pipeline"] == pipeline and all(s["status"] == "ran" for s in r["stages"])]
if not cold:
    sys.exit(f"no cold run of {pipeline} in {store}: run bench/pipeline.sh first")
run = cold[-1]
def raw_bytes(artifact):
    manifest = fmt.open_artifact(f"{store}/objects/{artifact[:2]}/{artifact}").manifest
    return sum(c["rawSize"] for col in manifest["columns"] for b in col["buffers"] for c in b["chunks"])
print(f"artifact speeds here (level 1, 2 threads, byte-weighted): read {read_speed:.0f} MB/s, write {write_speed:.0f} MB/s")
print(f"{'stage':<11} {'in MB':>8} {'out MB':>8} {'bound s':>8} {'achieved s':>11} {'× bound':>8}")
entries = [json.load(open(p)) for p in glob.glob(f"{store}/cache/*.json")]
for stage in run["stages"]:
    entry = next(e for e in entries if e["stage"] == stage["name"] and e["outputs"] and
                 {k: v["id"] for k, v in e["outputs"].items()} == stage["outputs"])
    inputs = [v for v in entry["inputs"].values() if not v.startswith("file:")]
    files = len(entry["inputs"]) - len(inputs)
    mb_in = sum(raw_bytes(v) for v in inputs) / 1e6
    mb_out = sum(raw_bytes(v) for v in stage["outputs"].values()) / 1e6
    bound = mb_in / read_speed + mb_out / write_speed
    note = " (+ CSV files)" if files else ""
    print(f"{stage['name']:<11} {mb_in:8.0f} {mb_out:8.0f} {bound:8.2f} {stage['seconds']:11.2f} {stage['seconds'] / bound:8.1f}{note}")
EOF
