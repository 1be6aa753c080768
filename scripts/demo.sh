#!/usr/bin/env bash
# One command from a fresh clone to the demo: installs what is missing, builds hmpipe (release, for
# this processor: scripts/build-release.sh), and runs both H&M pipelines on synthetic data: the
# seed's process (pipelines/demo.json) and the learning-to-rank one (pipelines/demo-ranker.json),
# each ending with its MAP@12 beside the baselines. Run it again: every stage comes from the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
hmpipe=$(scripts/build-release.sh hmpipe)
"$hmpipe" run pipelines/demo.json "$@"
"$hmpipe" run pipelines/demo-ranker.json "$@"
