#!/usr/bin/env bash
# CI for the nested TDP oracle (docs/nested.md): every oracle flavour, paired with the model.
#   1. setup.sh --flavour all: pinned packages (cached under BUILD/nested/cache) and, once per cache, the
#      swprot kvm.ko/kvm-amd.ko rebuilds: 6.12 from the headers packages, 7.3 in a debootstrapped trixie build
#      root (cold: ≈10-15 min on 2 busy cores; later runs reuse both, see docs/nested.md "Timing").
#   2. kvmsim replay --backend model,nested traces/nested traces/content traces/real: one boot per profile the traces
#      name (linux-6.12, -swprot, -nx, -shadow, -no-eager-split, linux-7.3, -swprot, ...), every trace paired with
#      the model; the recordings of real VMMs (traces/real, scripts/nested/record.sh) join the linux-7.3 boot.
#   2b. scripts/nested/repro.sh: `kvmsim export --c` reproducers of 9 traces, built static, run in one linux-7.3
#      boot; any `not ok` fails, exit 4 is a stated skip, all skipped fails (measured: see docs/nested.md).
#   3. kvmsim conformance --backend model,nested for linux-6.12, linux-6.12-swprot, linux-7.3 and
#      linux-7.3-swprot: one boot each.
#   4. kvmsim fuzz --backend model,nested, one seed per main flavour (linux-6.12, -swprot, -shadow, linux-7.3,
#      linux-7.3-swprot): one boot each unless a divergence is found (then it is shrunk on the oracle and the
#      script fails).
# Any download, build, boot or module-load failure, or a guest that never reports, fails this script
# (non-zero) with the reason and the guest console tail on stderr: the oracle never skips silently.
# Usage: scripts/nested/ci.sh [--build-dir DIR]   (default: build; kvmsim must already be built there)
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=build
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "ci.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
start=$SECONDS
step() { echo "== nested ($((SECONDS - start)) s): $*"; }
[[ -x "$build_dir/kvmsim" ]] || { echo "ci.sh: $build_dir/kvmsim is not built (run scripts/build.sh first)" >&2; exit 1; }

step "setup (pinned packages, swprot modules)"
scripts/nested/setup.sh --build-dir "$build_dir" --flavour all

step "replay --backend model,nested traces/nested traces/content traces/real (content and real traces join the 7.3 boots)"
"$build_dir/kvmsim" replay --backend model,nested traces/nested traces/content traces/real

step "export --c reproducers in the linux-7.3 guest (scripts/nested/repro.sh)"
scripts/nested/repro.sh --build-dir "$build_dir" --flavour linux-7.3

for profile in linux-6.12 linux-6.12-swprot linux-7.3 linux-7.3-swprot; do
  step "conformance --backend model,nested --profile $profile"
  # The text report lists every case; keep the failures with their reasons and the summary (pipefail keeps
  # kvmsim's exit code).
  "$build_dir/kvmsim" conformance --backend model,nested --profile "$profile" |
    awk '/^FAILED/ { p = 1; print; next } /^ / { if (p) print; next } { p = 0 } /^conformance:/ { print }'
done
for profile in linux-6.12 linux-6.12-swprot linux-6.12-shadow linux-7.3 linux-7.3-swprot; do
  step "fuzz --backend model,nested --profile $profile (one boot; shrinks and fails on a divergence)"
  "$build_dir/kvmsim" fuzz --seed 1 --steps 3000 --backend model,nested --profile "$profile" \
    --out "$build_dir/fuzz-nested" | grep -v '^case '
done
step "done"
