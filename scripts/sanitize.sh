#!/usr/bin/env bash
# The sanitizer job (docs/fuzz.md "Sanitizers"): builds kvmsim with clang, AddressSanitizer (leak
# checking on) and UndefinedBehaviorSanitizer into build-asan/ (-DKVMSIM_SANITIZE=ON; the same build
# carries the libFuzzer targets, -DKVMSIM_LIBFUZZER=ON), then runs under it: the unit tests and the
# conformance cases (ctest), every trace on the model and on model,model-ref, the conformance suite on
# model and model-ref, and a subset of the fuzz seeds. Any report is fatal (-fno-sanitize-recover=all,
# halt_on_error): the job passes only with zero reports. No /dev/kvm needed.
# Usage: scripts/sanitize.sh [--build-only]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-asan
scripts/deps.sh --sanitize
# One clang build serves the sanitizer job and the libFuzzer targets (gcc has no libFuzzer). -O1 with line
# tables only: stack traces keep file:line, and a cold build costs about half the CPU of -O2 -g (docs/fuzz.md
# "CI"). _GLIBCXX_ASSERTIONS adds libstdc++'s bounds checks (operator[] within capacity, front() of empty).
# No -Werror here: the gcc build of scripts/build.sh is the warning gate.
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_COMPILER=clang++-16 \
  -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -gline-tables-only -D_GLIBCXX_ASSERTIONS" \
  -DKVMSIM_SANITIZE=ON -DKVMSIM_LIBFUZZER=ON -DKVMSIM_BUILD_BENCH=OFF >/dev/null
# Only what the job runs: the CLI, the two GoogleTest binaries ctest runs, and the fuzz targets.
cmake --build "$BUILD" -j"$(nproc)" --target kvmsim kvmsim_tests kvmsim_conformance $(cut -d" " -f1 "$BUILD/fuzz-targets.txt")
[[ "${1:-}" == --build-only ]] && exit 0

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
K="$BUILD/kvmsim"
echo "== sanitizers: unit tests and conformance cases (ctest)"
(cd "$BUILD" && ctest --output-on-failure -j"$(nproc)" --timeout 900)
echo "== sanitizers: golden traces on the model"
"$K" replay traces/ | tail -n 1
echo "== sanitizers: golden traces on model,model-ref"
"$K" replay --backend model,model-ref traces/ | tail -n 1
echo "== sanitizers: conformance on model and model-ref"
"$K" conformance --backend model,model-ref | grep -E '^(FAILED|conformance:)'
echo "== sanitizers: fuzz seeds (a subset of scripts/fuzz-ci.sh's; model,model-ref and --faults)"
for s in 1 2 3; do
  "$K" fuzz --seed "$s" --steps 2000 --backend model,model-ref | tail -n 1
done
"$K" fuzz --seed 1 --steps 2000 --backend model,model --faults | tail -n 1
echo "sanitize: clean (ASan+LSan+UBSan, zero reports)"
