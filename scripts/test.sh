#!/usr/bin/env bash
# Quick start line 2: build and run every test; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
echo "== unit tests and conformance cases (ctest)"
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600)
echo "== golden traces on the model"
build/kvmsim replay traces/
echo "== conformance: model (upstream profile)"
build/kvmsim conformance --backend model | grep -E '^(FAILED|conformance:)'
echo "== conformance: model and this host's /dev/kvm (fails if /dev/kvm is missing or everything skipped)"
build/kvmsim conformance --backend both --require-kvm | grep -E '^(FAILED|conformance:)'
echo "== differential: model vs this host's /dev/kvm on the traces measured here"
build/kvmsim replay --backend both --require-kvm traces/pvm
echo "== fuzz: fixed seeds, model vs this host's /dev/kvm, bounded (docs/fuzz.md)"
scripts/fuzz-ci.sh
