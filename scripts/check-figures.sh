#!/usr/bin/env bash
# Fails (exit 1, with a diff) when a figure or count in the docs differs from what the tool produces now:
# scripts/figures.sh --check. Needs the built kvmsim (BUILD_DIR, default build).
set -euo pipefail
exec "$(dirname "$0")/figures.sh" --check "$@"
