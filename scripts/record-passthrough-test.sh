#!/usr/bin/env bash
# kvmsim record must not change what the recorded program sees: sim/record/passthrough_probe.c prints the
# result and errno of every call the recorder interposes (on things that are not KVM); its output and exit
# status must be the same with and without `kvmsim record`. Also: a program that never opens /dev/kvm gets
# record's one-line notice and exit 77, and the raw log holds the memfd calls; the forked child writes its own
# log (RAW.PID) with only its own calls, flushed at _exit; the vfork child writes nothing.
set -euo pipefail
kvmsim="$1"; work="$2"
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$work"
cc -std=c11 -Wall -Wextra -Werror -O1 -o "$work/probe" "$here/sim/record/passthrough_probe.c"
set +e
"$work/probe" > "$work/plain.txt"; plain=$?
"$kvmsim" record -o "$work/probe.trace" --raw "$work/probe.raw" -- "$work/probe" > "$work/recorded.txt" 2> "$work/record.err"
rec=$?
set -e
[[ $plain -eq 3 ]] || { echo "probe exited $plain, expected 3"; exit 1; }
diff -u "$work/plain.txt" "$work/recorded.txt" || { echo "FAIL: the recorder changed what the program saw"; exit 1; }
[[ $rec -eq 77 ]] || { echo "FAIL: record exited $rec, expected 77 (never opened /dev/kvm)"; cat "$work/record.err"; exit 1; }
grep -q "exited with 3" "$work/record.err" || { echo "FAIL: record did not report exit status 3"; cat "$work/record.err"; exit 1; }
grep -q "never opened /dev/kvm" "$work/record.err" || { echo "FAIL: no /dev/kvm notice"; exit 1; }
for call in memfd_create ftruncate fallocate close; do
  grep -q "^$call " "$work/probe.raw" || { echo "FAIL: raw log lacks $call"; exit 1; }
done
grep -q "^memfd1 = memfd_create(MFD_CLOEXEC" "$work/probe.trace" || { echo "FAIL: trace lacks the memfd"; cat "$work/probe.trace"; exit 1; }
# One log per process (sim/record/preload.c): the forked child's has its own calls and none of the parent's
# unwritten ones, and ends with its _exit; the parent's has none of the child's, and one exit (not the vfork
# child's too).
children=("$work"/probe.raw.*)
[[ ${#children[@]} -eq 1 && -f ${children[0]} ]] || { echo "FAIL: expected one forked child's log, got: ${children[*]}"; exit 1; }
child_log="${children[0]}"
head -n1 "$child_log" | grep -q "^kvmsim-rawlog 1 pid=${child_log##*.} ppid=[0-9]" || { echo "FAIL: child log header"; head -n1 "$child_log"; exit 1; }
grep -q "^ftruncate .* len=300000$" "$child_log" || { echo "FAIL: child log lacks its ftruncate"; cat "$child_log"; exit 1; }
tail -n1 "$child_log" | grep -q "^exit " || { echo "FAIL: child log not flushed at _exit"; exit 1; }
if grep -q "len=100000$" "$child_log"; then echo "FAIL: child log repeats the parent's events"; exit 1; fi
if grep -q "len=300000$" "$work/probe.raw"; then echo "FAIL: parent log holds the child's events"; exit 1; fi
[[ $(grep -c "^exit " "$work/probe.raw") -eq 1 ]] || { echo "FAIL: parent log has $(grep -c "^exit " "$work/probe.raw") exit lines (vfork child wrote it?)"; exit 1; }
echo "record passthrough: $(wc -l < "$work/plain.txt") results identical; 1 passed, 0 failed"
