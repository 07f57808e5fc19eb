// Parser: the spec's example, every extension, and every error path with its FILE:LINE:COL.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <string>

#include "sim/trace/eval.h"
#include "sim/trace/parser.h"
#include "sim/trace/printer.h"

namespace kvmsim::trace {
namespace {

const char* kHeader = "kvmsim-trace 1\n";

// "OK" or the one-line error.
std::string err(const std::string& text) {
  auto r = parse(text, "t.trace");
  if (auto* e = std::get_if<ParseError>(&r)) return e->str();
  return "OK";
}
// Error of a body line (which is line 2).
std::string body_err(const std::string& body) { return err(kHeader + body + "\n"); }

Trace ok(const std::string& text) {
  auto r = parse(text, "t.trace");
  if (auto* e = std::get_if<ParseError>(&r)) ADD_FAILURE() << e->str();
  return std::get<Trace>(std::move(r));
}

u64 value_of(const Expr& e) { return evaluate(e).value; }

const char* kSpecExample = R"(kvmsim-trace 1
profile linux-6.18
mem = mmap(2M+4K, thp)
vm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)
vcpu = KVM_CREATE_VCPU(vm, 0)
KVM_SET_USER_MEMORY_REGION(vm, {slot=10, guest_phys_addr=3G, memory_size=2M+4K, userspace_addr=mem}) = 0
KVM_PRE_FAULT_MEMORY(vcpu, {gpa=3G, size=2M}) = 0 => {gpa=3G+2M, size=0}
KVM_PRE_FAULT_MEMORY(vcpu, {gpa=3G+2M, size=8K}) = 0 => {gpa=3G+2M+4K, size=4K}
KVM_PRE_FAULT_MEMORY(vcpu, {gpa=3G+2M+4K, size=4K}) = -1 ENOENT => {gpa=3G+2M+4K, size=4K}
expect mapping(vm, 3G+2M) level=4K   # the slot's unaligned tail can only be mapped at 4K
)";

TEST(TraceParser, SpecExample) {
  Trace t = ok(kSpecExample);
  EXPECT_EQ(t.profile, "linux-6.18");
  ASSERT_EQ(t.statements.size(), 8u);
  const Statement& mmap = t.statements[0];
  EXPECT_EQ(mmap.bind, "mem");
  EXPECT_EQ(mmap.line, 3);
  EXPECT_EQ(value_of(mmap.args[0].expr), (2ull << 20) + 4096);
  EXPECT_EQ(mmap.args[1].kind, Value::Kind::word);
  EXPECT_EQ(mmap.args[1].word, "thp");
  const Statement& pf = t.statements[6];
  EXPECT_EQ(pf.result.kind, Result::Kind::error);
  EXPECT_EQ(pf.result.err, 2);
  ASSERT_EQ(pf.out.size(), 2u);
  EXPECT_EQ(value_of(pf.out[0].value.expr), (3ull << 30) + (2ull << 20) + 4096);
  // Result span covers "= -1 ENOENT => {...}" exactly.
  EXPECT_EQ(pf.text.substr(pf.result_begin, pf.result_end - pf.result_begin),
            "= -1 ENOENT => {gpa=3G+2M+4K, size=4K}");
  const Statement& ex = t.statements[7];
  EXPECT_EQ(ex.kind, Statement::Kind::expect);
  EXPECT_EQ(ex.expect[0].value.word, "4K");
  EXPECT_EQ(ex.text.substr(ex.result_begin, ex.result_end - ex.result_begin), "level=4K");
}

// Every statement example of traces/FORMAT.md's "v1 examples".
TEST(TraceParser, SpecStatementExamples) {
  Trace t = ok(std::string(kHeader) +
               "mem0 = mmap(16M, anon)\n"
               "mem1 = mmap(2M+4K, hugetlb_2m, align=1G)\n"
               "munmap(mem0+1M, 4K)\n"
               "madvise(mem0, 2M, MADV_DONTNEED)\n"
               "mprotect(mem0, 2M, PROT_READ)\n"
               "touch(mem0, 2M)\n"
               "vm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
               "vcpu0 = KVM_CREATE_VCPU(vm, 0)\n"
               "gmem = KVM_CREATE_GUEST_MEMFD(vm, {size=4M, flags=GUEST_MEMFD_FLAG_MMAP})\n"
               "KVM_CHECK_EXTENSION(vm, KVM_CAP_GUEST_MEMFD) = 1\n"
               "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, flags=0, guest_phys_addr=0, memory_size=16M, userspace_addr=mem0}) = 0\n"
               "KVM_SET_USER_MEMORY_REGION2(vm, {slot=1, flags=KVM_MEM_GUEST_MEMFD, guest_phys_addr=4G, memory_size=2M+4K, "
               "userspace_addr=mem1, guest_memfd=gmem, guest_memfd_offset=0}) = 0\n"
               "KVM_SET_MEMORY_ATTRIBUTES(vm, {address=4G, size=2M, attributes=KVM_MEMORY_ATTRIBUTE_PRIVATE}) = 0\n"
               "KVM_PRE_FAULT_MEMORY(vcpu0, {gpa=4G, size=2M+8K}) = 0 => {gpa=4G+2M+4K, size=4K}\n"
               "KVM_GET_DIRTY_LOG(vm, {slot=0}) = 0 => {bitmap=[0-9, 17]}\n"
               "KVM_CLEAR_DIRTY_LOG(vm, {slot=0, first_page=0, num_pages=64, bitmap=[3]}) = 0\n"
               "KVM_ENABLE_CAP(vm, {cap=KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args=[KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE]}) = 0\n"
               "fallocate(gmem, FALLOC_FL_KEEP_SIZE|FALLOC_FL_PUNCH_HOLE, 0, 4K) = 0\n"
               "access(vcpu0, 4G, write) = memory_fault {flags=KVM_MEMORY_EXIT_FLAG_PRIVATE, gpa=4G, size=4K}\n"
               "expect stats(vm) pages_4k=1 pages_2m=1 pages_1g=0\n"
               "expect mapping(vm, 4G) level=2M\n"
               "expect mapping(vm, 8G) level=none\n"
               "KVM_CREATE_VM(KVM_X86_SW_PROTECTED_VM) = -1 EINVAL\n"
               "close(gmem)\n");
  EXPECT_EQ(t.statements.size(), 24u);
}

TEST(TraceParser, NumbersSuffixesSeparatorsAndSums) {
  Trace t = ok(std::string(kHeader) +
               "m = mmap(0x1_0000_0000+2M, anon)\n"
               "munmap(m+1_000, 4G-4K)\n"
               "madvise(m, -4096, MADV_DONTNEED)\n"
               "KVM_CHECK_EXTENSION(kvm, KVM_CAP_VM_TYPES) = 3\n"
               "x = KVM_CREATE_VM(KVM_X86_DEFAULT_VM|KVM_X86_SW_PROTECTED_VM)\n");
  EXPECT_EQ(value_of(t.statements[0].args[0].expr), 0x100000000ull + (2ull << 20));
  EXPECT_EQ(value_of(t.statements[1].args[1].expr), (4ull << 30) - 4096);
  EXPECT_EQ(t.statements[1].args[0].expr.terms[1].spelling, "1_000");
  EXPECT_EQ(value_of(t.statements[2].args[1].expr), ~0ull - 4095);  // two's complement
  EXPECT_EQ(value_of(t.statements[3].result.value), 3u);
  EXPECT_EQ(value_of(t.statements[4].args[0].expr), 1u);
  EXPECT_EQ(value_of(ok(std::string(kHeader) + "touch(0, 1T)\n").statements[0].args[1].expr), 1ull << 40);
}

TEST(TraceParser, OrBindsLooserThanPlus) {
  Trace t = ok(std::string(kHeader) + "touch(1|2+4, 0)\n");
  EXPECT_EQ(value_of(t.statements[0].args[0].expr), 7u);
  t = ok(std::string(kHeader) + "touch(8|1-1, 0)\n");
  EXPECT_EQ(value_of(t.statements[0].args[0].expr), 8u);
}

TEST(TraceParser, Extensions) {
  Trace t = ok(std::string(kHeader) +
               "KVM_CREATE_GUEST_MEMFD(kvm, {size=4K}) = -1 EINVAL\n"
               "f = memfd_create(2M)\n"
               "p = mmap(2M, f, offset=4K, prot=PROT_READ, flags=MAP_PRIVATE)\n"
               "madvise(p, 2M, MADV_HUGEPAGE)\n"
               "mprotect(p, 4K, PROT_READ|PROT_WRITE)\n"
               "ftruncate(f, 4M) = 0\n"
               "read(f, 4K)\n"
               "write(f, 4K) = -1 EBADF\n"
               "pread(f, 4K, 8K)\n"
               "vm = KVM_CREATE_VM(0)\n"
               "KVM_ENABLE_CAP(vm, {cap=KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, flags=0, args=[KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE]}) = 0\n"
               "KVM_CLEAR_DIRTY_LOG(vm, {slot=0, first_page=0, num_pages=64, bitmap=[0-9, 17]}) = 0\n"
               "KVM_GET_DIRTY_LOG(vm, {slot=0}) = 0 => {bitmap=[0-9, 17]}\n"
               "KVM_SET_USER_MEMORY_REGION2(vm, {slot=1, flags=KVM_MEM_GUEST_MEMFD, guest_memfd=-1}) = -1 EBADF\n"
               "expect mapping(vm, 4G) level=none writable=0 exec=1 private=1\n"
               "expect stats(vm) pages_4k=1 nx_lpage_splits=0\n"
               "close(f)\n"
               "close(kvm)\n");
  ASSERT_EQ(t.statements.size(), 18u);
  EXPECT_EQ(t.statements[2].keywords.size(), 3u);
  EXPECT_EQ(t.statements[12].out[0].value.ranges.size(), 2u);
  EXPECT_EQ(value_of(t.statements[13].args[1].fields[2].value.expr), 0xffffffffffffffffull);
  EXPECT_EQ(t.statements[15].expect[1].name, "nx_lpage_splits");
}

TEST(TraceParser, AccessResults) {
  Trace t = ok(std::string(kHeader) +
               "vm = KVM_CREATE_VM(0)\nv = KVM_CREATE_VCPU(vm, 0)\n"
               "access(v, 0, read) = ok\n"
               "access(v, 4G, write) = mmio\n"
               "access(v, 4G, exec) = memory_fault {flags=KVM_MEMORY_EXIT_FLAG_PRIVATE, gpa=4G, size=4K}\n"
               "access(v, 4G, read) = -1 EFAULT\n"
               "access(v, 4G, read)\n");
  EXPECT_EQ(t.statements[2].result.kind, Result::Kind::ok);
  EXPECT_EQ(t.statements[3].result.kind, Result::Kind::mmio);
  EXPECT_EQ(t.statements[4].result.kind, Result::Kind::memory_fault);
  EXPECT_EQ(t.statements[4].result.fields.size(), 3u);
  EXPECT_EQ(t.statements[5].result.err, 14);
  EXPECT_EQ(t.statements[6].result.kind, Result::Kind::none);
}

// Memory contents (traces/FORMAT.md "Memory contents"): the statements, their results, and what each
// form may not carry; the printer gives the text back.
TEST(TraceParser, ContentStatements) {
  const std::string body =
      "vm = KVM_CREATE_VM(0)\nv = KVM_CREATE_VCPU(vm, 0)\n"
      "poke(4K, 0xdead) = 0\n"
      "peek(4K) = 0xdead\n"
      "peek(8K) = SIGBUS\n"
      "touch(8K, 4K) = SIGBUS\n"
      "access(v, 4G, write, value=0x55) = ok\n"
      "access(v, 4G, read) = ok {value=0x55}\n"
      "pwrite(vm, 0, 4K, value=7) = -1 ESPIPE\n"
      "fstat(vm) = 0 => {size=0, blksize=4K}\n";
  Trace t = ok(std::string(kHeader) + body);
  EXPECT_EQ(t.statements[4].result.kind, Result::Kind::sigbus);
  EXPECT_EQ(t.statements[5].result.kind, Result::Kind::sigbus);
  EXPECT_EQ(t.statements[6].keywords.at(0).name, "value");
  EXPECT_EQ(t.statements[7].result.fields.at(0).name, "value");
  EXPECT_EQ(t.statements[9].out.size(), 2u);
  EXPECT_EQ(print(t), std::string(kHeader) + body);
  const std::string pre = "vm = KVM_CREATE_VM(0)\nv = KVM_CREATE_VCPU(vm, 0)\n";
  EXPECT_EQ(body_err(pre + "access(v, 4G, read, value=1)"),
            "t.trace:4:21: value= is only for a write access; a read states what it loads as = ok {value=...}");
  EXPECT_EQ(body_err(pre + "access(v, 4G, write) = ok {value=1}"),
            "t.trace:4:27: only a read access reports {value=...}; a write states its value as value=");
  EXPECT_EQ(body_err(pre + "access(v, 4G, read) = SIGBUS").substr(0, 29), "t.trace:4:23: expected ok, mm");
  EXPECT_EQ(body_err("munmap(0, 4K) = SIGBUS"), "t.trace:2:17: unknown constant or unbound name 'SIGBUS'");
  EXPECT_EQ(body_err("peek(0) = ok").substr(0, 17), "t.trace:2:11: unk");
  EXPECT_EQ(body_err("poke(0)"), "t.trace:2:7: too few arguments: poke(addr, value)");
}

TEST(TraceParser, CommentsBlankLinesAndCrLf) {
  Trace t = ok("# leading comment\n\n  kvmsim-trace 1   # header\r\nprofile linux-6.1\r\n\n"
               "vm = KVM_CREATE_VM(0) # c\r\n");
  EXPECT_EQ(t.profile, "linux-6.1");
  ASSERT_EQ(t.statements.size(), 1u);
  EXPECT_EQ(t.statements[0].line, 6);
}

TEST(TraceParser, HeaderErrors) {
  EXPECT_EQ(err(""), "t.trace:1:1: expected the header 'kvmsim-trace 1'");
  EXPECT_EQ(err("vm = KVM_CREATE_VM(0)\n"), "t.trace:1:1: expected the header 'kvmsim-trace 1'");
  EXPECT_EQ(err("kvmsim-trace 2\n"), "t.trace:1:14: unsupported trace version 2");
  EXPECT_EQ(err("kvmsim-trace\n"), "t.trace:1:13: malformed trace version ''");
  EXPECT_EQ(err("kvmsim-trace 1x\n"), "t.trace:1:14: malformed trace version '1x'");
  EXPECT_EQ(err("kvmsim-trace 1\nvm = KVM_CREATE_VM(0)\nprofile linux-6.18\n"),
            "t.trace:3:1: the profile directive must directly follow the header");
  EXPECT_EQ(err("kvmsim-trace 1\nprofile\n"), "t.trace:2:8: expected a profile name after 'profile'");
  EXPECT_EQ(err("kvmsim-trace 1\nprofile a$b\n"), "t.trace:2:10: unexpected character in profile name 'a$b'");
}

TEST(TraceParser, NumberErrors) {
  EXPECT_EQ(body_err("touch(18446744073709551616, 0)"), "t.trace:2:7: number out of range: '18446744073709551616'");
  EXPECT_EQ(body_err("touch(99999999999999999999999, 0)"),
            "t.trace:2:7: number out of range: '99999999999999999999999'");
  EXPECT_EQ(body_err("touch(16777216T, 0)"), "t.trace:2:7: number out of range: '16777216T'");
  EXPECT_EQ(body_err("touch(0xffffffffffffffff+1, 0)"), "t.trace:2:7: number out of range");
  EXPECT_EQ(body_err("touch(0-0xffffffffffffffff-1, 0)"), "t.trace:2:7: number out of range");
  EXPECT_EQ(body_err("touch(18446744073709551615, 0)"), "OK");
  EXPECT_EQ(body_err("touch(1__0, 0)"), "t.trace:2:7: malformed number ('_' must separate digits): '1__0'");
  EXPECT_EQ(body_err("touch(12ab, 0)"), "t.trace:2:7: malformed number (unexpected 'a'): '12ab'");
  EXPECT_EQ(body_err("touch(0x, 0)"), "t.trace:2:7: malformed number: '0x'");
}

TEST(TraceParser, NameErrors) {
  EXPECT_EQ(body_err("touch(mem, 4K)"), "t.trace:2:7: unknown constant or unbound name 'mem'");
  EXPECT_EQ(body_err("x = KVM_CREATE_VM(KVM_X86_BOGUS)"),
            "t.trace:2:19: unknown constant or unbound name 'KVM_X86_BOGUS'");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nvm = KVM_CREATE_VM(0)").substr(0, 50),
            "t.trace:3:1: name 'vm' is already bound (line 2)");
  EXPECT_EQ(body_err("kvm = KVM_CREATE_VM(0)"), "t.trace:2:1: cannot rebind the predefined handle 'kvm'");
  EXPECT_EQ(body_err("PROT_READ = KVM_CREATE_VM(0)"),
            "t.trace:2:1: 'PROT_READ' is a constant name; pick another handle name");
  EXPECT_EQ(body_err("thp = KVM_CREATE_VM(0)"), "t.trace:2:1: 'thp' is a reserved word; pick another handle name");
  EXPECT_EQ(body_err("m = mmap(4K, m)"), "t.trace:2:14: unknown constant or unbound name 'm'");
}

TEST(TraceParser, SchemaErrors) {
  EXPECT_EQ(body_err("KVM_FROB(kvm)").rfind("t.trace:2:1: unknown statement 'KVM_FROB' (supported: ", 0), 0u);
  // Issue 16: `unknown statement 'KVM_RUN'` listed nothing; it names the supported statements now.
  const std::string run = body_err("KVM_RUN(kvm)");
  EXPECT_NE(run.find("access, "), std::string::npos) << run;
  EXPECT_NE(run.find("KVM_PRE_FAULT_MEMORY, "), std::string::npos) << run;
  EXPECT_EQ(run.find('\n'), std::string::npos) << "one line";
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_SET_USER_MEMORY_REGION(vm, {slot=0, size=4K})"),
            "t.trace:3:41: unknown field 'size' in kvm_userspace_memory_region; valid fields: slot, flags, "
            "guest_phys_addr, memory_size, userspace_addr, private_offset, private_fd");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_SET_MEMORY_ATTRIBUTES(vm, {size=1, size=2})"),
            "t.trace:3:40: duplicate field 'size' in kvm_memory_attributes");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_CREATE_VCPU(vm)"),
            "t.trace:3:19: too few arguments: KVM_CREATE_VCPU(vm, vcpu_id)");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_CREATE_VCPU(vm, 0, 1)"),
            "t.trace:3:24: too many arguments: KVM_CREATE_VCPU(vm, vcpu_id)");
  EXPECT_EQ(body_err("g = memfd_create(4K)\nKVM_CREATE_VCPU(g, 0)"),
            "t.trace:3:17: 'g' is a memfd handle; KVM_CREATE_VCPU vm must be a vm handle or a number");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_CREATE_VCPU(vm+1, 0)"),
            "t.trace:3:17: KVM_CREATE_VCPU vm must be a vm handle or a number");
  EXPECT_EQ(body_err("x = munmap(0, 4K)"),
            "t.trace:2:1: munmap does not create a handle; it cannot be bound to a name");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0) = 0"),
            "t.trace:2:23: a binding statement takes no result; write a failing call without the binding");
  EXPECT_EQ(body_err("munmap(0, 4K) => {gpa=0}"), "t.trace:2:15: munmap has no out-fields");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nv = KVM_CREATE_VCPU(vm, 0)\nKVM_PRE_FAULT_MEMORY(v, {gpa=0}) = 0 => {flags=0}"),
            "t.trace:4:42: unknown field 'flags' in out-fields of KVM_PRE_FAULT_MEMORY; valid fields: gpa, size");
  EXPECT_EQ(body_err("m = mmap(4K, anon, offset=0)"), "t.trace:2:20: 'offset' is only for mmap of an fd");
  EXPECT_EQ(body_err("f = memfd_create(4K)\nm = mmap(4K, f, align=2M)"),
            "t.trace:3:17: 'align' is only for mmap of a backing");
  EXPECT_EQ(body_err("m = mmap(4K, anon, colour=1)"),
            "t.trace:2:20: unknown keyword 'colour' for mmap; valid keywords: align, offset, prot, flags, addr");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nv = KVM_CREATE_VCPU(vm, 0)\naccess(v, 0, jump)"),
            "t.trace:4:14: expected access kind (one of read, write, exec), got 'jump'");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nv = KVM_CREATE_VCPU(vm, 0)\naccess(v, 0, read) = 0"),
            "t.trace:4:22: expected ok, mmio, memory_fault {...}, memory_error {...} or -1 ERRNO, got '0'");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nexpect mapping(vm, 0) level=3M"),
            "t.trace:3:29: expected expect mapping.level (one of 4K, 2M, 1G, none), got '3M'");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nexpect mapping(vm, 0) writable=2"),
            "t.trace:3:32: expect mapping.writable must be 0 or 1, got '2'");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nexpect mapping(vm, 0) dirty=1"),
            "t.trace:3:23: unknown key 'dirty' in expect mapping; valid keys: level, writable, exec, private");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nexpect mapping(vm, 0) level=4K level=2M"),
            "t.trace:3:32: duplicate key 'level' in expect mapping");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nexpect regs(vm)"),
            "t.trace:3:8: unknown expectation 'regs' (expected stats or mapping)");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_ENABLE_CAP(vm, {cap=1, args=[1, 2, 3, 4, 5]})"),
            "t.trace:3:46: kvm_enable_cap.args has at most 4 items");
}

TEST(TraceParser, MorePunctuationErrors) {
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_SET_MEMORY_ATTRIBUTES(vm, 5)"),
            "t.trace:3:31: expected '{' to open kvm_memory_attributes, got '5'");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_SET_MEMORY_ATTRIBUTES(vm, {size 5})"),
            "t.trace:3:37: expected '=' after field name, got '5'");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_SET_MEMORY_ATTRIBUTES(vm, {5=size})"),
            "t.trace:3:32: expected a field name in kvm_memory_attributes, got '5'");
  EXPECT_EQ(body_err("m = mmap(4K, anon, align=4K, align=8K)"), "t.trace:2:30: duplicate keyword 'align'");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nexpect stats(vm) 5"),
            "t.trace:3:18: expected key=value in expect stats, got '5'");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nexpect stats(vm) pages_4k 5"),
            "t.trace:3:27: expected '=' after 'pages_4k', got '5'");
  EXPECT_EQ(body_err("x = 5"), "t.trace:2:5: expected a call, got '5'");
  EXPECT_EQ(body_err("touch"), "t.trace:2:6: expected '(' after 'touch', got end of line");
}

TEST(TraceParser, ResultErrors) {
  EXPECT_EQ(body_err("munmap(0, 4K) = -1 EWHAT"), "t.trace:2:20: unknown errno 'EWHAT'");
  EXPECT_EQ(body_err("munmap(0, 4K) = -1"), "t.trace:2:19: expected an errno name after -1");
  EXPECT_EQ(body_err("munmap(0, 4K) = -1 0"), "t.trace:2:20: errno must be a name or 1..4095, got '0'");
  EXPECT_EQ(body_err("munmap(0, 4K) = -1 524"), "OK");
  EXPECT_EQ(body_err("munmap(0, 4K) = -1 EWOULDBLOCK"), "OK");
  EXPECT_EQ(body_err("m = mmap(4K, anon)\nmunmap(0, 4K) = m"), "t.trace:3:17: a handle cannot be used here: 'm'");
  EXPECT_EQ(body_err("munmap(0, 4K) = 0 0"), "t.trace:2:19: unexpected '0' after the statement");
}

TEST(TraceParser, RangeErrors) {
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_GET_DIRTY_LOG(vm, {slot=0}) = 0 => {bitmap=[9-3]}"),
            "t.trace:3:49: empty range in out-fields of KVM_GET_DIRTY_LOG.bitmap: high bound below low bound");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_GET_DIRTY_LOG(vm, {slot=0}) = 0 => {bitmap=[4G]}"),
            "t.trace:3:49: bit out of range in out-fields of KVM_GET_DIRTY_LOG.bitmap (max 2147483646)");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_GET_DIRTY_LOG(vm, {slot=0}) = 0 => {bitmap=[1, 2"),
            "t.trace:3:53: expected ',' between ranges of out-fields of KVM_GET_DIRTY_LOG.bitmap, got end of line");
}

TEST(TraceParser, AbsurdInputNeverCrashes) {
  EXPECT_EQ(body_err("--"), "t.trace:2:1: expected a statement, got '-'");
  EXPECT_EQ(body_err("touch(--4, 0)"), "t.trace:2:8: expected a number, constant or name, got '-'");
  EXPECT_EQ(body_err("vm = KVM_CREATE_VM(0)\nKVM_SET_MEMORY_ATTRIBUTES(vm, {size=1"),
            "t.trace:3:38: expected ',' between fields of kvm_memory_attributes, got end of line");
  EXPECT_EQ(body_err("touch(0, 4K"), "t.trace:2:12: expected ')' to close the arguments of touch, got end of line");
  EXPECT_EQ(body_err(std::string("touch(\x01\xff\0, 0)", 12)), "t.trace:2:7: unexpected character '\\x01'");
  EXPECT_EQ(body_err("touch(0, 4K) $"), "t.trace:2:14: unexpected character '$'");
  // A 1 MB line: a long sum and a long garbage line.
  std::string sum = "touch(0";
  while (sum.size() < (1u << 20)) sum += "+1";
  EXPECT_EQ(body_err(sum + ", 0)"), "OK");
  EXPECT_NE(body_err(std::string(1u << 20, '(')), "OK");
  EXPECT_NE(body_err(std::string(1u << 20, '9')), "OK");
  std::string garbage;
  for (unsigned i = 0; i < (1u << 16); i++) garbage += static_cast<char>((i * 2654435761u) >> 24);
  EXPECT_NE(err(garbage), "OK");
  EXPECT_NE(body_err(garbage), "OK");
}

// Random byte edits of a valid trace: the parser returns a trace or an error, never crashes,
// and an error's position is inside the text.
RC_GTEST_PROP(TraceParserProp, MutatedTracesNeverCrash, ()) {
  std::string text = kSpecExample;
  int edits = *rc::gen::inRange(1, 8);
  for (int i = 0; i < edits; i++) {
    std::size_t at = *rc::gen::inRange<std::size_t>(0, text.size());
    const std::string alphabet = std::string("-+|=,(){}[]#\n0123456789KMGTxa_ ") + '\0' + '\xff';
    char c = *rc::gen::elementOf(alphabet);
    switch (*rc::gen::inRange(0, 3)) {
      case 0: text.insert(at, 1, c); break;
      case 1: if (at < text.size()) text.erase(at, 1); break;
      default: if (at < text.size()) text[at] = c; break;
    }
  }
  auto r = parse(text, "m.trace");
  if (auto* e = std::get_if<ParseError>(&r)) {
    RC_ASSERT(e->line >= 1);
    RC_ASSERT(e->col >= 1);
    RC_ASSERT(e->str().find('\n') == std::string::npos);
  }
}

}  // namespace
}  // namespace kvmsim::trace
