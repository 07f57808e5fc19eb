#!/usr/bin/env bash
# Prepares the nested TDP oracle (docs/nested.md): host tools via apt, and the pinned kernel and busybox
# packages (scripts/nested/versions.env) fetched with `apt-get download` and unpacked with `dpkg-deb -x`
# into BUILD/nested/cache (not installed). Idempotent: a stamp per package records what was unpacked, so
# a second run with the same pins does no network or disk work.
# Usage: scripts/nested/setup.sh [--build-dir DIR]
#          [--flavour linux-6.12|linux-6.12-swprot|linux-7.3|linux-7.3-swprot|all]
#   (defaults: build, linux-6.12). linux-6.12-swprot also downloads the generic image, the headers,
#   kbuild and source packages, and rebuilds kvm.ko/kvm-amd.ko with CONFIG_KVM_SW_PROTECTED_VM once
#   (≈1-5 min on 2 cores; cached under BUILD/nested/cache/swprot-modules-VERSION with a stamp).
#   linux-7.3 reads trixie-backports through a private apt configuration (BUILD/nested/cache/apt);
#   linux-7.3-swprot also makes a trixie build root with debootstrap (cached, needs root) and rebuilds
#   kvm.ko/kvm-amd.ko there from linux-source-7.3 (stamped like 6.12's).
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
apt_env=""
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
    # $apt_env is empty for the machine's own sources, APT_CONFIG=... for the private 7.3 configuration.
    if ! (cd "$cache/debs" && env $apt_env apt-get download "$pkg=$ver" >&2); then
      (env $apt_env apt-get update -qq >&2 || true)
      if ! (cd "$cache/debs" && env $apt_env apt-get download "$pkg=$ver" >&2); then
        echo "setup.sh: cannot download $pkg=$ver; available:" >&2
        env $apt_env apt-cache policy "$pkg" >&2 || true
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
  apt_env=""  # the machine's own sources (bookworm-security)
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
  apt_env=""
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

# ---- Linux 7.3 (trixie-backports) through a private apt configuration
# Everything apt reads or writes for 7.3 lives under $cache/apt: its own sources list (trixie-backports on the
# Debian mirror the machine already uses), package lists, archive cache, an empty dpkg status and empty
# SourceParts/Preferences(Parts) directories, so neither the machine's sources nor its pins take part. The
# trixie keys are in bookworm's debian-archive-keyring (2023.3+deb12u2: "13/trixie" archive and release keys),
# so the index is verified; nothing is fetched unauthenticated. apt.conf.d parts are still read (the machine's
# Acquire settings); they change no source or pin.
debian_mirror() {  # the Debian mirror of the machine's own sources (read only), or $NESTED_DEBIAN_MIRROR
  if [[ -n "${NESTED_DEBIAN_MIRROR:-}" ]]; then echo "$NESTED_DEBIAN_MIRROR"; return 0; fi
  local m=""
  m="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
       awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')"
  [[ -n "$m" ]] || m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
       awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) { print $i; exit } }')"
  echo "${m:-http://deb.debian.org/debian}"
}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
setup_private_apt() {
  local a="$cache/apt" mirror
  mirror="$(debian_mirror)"
  mkdir -p "$a/lists/partial" "$a/archives/partial" "$a/empty.d"
  [[ -f "$a/status" ]] || : > "$a/status"
  [[ -f "$a/preferences" ]] || : > "$a/preferences"
  local sources="deb [signed-by=$keyring] $mirror $NESTED73_SUITE main"
  if [[ ! -f "$a/sources.list" || "$(cat "$a/sources.list")" != "$sources" ]]; then
    echo "$sources" > "$a/sources.list"
    rm -rf "$a/lists"; mkdir -p "$a/lists/partial"  # another mirror or suite: its lists are stale
  fi
  cat > "$a/apt.conf" <<EOF
Dir::Etc::SourceList "$a/sources.list";
Dir::Etc::SourceParts "$a/empty.d";
Dir::Etc::Preferences "$a/preferences";
Dir::Etc::PreferencesParts "$a/empty.d";
Dir::State::Lists "$a/lists";
Dir::State::status "$a/status";
Dir::Cache "$a";
Dir::Cache::archives "$a/archives";
APT::Sandbox::User "root";
EOF
  apt_env="APT_CONFIG=$a/apt.conf"
  if ! compgen -G "$a/lists/*_Packages*" > /dev/null; then
    echo "setup.sh: apt-get update of $NESTED73_SUITE (private configuration $a/apt.conf)" >&2
    env $apt_env apt-get update -qq >&2 || { echo "setup.sh: apt-get update with $a/apt.conf failed" >&2; exit 1; }
  fi
}

kdir73="$cache/kernel-$NESTED73_RELEASE"
setup_73() {
  local want="$NESTED73_PKGS =$NESTED73_VERSION"
  if [[ -f "$kdir73/.unpacked" && "$(cat "$kdir73/.unpacked")" == "$want" ]]; then return 0; fi
  setup_private_apt
  local debs=() p
  for p in $NESTED73_PKGS; do debs+=("$(download "$p" "$NESTED73_VERSION")"); [[ -n "${debs[-1]}" ]] || exit 1; done
  rm -rf "$kdir73"; mkdir -p "$kdir73"
  for p in "${debs[@]}"; do dpkg-deb -x "$p" "$kdir73"; done
  local m="$kdir73/usr/lib/modules/$NESTED73_RELEASE"
  [[ -f "$m/vmlinuz" && -f "$m/config" && -f "$m/kernel/arch/x86/kvm/kvm.ko.xz" ]] ||
    { echo "setup.sh: unexpected layout in $kdir73 (vmlinuz, config, kvm.ko.xz)" >&2; exit 1; }
  echo "$want" > "$kdir73/.unpacked"
  updated=1
  echo "setup.sh: unpacked Linux $NESTED73_VERSION into $kdir73" >&2
}

# The trixie build root for the 7.3 module rebuild: Debian's own gcc-14/binutils, as the packaged kernel was
# built with; bookworm's gcc-12 gives compiler-dependent config differences that make insmod reject the
# modules. Made once with debootstrap (needs root: chroot, device nodes) and reused; the stamp names the
# suite and package list.
root73="$cache/trixie-root"
setup_buildroot73() {
  local want="$NESTED73_BUILDROOT_SUITE $NESTED73_BUILDROOT_PACKAGES"
  if [[ -f "$root73/.kvmsim-buildroot" && "$(cat "$root73/.kvmsim-buildroot")" == "$want" ]]; then return 0; fi
  [[ $(id -u) -eq 0 ]] || { echo "setup.sh: the trixie build root needs root (debootstrap, chroot)" >&2; exit 1; }
  command -v debootstrap > /dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2; }
  # bookworm's debootstrap knows trixie (a link to its sid script); an older one may not: then a link in the
  # cache, never under /usr.
  local script="/usr/share/debootstrap/scripts/$NESTED73_BUILDROOT_SUITE"
  if [[ ! -e "$script" ]]; then
    mkdir -p "$cache/debootstrap"; script="$cache/debootstrap/$NESTED73_BUILDROOT_SUITE"
    ln -sf /usr/share/debootstrap/scripts/sid "$script"
  fi
  # A debootstrap that died half-way may leave its proc/sys mounts behind: never recurse into them.
  local m
  for m in dev/pts proc sys; do mountpoint -q "$root73/$m" 2>/dev/null && umount -l "$root73/$m"; done
  rm -rf "$root73"
  local t0=$SECONDS
  echo "setup.sh: debootstrap $NESTED73_BUILDROOT_SUITE into $root73" >&2
  if ! debootstrap --variant=minbase --keyring="$keyring" --include="$NESTED73_BUILDROOT_PACKAGES" \
       "$NESTED73_BUILDROOT_SUITE" "$root73" "$(debian_mirror)" "$script" > "$cache/debootstrap.log" 2>&1; then
    echo "setup.sh: debootstrap failed; last lines of $cache/debootstrap.log:" >&2
    tail -n 20 "$cache/debootstrap.log" >&2
    exit 1
  fi
  ln -sf gcc-14 "$root73/usr/bin/gcc"; ln -sf gcc-14 "$root73/usr/bin/cc"
  rm -rf "$root73/var/cache/apt/archives/"*.deb
  echo "$want" > "$root73/.kvmsim-buildroot"
  updated=1
  echo "setup.sh: trixie build root ready in $((SECONDS - t0)) s" >&2
}

# kvm.ko + kvm-amd.ko of 7.3.4 with CONFIG_KVM_SW_PROTECTED_VM, for the packaged cloud kernel. The build is the
# full-tree way (modules_prepare, then M=arch/x86/kvm) in the trixie root, from the package's own config with
# one option enabled; signing keys are cleared (the modules load unsigned: a taint only) and Rust drops out
# (no rustc in the root; KVM has none). The kernel has no MODVERSIONS, so vermagic is all that must match:
# checked against the packaged kvm.ko before the result is cached.
setup_swprot73() {
  local out="$cache/swprot-modules-$NESTED73_RELEASE"
  local want="CONFIG_KVM_SW_PROTECTED_VM=y $NESTED73_SOURCE_PKG=$NESTED73_VERSION root=$NESTED73_BUILDROOT_SUITE"
  if [[ -f "$out/.built" && "$(cat "$out/.built")" == "$want" && -f "$out/kvm.ko" && -f "$out/kvm-amd.ko" ]]; then
    return 0
  fi
  setup_73
  setup_buildroot73
  setup_private_apt
  local deb; deb="$(download "$NESTED73_SOURCE_PKG" "$NESTED73_VERSION")"; [[ -n "$deb" ]] || exit 1
  local srcname="$NESTED73_SOURCE_PKG" t0=$SECONDS
  local src="$root73/build/$srcname" rel="$NESTED73_RELEASE"
  echo "setup.sh: building kvm.ko/kvm-amd.ko $NESTED73_VERSION with CONFIG_KVM_SW_PROTECTED_VM in $root73" >&2
  # The extracted tree is stamped: a build that failed (or was interrupted) resumes incrementally.
  if [[ ! -f "$root73/build/.extracted" || "$(cat "$root73/build/.extracted")" != "$srcname=$NESTED73_VERSION" ]]; then
    rm -rf "$root73/build"; mkdir -p "$root73/build"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$srcname.tar.xz" | xz -dc | tar -x -C "$root73/build"
    cp "$kdir73/usr/lib/modules/$rel/config" "$src/.config"
    echo "$srcname=$NESTED73_VERSION" > "$root73/build/.extracted"
  fi
  # objtool reads /proc (its stack limit): proc is mounted for the build and unmounted whatever happens.
  mountpoint -q "$root73/proc" || mount -t proc proc "$root73/proc"
  local rc=0
  chroot "$root73" /bin/sh -c "cd /build/$srcname &&
        scripts/config --enable KVM_SW_PROTECTED_VM --set-str SYSTEM_TRUSTED_KEYS '' \
                       --set-str SYSTEM_REVOCATION_KEYS '' --set-str MODULE_SIG_KEY '' &&
        make olddefconfig &&
        make -j2 modules_prepare KERNELRELEASE=$rel &&
        make -j2 M=arch/x86/kvm modules KERNELRELEASE=$rel KBUILD_MODPOST_WARN=1" > "$cache/swprot73-build.log" 2>&1 || rc=$?
  umount "$root73/proc" || umount -l "$root73/proc"
  if [[ $rc -ne 0 ]]; then
    echo "setup.sh: the 7.3 kvm module build failed; last lines of $cache/swprot73-build.log:" >&2
    tail -n 30 "$cache/swprot73-build.log" >&2
    exit 1
  fi
  grep -q '^CONFIG_KVM_SW_PROTECTED_VM=y' "$src/.config" ||
    { echo "setup.sh: olddefconfig dropped CONFIG_KVM_SW_PROTECTED_VM" >&2; exit 1; }
  # modinfo from the build root (the host may have no kmod).
  local stock built
  xz -dc "$kdir73/usr/lib/modules/$rel/kernel/arch/x86/kvm/kvm.ko.xz" > "$root73/build/stock-kvm.ko"
  stock="$(chroot "$root73" modinfo -F vermagic /build/stock-kvm.ko)"
  built="$(chroot "$root73" modinfo -F vermagic "/build/$srcname/arch/x86/kvm/kvm.ko")"
  [[ -n "$built" && "$stock" == "$built" ]] ||
    { echo "setup.sh: rebuilt kvm.ko vermagic '$built' differs from the package's '$stock'" >&2; exit 1; }
  # Debug info makes kvm.ko 28 MB; the packaged modules carry none, and the initramfs is smaller without.
  chroot "$root73" strip --strip-debug "/build/$srcname/arch/x86/kvm/kvm.ko" "/build/$srcname/arch/x86/kvm/kvm-amd.ko"
  rm -rf "$out"; mkdir -p "$out"
  cp "$src/arch/x86/kvm/kvm.ko" "$src/arch/x86/kvm/kvm-amd.ko" "$out/"
  echo "$want" > "$out/.built"
  rm -rf "$root73/build"  # ≈1.5 GB of tree; the build root itself stays cached
  updated=1
  echo "setup.sh: built $out/kvm.ko and kvm-amd.ko in $((SECONDS - t0)) s (vermagic $built)" >&2
}

case "$flavour" in
  linux-6.12) setup_cloud ;;
  linux-6.12-swprot) setup_swprot ;;
  linux-7.3) setup_73 ;;
  linux-7.3-swprot) setup_73; setup_swprot73 ;;
  all) setup_cloud; setup_swprot; setup_73; setup_swprot73 ;;
  *) echo "setup.sh: unknown flavour '$flavour' (known: linux-6.12, linux-6.12-swprot, linux-7.3, linux-7.3-swprot, all)" >&2
     exit 2 ;;
esac
if [[ $updated -eq 0 ]]; then echo "setup.sh: cache up to date ($cache)" >&2; fi
