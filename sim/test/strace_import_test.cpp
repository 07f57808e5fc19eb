// `kvmsim import strace` on logs in strace's own output formats: default decoding with -f pids, -y fd
// paths and an unfinished/resumed KVM_RUN pair; -X raw with [pid N] prefixes; truncated and binary junk; and a
// real log of QEMU recorded in the Linux 7.3 oracle guest, checked against `kvmsim record`'s trace of the same run.
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "model/vm/kvm.h"
#include "sim/import/strace.h"
#include "sim/test/import_fixtures.h"
#include "sim/trace/eval.h"
#include "sim/trace/ioctl_names.h"
#include "sim/trace/parser.h"

namespace kvmsim {
namespace {

std::string fixture(const std::string& name) { return test::fixture("strace", name); }
using test::has_line;
using test::replay_on_model;

TEST(StraceImport, DefaultDecodingOfAQemuLikeRun) {
  const auto r = importer::import_strace(fixture("qemu_default.log"), "qemu_default.log");
  const std::string& t = r.trace;
  EXPECT_TRUE(has_line(t, "vm = KVM_CREATE_VM(0, tid=12345)"));
  EXPECT_TRUE(has_line(t, "mem1 = mmap(0x8040000, anon, prot=PROT_NONE, flags=MAP_NORESERVE, tid=12345)"));
  EXPECT_TRUE(has_line(t, "mem2 = mmap(0x8000000, anon, flags=MAP_FIXED|MAP_NORESERVE, addr=mem1+0x200000, tid=12345)"));
  EXPECT_TRUE(has_line(t, "madvise(mem2, 0x8000000, MADV_MERGEABLE, tid=12345) = 0"));
  EXPECT_TRUE(has_line(t, "KVM_SET_USER_MEMORY_REGION(vm, {slot=0x10000|0, flags=0, guest_phys_addr=0, "
                          "memory_size=0x8000000, userspace_addr=mem2}, tid=12345) = 0"));
  EXPECT_TRUE(has_line(t, "KVM_SET_USER_MEMORY_REGION(vm, {slot=1, flags=KVM_MEM_LOG_DIRTY_PAGES, guest_phys_addr=0xc0000, "
                          "memory_size=0x20000, userspace_addr=mem2+0xc0000}, tid=12345) = 0"));
  EXPECT_TRUE(has_line(t, "ioctl(vm, KVM_SET_TSS_ADDR, arg=0xfeffd000, tid=12345) = 0"));
  // The KVM_RUN interrupted by another thread's call counts where it returned (after KVM_IRQ_LINE_STATUS).
  EXPECT_LT(t.find("ioctl(vm, KVM_IRQ_LINE_STATUS, tid=12345) = 0"), t.find("ioctl(vcpu0, KVM_RUN, tid=12350) = 0"));
  EXPECT_TRUE(has_line(t, "ioctl(vcpu0, KVM_RUN, tid=12350) = -1 EINTR"));
  EXPECT_TRUE(has_line(t, "mem3 = mmap(0x1000000, memfd1, offset=0, prot=PROT_READ|PROT_WRITE, flags=MAP_SHARED, tid=12345)"));
  EXPECT_NE(t.find("# qemu_default.log:34: a call the trace format has no statement for: write(1"), std::string::npos);
  EXPECT_NE(t.find("# qemu_default.log:35: not a complete call: ioctl(13, KVM_RUN, 0) = ?"), std::string::npos);
  const ReplayCounts c = replay_on_model(t);
  EXPECT_EQ(c.mismatched, 0u);
  EXPECT_EQ(c.not_run, 0u);
  EXPECT_EQ(c.unobservable, 8u);  // the recorded-only ioctls
  EXPECT_EQ(importer::import_strace(fixture("qemu_default.log"), "qemu_default.log").trace, t);  // deterministic
}

TEST(StraceImport, RawNumbersWithPidPrefixes) {
  const auto r = importer::import_strace(fixture("qemu_raw.log"), "qemu_raw.log");
  EXPECT_TRUE(has_line(r.trace, "KVM_CHECK_EXTENSION(kvm, 3, tid=20001) = 1"));
  EXPECT_TRUE(has_line(r.trace, "vcpu0 = KVM_CREATE_VCPU(vm, 0, tid=20001)"));
  EXPECT_TRUE(has_line(r.trace, "ioctl(vcpu0, KVM_RUN, tid=20002) = 0"));
  EXPECT_TRUE(has_line(r.trace, "ioctl(vm, 0xaeff, tid=20001) = -1 ENOTTY"));
  // A modelled ioctl whose struct is only a pointer in the log is not invented.
  EXPECT_NE(r.trace.find("# qemu_raw.log:5: the region's fields are not in the log"), std::string::npos);
  EXPECT_EQ(replay_on_model(r.trace).mismatched, 0u);
}

// Found by strace_import_fuzzer: a `[pid X]` prefix whose X is not a number became `tid=X` and the
// imported trace did not parse (the importer's own check aborted).
TEST(StraceImport, GarbledPidPrefixIsAComment) {
  const auto r = importer::import_strace("[pid!20001] ioctl(10, 0xae47, 0xfeffd000) = 0\n[pid ] close(3) = 0\n"
                                         "[pid 255555555555555555555555] memfd_create(\"m\", 0) = 5\n",
                                         "p.log");
  EXPECT_EQ(r.statements, 0u) << r.trace;
  EXPECT_EQ(r.comments, 3u) << r.trace;
  EXPECT_TRUE(std::holds_alternative<trace::Trace>(trace::parse(r.trace, "p.trace"))) << r.trace;
}

// Found by strace_import_fuzzer: `= -1 E` (an errno name the trace language lacks) made an unparseable trace.
TEST(StraceImport, UnknownErrnoIsAComment) {
  const auto r = importer::import_strace("close(3) = -1 E\nclose(4) = -1 EBADF (Bad file descriptor)\n", "e.log");
  EXPECT_TRUE(std::holds_alternative<trace::Trace>(trace::parse(r.trace, "e.trace"))) << r.trace;
  EXPECT_GE(r.comments, 1u) << r.trace;
}

TEST(StraceImport, TruncatedAndBinaryInputBecomesComments) {
  const auto r = importer::import_strace(fixture("junk.log"), "junk.log");
  EXPECT_EQ(r.statements, 2u);
  EXPECT_EQ(r.comments, 5u);
  EXPECT_NE(r.trace.find("# junk.log:2: not a complete call: ??? garbage ?((("), std::string::npos);
  EXPECT_NE(r.trace.find("# junk.log:7: not a complete call: ioctl(3, KVM_CREATE_VM, 0"), std::string::npos);
  for (const char* bad : {"", "\n\n", "ioctl(", ") = 0", "=", "[pid", "[pid 1] <... ioctl resumed>) = 0",
                          "mmap(NULL, 99999999999999999999999, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x1000",
                          "ioctl(3, KVM_CREATE_VM, 0 <unfinished ...>", "\xff\xfe\x00\x01"})
    EXPECT_NO_FATAL_FAILURE(importer::import_strace(bad, "bad.log")) << bad;
}

// Found by strace_import_fuzzer: an ioctl on an fd of a kind its statement does not take was written with that
// handle (`KVM_CHECK_EXTENSION(vcpu0, ...)`), which does not parse. It is the recorded-only `ioctl(...)`.
TEST(StraceImport, IoctlOnAnFdOfTheWrongKindIsRecordedOnly) {
  const auto r = importer::import_strace(
      "openat(AT_FDCWD, \"/dev/kvm\", O_RDWR) = 9\nioctl(9, KVM_CREATE_VM, 0) = 10\nioctl(10, KVM_CREATE_VCPU, 0) = 11\n"
      "ioctl(11, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) = -1 ENOTTY (Inappropriate ioctl for device)\n"
      "ioctl(10, KVM_CREATE_VM, 0) = -1 ENOTTY (Inappropriate ioctl for device)\n"
      "ioctl(11, KVM_CREATE_VCPU, 1) = -1 ENOTTY (Inappropriate ioctl for device)\n"
      "ioctl(10, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) = 1\n",
      "k.log");
  EXPECT_TRUE(has_line(r.trace, "ioctl(vcpu0, KVM_CHECK_EXTENSION, arg=3) = -1 ENOTTY")) << r.trace;
  EXPECT_TRUE(has_line(r.trace, "ioctl(vm, KVM_CREATE_VM) = -1 ENOTTY")) << r.trace;
  EXPECT_TRUE(has_line(r.trace, "ioctl(vcpu0, KVM_CREATE_VCPU, arg=1) = -1 ENOTTY")) << r.trace;
  EXPECT_TRUE(has_line(r.trace, "KVM_CHECK_EXTENSION(vm, KVM_CAP_USER_MEMORY) = 1")) << r.trace;
  EXPECT_EQ(r.statements, 6u) << r.trace;
  EXPECT_TRUE(std::holds_alternative<trace::Trace>(trace::parse(r.trace, "k.trace"))) << r.trace;
}

// Found by strace_import_fuzzer: a value was written as strace printed it once it evaluated, so an empty field
// (`flags= `) or a trailing `|` (`PROT_READ|`) made an unparseable trace, and so did a file call with more
// arguments than its statement. Values are spelled from their parts; a call's arity is its statement's.
TEST(StraceImport, ValuesAreSpelledFromTheirParts) {
  const auto r = importer::import_strace(
      "openat(AT_FDCWD, \"/dev/kvm\", O_RDWR) = 3\nioctl(3, KVM_CREATE_VM, 0) = 4\n"
      "mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\n"
      "ioctl(4, KVM_SET_USER_MEMORY_REGION, {slot=0, flags= , guest_phys_addr=0, memory_size=4096, "
      "userspace_addr=0x7f0000000000}) = 0\n"
      "mprotect(0x7f0000000000, 4096, PROT_READ|) = 0\n"
      "mprotect(0x7f0000000000, 4096, PROT_READ | 0x10) = 0\n"
      "memfd_create(\"m\", 0) = 5\nftruncate(5, 4096, 0) = 0\nclose() = 0\n",
      "v.log");
  EXPECT_TRUE(std::holds_alternative<trace::Trace>(trace::parse(r.trace, "v.trace"))) << r.trace;
  EXPECT_TRUE(has_line(r.trace, "mprotect(mem1, 0x1000, PROT_READ|0x10) = 0")) << r.trace;
  EXPECT_EQ(r.comments, 4u) << r.trace;  // the empty flags, the trailing `|`, the argument counts
}

// Each KVM_SET_USER_MEMORY_REGION* statement of a trace as `slot flags guest_phys_addr memory_size = result`
// (numbers in hex, whatever spelling the trace used): what two recordings of one command must agree on.
// userspace_addr is left out: its handle's number counts the process's mmaps, and strace sees more of them
// (every shared library's) than `kvmsim record`, which keeps only the memory KVM was given.
std::vector<std::string> memslot_ops(const std::string& text, const std::string& file) {
  std::vector<std::string> ops;
  const auto parsed = trace::parse(text, file);
  EXPECT_TRUE(std::holds_alternative<trace::Trace>(parsed)) << file;
  if (!std::holds_alternative<trace::Trace>(parsed)) return ops;
  const auto hex = [](const trace::Expr& e) {
    std::ostringstream o;
    o << std::hex << "0x" << trace::evaluate(e).value;
    return o.str();
  };
  for (const trace::Statement& st : std::get<trace::Trace>(parsed).statements) {
    if (st.callee.rfind("KVM_SET_USER_MEMORY_REGION", 0) != 0 || st.args.size() < 2) continue;
    std::string op = st.callee;
    for (const char* name : {"slot", "flags", "guest_phys_addr", "memory_size"})
      for (const trace::Field& f : st.args[1].fields)
        if (f.name == name) op += std::string(" ") + name + "=" + hex(f.value.expr);
    op += st.result.kind == trace::Result::Kind::error ? " = " + st.result.errno_name : " = " + hex(st.result.value);
    ops.push_back(op);
  }
  return ops;
}

// Every KVM ioctl request of a trace in order, as numbers (a recording may spell one as a number, the import as its
// name), without KVM_RUN (how many exits a run takes is the host's timing) and KVM_ENABLE_CAP (strace prints
// its struct as a pointer, so the importer keeps it as a comment).
std::vector<trace::u64> kvm_requests(const std::string& text, const std::string& file) {
  std::vector<trace::u64> reqs;
  const auto parsed = trace::parse(text, file);
  if (!std::holds_alternative<trace::Trace>(parsed)) return reqs;
  const trace::u64 skip[] = {*trace::ioctl_request_value("KVM_RUN"), *trace::ioctl_request_value("KVM_ENABLE_CAP")};
  for (const trace::Statement& st : std::get<trace::Trace>(parsed).statements) {
    std::optional<trace::u64> req = trace::ioctl_request_value(st.callee);
    if (st.callee == "ioctl" && st.args.size() >= 2) req = trace::evaluate(st.args[1].expr).value;
    if (req && *req != skip[0] && *req != skip[1]) reqs.push_back(*req);
  }
  return reqs;
}

// A real log: Debian trixie's QEMU booting SeaBIOS to "No bootable device" with -machine pc under strace
// (default decoding, -f, docs/vmm-traces.md "With strace") in the Linux 7.3 nested oracle guest
// (scripts/nested/record.sh; sim/test/fixtures/strace/README.md). traces/real/qemu_seabios_pc.trace is the same
// command recorded with `kvmsim record` (an earlier boot: the memslot calls are the same every run).
TEST(StraceImport, RealQemuLogFromTheOracleGuest) {
  const auto r = importer::import_strace(fixture("qemu_seabios_pc_7.3.log"), "qemu_seabios_pc_7.3.log");
  ASSERT_TRUE(std::holds_alternative<trace::Trace>(trace::parse(r.trace, "imported.trace"))) << r.trace;
  const ReplayCounts c = replay_on_model(r.trace);
  EXPECT_EQ(c.mismatched, 0u);
  EXPECT_EQ(c.not_run, 0u);
  const auto imported = memslot_ops(r.trace, "imported.trace");
  EXPECT_GT(imported.size(), 100u);
  const std::string recorded = test::source_file("traces/real/qemu_seabios_pc.trace");
  EXPECT_EQ(imported, memslot_ops(recorded, "qemu_seabios_pc.trace"));
  // The same KVM calls besides: KVM_(UN)REGISTER_COALESCED_MMIO were lost as "not a KVM ioctl" before the request
  // table knew their names.
  EXPECT_EQ(kvm_requests(r.trace, "imported.trace"), kvm_requests(recorded, "qemu_seabios_pc.trace"));
}

}  // namespace
}  // namespace kvmsim
