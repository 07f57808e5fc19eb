#!/usr/bin/env bash
# The include graph has layers and no loops (docs/architecture.md):
#   model/ includes only model/; sim/ (but sim/cmd/) includes model/ and sim/ but not sim/cmd/;
#   conformance/ includes model/, sim/ (but sim/cmd/) and conformance/; sim/cmd/ may include anything.
#   No file includes itself through a chain (tsort finds the loop). Tests and benchmarks are left out.
# Prints every offending include and exits 1; prints one summary line and exits 0 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
edges="$(mktemp)"
trap 'rm -f "$edges"' EXIT
bad=0
while IFS= read -r f; do
  while IFS= read -r inc; do
    case "$f" in
      model/*) allowed='^model/' ;;
      sim/cmd/*) allowed='^(model|sim|conformance)/' ;;
      sim/*) allowed='^(model/|sim/)' ; [[ "$inc" == sim/cmd/* ]] && allowed='^$' ;;
      conformance/*) allowed='^(model/|sim/|conformance/)' ; [[ "$inc" == sim/cmd/* ]] && allowed='^$' ;;
    esac
    if ! [[ "$inc" =~ $allowed ]]; then
      echo "check-layers: $f includes $inc (not allowed from its layer)"
      bad=1
    fi
    echo "$f $inc" >> "$edges"
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done < <(find model sim conformance -name '*.h' -o -name '*.cpp' | grep -v '/test/' | grep -v '_test\.cpp$' |
         grep -v 'conformance/gtest_cases\.cpp$' | sort)
if ! tsort "$edges" > /dev/null 2> "$edges.loop"; then
  echo "check-layers: include loop:"
  sed 's/^/  /' "$edges.loop"
  bad=1
fi
rm -f "$edges.loop"
[[ $bad -eq 0 ]] && echo "check-layers: ok ($(wc -l < "$edges") include edges, layers model < sim < conformance < sim/cmd, no loop)"
exit "$bad"
