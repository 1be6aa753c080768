#!/usr/bin/env bash
# One command from a fresh clone to a tested build: installs what is missing, checks the format
# (.swift-format; `swift format --in-place -r Sources Tests bench Package.swift` fixes it), builds,
# runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
swift format lint --strict -r Sources Tests bench Package.swift
swift build --build-tests
swift test --skip-build
