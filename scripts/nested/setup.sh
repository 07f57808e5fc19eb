#!/usr/bin/env bash
# Prepares the nested TDP oracle (docs/nested.md): host tools via apt, and the pinned kernel and busybox
# packages (scripts/nested/versions.env) fetched with `apt-get download` and unpacked with `dpkg-deb -x`
# into BUILD/nested/cache (not installed). Idempotent: a stamp per package records what was unpacked, so
# a second run with the same pins does no network or disk work.
# Usage: scripts/nested/setup.sh [--build-dir DIR]     (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build_dir="$root/build"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$(realpath -m "$2")"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
# shellcheck source=versions.env
source "$here/versions.env"
cache="$build_dir/nested/cache"
mkdir -p "$cache/debs"

# ---- host tools
missing=()
for p in $NESTED_HOST_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup.sh: installing ${missing[*]}" >&2
  sudo_cmd=(); [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# ---- pinned packages: download + unpack once per exact version
updated=0
find_deb() {  # find_deb PKG VERSION: the cached .deb of exactly that version, or nothing
  local f
  for f in "$cache/debs/${1}_"*.deb; do
    [[ -f "$f" && "$(dpkg-deb -f "$f" Version)" == "$2" ]] && { echo "$f"; return 0; }
  done
  return 0
}
fetch() {  # fetch PKG VERSION DEST
  local pkg="$1" ver="$2" dest="$3"
  local stamp="$dest/.unpacked"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$pkg=$ver" ]]; then return 0; fi
  local deb
  deb="$(find_deb "$pkg" "$ver")"
  if [[ -z "$deb" ]]; then
    if ! (cd "$cache/debs" && apt-get download "$pkg=$ver" >&2); then
      (apt-get update -qq >&2 || true)
      if ! (cd "$cache/debs" && apt-get download "$pkg=$ver" >&2); then
        echo "setup.sh: cannot download $pkg=$ver; available:" >&2
        apt-cache policy "$pkg" >&2 || true
        echo "setup.sh: update the pin in scripts/nested/versions.env (and say so in docs/nested.md)" >&2
        exit 1
      fi
    fi
    deb="$(find_deb "$pkg" "$ver")"
    [[ -n "$deb" ]] || { echo "setup.sh: apt-get download gave no $pkg=$ver" >&2; exit 1; }
  fi
  rm -rf "$dest"; mkdir -p "$dest"
  dpkg-deb -x "$deb" "$dest"
  echo "$pkg=$ver" > "$stamp"
  updated=1
  echo "setup.sh: unpacked $pkg=$ver into $dest" >&2
}
fetch "$NESTED_KERNEL_PKG" "$NESTED_KERNEL_VERSION" "$cache/kernel-$NESTED_KERNEL_RELEASE"
fetch "$NESTED_BUSYBOX_PKG" "$NESTED_BUSYBOX_VERSION" "$cache/busybox"

kdir="$cache/kernel-$NESTED_KERNEL_RELEASE"
[[ -f "$kdir/boot/vmlinuz-$NESTED_KERNEL_RELEASE" ]] || { echo "setup.sh: no vmlinuz in $kdir" >&2; exit 1; }
[[ -x "$cache/busybox/bin/busybox" ]] || { echo "setup.sh: no busybox in $cache/busybox" >&2; exit 1; }
if [[ $updated -eq 0 ]]; then echo "setup.sh: cache up to date ($cache)" >&2; fi
