// `kvmsim import syzkaller` on programs in the shapes of syzkaller's own KVM programs (its corpus's
// openat$kvm / KVM_CREATE_VM / struct-literal memslot / KVM_CREATE_VCPU / KVM_RUN, and the AUTO-heavy
// form of its sys/linux/test programs), an mmap/memfd program, and bad input (truncated, unbalanced,
// binary junk): an error FILE:LINE:COL, never a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "model/vm/kvm.h"
#include "sim/import/syzkaller.h"
#include "sim/test/import_fixtures.h"
#include "sim/trace/parser.h"

namespace kvmsim {
namespace {

std::string fixture(const std::string& name) { return test::fixture("syzkaller", name); }
using test::has_line;

importer::ImportResult imported(const std::string& name) {
  auto r = importer::import_syzkaller(fixture(name), name);
  if (auto* e = std::get_if<importer::ImportError>(&r)) ADD_FAILURE() << e->str();
  return std::get<importer::ImportResult>(r);
}

std::string error_of(const std::string& text) {
  auto r = importer::import_syzkaller(text, "bad.syz");
  if (auto* e = std::get_if<importer::ImportError>(&r)) return e->str();
  return "(imported)";
}

using test::replay_on_model;

TEST(SyzkallerImport, CorpusShapedProgram) {
  const auto r = imported("memslot_run.syz");
  const std::string& t = r.trace;
  EXPECT_NE(t.find("\n# a syzkaller program asserts no results"), std::string::npos);
  // The data area: the ranges the program names, in clusters (2M-aligned starts keep each range's offset in 2M).
  EXPECT_TRUE(has_line(t, "data = mmap(4M, anon)"));
  EXPECT_TRUE(has_line(t, "data2 = mmap(2M, anon)"));
  EXPECT_TRUE(has_line(t, "vm = KVM_CREATE_VM(0)"));
  EXPECT_TRUE(has_line(t, "KVM_CHECK_EXTENSION(vm, KVM_CAP_GUEST_MEMFD)"));
  EXPECT_TRUE(has_line(t, "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, flags=0, guest_phys_addr=0, memory_size=8K, "
                          "userspace_addr=data})"));
  // Address space 1 (SMM), dirty logging, a range 2M into the data area.
  EXPECT_TRUE(has_line(t, "KVM_SET_USER_MEMORY_REGION(vm, {slot=0x10000|1, flags=KVM_MEM_LOG_DIRTY_PAGES, "
                          "guest_phys_addr=1M, memory_size=2M, userspace_addr=data+0x200000})"));
  EXPECT_TRUE(has_line(t, "vcpu0 = KVM_CREATE_VCPU(vm, 0)"));
  EXPECT_TRUE(has_line(t, "ioctl(vm, KVM_SET_TSS_ADDR, arg=0xd000)"));
  EXPECT_TRUE(has_line(t, "ioctl(vcpu0, KVM_SET_REGS)"));
  EXPECT_TRUE(has_line(t, "KVM_PRE_FAULT_MEMORY(vcpu0, {gpa=0, size=4K})"));
  EXPECT_TRUE(has_line(t, "ioctl(vcpu0, KVM_RUN)"));
  EXPECT_TRUE(has_line(t, "KVM_GET_DIRTY_LOG(vm, {slot=0x10000|1})"));
  EXPECT_NE(t.find("# memslot_run.syz:11: (rerun: 32): the trace runs the call once"), std::string::npos);
  EXPECT_NE(t.find("# memslot_run.syz:13: a call kvmsim import syzkaller does not read: syz_kvm_setup_cpu$x86("),
            std::string::npos);
  // A vCPU syzkaller creates on fd -1 fails: the statement is written unbound (a binding expects success)
  // and the call that uses its resource is a comment.
  EXPECT_TRUE(has_line(t, "KVM_CREATE_VCPU(-1, 1)"));
  EXPECT_NE(t.find("# memslot_run.syz:15: uses r3, which no imported call created"), std::string::npos);
  EXPECT_NE(t.find("# memslot_run.syz:16: its struct is not in the program"), std::string::npos);
  EXPECT_EQ(t.find(") = "), std::string::npos);  // no invented result
  const ReplayCounts c = replay_on_model(t);
  EXPECT_EQ(c.mismatched, 0u);
  EXPECT_EQ(c.not_run, 0u);
  EXPECT_EQ(c.unobservable, 3u);  // KVM_SET_TSS_ADDR, KVM_SET_REGS, KVM_RUN
  auto again = importer::import_syzkaller(fixture("memslot_run.syz"), "memslot_run.syz");
  EXPECT_EQ(std::get<importer::ImportResult>(again).trace, t);  // deterministic
}

TEST(SyzkallerImport, AutoValuesOfTestPrograms) {
  const auto r = imported("auto_test_shape.syz");
  const std::string& t = r.trace;
  EXPECT_TRUE(has_line(t, "# requires: arch=amd64 -threaded"));  // the program's own comments are kept
  EXPECT_TRUE(has_line(t, "vm = KVM_CREATE_VM(0)"));             // AUTO request from the call's name
  // AUTO memory_size is len[addr]: the range's size.
  EXPECT_TRUE(has_line(t, "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, flags=0, guest_phys_addr=0, memory_size=4K, "
                          "userspace_addr=data+0x10000})"));
  EXPECT_TRUE(has_line(t, "ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE)"));
  EXPECT_NE(t.find("# auto_test_shape.syz:9: the vCPU's kvm_run mapping is not modelled"), std::string::npos);
  // ioctl$KVM_CAP_X is KVM_ENABLE_CAP of X: its AUTO cap is X.
  EXPECT_TRUE(has_line(t, "KVM_ENABLE_CAP(vm, {cap=KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args=[1]})"));
  EXPECT_TRUE(has_line(t, "ioctl(vcpu0, KVM_RUN)"));
  EXPECT_EQ(replay_on_model(t).mismatched, 0u);
}

TEST(SyzkallerImport, MmapAndMemfd) {
  const auto r = imported("mmap_memfd.syz");
  const std::string& t = r.trace;
  EXPECT_TRUE(has_line(t, "data = mmap(8M, anon)"));
  EXPECT_TRUE(has_line(t, "mem1 = mmap(4M, anon, flags=MAP_FIXED, addr=data)"));
  EXPECT_TRUE(has_line(t, "mem2 = mmap(4K, anon, prot=PROT_NONE, flags=MAP_FIXED, addr=data+0x400000)"));
  EXPECT_TRUE(has_line(t, "memfd1 = memfd_create(0, flags=1)"));
  EXPECT_TRUE(has_line(t, "ftruncate(memfd1, 2M)"));
  EXPECT_TRUE(has_line(t, "mem3 = mmap(2M, memfd1, offset=0, flags=MAP_SHARED)"));
  EXPECT_TRUE(has_line(t, "KVM_SET_USER_MEMORY_REGION(vm, {slot=1, flags=0, guest_phys_addr=1G, memory_size=4M, "
                          "userspace_addr=mem1})"));
  EXPECT_NE(t.find("# mmap_memfd.syz:9: a call kvmsim import syzkaller does not read: socket$inet"), std::string::npos);
  EXPECT_TRUE(has_line(t, "close(memfd1)"));
  const ReplayCounts c = replay_on_model(t);
  EXPECT_EQ(c.mismatched, 0u);
  EXPECT_EQ(c.not_run, 0u);
}

TEST(SyzkallerImport, BadInputIsOneLineError) {
  EXPECT_EQ(error_of(fixture("truncated.syz")), "bad.syz:3:87: unexpected end of line: missing '}'");
  EXPECT_EQ(error_of(fixture("binary.syz")), "bad.syz:2:1: expected a call");
  EXPECT_EQ(error_of(fixture("unbalanced.syz")), "bad.syz:3:121: expected ',' or ')', got '}'");
  EXPECT_EQ(error_of("ioctl$KVM_RUN(r0, 0xae80, {0x1, [0x2}, 0x0)\n"), "bad.syz:1:37: expected ',' or ']', got '}'");
  EXPECT_EQ(error_of("ioctl$KVM_RUN(r0, 0xae80, 0x0"), "bad.syz:1:30: unexpected end of line: missing ')'");
  EXPECT_EQ(error_of("r0 = openat$kvm(0x1, 'abc"), "bad.syz:1:26: unexpected end of line: unterminated string");
  EXPECT_EQ(error_of("mmap(0x1\x01)"), "bad.syz:1:9: expected ',' or ')', got \\x01");
  EXPECT_EQ(error_of("ioctl(0x100000000000000000000)"), "bad.syz:1:7: number out of range");
  EXPECT_EQ(error_of(std::string(200, '[')), "bad.syz:1:1: expected a call");
  EXPECT_EQ(error_of("f(" + std::string(100, '[')).substr(0, 18), "bad.syz:1:68: valu");
  // Well-formed but unknown: comments, never an error.
  EXPECT_EQ(error_of("foo$bar(0x1, @u=[], &AUTO=ANY=[@ANYBLOB=\"00\"], <r9=>0x0) (fail_nth: 3)\n"), "(imported)");
  for (const char* odd : {"", "\n\n", "#", "r0 =", "r0 = (", "=", "\xff\xfe\x00\x01", "a(&(0x1/0x0)=nil)",
                          "mmap(&(0xfffffffffffff000/0xffffffffffffffff)=nil, 0x0, 0x0, 0x0, 0x0, 0x0)"})
    EXPECT_NO_FATAL_FAILURE(importer::import_syzkaller(odd, "odd.syz")) << odd;
}

// An ioctl on an fd of a kind its statement does not take (KVM_CHECK_EXTENSION on a vCPU, KVM_CREATE_VM on a
// VM) is the recorded-only `ioctl(...)`: a statement with that handle would not parse.
TEST(SyzkallerImport, IoctlOnAnFdOfTheWrongKindIsRecordedOnly) {
  auto r = importer::import_syzkaller(
      "r0 = openat$kvm(0xffffffffffffff9c, &(0x7f0000000000)='/dev/kvm\\x00', 0x0, 0x0)\n"
      "r1 = ioctl$KVM_CREATE_VM(r0, 0xae01, 0x0)\n"
      "r2 = ioctl$KVM_CREATE_VCPU(r1, 0xae41, 0x0)\n"
      "ioctl$KVM_CHECK_EXTENSION(r2, 0xae03, 0x3)\n"
      "r3 = ioctl$KVM_CREATE_VM(r1, 0xae01, 0x0)\n"
      "ioctl$KVM_CHECK_EXTENSION_VM(r1, 0xae03, 0x3)\n",
      "k.syz");
  ASSERT_TRUE(std::holds_alternative<importer::ImportResult>(r));
  const std::string& t = std::get<importer::ImportResult>(r).trace;
  EXPECT_TRUE(has_line(t, "ioctl(vcpu0, KVM_CHECK_EXTENSION, arg=0x3)")) << t;
  EXPECT_TRUE(has_line(t, "ioctl(vm, KVM_CREATE_VM)")) << t;
  EXPECT_TRUE(has_line(t, "KVM_CHECK_EXTENSION(vm, KVM_CAP_USER_MEMORY)")) << t;
  EXPECT_TRUE(std::holds_alternative<trace::Trace>(trace::parse(t, "k.trace"))) << t;
}

}  // namespace
}  // namespace kvmsim
