// What real VMM recordings need from the trace format (traces/FORMAT.md "Recorded-only ioctls",
// "Threads", "mmap as VMMs do it") and the C reproducer export (sim/export/c_repro.h).
#include <gtest/gtest.h>

#include <string>

#include "model/host/host_memory.h"
#include "model/uapi.h"
#include "sim/export/c_repro.h"
#include "sim/trace/ioctl_names.h"
#include "sim/trace/parser.h"

namespace kvmsim {
namespace {

std::string parse_error(const std::string& body) {
  auto r = trace::parse("kvmsim-trace 1\n" + body + "\n", "t.trace");
  if (auto* e = std::get_if<trace::ParseError>(&r)) return e->str();
  return "OK";
}

trace::Trace parse_ok(const std::string& body) {
  auto r = trace::parse("kvmsim-trace 1\n" + body + "\n", "t.trace");
  if (auto* e = std::get_if<trace::ParseError>(&r)) ADD_FAILURE() << e->str();
  return std::get<trace::Trace>(std::move(r));
}

TEST(VmmTraceFormat, RecordedOnlyIoctlByNameOrNumber) {
  auto t = parse_ok(
      "vm = KVM_CREATE_VM(0)\n"
      "ioctl(vm, KVM_SET_TSS_ADDR, arg=0xfeffd000) = 0\n"
      "ioctl(vm, 0xaeff) = -1 ENOTTY\n"
      "ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, bytes=[0x00, 0xc0, 0xff, 0xfe]) = 0");
  ASSERT_EQ(t.statements.size(), 4u);
  EXPECT_EQ(t.statements[1].args[1].expr.terms[0].value, 0xae47u);  // KVM_SET_TSS_ADDR = _IO(KVMIO, 0x47)
  EXPECT_EQ(t.statements[3].keywords[0].value.list.size(), 4u);
  EXPECT_EQ(parse_error("ioctl(kvm, KVM_NO_SUCH_IOCTL) = 0"),
            "t.trace:2:12: unknown constant or unbound name 'KVM_NO_SUCH_IOCTL'");
  EXPECT_EQ(parse_error("ioctl(kvm, KVM_RUN, size=4) = 0"),
            "t.trace:2:21: unknown keyword 'size' for ioctl; valid keywords: arg, bytes");
}

TEST(VmmTraceFormat, IoctlNamesAgreeWithTheModelledOnes) {
  EXPECT_EQ(trace::ioctl_request_value("KVM_SET_USER_MEMORY_REGION"), uapi::KVM_SET_USER_MEMORY_REGION);
  EXPECT_EQ(trace::ioctl_request_value("KVM_RUN"), uapi::KVM_RUN);
  EXPECT_STREQ(trace::ioctl_request_name(0xc008ae67), "KVM_IRQ_LINE_STATUS");
  EXPECT_EQ(trace::ioctl_size(uapi::KVM_SET_USER_MEMORY_REGION), sizeof(uapi::kvm_userspace_memory_region));
  EXPECT_EQ(trace::ioctl_request_name(0xdead), nullptr);
}

TEST(VmmTraceFormat, EveryCallTakesATid) {
  auto t = parse_ok("vm = KVM_CREATE_VM(0, tid=3)\nvcpu = KVM_CREATE_VCPU(vm, 0, tid=3)\nclose(vcpu, tid=4)");
  EXPECT_EQ(t.statements[2].keywords.at(0).name, "tid");
  EXPECT_EQ(parse_error("vm = KVM_CREATE_VM(0, tid=1, tid=2)"), "t.trace:2:30: duplicate keyword 'tid'");
}

TEST(VmmTraceFormat, MmapPlacementKeywords) {
  parse_ok("res = mmap(8M, anon, prot=PROT_NONE, flags=MAP_NORESERVE)\n"
           "ram = mmap(4M, thp, addr=res+4K, flags=MAP_FIXED)\nmadvise(ram, 4M, MADV_MERGEABLE) = 0");
  EXPECT_EQ(parse_error("m = mmap(4K, anon, offset=0)"), "t.trace:2:20: 'offset' is only for mmap of an fd");
  EXPECT_EQ(parse_error("f = memfd_create(4K)\nm = mmap(4K, f, addr=0)").substr(0, 9), "t.trace:3");
}

TEST(VmmHostMemory, FixedMappingReplacesPartOfAReservation) {
  model::HostMemory h(model::default_profile());
  const u64 res = h.mmap(8 << 20, Backing::anon, 0, MmapPlacement{uapi::PROT_NONE, uapi::MAP_NORESERVE, 0}).ret.ret;
  EXPECT_EQ(h.fault_in(res, false).err, EFAULT);  // PROT_NONE: a guard
  auto fixed = h.mmap(4 << 20, Backing::anon, 0, MmapPlacement{3, uapi::MAP_FIXED, res + 4096});
  EXPECT_EQ(fixed.ret.ret, static_cast<i64>(res + 4096));
  EXPECT_FALSE(fixed.invalidated.empty());  // do_mmap() unmapped the reservation's pages first
  EXPECT_TRUE(h.fault_in(res + 4096, true).ok());
  EXPECT_EQ(h.fault_in(res, false).err, EFAULT);
  EXPECT_EQ(h.fault_in(res + 4096 + (4 << 20), false).err, EFAULT);
  EXPECT_EQ(h.mmap(4096, Backing::anon, 0, MmapPlacement{3, uapi::MAP_FIXED_NOREPLACE, res}).ret, Ret::fail(EEXIST));
  EXPECT_EQ(h.mmap(4096, Backing::anon, 0, MmapPlacement{3, uapi::MAP_FIXED, res + 1}).ret, Ret::fail(EINVAL));
  // Later mappings the kernel places come after the fixed one.
  EXPECT_GE(static_cast<u64>(h.mmap(4096, Backing::anon, 0).ret.ret), res + (8 << 20));
}

TEST(VmmHostMemory, InertAdviceIsValidatedButChangesNothing) {
  model::HostMemory h(model::default_profile());
  const u64 m = h.mmap(4 << 20, Backing::thp, 0).ret.ret;
  for (int advice : {uapi::MADV_DONTFORK, uapi::MADV_MERGEABLE, uapi::MADV_DODUMP}) {
    auto r = h.madvise(m, 4 << 20, advice);
    EXPECT_EQ(r.ret, Ret::ok());
    EXPECT_TRUE(r.invalidated.empty());
  }
  EXPECT_EQ(h.madvise(m, 8 << 20, uapi::MADV_MERGEABLE).ret, Ret::fail(ENOMEM));  // a hole past the mapping
  EXPECT_EQ(h.fault_in(m, true).level, 2);  // still a THP-eligible mapping
}

TEST(ExportC, SelftestShapedTapProgram) {
  auto t = parse_ok(
      "mem = mmap(2M, thp)\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\nvcpu = KVM_CREATE_VCPU(vm, 0)\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=2M, userspace_addr=mem}) = 0\n"
      "KVM_PRE_FAULT_MEMORY(vcpu, {gpa=0, size=2M}) = 0 => {gpa=2M, size=0}\n"
      "access(vcpu, 0, write) = ok\nexpect mapping(vm, 0) level=2M\nioctl(vcpu, KVM_RUN) = 0\n"
      "KVM_CREATE_VM(77) = -1 EINVAL");
  const std::string c = exporter::export_c(t);
  EXPECT_EQ(c, exporter::export_c(t));  // deterministic
  EXPECT_NE(c.find("#include <linux/kvm.h>"), std::string::npos);
  EXPECT_NE(c.find("return KSFT_SKIP;"), std::string::npos);
  EXPECT_NE(c.find("KVM_CAP_PRE_FAULT_MEMORY is missing"), std::string::npos);  // expected to work: required
  EXPECT_NE(c.find("REPRO_PRE_FAULT_MEMORY, &range"), std::string::npos);
  EXPECT_NE(c.find("check_out(6, \"gpa\", range.gpa"), std::string::npos);
  EXPECT_NE(c.find("ERROR, 0, 22"), std::string::npos);  // = -1 EINVAL
  EXPECT_NE(c.find("skip(7, what, \"a guest access"), std::string::npos);
  EXPECT_NE(c.find("skip(8, what, \"a real kernel does not show"), std::string::npos);
  EXPECT_NE(c.find("skip(9, what, \"not replayable"), std::string::npos);
  EXPECT_NE(c.find("if (!made_mem || !made_vm)"), std::string::npos);  // not run after a failed creation
}

}  // namespace
}  // namespace kvmsim
