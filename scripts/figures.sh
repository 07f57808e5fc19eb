#!/usr/bin/env bash
# Regenerates every figure and count in README.md, conformance/README.md, docs/ and traces/FORMAT.md that the
# tool itself decides, from the built kvmsim, between marker lines:
#     <!-- figures:NAME -->
#     ...generated, never edited by hand...
#     <!-- /figures:NAME -->
# so the text cannot drift from the tool. `--check` writes nothing: it prints a diff and exits 1 when a committed
# block differs from what this script produces (scripts/check-figures.sh, run by scripts/test.sh).
#
# Deliberately NOT regenerated here: figures that need the nested oracle (QEMU boots, ~15 min), this machine's
# /dev/kvm (the development machines have none) or wall-clock timings (they change from run to run: a check
# would always be stale). Those are written by hand next to a note "measured on DATE by scripts/X" naming the
# script that measures them (the nested conformance rows and boot costs: scripts/nested/ci.sh; fuzz rates and
# seed ranges: docs/fuzz.md "Measured", by scripts/fuzz-ci.sh), and they live in one place each so that no
# second copy can disagree.
#
# Usage: scripts/figures.sh [--check] [BUILD_DIR]      (cost: ~15 s on 2 loaded cores: four model conformance
# runs and a model replay of traces/nested)
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
if [[ "${1:-}" == --check ]]; then check=1; shift; fi
k="${1:-build}/kvmsim"
[[ -x "$k" ]] || { echo "figures: $k is not built" >&2; exit 2; }
gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT

# ---- the blocks: one file each, $gen/NAME ----

# Model conformance rows (the nested rows are measured: see the header).
{
  row() {  # row BACKEND PROFILE LABEL
    local s passed failed skipped
    s="$("$k" --quiet conformance --backend "$1" --profile "$2" | tail -1)"
    read -r passed failed skipped < <(sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \2 \3/' <<<"$s")
    echo "| \`kvmsim conformance --backend $1 --profile $2\` | $3 | $passed | $skipped | $failed |"
  }
  echo "| run | backend (profile) | PASSED | SKIPPED | FAILED |"
  echo "|---|---|---|---|---|"
  row model linux-7.3 "model (linux-7.3, the default)"
  row model-ref linux-7.3 "model on the reference page tables (linux-7.3)"
  row model linux-7.3-swprot "model (linux-7.3 with SW_PROTECTED VMs)"
  row model linux-6.18 "model (linux-6.18)"
} > "$gen/conformance-model-rows"

# The suite's size and groups, from `conformance --list` (group order as listed).
list="$("$k" --quiet conformance --list)"
total="$(wc -l <<<"$list")"
groups="$(cut -d/ -f1 <<<"$list" | awk '!seen[$0]++')"
ngroups="$(wc -l <<<"$groups")"
echo "The suite has $total cases in $ngroups groups: $(paste -sd, <<<"$groups" | sed 's/,/, /g')." \
  > "$gen/conformance-count"
{
  echo "| group | cases |"
  echo "|---|---|"
  while read -r g; do echo "| $g | $(grep -c "^$g/" <<<"$list") |"; done <<<"$groups"
  echo "| all | $total |"
} > "$gen/conformance-groups"

# Exit codes: the footer of `kvmsim --help` (sim/cmd/exit_codes.h).
{
  echo "| code | meaning |"
  echo "|---|---|"
  "$k" --help | sed -n '/^Exit codes:/,$p' | tail -n +2 | sed -E 's/^ *([0-9]+)\t(.*)$/| \1 | \2 |/' | grep '^|'
} > "$gen/exit-codes"

# The nested traces and how many boots their replay takes: one per profile (sim/cmd/replay_cmd.cpp batches).
nested_json="$("$k" --quiet replay --format json traces/nested 2>/dev/null || true)"
ntraces="$( (grep -o '"file": *"[^"]*"' <<<"$nested_json" || true) | wc -l)"
nboots="$( (grep -o '"backend_profile": *"[^"]*"' <<<"$nested_json" || true) | sort -u | wc -l)"
[[ $ntraces -gt 0 ]] || { echo "figures: replay of traces/nested reported no trace" >&2; exit 2; }
echo "\`traces/nested\` holds $ntraces traces for $nboots profiles: \`replay --backend model,nested traces/nested\` boots $nboots times (one boot per profile)." \
  > "$gen/nested-traces"

# Each profile's host THP policies, the defaults a trace's `host` header overrides (model/profiles/profile.cpp).
{
  echo "| profile | thp | shmem_thp |"
  echo "|---|---|---|"
  "$k" profiles --format json | grep -o '"name": *"[^"]*"\|"thp": *"[^"]*"\|"shmem_thp": *"[^"]*"' |
    sed -E 's/^"[a-z_]+": *"(.*)"$/\1/' | paste - - - | awk -F'\t' '{ printf "| `%s` | %s | %s |\n", $1, $2, $3 }'
} > "$gen/profile-thp"

# The `kvmsim compare` worked example of the KVM_MAP_MEMORY review points (exit 1: the profiles differ).
{
  echo '```'
  echo '$ kvmsim compare --profiles linux-7.3,rfc-map-memory-v1 traces/proposals/review_points.trace'
  rc=0
  "$k" compare --profiles linux-7.3,rfc-map-memory-v1 traces/proposals/review_points.trace || rc=$?
  [[ $rc -eq 1 ]] || { echo "figures: compare exited $rc, expected 1 (the profiles differ)" >&2; exit 2; }
  echo '```'
} > "$gen/compare-example"

# The same private-memory intent, upstream's form run under private-fd-v5 (translated; exit 1: they differ).
{
  echo '```'
  echo '$ kvmsim compare --profiles linux-7.3-swprot,private-fd-v5 traces/proposals/private_fd/intent_upstream.trace'
  rc=0
  "$k" compare --profiles linux-7.3-swprot,private-fd-v5 traces/proposals/private_fd/intent_upstream.trace || rc=$?
  [[ $rc -eq 1 ]] || { echo "figures: compare exited $rc, expected 1 (the profiles differ)" >&2; exit 2; }
  echo '```'
} > "$gen/compare-private-fd"

# The gmem-inplace-conversion worked example (pin, EAGAIN with error_offset, unpin, retry): trace and replay.
{
  ex=traces/proposals/gmem_inplace_conversion/worked_example.trace
  echo '```'
  cat "$ex"
  echo '```'
  echo
  echo '```'
  echo "\$ kvmsim replay $ex"
  "$k" --quiet replay "$ex"
  echo '```'
} > "$gen/gmem-pin-example"

# The guest_memfd proposals against Linux 7.3 on one VMM trace (exit 1: the profiles differ).
{
  ex=traces/proposals/gmem_vmm_intent.trace
  echo '```'
  for p in gmem-write-populate gmem-inplace-conversion; do
    echo "\$ kvmsim compare --profiles linux-7.3,$p $ex"
    rc=0
    "$k" compare --profiles "linux-7.3,$p" "$ex" || rc=$?
    [[ $rc -eq 1 ]] || { echo "figures: compare linux-7.3,$p exited $rc, expected 1 (the profiles differ)" >&2; exit 2; }
  done
  echo '```'
} > "$gen/compare-gmem-example"

# The content cases of the suite (`conformance --list`, group `content`) and where CI runs them on a real kernel.
ncontent="$(grep -c '^content/' <<<"$list")"
echo "The \`content\` group holds $ncontent of the suite's $total cases (\`kvmsim conformance --list\`). CI runs the whole suite, content included, paired \`model,nested\` on \`linux-7.3\` and \`linux-7.3-swprot\` (\`scripts/nested/ci.sh\`), and fails on any failed case." \
  > "$gen/content-cases"

# What the recordings of real QEMU (traces/real, kvmsim record in the 7.3 oracle) show about its memslot churn.
{
  pc=traces/real/qemu_seabios_pc.trace; q35=traces/real/qemu_seabios_q35.trace
  [[ -f "$pc" && -f "$q35" ]] || { echo "figures: $pc or $q35 is missing" >&2; exit 2; }
  awk -f scripts/qemu-churn.awk "$pc" > "$gen/churn-pc"; awk -f scripts/qemu-churn.awk "$q35" > "$gen/churn-q35"
  v() { awk -F'\t' -v k="$2" '$1 == k { print $2 }' "$gen/churn-$1"; }
  version="$(sed -n 's/^# VMM: \([^ ]* [^ ]*\) .*/\1/p' "$pc")"
  echo "Recorded from \`$version\` booting SeaBIOS to \"No bootable device\" (\`$pc\`, \`$q35\`):"
  echo
  echo "| | \`-machine pc\` | \`-machine q35\` |"
  echo "|---|---|---|"
  echo "| KVM ioctls, every one a statement | $(v pc ioctls) | $(v q35 ioctls) |"
  echo "| of them KVM_RUN (unobservable on replay) | $(v pc runs) | $(v q35 runs) |"
  echo "| memslot operations (KVM_SET_USER_MEMORY_REGION2 among them) | $(v pc ops) ($(v pc v2)) | $(v q35 ops) ($(v q35 v2)) |"
  echo "| ... that failed | $(v pc failed) | $(v q35 failed) |"
  echo "| creates / deletes | $(v pc creates) / $(v pc deletes) | $(v q35 creates) / $(v q35 deletes) |"
  echo "| creates of a slot number used before / of them right after that slot's delete | $(v pc recreates) / $(v pc after_delete) | $(v q35 recreates) / $(v q35 after_delete) |"
  echo "| creates on a live slot (flag changes in place) | $(v pc inplace) | $(v q35 inplace) |"
  echo "| in the SMM address space (\`slot=0x10000\|N\`) | $(v pc smm) | $(v q35 smm) |"
  echo "| touching 0xc0000-0xfffff (PAM: ROM shadows) | $(v pc pam) | $(v q35 pam) |"
  echo "| touching 0xa0000-0xbffff (SMRAM, legacy VGA window) | $(v pc smram) | $(v q35 smram) |"
  echo "| read-only (ROM) slots created | $(v pc rom) | $(v q35 rom) |"
  echo "| slots created with KVM_MEM_LOG_DIRTY_PAGES (at GPA) | $(v pc dirty) ($(v pc dirty_gpa)) | $(v q35 dirty) ($(v q35 dirty_gpa)) |"
  echo "| KVM_GET_DIRTY_LOG calls | $(v pc getdirty) | $(v q35 getdirty) |"
  echo "| KVM_SMI | $(v pc smis) | $(v q35 smis) |"
} > "$gen/qemu-churn"

# The recording of stress-ng's kvm stressor (traces/real/stress_ng_kvm.trace), counted by the same awk.
{
  sng=traces/real/stress_ng_kvm.trace
  [[ -f "$sng" ]] || { echo "figures: $sng is missing" >&2; exit 2; }
  awk -f scripts/qemu-churn.awk "$sng" > "$gen/churn-sng"
  v() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$gen/churn-sng"; }
  echo "Counted from \`$sng\` (\`$(sed -n 's/^# VMM: \([^ ]* [^ ]*\) .*/\1/p' "$sng")\`, \`$(sed -n 's/^# recorded by kvmsim record: //p' "$sng")\`):"
  echo "$(v ioctls) KVM ioctls, $(v runs) of them KVM_RUN; $(v vms) VMs created and $(v vm_closes) closed, $(v vcpus) vCPUs;"
  echo "$(v ops) memslot operations ($(v creates) creates, $(v deletes) deletes, $(v failed) failed), slot sizes: $(v sizes)."
} > "$gen/stress-ng-kvm"

# ---- splice the blocks into the files ----
stale=0
for f in README.md conformance/README.md docs/*.md docs/semantics/*.md traces/FORMAT.md; do
  grep -q '<!-- figures:' "$f" || continue
  awk -v dir="$gen" -v file="$f" '
    match($0, /^<!-- figures:[a-z0-9-]+ -->$/) {
      name = substr($0, 14, length($0) - 17)
      print
      path = dir "/" name
      if ((getline line < path) <= 0) { printf "figures: %s: unknown block %s\n", file, name > "/dev/stderr"; exit 3 }
      do print line; while ((getline line < path) > 0)
      close(path)
      skipping = 1
      next
    }
    /^<!-- \/figures:[a-z0-9-]+ -->$/ { skipping = 0 }
    !skipping { print }
    END { if (skipping) { printf "figures: %s: block %s is not closed\n", file, name > "/dev/stderr"; exit 3 } }
  ' "$f" > "$gen/out"
  if ! cmp -s "$f" "$gen/out"; then
    if [[ $check -eq 1 ]]; then
      stale=1
      diff -u "$f" "$gen/out" | sed "s|$gen/out|$f (regenerated)|" || true
    else
      cp "$gen/out" "$f"
      echo "figures: updated $f"
    fi
  fi
done
if [[ $stale -eq 1 ]]; then
  echo "figures: the figures above are stale; run scripts/figures.sh and commit the result" >&2
  exit 1
fi
[[ $check -eq 1 ]] && echo "figures: every generated figure is current"
exit 0
