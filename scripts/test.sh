#!/usr/bin/env bash
# Quick start line 2: build and run every test; exits non-zero on any failure.
# A real kernel is never optional: the nested TDP oracle (docs/nested.md) needs no /dev/kvm and always
# runs. The steps against this host's own /dev/kvm run when it opens; otherwise each prints one SKIP
# line with the reason (these development machines have none; users' hosts do).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== citations resolve inside the repository (docs/semantics/README.md §2)"
scripts/check-citations.sh
echo "== the include graph has layers and no loop (docs/architecture.md)"
scripts/check-layers.sh
scripts/build.sh
echo "== figures and counts in README, conformance/README and docs/ match the tool (scripts/figures.sh)"
scripts/check-figures.sh
echo "== unit tests and conformance cases (ctest)"
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600)
echo "== golden traces on the model"
build/kvmsim replay traces/
echo "== golden traces: compact page tables vs the per-SPTE reference (model,model-ref)"
build/kvmsim replay --backend model,model-ref traces/ | tail -1
echo "== conformance: model (default profile)"
build/kvmsim conformance --backend model | grep -E '^(FAILED|conformance:)'
echo "== conformance: model on the per-SPTE reference page tables"
build/kvmsim conformance --backend model-ref | grep -E '^(FAILED|conformance:)'

# This host's /dev/kvm: one probe decides, and its reason is the SKIP line.
host_kvm=1
if ! why="$(build/kvmsim probe 2>&1 >/dev/null)"; then
  host_kvm=0
  echo "== SKIP every step on this host's /dev/kvm: ${why#kvmsim: }"
fi
if [[ $host_kvm -eq 1 ]]; then
  echo "== conformance: model and this host's /dev/kvm"
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
fi
echo "== the nested TDP oracle: real kernels under QEMU TCG, every flavour paired with the model (docs/nested.md)"
scripts/nested/ci.sh --build-dir build
echo "== fuzz: fixed seeds, bounded (docs/fuzz.md)"
scripts/fuzz-ci.sh
echo "== sharded campaigns: 2 GNU parallel workers give the unsharded run's report (docs/fuzz.md)"
scripts/shard-test.sh build
echo "== sanitizers: ASan+UBSan+LSan build; unit tests, every trace, conformance, fuzz seeds (docs/fuzz.md)"
scripts/sanitize.sh
echo "== libFuzzer: every target for 45 s on the sanitizer build (docs/fuzz.md)"
scripts/fuzz-libfuzzer.sh --time 45
