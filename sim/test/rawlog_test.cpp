// kvmsim record's converter (sim/import/rawlog.h) on a raw log written in the preload library's format: a
// QEMU-like run with a reservation and MAP_FIXED RAM, an SMM slot, two threads, KVM_RUN exits, an unknown
// ioctl, memory KVM never got, and a line cut short by a killed VMM.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "model/vm/kvm.h"
#include "sim/import/rawlog.h"
#include "sim/test/import_fixtures.h"
#include "sim/trace/parser.h"

namespace kvmsim {
namespace {

std::string fixture(const std::string& name) { return test::fixture("record", name); }
using test::has_line;

importer::RawlogResult convert(const std::string& raw) {
  importer::RawlogOptions opt;
  opt.file = "qemu_like.raw";
  opt.profile = "linux-7.3";
  opt.header = {"VMM: a fixture"};
  return importer::convert_rawlog(raw, opt);
}

TEST(RecordRawlog, QemuLikeRunBecomesACompleteTrace) {
  const auto r = convert(fixture("qemu_like.raw"));
  const std::string& t = r.trace;
  EXPECT_EQ(t.rfind("kvmsim-trace 1\n# VMM: a fixture\n", 0), 0u) << t;
  EXPECT_TRUE(has_line(t, "profile linux-7.3")) << t;
  EXPECT_TRUE(has_line(t, "ioctl(kvm, KVM_GET_API_VERSION, tid=4242) = 12")) << t;
  EXPECT_TRUE(has_line(t, "vm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM, tid=4242)")) << t;
  EXPECT_TRUE(has_line(t, "KVM_CHECK_EXTENSION(kvm, KVM_CAP_NR_MEMSLOTS, tid=4242) = 32764")) << t;
  // The reservation and the RAM MAP_FIXED into it are kept (a memslot points there); malloc's mapping is not.
  EXPECT_TRUE(has_line(t, "mem1 = mmap(130M, anon, prot=PROT_NONE, flags=MAP_NORESERVE, tid=4242)")) << t;
  EXPECT_TRUE(has_line(t, "mem2 = mmap(128M, anon, flags=MAP_FIXED|MAP_NORESERVE, addr=mem1+0x200000, tid=4242)")) << t;
  EXPECT_TRUE(has_line(t, "madvise(mem2, 128M, MADV_MERGEABLE, tid=4242) = 0")) << t;
  EXPECT_TRUE(has_line(t, "madvise(mem2, 128M, MADV_DONTFORK, tid=4242) = 0")) << t;
  EXPECT_EQ(t.find("MADV_DONTNEED"), std::string::npos) << t;
  EXPECT_TRUE(has_line(t, "ioctl(vm, KVM_SET_TSS_ADDR, arg=0xfffbd000, tid=4242) = 0")) << t;
  EXPECT_TRUE(has_line(t, "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, flags=0, guest_phys_addr=0, memory_size=128M, "
                          "userspace_addr=mem2}, tid=4242) = 0")) << t;
  EXPECT_TRUE(has_line(t, "KVM_SET_USER_MEMORY_REGION(vm, {slot=0x10000|0, flags=0, guest_phys_addr=0, "
                          "memory_size=128M, userspace_addr=mem2}, tid=4242) = 0")) << t;
  EXPECT_TRUE(has_line(t, "vcpu0 = KVM_CREATE_VCPU(vm, 0, tid=4242)")) << t;
  EXPECT_TRUE(t.find("ioctl(vcpu0, KVM_SET_CPUID2, bytes=[0x1, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, ") !=
              std::string::npos) << t;
  EXPECT_TRUE(has_line(t, "ioctl(vcpu0, KVM_RUN, tid=4243) = 0")) << t;
  EXPECT_TRUE(has_line(t, "ioctl(vcpu0, KVM_RUN, tid=4243) = -1 EINTR")) << t;
  EXPECT_TRUE(has_line(t, "ioctl(vm, 0xaeff, tid=4242) = -1 ENOTTY")) << t;
  EXPECT_TRUE(has_line(t, "memfd1 = memfd_create(MFD_CLOEXEC, tid=4242)")) << t;
  EXPECT_TRUE(has_line(t, "ftruncate(memfd1, 2M, tid=4242) = 0")) << t;
  EXPECT_TRUE(has_line(t, "close(memfd1, tid=4242) = 0")) << t;
  EXPECT_TRUE(has_line(t, "munmap(mem1, 130M, tid=4242) = 0")) << t;
  EXPECT_TRUE(has_line(t, "# qemu_like.raw:28: unreadable event (a VMM killed while it wrote?)")) << t;
  EXPECT_TRUE(has_line(t, "# 13 KVM ioctls (3 memslot operations, 2 KVM_RUN), 3 host memory calls on memory KVM was "
                          "never given left out")) << t;
  EXPECT_TRUE(has_line(t, "# KVM_RUN exits (reason: count): 2:2")) << t;
  EXPECT_TRUE(r.opened_kvm);
  EXPECT_EQ(r.comments, 1u);
  // It replays on the model: memslot results match, the recorded-only ioctls are unobservable.
  const auto counts = test::replay_on_model(t);
  EXPECT_EQ(counts.mismatched, 0u);
  EXPECT_GE(counts.unobservable, 6u);
}

TEST(RecordRawlog, SameLogSameTrace) {
  const std::string raw = fixture("qemu_like.raw");
  EXPECT_EQ(convert(raw).trace, convert(raw).trace);
}

// A number field that does not read as its base (`fd=b`: fds are decimal) or a failure without an errno makes
// the event unreadable, never an abort in the converter.
TEST(RecordRawlog, MalformedNumberFieldIsAComment) {
  const auto r = convert(std::string("kvmsim-rawlog 1 pid=1\n") + "open tid=1 ret=3 errno=0\n" +
                         "mmap tid=1 ret=7f0000000000 errno=0 addr=0 len=3000 prot=3 flags=1 fd=b fdkind=0 off=0\n" +
                         "ftruncate tid=1 ret=0 errno=0 fd=3 len=zz\n" +
                         "ioctl tid=1 ret=ffffffffffffffff errno=0 fd=3 req=ae01 arg=0\n");  // fuzzing: -1 with no errno
  EXPECT_EQ(r.statements, 0u) << r.trace;
  EXPECT_EQ(r.comments, 3u) << r.trace;
}

TEST(RecordRawlog, JunkIsCommentedNeverACrash) {
  const auto r = convert(std::string("not a raw log\n\x01\x02\xff junk=\n") + "ioctl tid=1 ret=0 errno=0 fd=99 req=ae80 arg=0\n" +
                         "mmap tid=1 ret=zz errno=0\n" + "ioctl tid=1 ret=0 errno=0 fd=1 req=1 arg=0 in=abc\n");
  EXPECT_EQ(r.statements, 0u);
  EXPECT_GE(r.comments, 4u);
  EXPECT_FALSE(r.opened_kvm);
  EXPECT_TRUE(std::holds_alternative<trace::Trace>(trace::parse(r.trace, "junk.trace")));
}

// stress-ng's kvm stressor: the parent only probes /dev/kvm (open, close); the forked worker makes every KVM
// call, one VM per iteration (create, slot 0, vCPU, KVM_RUN, close all). The worker is the recorded process;
// its VMs are `vm` and `vm2`, and the trace replays on the model with closes of vm and vCPU fds.
TEST(RecordRawlog, ForkedWorkerIsTheRecordedProcess) {
  const auto parent = convert(fixture("stress_ng_like_parent.raw"));
  const auto child = convert(fixture("stress_ng_like_child.raw"));
  EXPECT_TRUE(parent.opened_kvm);
  EXPECT_EQ(parent.kvm_ioctls, 0u);
  const auto choice = importer::choose_kvm_process({parent, child}, {"root", "child"});
  EXPECT_EQ(choice.index, 1u);
  EXPECT_TRUE(choice.error.empty()) << choice.error;
  const std::string& t = child.trace;
  EXPECT_TRUE(has_line(t, "vm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM, tid=5001)")) << t;
  EXPECT_TRUE(has_line(t, "vm2 = KVM_CREATE_VM(KVM_X86_DEFAULT_VM, tid=5001)")) << t;
  EXPECT_TRUE(has_line(t, "close(vm, tid=5001) = 0")) << t;
  EXPECT_EQ(child.memslot_ops, 2u);
  const auto counts = test::replay_on_model(t);
  EXPECT_EQ(counts.mismatched, 0u);
  // Two workers with KVM ioctls cannot be one trace: the error names both.
  const auto two = importer::choose_kvm_process({parent, child, child}, {"root", "a", "b"});
  EXPECT_NE(two.error.find("2 processes made KVM ioctls (a, b)"), std::string::npos) << two.error;
  // No process with KVM ioctls: the command's own log.
  EXPECT_EQ(importer::choose_kvm_process({parent, parent}, {"root", "a"}).index, 0u);
}

// An ioctl on an fd of a kind its statement does not take (KVM_CHECK_EXTENSION on a vCPU, KVM_CREATE_VM on a
// VM) is the recorded-only `ioctl(...)`, and an mmap of a vCPU fd that a memslot points into is a comment: a
// statement with that handle would not parse.
TEST(RecordRawlog, FdOfTheWrongKindIsRecordedOnly) {
  const auto r = convert(std::string("kvmsim-rawlog 1 pid=1\n") + "open tid=1 ret=9 errno=0\n" +
                         "ioctl tid=1 ret=a errno=0 fd=9 req=ae01 arg=0\n" +
                         "ioctl tid=1 ret=b errno=0 fd=10 req=ae41 arg=0\n" +
                         "ioctl tid=1 ret=ffffffffffffffff errno=25 fd=11 req=ae03 arg=3\n" +
                         "ioctl tid=1 ret=ffffffffffffffff errno=25 fd=10 req=ae01 arg=0\n" +
                         "mmap tid=1 ret=7f0000000000 errno=0 addr=0 len=3000 prot=3 flags=1 fd=11 fdkind=0 off=0\n" +
                         "ioctl tid=1 ret=0 errno=0 fd=10 req=4020ae46 arg=0 in=" +
                         "00000000000000000000000000000000" "0010000000000000" "00000000007f0000\n");
  EXPECT_TRUE(has_line(r.trace, "ioctl(vcpu0, KVM_CHECK_EXTENSION, arg=0x3, tid=1) = -1 ENOTTY")) << r.trace;
  EXPECT_TRUE(has_line(r.trace, "ioctl(vm, KVM_CREATE_VM, tid=1) = -1 ENOTTY")) << r.trace;
  EXPECT_NE(r.trace.find("mmap of an fd that is not a memfd or guest_memfd (vcpu0)"), std::string::npos) << r.trace;
  EXPECT_TRUE(std::holds_alternative<trace::Trace>(trace::parse(r.trace, "k.trace")));
}

}  // namespace
}  // namespace kvmsim
