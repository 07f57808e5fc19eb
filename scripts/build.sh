#!/usr/bin/env bash
# Configures and builds kvmsim into build/ (warnings are errors, as in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVMSIM_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
