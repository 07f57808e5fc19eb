# The memslot churn of a recorded VMM trace (traces/real/*.trace, kvmsim record), one "name<TAB>value" line per
# fact, for scripts/figures.sh's tables (README: QEMU; docs/vmm-traces.md: stress-ng). Reads the trace text as kvmsim record prints it (one statement a
# line; sizes as `128M`, `768K`, `1M+512K`, hex or decimal; SMM slots as `0x10000|N`).
function num(s,    v, i, c, t, n, parts, k) {
  v = 0
  n = split(s, parts, "+")
  for (k = 1; k <= n; k++) {
    t = parts[k]
    if (t ~ /^0x/) {
      c = 0
      t = tolower(substr(t, 3))
      for (i = 1; i <= length(t); i++) c = c * 16 + index("0123456789abcdef", substr(t, i, 1)) - 1
      v += c
    } else if (t ~ /K$/) v += substr(t, 1, length(t) - 1) * 1024
    else if (t ~ /M$/) v += substr(t, 1, length(t) - 1) * 1048576
    else if (t ~ /G$/) v += substr(t, 1, length(t) - 1) * 1073741824
    else v += t
  }
  return v
}
function field(line, name,    m) {
  if (!match(line, name "=[^,}]*")) return ""
  return substr(line, RSTART + length(name) + 1, RLENGTH - length(name) - 1)
}
/^(KVM_|ioctl\(|[a-z0-9_]+ = KVM_)/ { ioctls++ }
/^ioctl\([a-z0-9_]+, KVM_RUN[,)]/ { runs++ }
/^ioctl\([a-z0-9_]+, KVM_SMI[,)]/ { smis++ }
/^[a-z0-9_]+ = KVM_CREATE_VM\(/ { vms++ }
/^close\(vm[0-9]*,/ { vm_closes++ }
/^[a-z0-9_]+ = KVM_CREATE_VCPU\(/ { vcpus++ }
/^KVM_GET_DIRTY_LOG\(/ { getdirty++ }
/^KVM_SET_USER_MEMORY_REGION2?\(/ {
  ops++
  if ($0 ~ /^KVM_SET_USER_MEMORY_REGION2/) v2++
  slot = field($0, "slot"); size = num(field($0, "memory_size")); gpa = num(field($0, "guest_phys_addr"))
  flags = field($0, "flags")
  if (slot ~ /^0x10000\|/) smm++
  ok = $0 ~ /\) = 0$/
  if (!ok) failed++
  if (size == 0) {
    deletes++
    if (ok) { deleted[slot] = 1; live[slot] = 0 }
    end = start[slot] + len[slot]; lo = start[slot]
  } else {
    creates++
    if (slot in seen) { recreates++; if (deleted[slot] && !live[slot]) after_delete++ }
    if (live[slot]) inplace++
    seen[slot] = 1
    if (ok) { live[slot] = 1; deleted[slot] = 0; start[slot] = gpa; len[slot] = size }
    sizes = sizes (sizes == "" ? "" : " ") field($0, "memory_size")
    if (flags ~ /KVM_MEM_READONLY/) rom++
    if (flags ~ /KVM_MEM_LOG_DIRTY_PAGES/) { dirty++; dirty_gpa = dirty_gpa (dirty_gpa == "" ? "" : " ") field($0, "guest_phys_addr") }
    lo = gpa; end = gpa + size
  }
  if (lo < 1048576 && end > 786432) pam++       # touches 0xc0000-0xfffff (the PAM-controlled ROM shadows)
  if (lo < 786432 && end > 655360) smram++      # touches 0xa0000-0xbffff (SMRAM / legacy VGA window)
}
END {
  printf "ioctls\t%d\nruns\t%d\nsmis\t%d\nops\t%d\nv2\t%d\nfailed\t%d\ncreates\t%d\ndeletes\t%d\n", ioctls, runs, smis, ops, v2, failed, creates, deletes
  printf "recreates\t%d\nafter_delete\t%d\ninplace\t%d\nsmm\t%d\npam\t%d\nsmram\t%d\nrom\t%d\ndirty\t%d\ndirty_gpa\t%s\ngetdirty\t%d\n", recreates, after_delete, inplace, smm, pam, smram, rom, dirty, dirty_gpa, getdirty
  printf "vms\t%d\nvm_closes\t%d\nvcpus\t%d\nsizes\t%s\n", vms, vm_closes, vcpus, sizes
}
