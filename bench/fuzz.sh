#!/usr/bin/env bash
# Fuzzes the artifact reader with libFuzzer for a bounded time: open, verify --deep and read of any
# bytes must throw or succeed, never crash, hang or allocate past the claim. The corpus starts from
# real objects (a tiny synth + ingest run). Prints libFuzzer's summary; exit 0 when nothing crashed.
#   bench/fuzz.sh [SECONDS=60] [WORKDIR=bench/out/fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}; work=${2:-bench/out/fuzz}
mkdir -p "$work/corpus" "$work/crashes"
swift build -c release --product artifact-fuzz --build-path .build/fuzz \
  -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xswiftc -use-ld=lld >&2  # gold fails on libFuzzer
swift build --product hmpipe >&2
if [ -z "$(ls -A "$work/corpus")" ]; then
  seed=$(mktemp -d)
  cat > "$seed/p.json" <<'JSON'
{"store": "store", "stages": [
  {"name": "data", "kind": "synth", "params": {"scale": 0.0005, "seed": 1, "embedding_dims": 8}},
  {"name": "ingest", "kind": "ingest", "inputs": {"articles": "data.articles", "customers": "data.customers", "transactions": "data.transactions"}}]}
JSON
  .build/debug/hmpipe run "$seed/p.json" >/dev/null 2>&1
  find "$seed/store/objects" -type f -size -2M -exec cp {} "$work/corpus/" \;
  rm -rf "$seed"
fi
echo "fuzzing the artifact reader for ${seconds}s from $(ls "$work/corpus" | wc -l) seeds" >&2
status=0
.build/fuzz/release/artifact-fuzz "$work/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=$((2 << 20)) -artifact_prefix="$work/crashes/" -print_final_stats=1 2>"$work/log" || status=$?
grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY)" "$work/log" || true
echo "crashes: $(ls "$work/crashes" | wc -l) (exit $status)"
exit $status
