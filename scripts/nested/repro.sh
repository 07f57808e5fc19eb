#!/usr/bin/env bash
# `kvmsim export --c` reproducers run on a real kernel: a chosen set of traces (memslots, pre-fault,
# guest_memfd, dirty logging, errno paths) is exported, built with gcc -static on the host and run inside
# the nested oracle's guest (scripts/nested/run.sh --program, one boot). Each program's TAP is judged here:
#   exit 0 and no `not ok` line: pass; exit 4 (kselftest skip, one `1..0 # SKIP reason` line): a stated skip;
#   anything else (`not ok`, exit 1, a crash, the timeout): failure.
# A run where every program skips is a failure too: it checked nothing.
# Usage: scripts/nested/repro.sh [--build-dir DIR] [--flavour F]   (default: build, linux-7.3)
# Exit: 0 all passed or skipped with at least one pass; 1 a failure; 2 usage; 3 the oracle failed (run.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=build
flavour=linux-7.3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --flavour) flavour="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "repro.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
# Traces whose every statement a reproducer can run or states as a SKIP, with answers the same on 6.12 and 7.3.
traces=(
  traces/nested/gmem_bind_overlap_eexist_7.3.trace     # guest_memfd binding, EEXIST
  traces/nested/prefault_einval.trace                  # pre-fault errno paths
  traces/nested/prefault_outside_slot_enoent.trace
  traces/nested/prefault_beyond_range.trace
  traces/nested/prefault_thp_then_write_7.3.trace
  traces/nested/zap_slot_move_delete.trace             # memslot move and delete
  traces/nested/slot_alignment_head.trace
  traces/dirtylog/errnos.trace                         # dirty-log errno paths
  traces/nested/caps_probe_7.3.trace                   # KVM_CHECK_EXTENSION answers of 7.3
)
kvmsim="$build_dir/kvmsim"
[[ -x "$kvmsim" ]] || { echo "repro.sh: $kvmsim is not built (run scripts/build.sh first)" >&2; exit 2; }
work="$build_dir/nested/repro"
rm -rf "$work"
mkdir -p "$work/bin" "$work/out"
progs=()
for t in "${traces[@]}"; do
  name="$(basename "$t" .trace)"
  "$kvmsim" export --c "$t" > "$work/$name.c"
  gcc -std=c11 -O1 -Wall -Wextra -Werror -static "$work/$name.c" -o "$work/bin/$name"
  progs+=(--program "$work/bin/$name")
done
set +e
scripts/nested/run.sh --flavour "$flavour" --build-dir "$build_dir" --program-out "$work/out" "${progs[@]}" > "$work/report.json"
rc=$?
set -e
[[ $rc -eq 0 ]] || { echo "repro.sh: the nested oracle failed (run.sh exit $rc)" >&2; exit 3; }
pass=0; skip=0; fail=0
for t in "${traces[@]}"; do
  name="$(basename "$t" .trace)"
  code="$(cat "$work/out/$name.exit")"
  out="$work/out/$name.out"
  if [[ "$code" == 4 ]]; then
    skip=$((skip + 1)); echo "SKIP $t: $(head -n 1 "$out")"
  elif [[ "$code" == 0 ]] && grep -q '^1\.\.' "$out" && ! grep -q '^not ok' "$out"; then
    pass=$((pass + 1)); echo "PASS $t ($(grep -c '^ok' "$out") ok, $(grep -c '# SKIP' "$out") statements skipped)"
  else
    fail=$((fail + 1)); echo "FAIL $t: exit $code"; grep '^not ok' "$out" | head -n 5 | sed 's/^/    /'
  fi
done
echo "repro: $pass passed, $skip skipped, $fail failed on $flavour"
[[ $fail -eq 0 ]] || exit 1
[[ $pass -gt 0 ]] || { echo "repro.sh: every reproducer skipped: nothing was checked" >&2; exit 1; }
