#!/usr/bin/env bash
# Writes a QEMU-style memslot churn trace of about N statements (default 100000) to stdout:
# 64 slots created, then rounds of delete / re-create at a moved GPA / flags toggle / bad request.
# Used to measure replay throughput: `bench/gen_churn_trace.sh 100000 > /tmp/churn.trace &&
# time build/kvmsim replay /tmp/churn.trace`.
set -euo pipefail
n=${1:-100000}
awk -v n="$n" 'BEGIN {
  print "kvmsim-trace 1"; print "profile linux-6.18"
  print "ram = mmap(256M, anon)"; print "vm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)"
  for (s = 0; s < 64; s++)
    printf "KVM_SET_USER_MEMORY_REGION(vm, {slot=%d, guest_phys_addr=%dM, memory_size=4M, userspace_addr=ram+%dM}) = 0\n", s, s*4, s*4
  emitted = 68; round = 0
  while (emitted < n) {
    s = round % 64; base = (round % 2) ? 1024 : 0
    printf "KVM_SET_USER_MEMORY_REGION(vm, {slot=%d, memory_size=0}) = 0\n", s
    printf "KVM_SET_USER_MEMORY_REGION(vm, {slot=%d, guest_phys_addr=%dM, memory_size=4M, userspace_addr=ram+%dM}) = 0\n", s, base + s*4, s*4
    printf "KVM_SET_USER_MEMORY_REGION(vm, {slot=%d, flags=KVM_MEM_LOG_DIRTY_PAGES, guest_phys_addr=%dM, memory_size=4M, userspace_addr=ram+%dM}) = 0\n", s, base + s*4, s*4
    printf "KVM_SET_USER_MEMORY_REGION(vm, {slot=%d, guest_phys_addr=%dM, memory_size=8M, userspace_addr=ram}) = -1 EINVAL\n", s, base + s*4
    emitted += 4; round++
  }
}'
