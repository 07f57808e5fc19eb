#!/usr/bin/env bash
# Quick start line 2: build and run every test; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== citations resolve inside the repository (docs/semantics/README.md §2)"
scripts/check-citations.sh
scripts/build.sh
echo "== unit tests and conformance cases (ctest)"
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600)
echo "== golden traces on the model"
build/kvmsim replay traces/
echo "== golden traces: compact page tables vs the per-SPTE reference (model,model-ref)"
build/kvmsim replay --backend model,model-ref traces/ | tail -1
echo "== conformance: model (upstream profile)"
build/kvmsim conformance --backend model | grep -E '^(FAILED|conformance:)'
echo "== conformance: model on the per-SPTE reference page tables"
build/kvmsim conformance --backend model-ref | grep -E '^(FAILED|conformance:)'
echo "== conformance: model and this host's /dev/kvm (fails if /dev/kvm is missing or everything skipped)"
build/kvmsim conformance --backend both --require-kvm | grep -E '^(FAILED|conformance:)'
echo "== differential: model vs this host's /dev/kvm on the traces measured here"
build/kvmsim replay --backend both --require-kvm traces/pvm
echo "== differential: model vs this host's /dev/kvm on every trace (fails only where they disagree)"
diff_log="$(mktemp)"
trap 'rm -f "$diff_log"' EXIT
rc=0
build/kvmsim replay --backend both --require-kvm --divergences-only traces/ > "$diff_log" || rc=$?
grep -E '^(DIVERGE|replay:)' "$diff_log" || true
if [[ $rc -ne 0 ]]; then cat "$diff_log"; exit "$rc"; fi
echo "== the nested TDP oracle: Linux 6.12 under QEMU TCG, every flavour paired with the model (docs/nested.md)"
scripts/nested/ci.sh --build-dir build
echo "== fuzz: fixed seeds, model vs this host's /dev/kvm, bounded (docs/fuzz.md)"
scripts/fuzz-ci.sh
