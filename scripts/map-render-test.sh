#!/usr/bin/env bash
# The `kvmsim map` pictures as a browser shows them (docs/map.md): renders the HTML of a few bundled
# traces in headless Chromium (Debian's `chromium`, installed by scripts/deps.sh), checks each PNG is
# not blank (pixel standard deviation, ImageMagick's `identify`), and checks the DOM Chromium built:
# the legend names exactly the mapping levels the map's JSON says are present. No browser or no
# ImageMagick is a failure, never a skip: CI installs both. Chromium runs as root in CI: --no-sandbox.
# Usage: scripts/map-render-test.sh [KVMSIM] [OUT_DIR]   (ctest runs it; ~20 s)
set -euo pipefail
cd "$(dirname "$0")/.."
k="${1:-build/kvmsim}"
out="${2:-$(mktemp -d)}"
mkdir -p "$out"
for tool in chromium identify; do
  if ! command -v "$tool" >/dev/null; then
    echo "map-render-test: FAIL: '$tool' is not installed (scripts/deps.sh installs chromium and imagemagick)" >&2
    exit 1
  fi
done
browser() {  # browser ARGS... : headless Chromium, quiet, deterministic
  chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
    --no-first-run --disable-extensions --user-data-dir="$out/profile" "$@" 2>>"$out/chromium.log"
}
fail=0
check() {  # check TRACE [--timeline]
  local trace=$1 mode=${2:-} name html png height sd
  name="$(basename "$trace" .trace)${mode:+-timeline}"
  html="$out/$name.html"
  png="$out/$name.png"
  "$k" map $mode "$trace" -o "$html"
  height="$(grep -o 'height="[0-9]*"' "$html" | head -1 | tr -dc 0-9)"
  browser --window-size=1240,$((height + 40)) --screenshot="$png" "file://$(realpath "$html")" >/dev/null
  if [[ ! -s "$png" ]]; then
    echo "map-render-test: FAIL: $name: chromium wrote no PNG (see $out/chromium.log)" >&2
    fail=1
    return
  fi
  sd="$(identify -format '%[fx:standard_deviation]' "$png")"
  if ! awk -v sd="$sd" 'BEGIN { exit !(sd > 0.05) }'; then
    echo "map-render-test: FAIL: $name: the PNG looks blank (pixel standard deviation $sd)" >&2
    fail=1
  fi
  if [[ -z "$mode" ]]; then
    local dom want got
    dom="$(browser --dump-dom "file://$(realpath "$html")")"
    want="$("$k" map --format json "$trace" | grep -o '"state": "mapped", "level": "[0-9][KMG]"' | grep -o '[0-9][KMG]' |
      sort -u | tr '\n' ' ')"
    got="$(grep -o 'data-level="[0-9][KMG]"' <<<"$dom" | grep -o '[0-9][KMG]' | sort -u | tr '\n' ' ')"
    if [[ -z "$want" || "$want" != "$got" ]]; then
      echo "map-render-test: FAIL: $name: levels present '$want', legend in the rendered DOM '$got'" >&2
      fail=1
    fi
  fi
  echo "map-render-test: $name: ${height}px, pixel sd $sd"
}
check traces/tdp/level_combined_head_tail.trace
check traces/tdp/level_backing_1g.trace
check traces/tdp/zap_attribute_conversion.trace
check traces/tdp/dirty_log_eager_split_recover.trace --timeline
if [[ $fail -ne 0 ]]; then exit 1; fi
echo "map-render-test: ok"
