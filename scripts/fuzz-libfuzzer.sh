#!/usr/bin/env bash
# Coverage-guided fuzzing of the input paths with libFuzzer (docs/fuzz.md "Coverage-guided fuzzing"): every
# target CMake's kvmsim_fuzz_target() lines name (build-asan/fuzz-targets.txt), built with clang, ASan+UBSan
# and leak checking by scripts/sanitize.sh --build-only, seeded with the traces of traces/ and the
# dictionary sim/fuzz/targets/trace.dict. Any crash, leak, sanitizer report or timeout fails the run and
# leaves the input in build-asan/fuzz-artifacts/. No /dev/kvm needed.
# Usage: scripts/fuzz-libfuzzer.sh --time SECONDS          each target for SECONDS (CI: 45)
#        scripts/fuzz-libfuzzer.sh --runs N [--write-doc]  each target for N executions; --write-doc puts
#                                                          the figures into docs/fuzz.md (a target's row is
#                                                          replaced, the other targets' rows are kept)
#        --runs N --time S: whichever comes first (the row says how many ran)
#        --only NAME (repeatable): run only these targets; --skip NAME (repeatable): leave a target out
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-asan
limit=() mode="" runs_asked="" write_doc=0 skip=" " only=" "
while (($#)); do
  case "$1" in
    --time) limit+=(-max_total_time="$2") mode+="${mode:+, at most }$2 s"; shift 2 ;;
    --runs) limit+=(-runs="$2") mode+="${mode:+, at most }$2 runs"; runs_asked="$2"; shift 2 ;;
    --write-doc) write_doc=1; shift ;;
    --skip) skip+="$2 "; shift 2 ;;  # a target with an open finding (say which in the caller)
    --only) only+="$2 "; shift 2 ;;
    *) echo "usage: $0 --time SECONDS | --runs N [--write-doc]" >&2; exit 2 ;;
  esac
done
((${#limit[@]})) || { echo "usage: $0 --time SECONDS | --runs N [--write-doc]" >&2; exit 2; }
scripts/sanitize.sh --build-only

# A target's seed corpus: every file up to 64 KB under its SEEDS directory (traces/ for the trace targets,
# the fixtures for an importer), flattened (libFuzzer writes what it finds to the first dir only). libFuzzer's
# -max_len is the largest seed: the QEMU recordings of traces/real (430 KB, 2.5-2.9 s per replay under ASan)
# would make it 430 KB and the replay target's every execution slow (docs/fuzz.md "Coverage-guided fuzzing").
seed_dir() {
  local dir="$BUILD/fuzz-seeds/$(echo "$1" | tr / _)"
  if [[ ! -d "$dir" ]]; then
    mkdir -p "$dir"
    while IFS= read -r f; do cp "$f" "$dir/$(echo "${f#$1/}" | tr / _)"; done < <(find "$1" -type f ! -name '*.md' -size -65k | sort)
  fi
  echo "$dir"
}
rm -rf "$BUILD/fuzz-seeds"
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rows=()
mapfile -t targets < "$BUILD/fuzz-targets.txt"  # read once: a configure of build-asan meanwhile rewrites it
for row in "${targets[@]}"; do
  read -r t seeds_src dict <<<"$row"
  [[ "$skip" == *" $t "* ]] && { echo "== libFuzzer: $t skipped (--skip)"; continue; }
  [[ "$only" != " " && "$only" != *" $t "* ]] && continue
  corpus="$BUILD/fuzz-corpus/$t" log="$BUILD/fuzz-$t.log" seeds="$(seed_dir "$seeds_src")"
  rm -rf "$corpus" && mkdir -p "$corpus" "$BUILD/fuzz-artifacts"
  cmd=("$BUILD/$t" "$corpus" "$seeds" -seed=1 -timeout=60 -artifact_prefix="$BUILD/fuzz-artifacts/$t-"
       -print_final_stats=1 "${limit[@]}")
  [[ "$dict" != - ]] && cmd+=(-dict="$dict")
  echo "== libFuzzer: $t ($mode)"
  if ! "${cmd[@]}" > "$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz-libfuzzer: $t failed; input in $BUILD/fuzz-artifacts/ (replay: $BUILD/$t FILE)"
    exit 1
  fi
  # "#N DONE cov: C ft: F corp: K/SIZE ... exec/s: R" and "Done N runs in S second(s)".
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)"
  runs="$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1/p' "$log" | tail -n 1)"
  secs="$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\2/p' "$log" | tail -n 1)"
  cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$done_line")"
  ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$done_line")"
  corp="$(sed -nE 's/.* corp: ([0-9]+\/[0-9A-Za-z]+).*/\1/p' <<<"$done_line")"
  rate="$(sed -nE 's/.* exec\/s: ([0-9]+).*/\1/p' <<<"$done_line")"
  echo "fuzz-libfuzzer: $t: $runs runs in $secs s ($rate exec/s), cov $cov, ft $ft, corpus $corp: clean"
  rows+=("| \`$t\` | \`$seeds_src\` ($(ls "$seeds" | wc -l)) | $runs | $secs | $rate | $cov | $ft | $corp | $(date -u +%Y-%m-%d) |")
done

if ((write_doc)); then
  [[ -n "$runs_asked" ]] || { echo "fuzz-libfuzzer: --write-doc needs --runs N" >&2; exit 2; }
  table="$(mktemp)"
  trap 'rm -f "$table"' EXIT
  {
    echo "Measured with \`scripts/fuzz-libfuzzer.sh --runs N [--time S] --write-doc\` ($(clang++-16 --version | head -n 1), ASan+UBSan+LSan, libFuzzer \`-seed=1\`, one process, seeds: the files up to 64 KB of each target's seed directory; the machine was shared with other builds, so exec/s is a floor). A row with fewer than N executions ran out of its S seconds. No crash, leak, sanitizer report or timeout."
    echo
    echo "| target | seeds | executions | seconds | exec/s | coverage (edges) | features | corpus (inputs/bytes) | measured |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
  } > "$table"
  # The new rows replace the same targets' rows; the other targets' rows stay, in fuzz-targets.txt's order.
  python3 - docs/fuzz.md "$table" "$BUILD/fuzz-targets.txt" <<'PY'
import sys
doc, new, targets = sys.argv[1], open(sys.argv[2]).read(), [l.split()[0] for l in open(sys.argv[3]) if l.strip()]
s = open(doc).read()
b, e = "<!-- libfuzzer-figures:begin -->\n", "<!-- libfuzzer-figures:end -->"
i, j = s.index(b) + len(b), s.index(e)
def rows(text):
    return {l.split("`")[1]: l for l in text.splitlines() if l.startswith("| `")}
merged = {**rows(s[i:j]), **rows(new)}
head = [l for l in new.splitlines() if not l.startswith("| `")]
body = [merged[t] for t in targets if t in merged]
open(doc, "w").write(s[:i] + "\n".join(head + body) + "\n" + s[j:])
PY
  echo "fuzz-libfuzzer: figures written to docs/fuzz.md"
fi
