#!/usr/bin/env bash
# Records real VMMs with `kvmsim record` inside the Linux 7.3 nested oracle guest (which has /dev/kvm with a
# real TDP MMU; docs/nested.md) and copies the traces out to traces/real/ (docs/vmm-traces.md "Recordings").
# Reproducible, NOT run in CI: CI only replays the committed traces (scripts/nested/ci.sh).
#
# Usage: scripts/nested/record.sh [--build-dir DIR] [--out DIR] [--timeout S]
#   --out  where the traces (and the strace log) go (default traces/real); the raw logs and SeaBIOS logs go to BUILD/nested/record/.
#
# What it does:
#   1. setup.sh --flavour linux-7.3 (the pinned 7.3.4 cloud kernel and its modules, cached).
#   2. A Debian trixie root with qemu-system-x86, stress-ng and strace (debootstrap --variant=minbase from the machine's
#      Debian mirror into BUILD/nested/cache/vmm-root; cached by a stamp naming the package list, rebuilt when it
#      changes; the machine's apt sources are not touched).
#   3. An initramfs: that root + busybox (insmod) + the modules + kvmsim and libkvmsim_record.so (built here,
#      on bookworm: their glibc/libstdc++ needs are older than trixie's).
#   4. Boots the 7.3 guest under TCG (same CPU model and memory as run.sh) and, in it, records QEMU booting
#      SeaBIOS to "No bootable device" with -machine pc and -machine q35, and stress-ng's kvm stressor (its
#      forked worker creates, runs and destroys a real-mode VM per operation), then runs the -machine pc command
#      once more under strace (docs/vmm-traces.md "With strace"), whose log is --out's qemu_seabios_pc.strace.log
#      (the strace importer's test fixture, sim/test/fixtures/strace/); the guest's /init sends each trace, raw
#      log and log to its second serial port between markers.
# Cost: the trixie root's debootstrap once (7 min; again when NESTED_RECORD_PACKAGES changes), then ≈ 2 min a
#   run (the guest ≈ 110 s, of which the strace run ≈ 18 s).
# Exit: 0 recorded; 1 a recording failed (the console tail is printed); 2 usage.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build_dir="$root/build"
out_dir="$root/traces/real"
timeout_s=1500
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$(realpath -m "$2")"; shift 2 ;;
    --out) out_dir="$(realpath -m "$2")"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    *) echo "record.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
# shellcheck source=versions.env
source "$here/versions.env"
[[ $(id -u) -eq 0 ]] || { echo "record.sh: needs root (debootstrap, cpio of a root file system)" >&2; exit 2; }

"$here/setup.sh" --build-dir "$build_dir" --flavour linux-7.3
cache="$build_dir/nested/cache"
release="$NESTED73_RELEASE"
kdir="$cache/kernel-$release"
vmlinuz="$kdir/usr/lib/modules/$release/vmlinuz"
moddir="$kdir/usr/lib/modules/$release/kernel"

# ---- 2. the VMM root (trixie, as the 7.3 kernel's own distribution)
vmm_root="$cache/vmm-root"
want="trixie minbase $NESTED_RECORD_PACKAGES"
if [[ ! -f "$vmm_root/.kvmsim-vmmroot" || "$(cat "$vmm_root/.kvmsim-vmmroot")" != "$want" ]]; then
  command -v debootstrap > /dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
  source <(sed -n '/^debian_mirror()/,/^}/p' "$here/setup.sh")
  rm -rf "$vmm_root.tmp"
  echo "record.sh: debootstrap trixie with $NESTED_RECORD_PACKAGES into $vmm_root" >&2
  debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    --include="$NESTED_RECORD_PACKAGES" trixie "$vmm_root.tmp" "$(debian_mirror)" > "$cache/vmm-debootstrap.log" 2>&1 ||
    { echo "record.sh: debootstrap failed; tail of $cache/vmm-debootstrap.log:" >&2; tail -n 20 "$cache/vmm-debootstrap.log" >&2; exit 1; }
  # Smaller initramfs: documentation, locales and the package cache are not needed to run QEMU.
  rm -rf "$vmm_root.tmp"/usr/share/{doc,man,locale,info} "$vmm_root.tmp"/var/cache/apt/archives/*.deb
  echo "$want" > "$vmm_root.tmp/.kvmsim-vmmroot"
  rm -rf "$vmm_root"; mv "$vmm_root.tmp" "$vmm_root"
fi
qemu_pkg="$(chroot "$vmm_root" dpkg-query -W -f '${Package} ${Version}' qemu-system-x86)"
stress_pkg="$(chroot "$vmm_root" dpkg-query -W -f '${Package} ${Version}' stress-ng)"

# ---- 3. kvmsim + the recorder (dynamic, from this build) and the initramfs
cmake --build "$build_dir" -j2 --target kvmsim kvmsim_record >&2
work="$build_dir/nested/record"
rm -rf "$work"; mkdir -p "$work/stage/kvmsim" "$work/stage/modules" "$work/stage/rec"
cp "$build_dir/kvmsim" "$build_dir/libkvmsim_record.so" "$work/stage/kvmsim/"
cp "$cache/busybox/bin/busybox" "$work/stage/kvmsim/busybox"
for m in virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd; do
  xz -dc "$moddir/$m.ko.xz" > "$work/stage/modules/$(basename "$m").ko"
done
# The recorded command lines. SeaBIOS is told to reboot at once after "No bootable device" (reboot-timeout=0)
# and -no-reboot turns that reboot into QEMU's exit, so every run ends by itself; its debug console (port
# 0x402) goes to a file as the proof of where POST stopped. -nic none: no iPXE ROM, no network boot attempt.
qemu_common="-accel kvm -m 128 -display none -serial none -monitor none -nic none -no-reboot -boot reboot-timeout=0"
# stress-ng: one kvm worker, 2 bogo operations (each a VM created, given one memslot of (random 16-bit + 2)
# pages, run ≈510 times through its port 0x80 loop, and destroyed); --seed makes the memslot sizes the same
# every run; --timeout only bounds a hang.
stress_cmd="stress-ng --kvm 1 --kvm-ops 2 --seed 1 --timeout 120 --verbose"
# The syscalls docs/vmm-traces.md "With strace" tells a VMM team to trace (default decoding, -f).
strace_calls="openat,ioctl,mmap,munmap,madvise,mprotect,memfd_create,fallocate,ftruncate,close"
where="inside the Linux $NESTED73_VERSION nested oracle guest (scripts/nested/record.sh)"
cat > "$work/stage/init" <<INIT
#!/kvmsim/busybox sh
B=/kvmsim/busybox
\$B mount -t proc proc /proc; \$B mount -t sysfs sys /sys; \$B mount -t devtmpfs dev /dev
\$B mount -t tmpfs tmp /tmp
out=/dev/ttyS1
# The module parameters of the linux-7.3 flavour (sim/nested): the replay in CI boots the same.
\$B insmod /modules/irqbypass.ko && \$B insmod /modules/kvm.ko nx_huge_pages=N eager_page_split=Y &&
  \$B insmod /modules/kvm-amd.ko npt=1 || echo "RECORD-FAIL insmod" > \$out
echo "RECORD-BEGIN" > \$out
echo "META qemu \$(qemu-system-x86_64 --version | \$B head -n1)" > \$out
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
send() { for f in "\$@"; do echo "FILE-BEGIN \${f##*/}" > \$out; \$B cat \$f > \$out; echo "FILE-END \${f##*/}" > \$out; done; }
# record NAME NOTE COMMAND...: one kvmsim record run; its trace, raw logs (one per process) and output go out.
record() {
  name=\$1 note=\$2; shift 2
  t0=\$(\$B cut -d' ' -f1 /proc/uptime)
  \$B timeout 600 /kvmsim/kvmsim record --profile linux-7.3 --raw /rec/\$name.raw -o /rec/\$name.trace --note "\$note" -- \
    "\$@" > /rec/record-\$name.txt 2>&1
  echo "META \$name exit=\$? seconds=\$t0-\$(\$B cut -d' ' -f1 /proc/uptime)" > \$out
  send /rec/\$name.trace /rec/\$name.raw* /rec/record-\$name.txt
}
for m in pc q35; do
  record qemu_seabios_\$m "VMM: $qemu_pkg (Debian trixie), $where" \
    qemu-system-x86_64 $qemu_common -machine \$m -chardev file,id=dbg,path=/rec/seabios-\$m.log -device isa-debugcon,iobase=0x402,chardev=dbg
  send /rec/seabios-\$m.log
done
record stress_ng_kvm "VMM: $stress_pkg (Debian trixie), its kvm stressor, $where" $stress_cmd
# The -machine pc command once more under strace, as docs/vmm-traces.md "With strace" recommends: the real log
# the strace importer is tested on (sim/test/fixtures/strace/qemu_seabios_pc_7.3.log).
echo "META strace \$(strace -V | \$B head -n1)" > \$out
t0=\$(\$B cut -d' ' -f1 /proc/uptime)
\$B timeout 600 strace -f -o /rec/qemu_seabios_pc.strace.log -e trace=$strace_calls \
  qemu-system-x86_64 $qemu_common -machine pc -chardev file,id=dbg,path=/rec/seabios-pc-strace.log -device isa-debugcon,iobase=0x402,chardev=dbg \
  > /rec/strace-qemu_seabios_pc.txt 2>&1
echo "META qemu_seabios_pc.strace exit=\$? seconds=\$t0-\$(\$B cut -d' ' -f1 /proc/uptime)" > \$out
send /rec/qemu_seabios_pc.strace.log /rec/seabios-pc-strace.log /rec/strace-qemu_seabios_pc.txt
echo "RECORD-END" > \$out
\$B poweroff -f
INIT
chmod +x "$work/stage/init"
echo "record.sh: packing the initramfs" >&2
if [[ ! -f "$cache/vmm-root.cpio" || "$vmm_root/.kvmsim-vmmroot" -nt "$cache/vmm-root.cpio" ]]; then
  (cd "$vmm_root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$cache/vmm-root.cpio"
fi
(cd "$work/stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$work/overlay.cpio"
cat "$cache/vmm-root.cpio" "$work/overlay.cpio" > "$work/initrd.cpio"

# ---- 4. boot
console="$work/console.log"; results="$work/results.txt"
: > "$console"; : > "$results"
echo "record.sh: booting Linux $NESTED73_VERSION (TCG) to record QEMU pc and q35, and stress-ng --kvm" >&2
t0=$SECONDS
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -machine pc -cpu qemu64,+svm,+npt,+pdpe1gb -smp 1 -m 4G \
  -kernel "$vmlinuz" -initrd "$work/initrd.cpio" -append "console=ttyS0 panic=-1 quiet rdinit=/init" \
  -serial "file:$console" -serial "file:$results" -display none -monitor none -no-reboot -nic none || true
echo "record.sh: guest ran $((SECONDS - t0)) s" >&2
tr -d '\r' < "$results" > "$results.unix"; results="$results.unix"  # the guest's tty wrote CR LF
if ! grep -q '^RECORD-END' "$results"; then
  echo "record.sh: the guest did not finish; console tail:" >&2; tail -n 40 "$console" >&2; exit 1
fi
grep '^META' "$results" >&2
mkdir -p "$out_dir"
awk -v dir="$work" '/^FILE-BEGIN /{f=dir "/" $2; printf "" > f; next} /^FILE-END /{close(f); f=""; next} f{print > f}' "$results"
status=0
for m in pc q35; do
  cat "$work/record-qemu_seabios_$m.txt" >&2
  if ! grep -q "No bootable device" "$work/seabios-$m.log"; then
    echo "record.sh: SeaBIOS ($m) did not reach \"No bootable device\"" >&2; status=1
  fi
  [[ -s "$work/qemu_seabios_$m.trace" ]] || { echo "record.sh: no trace for $m" >&2; status=1; continue; }
  cp "$work/qemu_seabios_$m.trace" "$out_dir/"
done
# The strace run of -machine pc: SeaBIOS must have stopped where it does without strace.
cat "$work/strace-qemu_seabios_pc.txt" >&2
if ! grep -q "No bootable device" "$work/seabios-pc-strace.log" || [[ ! -s "$work/qemu_seabios_pc.strace.log" ]]; then
  echo "record.sh: the strace run of -machine pc did not reach \"No bootable device\" or wrote no log" >&2; status=1
else
  cp "$work/qemu_seabios_pc.strace.log" "$out_dir/"
fi
# stress-ng reports each stressor's outcome; its worker's raw log is stress_ng_kvm.raw.PID.
cat "$work/record-stress_ng_kvm.txt" >&2
if ! grep -q "passed: 1: kvm (1)" "$work/record-stress_ng_kvm.txt"; then
  echo "record.sh: stress-ng's kvm stressor did not pass" >&2; status=1
elif [[ ! -s "$work/stress_ng_kvm.trace" ]]; then
  echo "record.sh: no trace for stress-ng" >&2; status=1
else
  cp "$work/stress_ng_kvm.trace" "$out_dir/"
fi
exit $status
