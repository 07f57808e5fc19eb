#!/usr/bin/env bash
# Prints the README figures that the model alone decides, from the built tool, so they are copied and not
# typed: the conformance rows of the model backends and the exit-code table (kvmsim --help's footer).
# The nested rows come from `scripts/nested/ci.sh` output (its conformance summary lines).
# Also the README's worked example of a conversion while a page is pinned: the trace and its replay line.
# Usage: scripts/readme-figures.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
k="${1:-build}/kvmsim"
row() {  # row BACKEND PROFILE LABEL
  local s
  s="$("$k" conformance --backend "$1" --profile "$2" | tail -1)"
  read -r passed skipped failed < <(sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \3 \2/' <<<"$s")
  echo "| \`kvmsim conformance --backend $1 --profile $2\` | $3 | $passed | $skipped | $failed |"
}
echo "| run | backend (profile) | PASSED | SKIPPED | FAILED |"
echo "|---|---|---|---|---|"
row model linux-7.3 "model (linux-7.3, the default)"
row model-ref linux-7.3 "model on the reference page tables (linux-7.3)"
row model linux-7.3-swprot "model (linux-7.3 with SW_PROTECTED VMs)"
row model linux-6.18 "model (linux-6.18)"
echo
echo "| code | meaning |"
echo "|---|---|"
"$k" --help | sed -n '/^Exit codes:/,$p' | tail -n +2 | sed -E 's/^ *([0-9]+)\t(.*)$/| \1 | \2 |/' | grep '^|'
echo
ex=traces/proposals/gmem_inplace_conversion/worked_example.trace
echo '```'
cat "$ex"
echo '```'
echo
echo '```'
echo "\$ kvmsim replay $ex"
"$k" replay "$ex"
echo '```'
