#!/usr/bin/env bash
# A sharded campaign over two local workers with GNU parallel gives the unsharded run's results
# (docs/fuzz.md "Sharded campaigns"): for `kvmsim fuzz --seeds` and for `kvmsim conformance`, the
# `kvmsim merge` of the two shards' JSON (or JUnit) reports must equal, byte for byte, the merge of the unsharded
# report; and the GoogleTest binary's own sharding (GTEST_TOTAL_SHARDS/GTEST_SHARD_INDEX) must run every
# conformance test exactly once. The findings side of the merge (de-duplication by signature) is tested
# in sim/test/shard_test.cpp with a planted bug, which only an in-process model can carry.
# Usage: scripts/shard-test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
B="${1:-build}"
K="$B/kvmsim"
command -v parallel >/dev/null || { echo "shard-test: GNU parallel missing (scripts/deps.sh --sanitize installs it)"; exit 2; }
d="$(mktemp -d)"
trap 'rm -rf "$d"' EXIT
SEEDS=1-12 STEPS=3000

echo "== shard-test: fuzz --seeds $SEEDS on model,model-ref, unsharded vs 2 shards (GNU parallel)"
"$K" fuzz --seeds "$SEEDS" --steps "$STEPS" --backend model,model-ref --format json > "$d/full.json" 2>/dev/null
parallel --will-cite --jobs 2 --halt now,fail=1 \
  "$K" fuzz --seeds "$SEEDS" --steps "$STEPS" --backend model,model-ref --format json --shard {}/2 \
  '>' "$d/shard{}.json" '2>/dev/null' ::: 0 1
"$K" merge "$d/full.json" > "$d/full.merged"
"$K" merge "$d/shard0.json" "$d/shard1.json" > "$d/shards.merged"
diff -u "$d/full.merged" "$d/shards.merged"
grep -q '"seeds": 12,' "$d/shards.merged" || { echo "shard-test: the merged report does not hold 12 seeds"; exit 1; }

echo "== shard-test: conformance on model,model-ref, unsharded vs 2 shards (GNU parallel)"
"$K" conformance --backend model,model-ref --format json > "$d/conf.json" 2>/dev/null
parallel --will-cite --jobs 2 --halt now,fail=1 \
  "$K" conformance --backend model,model-ref --format json --shard {}/2 '>' "$d/conf{}.json" '2>/dev/null' ::: 0 1
"$K" merge "$d/conf.json" > "$d/conf.merged" 2>/dev/null
"$K" merge "$d/conf0.json" "$d/conf1.json" > "$d/confs.merged" 2>/dev/null
diff -u "$d/conf.merged" "$d/confs.merged"
# The same shards written as JUnit merge to the same report (JSON and JUnit out).
parallel --will-cite --jobs 2 --halt now,fail=1 \
  "$K" conformance --backend model,model-ref --format junit --shard {}/2 '>' "$d/conf{}.xml" '2>/dev/null' ::: 0 1
"$K" merge "$d/conf0.xml" "$d/conf1.xml" > "$d/confx.merged" 2>/dev/null
diff -u "$d/conf.merged" "$d/confx.merged"
"$K" merge --format junit "$d/conf.json" > "$d/conf.junit" 2>/dev/null
"$K" merge --format junit "$d/conf1.xml" "$d/conf0.json" > "$d/confx.junit" 2>/dev/null
diff -u "$d/conf.junit" "$d/confx.junit"
# The environment variables select the same shard as --shard.
GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=1 "$K" conformance --backend model --format json > "$d/env1.json" 2>/dev/null || true
"$K" conformance --backend model --format json --shard 1/2 > "$d/flag1.json" 2>/dev/null || true
diff -u "$d/flag1.json" "$d/env1.json"

echo "== shard-test: the GoogleTest conformance binary under GTEST_TOTAL_SHARDS=2 (GNU parallel)"
all="$("$B/kvmsim_conformance" --gtest_list_tests | grep -c '^  ')"
parallel --will-cite --jobs 2 "GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX={} $B/kvmsim_conformance --gtest_brief=1 > $d/gtest{}.log 2>&1" ::: 0 1
ran=$(cat "$d"/gtest[01].log | sed -nE 's/.*\[==========\] ([0-9]+) tests? from .* ran\..*/\1/p' | paste -sd+ | bc)
[[ "$ran" == "$all" ]] || { echo "shard-test: gtest shards ran $ran tests, the suite has $all"; exit 1; }
echo "shard-test: 2 shards = unsharded (fuzz: 12 seeds; conformance: $(grep -c '"backend"' "$d/conf.merged") results; gtest: $ran tests)"
