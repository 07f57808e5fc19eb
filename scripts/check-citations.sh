#!/usr/bin/env bash
# Citation check (docs/semantics/README.md §2): every `docs/semantics/<file>.md §<n>` named anywhere in the
# tree must name an existing file and a numbered heading in it; relative links inside docs/semantics/ must
# resolve; and no file may name a path outside the repository (the workspace, a sibling "shared" checkout,
# or research notes that never were part of the repository). grep only, no build needed. Exit 1 on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
self=scripts/check-citations.sh

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -co --exclude-standard | grep -v -x -e "$self")
else
  mapfile -t files < <(find . -type f -not -path './.git*' -not -path './build*' -not -path "./$self" | sed 's|^\./||')
fi
existing=()
for f in "${files[@]}"; do [[ -f $f ]] && existing+=("$f"); done
files=("${existing[@]}")

fail=0
err() { echo "check-citations: $*" >&2; fail=1; }

# 1. docs/semantics citations: file, and section (both ends of a range "§a-§b"). One line per distinct
#    (file, section) with the first place that cites it; headings are read once per file.
declare -A heads=()
while read -r doc sec loc; do
  if [[ ! -f $doc ]]; then err "$loc: $doc: no such file"; continue; fi
  [[ $sec == - ]] && continue
  if [[ -z ${heads[$doc]+x} ]]; then
    heads[$doc]=" $(grep -oE '^#{2,4} [0-9]+(\.[0-9]+)*' "$doc" | sed -E 's/^#+ //' | tr '\n' ' ')"
  fi
  [[ ${heads[$doc]} == *" $sec "* ]] || err "$loc: $doc has no section §$sec"
done < <(grep -HnoE 'docs/semantics/[A-Za-z0-9_.-]+\.md( §[0-9]+(\.[0-9]+)*(-§[0-9]+(\.[0-9]+)*)?)?' "${files[@]}" 2>/dev/null \
           | awk '{ i = index($0, ":docs/semantics/"); loc = substr($0, 1, i - 1); c = substr($0, i + 1)
                    split(c, w, " "); doc = w[1]; rest = substr(c, length(doc) + 1)
                    n = 0
                    while (match(rest, /[0-9]+(\.[0-9]+)*/)) { n++; sec = substr(rest, RSTART, RLENGTH)
                      if (!seen[doc " " sec]++) print doc, sec, loc
                      rest = substr(rest, RSTART + RLENGTH) }
                    if (n == 0 && !seen[doc " -"]++) print doc, "-", loc }')

# 2. Relative markdown links inside docs/semantics/.
for md in docs/semantics/*.md; do
  [[ -f $md ]] || continue
  dir=$(dirname "$md")
  while IFS= read -r target; do
    path=${target%%#*}
    [[ -z $path || $path == http* ]] && continue
    [[ -e $dir/$path ]] || err "$md: link to $target: no such file"
  done < <(grep -oE '\]\([^)]+\)' "$md" | sed -E 's/^\]\((.*)\)$/\1/')
done

# 3. Paths outside the repository, and the old research-note names (patterns split so this file does not match).
outside='/wo''rk/|\.\./sha''red|sha''red/(spec|seeds)/'
notes='kvm-seman''tics\.md|host-k''vm\.md|nested-t''dp\.md|trace-for''mat\.md|upstream-sta''tus'
if grep -HnE "$outside|$notes" "${files[@]}" 2>/dev/null; then
  err "the lines above name a path outside the repository or a research note that is not in it"
fi

if [[ $fail -ne 0 ]]; then exit 1; fi
echo "check-citations: ok (${#files[@]} files)"
