#!/usr/bin/env bash
# Prepares the nested TDP oracle (docs/nested.md): host tools via apt, and the pinned kernel and busybox
# packages (scripts/nested/versions.env) fetched with `apt-get download` and unpacked with `dpkg-deb -x`
# into BUILD/nested/cache (not installed). Idempotent: a stamp per package records what was unpacked, so
# a second run with the same pins does no network or disk work.
# Usage: scripts/nested/setup.sh [--build-dir DIR] [--flavour linux-6.12|linux-6.12-swprot|all]
#   (defaults: build, linux-6.12). linux-6.12-swprot also downloads the generic image, the headers,
#   kbuild and source packages, and rebuilds kvm.ko/kvm-amd.ko with CONFIG_KVM_SW_PROTECTED_VM once
#   (≈1-5 min on 2 cores; cached under BUILD/nested/cache/swprot-modules-VERSION with a stamp).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build_dir="$root/build"
flavour=linux-6.12
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$(realpath -m "$2")"; shift 2 ;;
    --flavour) flavour="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
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
download() {  # download PKG VERSION: prints the cached .deb of exactly that version (downloads it once)
  local pkg="$1" ver="$2" deb
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
  echo "$deb"
}
fetch() {  # fetch PKG VERSION DEST: download and unpack into DEST once per exact version
  local pkg="$1" ver="$2" dest="$3"
  local stamp="$dest/.unpacked"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$pkg=$ver" ]]; then return 0; fi
  local deb
  deb="$(download "$pkg" "$ver")"; [[ -n "$deb" ]] || exit 1
  rm -rf "$dest"; mkdir -p "$dest"
  dpkg-deb -x "$deb" "$dest"
  echo "$pkg=$ver" > "$stamp"
  updated=1
  echo "setup.sh: unpacked $pkg=$ver into $dest" >&2
}
fetch "$NESTED_BUSYBOX_PKG" "$NESTED_BUSYBOX_VERSION" "$cache/busybox"
[[ -x "$cache/busybox/bin/busybox" ]] || { echo "setup.sh: no busybox in $cache/busybox" >&2; exit 1; }

setup_cloud() {
  fetch "$NESTED_KERNEL_PKG" "$NESTED_KERNEL_VERSION" "$cache/kernel-$NESTED_KERNEL_RELEASE"
  local kdir="$cache/kernel-$NESTED_KERNEL_RELEASE"
  [[ -f "$kdir/boot/vmlinuz-$NESTED_KERNEL_RELEASE" ]] || { echo "setup.sh: no vmlinuz in $kdir" >&2; exit 1; }
}

# kvm.ko + kvm-amd.ko rebuilt out of tree with CONFIG_KVM_SW_PROTECTED_VM (docs/nested.md "The swprot modules").
# The headers packages form the build tree; only arch/x86/kvm and virt/kvm come from linux-source. They are
# copied into the -common tree because that tree is $(srctree) for out-of-tree builds: the kvm Makefile
# includes $(srctree)/virt/kvm/Makefile.kvm and trace.h is found through include/trace/define_trace.h's
# ../../arch/x86/kvm. The generic image's vermagic is "6.12.117+deb12-amd64 SMP preempt mod_unload modversions";
# the headers' .config and Module.symvers give the same, so the rebuilt modules load (unsigned: taint only).
setup_swprot() {
  local v="$NESTED_SWPROT_VERSION"
  fetch "$NESTED_SWPROT_KERNEL_PKG" "$v" "$cache/kernel-$NESTED_SWPROT_KERNEL_RELEASE"
  local kdir="$cache/kernel-$NESTED_SWPROT_KERNEL_RELEASE"
  [[ -f "$kdir/boot/vmlinuz-$NESTED_SWPROT_KERNEL_RELEASE" ]] || { echo "setup.sh: no vmlinuz in $kdir" >&2; exit 1; }
  local out="$cache/swprot-modules-$NESTED_SWPROT_KERNEL_RELEASE"
  local want="CONFIG_KVM_SW_PROTECTED_VM=1 $NESTED_SWPROT_SOURCE_PKG=$v $NESTED_SWPROT_HEADERS_PKG=$v"
  if [[ -f "$out/.built" && "$(cat "$out/.built")" == "$want" && -f "$out/kvm.ko" && -f "$out/kvm-amd.ko" ]]; then
    return 0
  fi
  local debs=() p
  for p in "$NESTED_SWPROT_HEADERS_PKG" "$NESTED_SWPROT_HEADERS_COMMON_PKG" "$NESTED_SWPROT_KBUILD_PKG" \
           "$NESTED_SWPROT_SOURCE_PKG"; do
    debs+=("$(download "$p" "$v")"); [[ -n "${debs[-1]}" ]] || exit 1
  done
  local tree="$cache/swprot-build"
  rm -rf "$tree"; mkdir -p "$tree"
  echo "setup.sh: building kvm.ko/kvm-amd.ko with CONFIG_KVM_SW_PROTECTED_VM in $tree" >&2
  local t0=$SECONDS
  for p in "${debs[@]:0:3}"; do dpkg-deb -x "$p" "$tree"; done  # relative symlinks (scripts, tools) need one root
  local hdr="$tree/usr/src/$NESTED_SWPROT_HEADERS_PKG" common="$tree/usr/src/$NESTED_SWPROT_HEADERS_COMMON_PKG"
  local srcname="${NESTED_SWPROT_SOURCE_PKG}"
  [[ -f "$hdr/Makefile" && -f "$common/Makefile" ]] || { echo "setup.sh: unexpected headers layout in $tree" >&2; exit 1; }
  echo "include $common/Makefile" > "$hdr/Makefile"  # was /usr/src/...-common/Makefile (absolute)
  mkdir -p "$tree/src"
  dpkg-deb --fsys-tarfile "${debs[3]}" | tar -xO "./usr/src/$srcname.tar.xz" | xz -dc |
    tar -x -C "$tree/src" "$srcname/arch/x86/kvm" "$srcname/virt/kvm"
  mkdir -p "$common/arch/x86" "$common/virt"
  cp -r "$tree/src/$srcname/arch/x86/kvm" "$common/arch/x86/"
  cp -r "$tree/src/$srcname/virt/kvm" "$common/virt/"
  # The one change: the option is a Kconfig bool the distro left off; IS_ENABLED() accepts =1.
  echo 'ccflags-y += -DCONFIG_KVM_SW_PROTECTED_VM=1' >> "$common/arch/x86/kvm/Makefile"
  # CONFIG_KVM_INTEL= : TCG has no VMX; CONFIG_DEBUG_INFO_BTF_MODULES= : no pahole/vmlinux BTF needed.
  if ! make -C "$hdr" M="$common/arch/x86/kvm" CONFIG_KVM_INTEL= CONFIG_DEBUG_INFO_BTF_MODULES= -j2 modules \
       > "$tree/build.log" 2>&1; then
    echo "setup.sh: the kvm module build failed; last lines of $tree/build.log:" >&2
    tail -n 30 "$tree/build.log" >&2
    exit 1
  fi
  rm -rf "$out"; mkdir -p "$out"
  cp "$common/arch/x86/kvm/kvm.ko" "$common/arch/x86/kvm/kvm-amd.ko" "$out/"
  echo "$want" > "$out/.built"
  rm -rf "$tree"
  updated=1
  echo "setup.sh: built $out/kvm.ko and kvm-amd.ko in $((SECONDS - t0)) s" >&2
}

case "$flavour" in
  linux-6.12) setup_cloud ;;
  linux-6.12-swprot) setup_swprot ;;
  all) setup_cloud; setup_swprot ;;
  *) echo "setup.sh: unknown flavour '$flavour' (known: linux-6.12, linux-6.12-swprot, all)" >&2; exit 2 ;;
esac
if [[ $updated -eq 0 ]]; then echo "setup.sh: cache up to date ($cache)" >&2; fi
