#!/usr/bin/env bash
# CI fuzzing (docs/fuzz.md): a fixed set of seeds, bounded in time (about 3 minutes at most; each seed
# has its own --time-budget). Fails on any divergence that the profile and the documented known-open
# list (sim/fuzz/known_open.cpp) do not explain; the shrunk trace of a failure is left in build/fuzz-ci/
# with the command that replays it.
#  * model vs the reference page tables (model,model-ref) on every seed, always;
#  * model vs this host's /dev/kvm on every seed, and the fuzz regression corpus on both, when /dev/kvm
#    opens (otherwise one SKIP line with the reason; the nested oracle's seeds are in scripts/nested/ci.sh);
#  * the inject statements on model vs model (--faults);
#  * the KVM_MAP_MEMORY RFC profile (its generator emits KVM_MAP_MEMORY), model vs model-ref, one seed
#    (bounded by --time-budget 20); the same for linux-7.3 and the guest_memfd conversion and write() profiles.
set -euo pipefail
cd "$(dirname "$0")/.."
KVMSIM=build/kvmsim
OUT=build/fuzz-ci
SEEDS=(1 2 3 4 5 6 7 8 9 10 11 12 0123456789abcdef0123456789abcdef01234567)
STEPS=10000
BUDGET=10   # seconds per seed (a seed normally needs about 1 s on this host)
rm -rf "$OUT"
pairs=(model,model-ref)
if why="$("$KVMSIM" probe 2>&1 >/dev/null)"; then
  pairs+=(model,kvm)
else
  echo "fuzz-ci: SKIP model,kvm: ${why#kvmsim: }"
fi
for pair in "${pairs[@]}"; do
  for s in "${SEEDS[@]}"; do
    rc=0
    "$KVMSIM" fuzz --seed "$s" --steps "$STEPS" --backend "$pair" --time-budget "$BUDGET" --out "$OUT" \
      > "$OUT.log" 2> "$OUT.err" || rc=$?
    tail -n 1 "$OUT.err"
    if [ "$rc" -ne 0 ]; then
      cat "$OUT.log" | grep -v '^case ' || true
      echo "fuzz-ci: $pair seed $s failed (exit $rc)"
      exit 1
    fi
    grep -E '^(explained|result):' "$OUT.log"
  done
done
"$KVMSIM" fuzz --seed 1 --steps 20000 --backend model,model --faults --out "$OUT" > "$OUT.log" 2> "$OUT.err" \
  || { cat "$OUT.log"; echo "fuzz-ci: model,model --faults failed"; exit 1; }
tail -n 1 "$OUT.log"
"$KVMSIM" fuzz --seed 1 --steps 10000 --backend model,model-ref --profile rfc-map-memory-v1 --time-budget 20 \
  --out "$OUT" > "$OUT.log" 2> "$OUT.err" || { cat "$OUT.log"; echo "fuzz-ci: rfc-map-memory-v1 failed"; exit 1; }
grep -E '^(explained|result):' "$OUT.log"
# The guest_memfd proposals (conversion, write()): their generator emits KVM_SET_MEMORY_ATTRIBUTES2, pwrite and
# content loads of mmapped guest_memfds (docs/fuzz.md "What the generator does").
for p in linux-7.3 gmem-inplace-conversion gmem-write-populate; do
  "$KVMSIM" fuzz --seed 1 --steps 10000 --backend model,model-ref --profile "$p" --time-budget 20 \
    --out "$OUT" > "$OUT.log" 2> "$OUT.err" || { cat "$OUT.log"; echo "fuzz-ci: $p failed"; exit 1; }
  grep -E '^(explained|result):' "$OUT.log"
done
if [[ " ${pairs[*]} " == *" model,kvm "* ]]; then
  "$KVMSIM" replay --backend both --require-kvm traces/regressions
fi
