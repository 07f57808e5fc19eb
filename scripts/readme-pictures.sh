#!/usr/bin/env bash
# Regenerates the pictures README.md and docs/map.md show, from the built tool: `kvmsim map` and
# `kvmsim map --timeline` of docs/examples/vmm-guest.trace, rendered to PNG by headless Chromium
# (scripts/deps.sh installs it). Usage: scripts/readme-pictures.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
k="${1:-build}/kvmsim"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
trace=docs/examples/vmm-guest.trace
shot() {  # shot HTML PNG
  local height
  height="$(grep -o 'height="[0-9]*"' "$1" | head -1 | tr -dc 0-9)"
  chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --no-first-run \
    --user-data-dir="$tmp/profile" --window-size=1224,$((height + 24)) --screenshot="$2" "file://$(realpath "$1")" \
    >/dev/null 2>>"$tmp/chromium.log"
  echo "readme-pictures: $2"
}
"$k" map "$trace" -o "$tmp/map.html"
"$k" map --timeline "$trace" -o "$tmp/timeline.html"
shot "$tmp/map.html" docs/img/map.png
shot "$tmp/timeline.html" docs/img/timeline.png
