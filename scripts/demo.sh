#!/usr/bin/env bash
# One command from a fresh clone to the demo: installs what is missing, builds hmpipe (release, for
# this processor: scripts/build-release.sh), and runs the whole H&M pipeline on synthetic data. Run
# it again: every stage comes from the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
hmpipe=$(scripts/build-release.sh hmpipe)
"$hmpipe" run pipelines/demo.json "$@"
