#!/usr/bin/env bash
# Replays kvmsim traces on a real TDP-MMU KVM: a pinned Debian Linux 6.12 or 7.3 booted under QEMU TCG with an AMD
# CPU model that has SVM+NPT (docs/nested.md). Inside the guest, a static
# kvmsim runs `replay --backend kvm --profile PROFILE --format json` on each trace; the guest writes the
# results to its second serial port between BEGIN/END markers and powers off. This script prints one JSON
# report on stdout. Any boot, module or report failure exits non-zero with the console log tail: the oracle
# never skips silently.
#
# Usage: scripts/nested/run.sh [--flavour linux-6.12|linux-6.12-swprot|linux-7.3|linux-7.3-swprot] [--profile P]
#                              [--build-dir DIR]
#                              [--timeout S] [--trace-timeout S] [--kvm-params "k=v ..."]
#                              [--kvm-amd-params "k=v ..."] [--update] TRACE|DIR...
#        or:   scripts/nested/run.sh [same options] --conformance "ARGS"
#        or:   scripts/nested/run.sh [same options] --program-out DIR --program PROG [--program PROG ...]
#   --profile  what the guest's kvmsim answers as (default: the flavour's name).
#   --conformance  run the conformance cases (`kvmsim conformance --list ARGS`, ARGS e.g. "--group prefault")
#              in the guest instead of traces, one `kvmsim conformance --backend kvm --format json
#              --filter ID` per case under --trace-timeout; the report's "conformance" lists them.
#   --trace-timeout  per trace, inside the guest (default 120 s): a hung ioctl is signalled (SIGTERM) and
#              the trace fails with exit 143 while the others still run.
#   --update   run `kvmsim replay --update` in the guest and write the updated traces back (recording the
#              real kernel's answers, e.g. for a probe trace of KVM_CHECK_EXTENSION lines).
#   --program  a static program (e.g. a `kvmsim export --c` reproducer built with gcc -static) to run in the
#              guest after the traces, under --trace-timeout; its stdout goes to DIR/NAME.out and its exit
#              code to DIR/NAME.exit (--program-out DIR). A program's exit code is reported, not judged.
# Exit: 0 every trace passed; 1 a trace failed (mismatch) on the guest; 2 usage; 3 boot/module/report failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build_dir="$root/build"
flavour=linux-6.12
profile=""
timeout_s=600
trace_timeout_s=120
kvm_params=""
kvm_amd_params=""
update=0
conformance=""
conformance_mode=0
inputs=()
programs=()
program_out=""
usage() { sed -n '9,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --flavour) flavour="$2"; shift 2 ;;
    --profile) profile="$2"; shift 2 ;;
    --build-dir) build_dir="$(realpath -m "$2")"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    --trace-timeout) trace_timeout_s="$2"; shift 2 ;;
    --kvm-params) kvm_params="$2"; shift 2 ;;
    --kvm-amd-params) kvm_amd_params="$2"; shift 2 ;;
    --update) update=1; shift ;;
    --conformance) conformance="$2"; conformance_mode=1; shift 2 ;;
    --program) programs+=("$2"); shift 2 ;;
    --program-out) program_out="$2"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "run.sh: unknown option '$1'" >&2; usage ;;
    *) inputs+=("$1"); shift ;;
  esac
done
[[ ${#inputs[@]} -gt 0 || $conformance_mode -eq 1 || ${#programs[@]} -gt 0 ]] || { echo "run.sh: no traces given" >&2; usage; }
[[ ${#programs[@]} -eq 0 || -n "$program_out" ]] || { echo "run.sh: --program needs --program-out DIR" >&2; usage; }

# Flavour → kernel package and module load order (read from each module's depends=: kvm-amd needs ccp in
# the generic kernel, where CONFIG_KVM_AMD_SEV links the PSP driver). swprot's kvm and kvm-amd are the
# modules setup.sh rebuilt with CONFIG_KVM_SW_PROTECTED_VM; the others come from the image package.
# shellcheck source=versions.env
source "$here/versions.env"
case "$flavour" in
  linux-6.12)
    release="$NESTED_KERNEL_RELEASE"
    kernel_pkg="$NESTED_KERNEL_PKG=$NESTED_KERNEL_VERSION"
    modules=(virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd)
    rebuilt=()
    ;;
  linux-6.12-swprot)
    release="$NESTED_SWPROT_KERNEL_RELEASE"
    kernel_pkg="$NESTED_SWPROT_KERNEL_PKG=$NESTED_SWPROT_VERSION (kvm.ko, kvm-amd.ko rebuilt from $NESTED_SWPROT_SOURCE_PKG=$NESTED_SWPROT_VERSION with CONFIG_KVM_SW_PROTECTED_VM)"
    modules=(virt/lib/irqbypass arch/x86/kvm/kvm drivers/crypto/ccp/ccp arch/x86/kvm/kvm-amd)
    rebuilt=(kvm kvm-amd)
    ;;
  # 7.3's packages put everything under usr/lib/modules/RELEASE (vmlinuz included). The cloud config has no
  # KVM_AMD_SEV, so kvm-amd needs no ccp; swprot's kvm and kvm-amd were rebuilt for the same cloud image.
  linux-7.3)
    release="$NESTED73_RELEASE"
    kernel_pkg="${NESTED73_PKGS// /=$NESTED73_VERSION, }=$NESTED73_VERSION ($NESTED73_SUITE)"
    modules=(virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd)
    rebuilt=()
    ;;
  linux-7.3-swprot)
    release="$NESTED73_RELEASE"
    kernel_pkg="${NESTED73_PKGS// /=$NESTED73_VERSION, }=$NESTED73_VERSION ($NESTED73_SUITE; kvm.ko, kvm-amd.ko rebuilt from $NESTED73_SOURCE_PKG=$NESTED73_VERSION with CONFIG_KVM_SW_PROTECTED_VM in a $NESTED73_BUILDROOT_SUITE build root)"
    modules=(virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd)
    rebuilt=(kvm kvm-amd)
    ;;
  *) echo "run.sh: unknown flavour '$flavour' (known: linux-6.12, linux-6.12-swprot, linux-7.3, linux-7.3-swprot)" >&2; exit 2 ;;
esac
[[ -n "$profile" ]] || profile="$flavour"

# ---- traces: files and directories (recursively, sorted for a deterministic order)
traces=()
for i in "${inputs[@]}"; do
  if [[ -d "$i" ]]; then
    while IFS= read -r f; do traces+=("$f"); done < <(find "$i" -type f -name '*.trace' | LC_ALL=C sort)
  elif [[ -f "$i" ]]; then
    traces+=("$i")
  else
    echo "run.sh: no such trace file or directory: $i" >&2; exit 2
  fi
done
[[ ${#traces[@]} -gt 0 || $conformance_mode -eq 1 || ${#programs[@]} -gt 0 ]] || { echo "run.sh: no *.trace files found in ${inputs[*]}" >&2; exit 2; }

# ---- kernel, busybox (cached, pinned) and a static kvmsim
"$here/setup.sh" --build-dir "$build_dir" --flavour "$flavour"
cache="$build_dir/nested/cache"
kdir="$cache/kernel-$release"
# Where the image package put the kernel and its modules: 6.12 (bookworm) uses boot/ and lib/modules/,
# 7.3 (trixie) usr/lib/modules/RELEASE/ for both.
if [[ -f "$kdir/usr/lib/modules/$release/vmlinuz" ]]; then
  vmlinuz="$kdir/usr/lib/modules/$release/vmlinuz"; moddir="$kdir/usr/lib/modules/$release/kernel"
else
  vmlinuz="$kdir/boot/vmlinuz-$release"; moddir="$kdir/lib/modules/$release/kernel"
fi
kvmsim=""
if [[ ${#traces[@]} -gt 0 || $conformance_mode -eq 1 ]]; then  # a run of --program only needs no kvmsim
  if [[ ! -f "$build_dir/CMakeCache.txt" ]] || ! grep -q '^KVMSIM_STATIC_RUNNER:BOOL=ON' "$build_dir/CMakeCache.txt"; then
    cmake -S "$root" -B "$build_dir" -DKVMSIM_STATIC_RUNNER=ON >/dev/null
  fi
  cmake --build "$build_dir" -j2 --target kvmsim_static >&2
  kvmsim="$build_dir/kvmsim_static"
fi

# ---- initramfs
# One work directory per run (pid): concurrent runs of one flavour (a test and a campaign) must not
# rebuild each other's initramfs. Removed after a run that reported; kept with its logs after a failure.
work="$build_dir/nested/run-$flavour-$$"
rm -rf "$work"
stage="$work/initramfs"
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,modules,traces,programs}
cp "$cache/busybox/bin/busybox" "$stage/bin/busybox"
[[ -z "$kvmsim" ]] || cp "$kvmsim" "$stage/bin/kvmsim"
for m in "${modules[@]}"; do
  name="$(basename "$m")"
  if [[ " ${rebuilt[*]} " == *" $name "* ]]; then
    src="$cache/swprot-modules-$release/$name.ko"
    [[ -f "$src" ]] || { echo "run.sh: rebuilt module $src missing (scripts/nested/setup.sh --flavour $flavour)" >&2; exit 3; }
    cp "$src" "$stage/modules/$name.ko"
    continue
  fi
  src="$moddir/$m.ko.xz"
  [[ -f "$src" ]] || { echo "run.sh: module $src missing from the kernel package" >&2; exit 3; }
  xz -dc "$src" > "$stage/modules/$name.ko"  # busybox insmod cannot read .ko.xz
done
for idx in "${!traces[@]}"; do
  cp "${traces[$idx]}" "$stage/traces/$(printf '%03d' "$idx").trace"
done
for idx in "${!programs[@]}"; do
  [[ -x "${programs[$idx]}" ]] || { echo "run.sh: --program ${programs[$idx]} is not an executable file" >&2; exit 2; }
  cp "${programs[$idx]}" "$stage/programs/$(printf '%03d' "$idx")"
done
insmods=""
for m in "${modules[@]}"; do
  name="$(basename "$m")"
  params=""
  [[ "$name" == kvm ]] && params="$kvm_params"
  [[ "$name" == kvm-amd ]] && params="$kvm_amd_params"
  insmods+="insmod /modules/$name.ko $params || fail \"insmod $name.ko failed\""$'\n'
done
replay_flags="--backend kvm --profile $profile --format json --require-kvm"
[[ $update -eq 1 ]] && replay_flags+=" --update"

# The guest's /init. Everything it reports goes to ttyS1; ttyS0 is the console (kernel log, errors).
# Times come from /proc/uptime (10 ms resolution): the only clock busybox offers below one second.
cat > "$stage/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
out=/dev/ttyS1
up() { cut -d' ' -f1 /proc/uptime; }
fail() { echo "KVMSIM-NESTED-FAIL \$*" > \$out; echo "kvmsim-nested: \$*"; dmesg | tail -n 15; poweroff -f; }  # dmesg: why insmod failed
t_init=\$(up)
echo "KVMSIM-NESTED-BEGIN" > \$out
$insmods
t_modules=\$(up)
[ -c /dev/kvm ] || fail "/dev/kvm missing after insmod"
p() { cat "\$1" 2>/dev/null || echo "?"; }
echo "META uname \$(uname -r)" > \$out
echo "META init_uptime \$t_init" > \$out
echo "META modules_uptime \$t_modules" > \$out
echo "META kvm.tdp_mmu \$(p /sys/module/kvm/parameters/tdp_mmu)" > \$out
echo "META kvm.nx_huge_pages \$(p /sys/module/kvm/parameters/nx_huge_pages)" > \$out
echo "META kvm.eager_page_split \$(p /sys/module/kvm/parameters/eager_page_split)" > \$out
echo "META kvm_amd.npt \$(p /sys/module/kvm_amd/parameters/npt)" > \$out
echo "META thp.enabled \$(p /sys/kernel/mm/transparent_hugepage/enabled)" > \$out
echo "META thp.defrag \$(p /sys/kernel/mm/transparent_hugepage/defrag)" > \$out
echo "META thp.use_zero_page \$(p /sys/kernel/mm/transparent_hugepage/use_zero_page)" > \$out
echo "META hugepages_1g \$(p /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages)" > \$out
echo "META hugepages_2m \$(p /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)" > \$out
if [ "$conformance_mode" = 1 ]; then
  # One kvmsim per case, each under the per-trace timeout: a case that hangs in the kernel (6.12 pre-fault
  # after a zap-all, docs/nested.md) costs its own timeout and the others still report.
  t0=\$(up)
  set -f  # ARGS may hold a --filter glob: split it into words, never expand it against the guest's files
  kvmsim conformance --profile $profile --list $conformance | cut -d' ' -f1 > /tmp/cases
  set +f
  while IFS= read -r id; do
    timeout -s TERM $trace_timeout_s kvmsim conformance --backend kvm --format json --profile $profile --require-kvm --filter "\$id" > /tmp/conf.json 2> /tmp/conf.err
    echo "CASE \$id \$?" > \$out
    echo "CONF-JSON \$(cat /tmp/conf.json | tr -d '\n')" > \$out
  done < /tmp/cases
  t1=\$(up)
  echo "CONF 0 \$t0 \$t1" > \$out
fi
for t in /traces/*.trace; do
  [ -f "\$t" ] || continue
  n=\$(basename \$t .trace)
  t0=\$(up)
  timeout -s TERM $trace_timeout_s kvmsim replay $replay_flags \$t > /tmp/\$n.json 2> /tmp/\$n.err
  rc=\$?
  t1=\$(up)
  echo "TRACE \$n \$rc \$t0 \$t1" > \$out
  # gzip+base64: a recording's report runs to megabytes, and the guest's serial port is the slow part.
  echo "JSONGZ \$(gzip -1 < /tmp/\$n.json | base64 | tr -d '\n')" > \$out
  while IFS= read -r l; do echo "STDERR \$l" > \$out; done < /tmp/\$n.err
  if [ "$update" = 1 ]; then
    while IFS= read -r l; do echo "FILE \$l" > \$out; done < \$t
    echo "FILE-END \$n" > \$out
  fi
done
for pr in /programs/*; do
  [ -f "\$pr" ] || continue
  n=\$(basename \$pr)
  timeout -s TERM $trace_timeout_s \$pr > /tmp/prog.out 2>&1
  echo "PROG \$n \$?" > \$out
  while IFS= read -r l; do echo "PROGOUT \$n \$l" > \$out; done < /tmp/prog.out
done
# THP allocation outcome of the whole run: writes to THP-eligible memory that fell back to 4K show here.
for k in thp_fault_alloc thp_fault_fallback thp_split_pmd thp_zero_page_alloc; do
  echo "META vmstat.\$k \$(awk -v k=\$k '\$1 == k { print \$2 }' /proc/vmstat)" > \$out
done
echo "META meminfo.MemFree \$(awk '\$1 == "MemFree:" { print \$2 }' /proc/meminfo)" > \$out
echo "KVMSIM-NESTED-END" > \$out
poweroff -f
EOF
chmod +x "$stage/init"
(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.cpio.gz"

# ---- boot (docs/nested.md "How a run works"): AMD CPU model with SVM+NPT (TCG has no VMX), 1G pages, fixed RAM
# and hugetlb reservations so that mapping levels are deterministic.
console="$work/console.log"
results="$work/results.txt"
: > "$console"; : > "$results"
t_start=$(date +%s.%N)
set +e
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -machine pc -cpu qemu64,+svm,+npt,+pdpe1gb -smp 1 -m 4G \
  -kernel "$vmlinuz" -initrd "$work/initrd.cpio.gz" \
  -append "console=ttyS0 panic=-1 quiet hugepagesz=1G hugepages=1 hugepagesz=2M hugepages=16" \
  -serial "file:$console" -serial "file:$results" -display none -monitor none -no-reboot -nic none \
  > "$work/qemu.out" 2>&1
qemu_rc=$?
set -e
t_end=$(date +%s.%N)

die() {
  echo "run.sh: $*" >&2
  echo "---- console log tail ($console)" >&2
  tail -n 40 "$console" >&2 || true
  echo "---- qemu output" >&2
  tail -n 10 "$work/qemu.out" >&2 || true
  exit 3
}
tr -d '\r' < "$results" > "$work/results.clean"
res="$work/results.clean"
[[ $qemu_rc -eq 124 ]] && die "QEMU timed out after ${timeout_s}s"
[[ $qemu_rc -eq 0 ]] || die "QEMU exited with $qemu_rc"
grep -q '^KVMSIM-NESTED-BEGIN' "$res" || die "the guest never reached /init (no BEGIN marker)"
if grep -q '^KVMSIM-NESTED-FAIL' "$res"; then die "guest: $(grep '^KVMSIM-NESTED-FAIL' "$res" | head -n1 | cut -d' ' -f2-)"; fi
grep -q '^KVMSIM-NESTED-END' "$res" || die "the guest report is truncated (no END marker)"

# ---- report
meta() { awk -v k="$1" '$1 == "META" && $2 == k { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "$res"; }
jstr() {  # a JSON string: backslash, quote, newline, tab and CR escaped
  local s="$1"; s="${s//\\/\\\\}"; s="${s//\"/\\\"}"; s="${s//$'\n'/\\n}"; s="${s//$'\t'/\\t}"; s="${s//$'\r'/}"
  printf '"%s"' "$s"
}
init_up="$(meta init_uptime)"
mod_up="$(meta modules_uptime)"
wall="$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.2f", b - a }')"
insmod_s="$(awk -v a="$init_up" -v b="$mod_up" 'BEGIN { printf "%.2f", b - a }')"
passed=0; failed=0; status=0
tjson=""
for idx in "${!traces[@]}"; do
  n="$(printf '%03d' "$idx")"
  line="$(grep "^TRACE $n " "$res" || true)"
  [[ -n "$line" ]] || die "no result for trace ${traces[$idx]}"
  read -r _ _ rc t0 t1 <<< "$line"
  secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
  json="$(awk -v n="$n" 'found && /^JSONGZ / { sub(/^JSONGZ /, ""); print; exit } $1 == "TRACE" && $2 == n { found = 1 }' "$res" |
          base64 -d 2>/dev/null | gunzip 2>/dev/null | tr -d '\n' || true)"
  [[ -n "$json" ]] || json=null
  errs="$(awk -v n="$n" 'found && /^STDERR / { sub(/^STDERR /, ""); print } found && /^(TRACE|KVMSIM)/ && !($2 == n) { exit } $1 == "TRACE" && $2 == n { found = 1 }' "$res")"
  if [[ "$rc" == 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
  tjson+="${tjson:+, }{\"file\": $(jstr "${traces[$idx]}"), \"exit\": $rc, \"seconds\": $secs, \"stderr\": $(jstr "$errs"), \"replay\": $json}"
  if [[ $update -eq 1 ]]; then
    awk -v n="$n" '$1 == "FILE-END" && $2 == n { exit } found && /^FILE / { sub(/^FILE /, ""); print; next }
                   found && $0 == "FILE" { print ""; next } $1 == "TRACE" && $2 == n { found = 1 }' "$res" > "$work/$n.updated"
    if [[ -s "$work/$n.updated" ]] && ! cmp -s "$work/$n.updated" "${traces[$idx]}"; then
      cp "$work/$n.updated" "${traces[$idx]}"
      echo "run.sh: updated ${traces[$idx]}" >&2
    fi
  fi
done
for idx in "${!programs[@]}"; do
  n="$(printf '%03d' "$idx")"; base="$program_out/$(basename "${programs[$idx]}")"
  mkdir -p "$program_out"
  line="$(grep "^PROG $n " "$res" || true)"
  [[ -n "$line" ]] || die "no result for program ${programs[$idx]}"
  echo "${line##* }" > "$base.exit"
  awk -v n="$n" '$1 == "PROGOUT" && $2 == n { sub(/^PROGOUT [0-9]+ ?/, ""); print }' "$res" > "$base.out"
done
qemu_version="$(qemu-system-x86_64 --version | head -n1)"
printf '{"schema": 1, "oracle": "nested-tdp", "flavour": %s, "profile": %s, "kernel_package": %s, "kernel_release": %s,\n' \
  "$(jstr "$flavour")" "$(jstr "$profile")" "$(jstr "$kernel_pkg")" "$(jstr "$(meta uname)")"
printf ' "busybox": %s, "qemu": %s, "kvm_params": %s, "kvm_amd_params": %s,\n' "$(jstr "$NESTED_BUSYBOX_PKG=$NESTED_BUSYBOX_VERSION")" "$(jstr "$qemu_version")" "$(jstr "$kvm_params")" "$(jstr "$kvm_amd_params")"
printf ' "guest": {"kvm.tdp_mmu": %s, "kvm.nx_huge_pages": %s, "kvm.eager_page_split": %s, "kvm_amd.npt": %s, "thp.enabled": %s, "thp.defrag": %s, "thp.use_zero_page": %s, "hugepages_1g": %s, "hugepages_2m": %s, "vmstat.thp_fault_alloc": %s, "vmstat.thp_fault_fallback": %s, "vmstat.thp_split_pmd": %s, "vmstat.thp_zero_page_alloc": %s, "meminfo.MemFree_kB": %s},\n' \
  "$(jstr "$(meta kvm.tdp_mmu)")" "$(jstr "$(meta kvm.nx_huge_pages)")" "$(jstr "$(meta kvm.eager_page_split)")" \
  "$(jstr "$(meta kvm_amd.npt)")" "$(jstr "$(meta thp.enabled)")" "$(jstr "$(meta thp.defrag)")" \
  "$(jstr "$(meta thp.use_zero_page)")" "$(jstr "$(meta hugepages_1g)")" "$(jstr "$(meta hugepages_2m)")" \
  "$(jstr "$(meta vmstat.thp_fault_alloc)")" "$(jstr "$(meta vmstat.thp_fault_fallback)")" \
  "$(jstr "$(meta vmstat.thp_split_pmd)")" "$(jstr "$(meta vmstat.thp_zero_page_alloc)")" "$(jstr "$(meta meminfo.MemFree)")"
printf ' "boot_seconds": %s, "insmod_seconds": %s, "wall_seconds": %s,\n' "$init_up" "$insmod_s" "$wall"
cjson=null
if [[ $conformance_mode -eq 1 ]]; then
  cline="$(grep '^CONF ' "$res" || true)"
  [[ -n "$cline" ]] || die "no conformance result from the guest"
  read -r _ crc ct0 ct1 <<< "$cline"
  csecs="$(awk -v a="$ct0" -v b="$ct1" 'BEGIN { printf "%.2f", b - a }')"
  cases_json="$(awk '$1 == "CASE" { if (n++) printf ", "; printf "{\"id\": \"%s\", \"exit\": %s, \"report\": ", $2, $3; getline;
                  sub(/^CONF-JSON /, ""); if ($0 == "") $0 = "null"; printf "%s}", $0 }' "$res")"
  cjson="{\"exit\": $crc, \"seconds\": $csecs, \"cases\": [$cases_json]}"
  [[ "$crc" == 0 ]] || status=1
fi
printf ' "conformance": %s,\n' "$cjson"
printf ' "traces": [%s],\n "passed": %d, "failed": %d}\n' "$tjson" "$passed" "$failed"
rm -rf "$work"
exit $status
