#!/usr/bin/env bash
# Quick start line 1, the main job: install what is missing, build, replay every bundled trace on
# the model (one summary line per trace). Exit code is kvmsim's (0: every expectation held).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
exec build/kvmsim replay traces/
