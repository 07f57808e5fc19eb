#!/usr/bin/env bash
# Where `kvmsim replay` spends its time and memory, measured on a Release build (build-release/):
#  * callgrind (valgrind) instruction counts of replaying a bench/gen_churn_trace.sh trace of N
#    statements: repeatable on a shared machine, unlike wall-clock; self cost grouped by area
#    (parser, replay engine, handlers and result formatting, model, allocator, libc/libstdc++);
#  * wall-clock and peak RSS (/usr/bin/time -v) of streaming a generated trace of about MB
#    megabytes (written to /tmp, deleted afterwards).
# Writes bench/profile.json, which scripts/bench-report.sh turns into bench/README.md's figures.
# Usage: scripts/bench-profile.sh [N=100000] [MB=1024]   (scripts/deps.sh --bench installs valgrind, time)
# KVMSIM_PROFILE_BUILD=0 uses build-release/kvmsim as it is (no cmake step).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
mb=${2:-1024}
for t in valgrind callgrind_annotate /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench-profile: $t missing (scripts/deps.sh --bench)" >&2; exit 2; }
done
if [[ "${KVMSIM_PROFILE_BUILD:-1}" != 0 ]]; then
  cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-g -DKVMSIM_WERROR=OFF >/dev/null
  cmake --build build-release -j2 --target kvmsim
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bench/gen_churn_trace.sh "$n" >"$tmp/churn.trace"
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" build-release/kvmsim replay "$tmp/churn.trace" \
  >"$tmp/cg.stdout" 2>"$tmp/cg.stderr"
callgrind_annotate --auto=no --threshold=100 --inclusive=no "$tmp/cg.out" >"$tmp/cg.txt"

# About MB megabytes of the same churn (about 101 bytes per statement), streamed.
big_n=$((mb * 1024 * 1024 / 101))
bench/gen_churn_trace.sh "$big_n" >"$tmp/big.trace"
/usr/bin/time -v build-release/kvmsim replay "$tmp/big.trace" >"$tmp/big.stdout" 2>"$tmp/big.time"
big_bytes=$(stat -c %s "$tmp/big.trace")
rm -f "$tmp/big.trace"

python3 - "$tmp" "$n" "$big_bytes" >bench/profile.json <<'PY'
import json, re, sys
tmp, n, big_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
text = open(f"{tmp}/cg.txt").read()
total = int(re.search(r"^([\d,]+) \(100\.0+%\)\s+PROGRAM TOTALS", text, re.M).group(1).replace(",", ""))
areas = [  # first match wins; patterns on the symbol (file:function)
    ("parser (sim/trace: lexer, parser, AST)", r"sim/trace/|kvmsim::trace::"),
    ("replay engine and handlers (sim/replay*, results formatted as trace text)", r"sim/replay|sim/differential|kvmsim::replay_op|kvmsim::Replayer|kvmsim::TraceStream|kvmsim::(anonymous namespace)::.*format"),
    ("model (model/: memslots, MMU, VM)", r"model/|kvmsim::model::"),
    ("allocator (malloc, free, new, delete)", r"malloc|free|operator new|operator delete|_int_|tcache"),
    ("libc string/memory (memcpy, memmove, memchr, strlen, ...)", r"mem(cpy|move|chr|cmp|set)|str(len|cmp|chr)|__memc|__strlen"),
    ("C++ standard library (std::string, std::map, ...)", r"std::|libstdc\+\+|__gnu_cxx|__cxx"),
]
sums = {a: 0 for a, _ in areas}
sums["other"] = 0
top = []
for line in text.splitlines():
    m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
    if not m or "PROGRAM TOTALS" in line:
        continue
    ir = int(m.group(1).replace(",", ""))
    sym = m.group(2)
    if len(top) < 15:
        top.append({"self_ir": ir, "symbol": re.sub(r"\s*\[[^\]]*\]$", "", sym)[:160]})
    for a, pat in areas:
        if re.search(pat, sym):
            sums[a] += ir
            break
    else:
        sums["other"] += ir
stats = {}
for line in open(f"{tmp}/big.time"):
    k, _, v = line.strip().partition(": ")
    stats[k] = v
def seconds(s):
    parts = [float(p) for p in s.split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
summary = open(f"{tmp}/big.stdout").read().strip().splitlines()
stmts = int(re.search(r"\] (\d+) statements", summary[0]).group(1))
wall = seconds(stats["Elapsed (wall clock) time (h:mm:ss or m:ss)"])
json.dump({
    "callgrind": {
        "statements": n,
        "total_ir": total,
        "ir_per_statement": total / n,
        "areas": [{"area": a, "ir": v, "share": v / total} for a, v in sums.items()],
        "top_self": top,
    },
    "rss": {
        "trace_bytes": big_bytes,
        "statements": stmts,
        "max_rss_kib": int(stats["Maximum resident set size (kbytes)"]),
        "wall_s": wall,
        "user_s": float(stats["User time (seconds)"]),
        "stmts_per_s_wall": stmts / wall,
        "result": summary[-1],
    },
}, sys.stdout, indent=1)
print()
PY
echo "bench-profile: wrote bench/profile.json" >&2
