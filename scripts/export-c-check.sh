#!/usr/bin/env bash
# Every trace under traces/ exported with `kvmsim export --c` must compile as strict C11 with
# -Wall -Wextra -Werror (kernel uAPI headers only), and a compiled reproducer must behave as documented
# where it runs: exit 4 with one `1..0 # SKIP` line without /dev/kvm, else a TAP plan and exit 0 or 1.
# Usage: scripts/export-c-check.sh KVMSIM [TRACE_DIR]   (cost: ≈20 s on 2 cores for the whole corpus)
set -euo pipefail
kvmsim="$(realpath "$1")"
cd "$(dirname "$0")/.."
dir="${2:-traces}"
cc="${CC:-cc}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export kvmsim cc work
compile() {
  local t="$1" c
  c="$work/$(echo "$t" | tr '/' '_').c"
  "$kvmsim" export --c "$t" > "$c" || { echo "export-c-check: $t: export failed" >&2; return 1; }
  "$cc" -std=c11 -Wall -Wextra -Werror -c "$c" -o "$c.o" 2> "$c.err" || {
    echo "export-c-check: $t: does not compile:" >&2; head -n 8 "$c.err" >&2; return 1; }
}
export -f compile
n=$(find "$dir" -name '*.trace' | wc -l)
find "$dir" -name '*.trace' -print0 | LC_ALL=C sort -z | xargs -0 -n 1 -P 2 bash -c 'compile "$0"'
# One program linked and run: the skip contract without /dev/kvm, TAP with it.
t="$dir/vmm/reserve_then_fixed.trace"
[[ -f "$t" ]] || t="$(find "$dir" -name '*.trace' | LC_ALL=C sort | head -n 1)"
"$kvmsim" export --c "$t" > "$work/run.c"
"$cc" -std=c11 -Wall -Wextra -Werror -O1 "$work/run.c" -o "$work/run"
set +e
"$work/run" > "$work/run.out"
rc=$?
set -e
if [[ -r /dev/kvm && -w /dev/kvm ]]; then
  [[ $rc -le 1 || $rc -eq 4 ]] && grep -q '^1\.\.' "$work/run.out" ||
    { echo "export-c-check: $t: exit $rc, no TAP plan" >&2; cat "$work/run.out" >&2; exit 1; }
else
  [[ $rc -eq 4 && "$(wc -l < "$work/run.out")" -eq 1 ]] && grep -q '^1\.\.0 # SKIP' "$work/run.out" ||
    { echo "export-c-check: without /dev/kvm expected exit 4 and one SKIP line, got exit $rc:" >&2; cat "$work/run.out" >&2; exit 1; }
fi
echo "export-c-check: $n traces exported and compiled; $t ran (exit $rc)"
