#!/usr/bin/env bash
# Quick start line 2: build and run every test; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
echo "== unit tests (ctest)"
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600)
echo "== golden traces on the model"
build/kvmsim replay traces/
