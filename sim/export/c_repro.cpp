#include "sim/export/c_repro.h"

#include <cstdio>
#include <functional>
#include <set>
#include <sstream>

#include "model/types.h"
#include "model/uapi.h"
#include "sim/trace/constants.h"
#include "sim/trace/eval.h"
#include "sim/trace/ioctl_names.h"
#include "sim/trace/printer.h"
#include "sim/trace/schema.h"

namespace kvmsim::exporter {

namespace {

using trace::Expr;
using trace::Field;
using trace::Op;
using trace::Result;
using trace::Statement;
using trace::Term;
using trace::Value;

// Everything the statements share: TAP, checks, mappings placed like the kvm backend places them.
const char* kPrelude = R"C(#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KSFT_SKIP 4

/* uAPI structs newer than some build hosts' headers, laid out as include/uapi/linux/kvm.h has them. */
/* The private-fd v5 proposal's extended region (a kernel without KVM_MEM_PRIVATE reads the first 32 bytes). */
struct repro_userspace_memory_region_ext {
	uint32_t slot, flags;
	uint64_t guest_phys_addr, memory_size, userspace_addr, private_offset;
	uint32_t private_fd, padding[5];
};
struct repro_userspace_memory_region2 {
	uint32_t slot, flags;
	uint64_t guest_phys_addr, memory_size, userspace_addr, guest_memfd_offset;
	uint32_t guest_memfd, pad1;
	uint64_t pad2[14];
};
struct repro_create_guest_memfd { uint64_t size, flags, reserved[6]; };
struct repro_memory_attributes { uint64_t address, size, attributes, flags; };
struct repro_pre_fault_memory { uint64_t gpa, size, flags, padding[5]; };
struct repro_memory_mapping { uint64_t base_gfn, nr_pages, flags, source; };
#define REPRO_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct repro_userspace_memory_region2)
#define REPRO_SET_MEMORY_ATTRIBUTES _IOW(KVMIO, 0xd2, struct repro_memory_attributes)
#define REPRO_CREATE_GUEST_MEMFD _IOWR(KVMIO, 0xd4, struct repro_create_guest_memfd)
#define REPRO_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct repro_pre_fault_memory)
#define REPRO_MAP_MEMORY _IOWR(KVMIO, 0xd5, struct repro_memory_mapping)
#define REPRO_MADV_POPULATE_WRITE 23
#define REPRO_MAP_HUGE_SHIFT 26

static int test_no, failures;

static inline const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "?";
}

/* One TAP line per statement. */
static inline void tap(int ok, int line, const char *what, const char *detail)
{
	test_no++;
	if (!ok)
		failures++;
	printf("%sok %d - line %d: %s%s%s\n", ok ? "" : "not ", test_no, line, what, detail[0] ? " # " : "", detail);
}

static inline void skip(int line, const char *what, const char *why)
{
	printf("ok %d - line %d: %s # SKIP %s\n", ++test_no, line, what, why);
}

enum want { UNCHECKED, VALUE, ERROR, SUCCESS };

/* Compares a syscall's return (and errno) with what the trace expects; returns whether it held. */
static inline int check(int line, const char *what, long long ret, int err, enum want w, long long value, int want_err)
{
	char got[96], detail[192];
	if (ret == -1)
		snprintf(got, sizeof(got), "-1 %s (%d)", errname(err), err);
	else
		snprintf(got, sizeof(got), "%lld", ret);
	int ok = 1;
	switch (w) {
	case UNCHECKED: snprintf(detail, sizeof(detail), "unchecked: got %s", got); break;
	case VALUE: ok = ret == value; snprintf(detail, sizeof(detail), "expected %lld, got %s", value, got); break;
	case ERROR: ok = ret == -1 && err == want_err; snprintf(detail, sizeof(detail), "expected -1 %s, got %s", errname(want_err), got); break;
	case SUCCESS: ok = ret != -1; snprintf(detail, sizeof(detail), "expected success, got %s", got); break;
	}
	tap(ok, line, what, ok && w != UNCHECKED ? "" : detail);
	return ok;
}

/* An out-field the kernel wrote back: one TAP diagnostic line when it differs. */
static inline int check_out(int line, const char *field, uint64_t got, uint64_t want)
{
	if (got == want)
		return 1;
	printf("# line %d: %s: expected 0x%llx, got 0x%llx\n", line, field, (unsigned long long)want, (unsigned long long)got);
	return 0;
}

enum backing { ANON, ANON_NOHUGE, THP, SHMEM, HUGETLB_2M, HUGETLB_1G };

/* Guest RAM as the trace describes it: aligned by reserving and trimming (or MAP_FIXED at `fixed`). */
static inline long long map_backing(uint64_t size, enum backing b, uint64_t align, int prot, int flags, uint64_t fixed)
{
	int fd = -1, f = flags & (MAP_NORESERVE | MAP_FIXED | MAP_FIXED_NOREPLACE);
	uint64_t page = b == HUGETLB_2M ? 2ull << 20 : b == HUGETLB_1G ? 1ull << 30 : 4096;
	size = (size + page - 1) & ~(page - 1);
	if (b == SHMEM) {
		fd = (int)syscall(SYS_memfd_create, "repro-shmem", 1u /* MFD_CLOEXEC */);
		if (fd < 0 || ftruncate(fd, (off_t)size))
			return -1;
		f |= MAP_SHARED;
	} else {
		f |= MAP_PRIVATE | MAP_ANONYMOUS;
		if (b == HUGETLB_2M)
			f |= MAP_HUGETLB | (21 << REPRO_MAP_HUGE_SHIFT);
		if (b == HUGETLB_1G)
			f |= MAP_HUGETLB | (30 << REPRO_MAP_HUGE_SHIFT);
	}
	uint64_t addr = fixed;
	void *res = MAP_FAILED;
	uint64_t slack = 0;
	if (!fixed && !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))) {
		slack = align > 4096 ? align : 0;
		res = mmap(NULL, size + slack, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (res == MAP_FAILED)
			return -1;
		addr = ((uint64_t)(uintptr_t)res + align - 1) & ~(align - 1);
		f |= MAP_FIXED;
	}
	void *m = mmap((void *)(uintptr_t)addr, size, prot, f, fd, 0);
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (res != MAP_FAILED) {
		uint64_t base = (uint64_t)(uintptr_t)res;
		if (m == MAP_FAILED) {
			munmap(res, size + slack);
		} else {
			if (addr > base)
				munmap(res, addr - base);
			if (base + size + slack > addr + size)
				munmap((void *)(uintptr_t)(addr + size), base + size + slack - addr - size);
		}
	}
	errno = e;
	if (m == MAP_FAILED)
		return -1;
	if (b == ANON_NOHUGE)
		madvise(m, size, MADV_NOHUGEPAGE);
	if (b == THP)
		madvise(m, size, MADV_HUGEPAGE);
	return (long long)(uintptr_t)m;
}

/* The VMM writes the range itself: fault it in for write without touching unmapped memory. */
static inline long long touch_range(uint64_t addr, uint64_t size)
{
	uint64_t first = addr & ~4095ull, end = (addr + size + 4095) & ~4095ull;
	if (!size || !madvise((void *)(uintptr_t)first, end - first, REPRO_MADV_POPULATE_WRITE))
		return 0;
	if (errno == ENOMEM)
		errno = EFAULT;
	return -1;
}

/* Bit ranges [lo, hi] of a dirty bitmap, as the trace writes them. */
struct bit_range { uint64_t lo, hi; };

static inline void set_bits(uint64_t *bitmap, const struct bit_range *r, int n)
{
	for (int i = 0; i < n; i++)
		for (uint64_t b = r[i].lo; b <= r[i].hi; b++)
			bitmap[b / 64] |= 1ull << (b % 64);
}

static inline int bitmap_equal(int line, const uint64_t *got, const struct bit_range *r, int n, uint64_t words)
{
	uint64_t *want = calloc(words, 8);
	set_bits(want, r, n);
	int equal = !memcmp(got, want, words * 8);
	for (uint64_t b = 0; !equal && b < words * 64; b++)
		if (((got[b / 64] ^ want[b / 64]) >> (b % 64)) & 1)
			printf("# line %d: bitmap bit %llu: expected %d\n", line, (unsigned long long)b, (int)((want[b / 64] >> (b % 64)) & 1));
	free(want);
	return equal;
}

/* A recorded-only ioctl: the recorded bytes, zero-padded past the size the request declares. */
static inline long long raw_ioctl(int fd, unsigned long request, uint64_t arg, const unsigned char *bytes, size_t n)
{
	size_t size = (request >> 16) & 0x3fff;
	if (!size && !n)
		return ioctl(fd, request, (unsigned long)arg);
	unsigned char *buf = calloc((size > n ? size : n) + (256u << 10), 1);
	if (n)
		memcpy(buf, bytes, n);
	long long ret = ioctl(fd, request, buf);
	int e = errno;
	free(buf);
	errno = e;
	return ret;
}

static char io_buf[1 << 20];
static uint64_t dirty_bitmap[(1 << 20) / 8];

)C";

std::string hex(u64 v) {
  char b[32];
  std::snprintf(b, sizeof b, "0x%llxull", static_cast<unsigned long long>(v));
  return b;
}

// A C string literal of `s` (trace text: printable ASCII; anything else escaped).
std::string c_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\', out += static_cast<char>(ch);
    else if (ch >= 0x20 && ch < 0x7f) out += static_cast<char>(ch);
    else {
      char b[8];
      std::snprintf(b, sizeof b, "\\%03o", ch);
      out += b;
    }
  }
  return out + "\"";
}

// A trace expression as a C expression over uint64_t (handles are variables h_NAME).
std::string c_expr(const Expr& e);

std::string c_term(const Term& t) {
  std::string term = t.kind == Term::Kind::name    ? "(uint64_t)h_" + t.spelling
                     : t.kind == Term::Kind::group ? c_expr(t.group.at(0))
                                                   : hex(t.value);
  return t.neg ? "(0ull - " + term + ")" : term;
}

// The trace's operators have C's precedence (`*` > `+ -` > `<<` > `|`, sim/trace/ast.h); every binary
// operation is parenthesized so the program needs no precedence and -Wparentheses stays quiet.
std::string c_expr(const Expr& e) {
  auto prec = [](char op) { return op == '*' ? 4 : (op == '+' || op == '-') ? 3 : op == '<' ? 2 : 1; };
  std::size_t next = 0;  // index of the next term
  std::function<std::string(int)> climb = [&](int min_prec) {
    std::string lhs = c_term(e.terms.at(next++));
    while (next < e.terms.size() && prec(e.ops[next - 1]) >= min_prec) {
      const char op = e.ops[next - 1];
      std::string rhs = climb(prec(op) + 1);
      lhs = "(" + lhs + " " + (op == '<' ? std::string("<<") : std::string(1, op)) + " " + rhs + ")";
    }
    return lhs;
  };
  return "(" + climb(1) + ")";
}

// Parameters of the statement being written.
class StatementWriter {
 public:
  StatementWriter(const Statement& st, std::ostringstream& o, std::set<std::string>* needs_caps)
      : st_(st), o_(o), caps_(needs_caps) {}

  void write();

 private:
  const Value& arg(std::size_t i) const { return st_.args.at(i); }
  std::string expr(std::size_t i) const { return c_expr(arg(i).expr); }
  std::string fd(std::size_t i) const { return "(int)" + expr(i); }
  const Field* keyword(const std::string& name) const {
    for (const Field& f : st_.keywords)
      if (f.name == name) return &f;
    return nullptr;
  }
  std::string keyword_expr(const std::string& name, const std::string& fallback) const {
    const Field* f = keyword(name);
    return f ? c_expr(f->value.expr) : fallback;
  }
  // `{.field = value, ...}` of record argument i (ranges fields are passed separately).
  // Each value is cast to its member's width, as replay truncates it (guest_memfd=-1 is 0xffffffff).
  std::string initializer(std::size_t i) const {
    const trace::StatementSpec* spec = trace::find_statement(st_.callee, false);
    std::string out = "{";
    for (const Field& f : arg(i).fields) {
      if (f.value.kind == Value::Kind::ranges) continue;
      std::string cast = "(uint64_t)";
      for (const trace::FieldSpec& fs : spec->params.at(i).fields)
        if (fs.name == f.name && fs.size && fs.size < 8) cast = "(uint" + std::to_string(fs.size * 8) + "_t)";
      out += " ." + f.name + " = ";
      if (f.value.kind == Value::Kind::list) {
        out += "{";
        for (std::size_t k = 0; k < f.value.list.size(); k++) out += (k ? ", " : "") + cast + c_expr(f.value.list[k]);
        out += "}";
      } else {
        out += cast + c_expr(f.value.expr);
      }
      out += ",";
    }
    return out + " }";
  }
  std::string ranges_array(const trace::Value* v) const {
    std::string out = "{";
    if (v)
      for (const auto& r : v->ranges)
        out += " {" + c_expr(r.lo) + ", " + c_expr(r.hi ? *r.hi : r.lo) + "},";
    return out + " {0, 0} }";  // a sentinel keeps the array non-empty; n excludes it
  }
  std::size_t ranges_count(const trace::Value* v) const { return v ? v->ranges.size() : 0; }
  const Value* record_field(std::size_t i, const std::string& name) const {
    for (const Field& f : arg(i).fields)
      if (f.name == name) return &f.value;
    return nullptr;
  }
  const Value* out_field(const std::string& name) const {
    for (const Field& f : st_.out)
      if (f.name == name) return &f.value;
    return nullptr;
  }

  // `ret = CALL;` then the result check (and binding).
  void call(const std::string& c_call);
  void skip(const std::string& why) { o_ << "\tskip(" << st_.line << ", what, " << c_string(why) << ");\n"; }
  void need_cap(const char* cap) {
    if (st_.result.kind == Result::Kind::value || st_.bind) caps_->insert(cap);
  }

  const Statement& st_;
  std::ostringstream& o_;
  std::set<std::string>* caps_;
};

void StatementWriter::call(const std::string& c_call) {
  o_ << "\tret = " << c_call << ";\n\terr = errno;\n";
  std::string want = "UNCHECKED, 0, 0";
  if (st_.bind) want = "SUCCESS, 0, 0";
  else if (st_.result.kind == Result::Kind::value) want = "VALUE, (long long)" + c_expr(st_.result.value) + ", 0";
  else if (st_.result.kind == Result::Kind::error) want = "ERROR, 0, " + std::to_string(st_.result.err);
  o_ << "\tok = check(" << st_.line << ", what, ret, err, " << want << ");\n";
  if (st_.bind) o_ << "\tif (ok) {\n\t\th_" << *st_.bind << " = (uint64_t)ret;\n\t\tmade_" << *st_.bind << " = 1;\n\t}\n";
}

void StatementWriter::write() {
  const trace::StatementSpec* spec = trace::find_statement(st_.callee, st_.kind == Statement::Kind::expect);
  if (st_.kind == Statement::Kind::expect) return skip("a real kernel does not show the model's mapping levels and stats");
  switch (spec->op) {
    case Op::mmap:
      if (arg(1).kind == Value::Kind::word) {
        const auto backing = backing_from_name(arg(1).word);
        const char* names[] = {"ANON", "ANON_NOHUGE", "THP", "SHMEM", "HUGETLB_2M", "HUGETLB_1G"};
        call("map_backing(" + expr(0) + ", " + names[static_cast<int>(*backing)] + ", " +
             keyword_expr("align", hex(backing_default_align(*backing))) + ", (int)" +
             keyword_expr("prot", "(PROT_READ | PROT_WRITE)") + ", (int)" + keyword_expr("flags", "0") + ", " +
             keyword_expr("addr", "0") + ")");
      } else {
        call("(long long)(intptr_t)mmap(NULL, " + expr(0) + ", (int)" + keyword_expr("prot", "(PROT_READ | PROT_WRITE)") +
             ", (int)" + keyword_expr("flags", "MAP_SHARED") + ", " + fd(1) + ", (off_t)" + keyword_expr("offset", "0") +
             ")");
        o_ << "\tif (ret == (long long)(intptr_t)MAP_FAILED) ret = -1;\n";
      }
      return;
    case Op::munmap: return call("munmap((void *)(uintptr_t)" + expr(0) + ", " + expr(1) + ")");
    case Op::madvise: return call("madvise((void *)(uintptr_t)" + expr(0) + ", " + expr(1) + ", (int)" + expr(2) + ")");
    case Op::mprotect: return call("mprotect((void *)(uintptr_t)" + expr(0) + ", " + expr(1) + ", (int)" + expr(2) + ")");
    case Op::touch: return call("touch_range(" + expr(0) + ", " + expr(1) + ")");
    case Op::memfd_create:
      o_ << "\tret = syscall(SYS_memfd_create, \"repro-memfd\", 1u);\n"
         << "\tif (ret >= 0 && ftruncate((int)ret, (off_t)" << expr(0) << ")) ret = -1;\n";
      return call("ret");
    case Op::create_vm:
      if (st_.bind && !(arg(0).expr.terms.size() == 1 && arg(0).expr.terms[0].value == 0)) caps_->insert("KVM_CAP_VM_TYPES");
      return call("ioctl((int)h_kvm, KVM_CREATE_VM, (unsigned long)" + expr(0) + ")");
    case Op::create_vcpu: return call("ioctl(" + fd(0) + ", KVM_CREATE_VCPU, (unsigned long)" + expr(1) + ")");
    case Op::create_guest_memfd:
      need_cap("KVM_CAP_GUEST_MEMFD");
      o_ << "\tstruct repro_create_guest_memfd gmem = " << initializer(1) << ";\n";
      return call("ioctl(" + fd(0) + ", REPRO_CREATE_GUEST_MEMFD, &gmem)");
    case Op::check_extension:
      return call("ioctl(" + fd(0) + ", KVM_CHECK_EXTENSION, (unsigned long)" + expr(1) + ")");
    case Op::set_user_memory_region:
      // The private-fd v5 fields need the proposal's extended struct; the ioctl number is the v1 one.
      o_ << "\tstruct "
         << (record_field(1, "private_fd") || record_field(1, "private_offset") ? "repro_userspace_memory_region_ext"
                                                                                 : "kvm_userspace_memory_region")
         << " region = " << initializer(1) << ";\n";
      return call("ioctl(" + fd(0) + ", KVM_SET_USER_MEMORY_REGION, &region)");
    case Op::set_user_memory_region2:
      need_cap("KVM_CAP_USER_MEMORY2");
      o_ << "\tstruct repro_userspace_memory_region2 region = " << initializer(1) << ";\n";
      return call("ioctl(" + fd(0) + ", REPRO_SET_USER_MEMORY_REGION2, &region)");
    case Op::set_memory_attributes:
      need_cap("KVM_CAP_MEMORY_ATTRIBUTES");
      o_ << "\tstruct repro_memory_attributes attrs = " << initializer(1) << ";\n";
      return call("ioctl(" + fd(0) + ", REPRO_SET_MEMORY_ATTRIBUTES, &attrs)");
    case Op::pre_fault_memory:
    case Op::map_memory: {
      const bool pre = spec->op == Op::pre_fault_memory;
      if (pre) need_cap("KVM_CAP_PRE_FAULT_MEMORY");
      o_ << "\tstruct repro_" << (pre ? "pre_fault_memory" : "memory_mapping") << " range = " << initializer(1) << ";\n";
      call(std::string("ioctl(") + fd(0) + (pre ? ", REPRO_PRE_FAULT_MEMORY" : ", REPRO_MAP_MEMORY") + ", &range)");
      for (const Field& f : st_.out)
        o_ << "\tif (!check_out(" << st_.line << ", \"" << f.name << "\", range." << f.name << ", " << c_expr(f.value.expr)
           << ")) { printf(\"not ok %d - line " << st_.line << ": written-back " << f.name
           << "\\n\", ++test_no); failures++; }\n";
      return;
    }
    case Op::get_dirty_log: {
      o_ << "\tmemset(dirty_bitmap, 0, sizeof(dirty_bitmap));\n"
         << "\tstruct kvm_dirty_log log = { .slot = (uint32_t)"
         << (record_field(1, "slot") ? c_expr(record_field(1, "slot")->expr) : std::string("0"))
         << ", .dirty_bitmap = dirty_bitmap };\n";
      call("ioctl(" + fd(0) + ", KVM_GET_DIRTY_LOG, &log)");
      if (const Value* bits = out_field("bitmap")) {
        o_ << "\t{\n\t\tstatic const struct bit_range want[] = " << ranges_array(bits) << ";\n"
           << "\t\tif (ret == 0 && !bitmap_equal(" << st_.line << ", dirty_bitmap, want, " << ranges_count(bits)
           << ", sizeof(dirty_bitmap) / 8)) { printf(\"not ok %d - line " << st_.line
           << ": dirty bitmap\\n\", ++test_no); failures++; }\n\t}\n";
      }
      return;
    }
    case Op::clear_dirty_log: {
      const Value* bits = record_field(1, "bitmap");
      o_ << "\tmemset(dirty_bitmap, 0, sizeof(dirty_bitmap));\n\t{\n\t\tstatic const struct bit_range bits[] = "
         << ranges_array(bits) << ";\n\t\tset_bits(dirty_bitmap, bits, " << ranges_count(bits) << ");\n\t}\n";
      o_ << "\tstruct kvm_clear_dirty_log clear = " << initializer(1) << ";\n\tclear.dirty_bitmap = dirty_bitmap;\n";
      return call("ioctl(" + fd(0) + ", KVM_CLEAR_DIRTY_LOG, &clear)");
    }
    case Op::enable_cap:
      o_ << "\tstruct kvm_enable_cap cap = " << initializer(1) << ";\n";
      return call("ioctl(" + fd(0) + ", KVM_ENABLE_CAP, &cap)");
    case Op::fallocate:
      return call("fallocate(" + fd(0) + ", (int)" + expr(1) + ", (off_t)" + expr(2) + ", (off_t)" + expr(3) + ")");
    case Op::ftruncate: return call("ftruncate(" + fd(0) + ", (off_t)" + expr(1) + ")");
    case Op::read:
      return call("read(" + fd(0) + ", io_buf, " + expr(1) + " < sizeof(io_buf) ? " + expr(1) + " : sizeof(io_buf))");
    case Op::write:
      return call("write(" + fd(0) + ", io_buf, " + expr(1) + " < sizeof(io_buf) ? " + expr(1) + " : sizeof(io_buf))");
    case Op::pread:
      return call("pread(" + fd(0) + ", io_buf, " + expr(1) + " < sizeof(io_buf) ? " + expr(1) +
                  " : sizeof(io_buf), (off_t)" + expr(2) + ")");
    case Op::close: return call("close(" + fd(0) + ")");
    case Op::access: return skip("a guest access needs guest code (kvmsim's kvm backend brings its own agent)");
    case Op::inject: return skip("fault injection is the model's");
    case Op::pin:
    case Op::unpin: return skip("a long-term pin needs a device (VFIO) or a CONFIG_GUP_TEST kernel");
    case Op::set_memory_attributes2:
    case Op::guest_memfd_populate: return skip("a proposed ioctl that no released kernel has");
    case Op::poke:
    case Op::peek:
    case Op::pwrite:
    case Op::fstat: return skip("memory-content statements are not exported yet (kvmsim's kvm backend runs them)");
    case Op::raw_ioctl: {
      const u64 request = arg(1).expr.has_names() ? 0 : trace::evaluate(arg(1).expr).value;
      if (!trace::ioctl_replayable(request))
        return skip("not replayable from a trace (runs the guest, or its argument holds the recorder's pointers)");
      std::string bytes = "{";
      std::size_t count = 0;
      if (const Field* f = keyword("bytes"))
        for (const Expr& e : f->value.list) bytes += (count++ ? ", " : "") + c_expr(e);
      if (!count) bytes += "0";
      bytes += "}";
      o_ << "\tstatic const unsigned char bytes[] = " << bytes << ";\n";
      return call("raw_ioctl(" + fd(0) + ", (unsigned long)" + expr(1) + ", " + keyword_expr("arg", "0") +
                  ", bytes, " + std::to_string(count) + ")");
    }
    case Op::expect_stats:
    case Op::expect_mapping: return;  // expect statements returned above
  }
}

}  // namespace

std::string export_c(const trace::Trace& t) {
  std::ostringstream body;
  std::set<std::string> caps;
  std::set<std::string> handles;
  for (const Statement& st : t.statements)
    if (st.bind) handles.insert(*st.bind);
  for (const Statement& st : t.statements) {
    std::string text = trace::print_statement(st);
    if (text.size() > 160) text = text.substr(0, 157) + "...";  // a recorded ioctl's bytes can run long
    body << "\n\t/* line " << st.line << " */\n\twhat = " << c_string(text) << ";\n";
    // A statement using a handle whose creation failed is not run (as kvmsim reports not_run).
    std::set<std::string> used;
    auto note = [&](const Expr& e) {
      for (const Term& term : e.terms)
        if (term.kind == Term::Kind::name && term.spelling != "kvm") used.insert(term.spelling);
    };
    for (const Value& v : st.args) {
      note(v.expr);
      for (const Field& f : v.fields) note(f.value.expr);
    }
    for (const Field& f : st.keywords) note(f.value.expr);
    std::string guard;
    for (const auto& h : used) guard += (guard.empty() ? "" : " || ") + std::string("!made_") + h;
    if (!guard.empty())
      body << "\tif (" << guard << ") {\n\t\tskip(" << st.line << ", what, \"a handle it uses was not created\");\n\t} else {\n";
    std::ostringstream one;
    StatementWriter(st, one, &caps).write();
    body << "\t{\n" << one.str() << "\t}\n";
    if (!guard.empty()) body << "\t}\n";
  }

  std::ostringstream o;
  o << "/* Generated by `kvmsim export --c " << t.file << "`" << (t.profile ? " (profile " + *t.profile + ")" : "")
    << ".\n * Replays the trace on /dev/kvm, checks each expectation, prints TAP; exit 0 pass, 1 fail,\n"
    << " * 4 skip (/dev/kvm or a capability missing). Build: cc -std=c11 -O2 -static repro.c -o repro\n */\n"
    << kPrelude;
  o << "int main(void)\n{\n\tsetvbuf(stdout, NULL, _IOLBF, 0);\n\tint kvm = open(\"/dev/kvm\", O_RDWR | O_CLOEXEC);\n"
    << "\tif (kvm < 0) {\n\t\tprintf(\"1..0 # SKIP cannot open /dev/kvm: %s\\n\", strerror(errno));\n\t\treturn KSFT_SKIP;\n\t}\n";
  for (const auto& cap : caps) {
    auto v = trace::constant_value(cap);
    o << "\tif (ioctl(kvm, KVM_CHECK_EXTENSION, " << (v ? std::to_string(*v) : cap) << ") <= 0) {\n\t\tprintf(\"1..0 # SKIP "
      << cap << " is missing\\n\");\n\t\treturn KSFT_SKIP;\n\t}\n";
  }
  o << "\tuint64_t h_kvm = (uint64_t)kvm;\n\tlong long ret;\n\tint err, ok;\n\tconst char *what;\n";
  for (const auto& h : handles) o << "\tuint64_t h_" << h << " = 0;\n\tint made_" << h << " = 0;\n";
  o << "\t(void)h_kvm, (void)ret, (void)err, (void)ok, (void)what, (void)io_buf, (void)dirty_bitmap;\n";
  for (const auto& h : handles) o << "\t(void)h_" << h << ", (void)made_" << h << ";\n";
  o << "\tprintf(\"TAP version 13\\n\");\n";
  o << body.str();
  // The plan comes last: a written-back field that differs adds a `not ok` line of its own.
  o << "\n\tprintf(\"1..%d\\n# %d failed\\n\", test_no, failures);\n\treturn failures ? 1 : 0;\n}\n";
  return o.str();
}

}  // namespace kvmsim::exporter
