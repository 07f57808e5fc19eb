// Issue 16 §5, format ergonomics: `<<`, `*` and parentheses with C's precedence (parser, evaluator,
// printer round-trip) and the `host thp=... shmem_thp=...` header, each error with its FILE:LINE:COL.
#include <gtest/gtest.h>

#include <string>

#include "sim/trace/eval.h"
#include "sim/trace/parser.h"
#include "sim/trace/printer.h"

namespace kvmsim::trace {
namespace {

const char* kHeader = "kvmsim-trace 1\n";

std::string err(const std::string& text) {
  auto r = parse(text, "t.trace");
  if (auto* e = std::get_if<ParseError>(&r)) return e->str();
  return "OK";
}

Trace ok(const std::string& text) {
  auto r = parse(text, "t.trace");
  if (auto* e = std::get_if<ParseError>(&r)) ADD_FAILURE() << e->str();
  return std::get<Trace>(std::move(r));
}

// The first argument of `touch(EXPR, 0)`.
const Expr& touched(const Trace& t) { return t.statements.at(0).args.at(0).expr; }
u64 value(const std::string& expr) { return evaluate(touched(ok(kHeader + ("touch(" + expr + ", 0)\n")))).value; }

TEST(TraceExpressions, ShiftTimesAndParenthesesWithCPrecedence) {
  // The example: the slot id of address space 1 was "unexpected character '<'".
  Trace t = ok(std::string(kHeader) +
               "vm = KVM_CREATE_VM(0)\nKVM_SET_USER_MEMORY_REGION(vm, {slot=1|1<<16, memory_size=0}) = 0\n");
  EXPECT_EQ(evaluate(t.statements[1].args[1].fields[0].value.expr).value, 0x10001u);
  EXPECT_EQ(value("1<<16"), 65536u);
  EXPECT_EQ(value("1<<2+1"), 8u);       // + binds tighter than <<
  EXPECT_EQ(value("2*4K+1"), 8193u);    // * binds tighter than +
  EXPECT_EQ(value("1+2*3"), 7u);
  EXPECT_EQ(value("(1+2)*3"), 9u);
  EXPECT_EQ(value("(1G+2M)*2"), (2ull << 30) + (4ull << 20));
  EXPECT_EQ(value("4|1<<3"), 12u);      // << binds tighter than |
  EXPECT_EQ(value("(4|1)<<3"), 40u);
  EXPECT_EQ(value("-(4K)"), ~0ull - 4095);
  EXPECT_EQ(value("((2))*((3))"), 6u);
  EXPECT_EQ(value("1<<63"), 1ull << 63);
  EXPECT_EQ(value("4G-4K"), (4ull << 30) - 4096);  // v1 spelling unchanged
}

TEST(TraceExpressions, OverflowAndSyntaxErrorsHaveTheirColumn) {
  EXPECT_EQ(err(std::string(kHeader) + "touch(1<<64, 0)\n"), "t.trace:2:7: number out of range");
  EXPECT_EQ(err(std::string(kHeader) + "touch(3<<63, 0)\n"), "t.trace:2:7: number out of range");
  EXPECT_EQ(err(std::string(kHeader) + "touch(1T*1T*1T, 0)\n"), "t.trace:2:7: number out of range");
  EXPECT_EQ(err(std::string(kHeader) + "touch((1+2, 0)\n"),
            "t.trace:2:11: expected ')' to close the parenthesis, got ','");
  EXPECT_EQ(err(std::string(kHeader) + "touch(1<2, 0)\n"), "t.trace:2:8: unexpected character '<'");
  EXPECT_EQ(err(std::string(kHeader) + "touch(2**2, 0)\n"),
            "t.trace:2:9: expected a number, constant or name, got '*'");
  EXPECT_EQ(err(std::string(kHeader) + "touch(() , 0)\n"), "t.trace:2:8: expected a number, constant or name, got ')'");
}

TEST(TraceExpressions, HandlesInsideParenthesesAreResolved) {
  Trace t = ok(std::string(kHeader) + "m = mmap(4M, anon)\ntouch((m+4K)*1, 4K)\n");
  const Expr& e = t.statements[1].args[0].expr;
  EXPECT_EQ(e.names(), std::vector<std::string>{"m"});
  EXPECT_EQ(evaluate(e, [](const std::string&) -> u64 { return 0x1000000; }).value, 0x1001000u);
  // A handle argument must be a bare name: a parenthesized one is refused, not crashed on.
  EXPECT_EQ(err(std::string(kHeader) + "vm = KVM_CREATE_VM(0)\nKVM_CREATE_VCPU((vm), 0)\n"),
            "t.trace:3:17: KVM_CREATE_VCPU vm must be a vm handle or a number");
}

TEST(TraceExpressions, PrinterRoundTrips) {
  for (const char* spelling : {"1|1<<16", "(4K+2)*3", "-(1G)+2M", "((1))", "2*3<<1|4-1", "1<<2+1"}) {
    Trace t = ok(kHeader + ("touch(" + std::string(spelling) + ", 0)\n"));
    EXPECT_EQ(print_expr(touched(t)), spelling);
    Trace again = ok(kHeader + ("touch(" + print_expr(touched(t)) + ", 0)\n"));
    EXPECT_EQ(again, t);
  }
}

TEST(TraceHostHeader, SetsPoliciesAfterHeaderAndProfile) {
  Trace t = ok("kvmsim-trace 1\nprofile linux-6.18\nhost thp=never shmem_thp=advise\ntouch(0, 0)\n");
  ASSERT_TRUE(t.host);
  EXPECT_EQ(t.host->thp, "never");
  EXPECT_EQ(t.host->shmem_thp, "advise");
  EXPECT_EQ(t.host->line, 3);
  EXPECT_EQ(print_header(t), "kvmsim-trace 1\nprofile linux-6.18\nhost thp=never shmem_thp=advise\n");
  t = ok("kvmsim-trace 1\nhost thp=madvise\n");
  EXPECT_EQ(t.host->thp, "madvise");
  EXPECT_EQ(t.host->shmem_thp, "");
  EXPECT_EQ(print_header(t), "kvmsim-trace 1\nhost thp=madvise\n");
  for (const auto& w : host_shmem_thp_words()) EXPECT_EQ(ok("kvmsim-trace 1\nhost shmem_thp=" + std::string(w) + "\n").host->shmem_thp, w);
  EXPECT_FALSE(ok("kvmsim-trace 1\ntouch(0, 0)\n").host);
}

TEST(TraceHostHeader, BadHeadersFailAtTheirColumn) {
  EXPECT_EQ(err("kvmsim-trace 1\nhost thp=sometimes\n"),
            "t.trace:2:10: expected thp (one of always, madvise, never), got 'sometimes'");
  EXPECT_EQ(err("kvmsim-trace 1\nhost shmem_thp=\n"),
            "t.trace:2:16: expected shmem_thp (one of always, within_size, advise, never, deny, force), got nothing");
  EXPECT_EQ(err("kvmsim-trace 1\nhost defrag=always\n"), "t.trace:2:6: unknown host setting 'defrag' (thp, shmem_thp)");
  EXPECT_EQ(err("kvmsim-trace 1\nhost thp\n"), "t.trace:2:9: expected '=' after 'thp'");
  EXPECT_EQ(err("kvmsim-trace 1\nhost thp=never thp=always\n"), "t.trace:2:16: 'thp' is given twice");
  EXPECT_EQ(err("kvmsim-trace 1\nhost\n"), "t.trace:2:5: expected thp=... and/or shmem_thp=... after 'host'");
  EXPECT_EQ(err("kvmsim-trace 1\ntouch(0, 0)\nhost thp=never\n"),
            "t.trace:3:1: the host directive must directly follow the header (and the profile directive)");
  EXPECT_EQ(err("kvmsim-trace 1\nhost thp=never\nhost thp=never\n"),
            "t.trace:3:1: the host directive must directly follow the header (and the profile directive)");
  EXPECT_EQ(err("kvmsim-trace 1\nhost thp=never\nprofile linux-6.18\n"),
            "t.trace:3:1: the profile directive must directly follow the header");
  EXPECT_EQ(err("kvmsim-trace 1\nhost = KVM_CREATE_VM(0)\n"),
            "t.trace:2:1: 'host' is a reserved word; pick another handle name");
}

}  // namespace
}  // namespace kvmsim::trace
