#!/usr/bin/env bash
# Builds a release product for this machine's processor and prints the binary's path.
#   scripts/build-release.sh [PRODUCT=hmpipe]
# Swift's default target is baseline x86-64 (SSE2, no AVX): the hot loops then run 4 floats wide.
# Built with -target-cpu native they use the machine's full vector width (AVX2 or AVX-512), which is
# what users who build from source want; HMPIPE_TARGET_CPU=x86-64 gives the portable build instead
# (bench/README.md has both figures). Each target has its own build folder, so switching never
# forces a full rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
product=${1:-hmpipe}
cpu=${HMPIPE_TARGET_CPU:-native}
swift build -c release --product "$product" --build-path ".build/cpu-$cpu" \
  -Xswiftc -target-cpu -Xswiftc "$cpu" -Xswiftc -DHMPIPE_CPU_"${cpu//-/_}" >&2
echo ".build/cpu-$cpu/release/$product"
