#include "sim/import/strace.h"

#include <cctype>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "model/core_assert.h"
#include "sim/import/handles.h"
#include "model/uapi.h"
#include "sim/trace/constants.h"
#include "sim/trace/ioctl_names.h"
#include "sim/trace/parser.h"
#include "sim/trace/printer.h"
#include "sim/trace/schema.h"

namespace kvmsim::importer {

namespace {

using u64 = std::uint64_t;

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) b++;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) e--;
  return s.substr(b, e - b);
}

std::optional<u64> number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  std::size_t i = 0;
  bool neg = s[0] == '-';
  if (neg) i = 1;
  if (i >= s.size()) return std::nullopt;
  int base = 10;
  if (s.size() > i + 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) base = 16, i += 2;
  u64 v = 0;
  for (; i < s.size(); i++) {
    const int c = std::tolower(static_cast<unsigned char>(s[i]));
    const int d = std::isdigit(c) ? c - '0' : (base == 16 && c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    if (v > (~0ull - static_cast<u64>(d)) / static_cast<u64>(base)) return std::nullopt;  // out of range
    v = v * static_cast<u64>(base) + static_cast<u64>(d);
  }
  return neg ? 0 - v : v;
}

std::string hex(u64 v) {
  char b[32];
  std::snprintf(b, sizeof b, v < 10 ? "%llu" : "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// `A|B|0x10`, `NULL`, a number: its value and its trace spelling (constants by name, numbers as hex()), if
// every part is known. Never strace's text itself: `flags= ` or `PROT_READ|` would not parse (found by fuzzing).
struct Symbolic {
  u64 value = 0;
  std::string text;
};
std::optional<Symbolic> symbolic_spelled(const std::string& s) {
  if (s == "NULL") return Symbolic{0, "0"};
  Symbolic out;
  std::size_t start = 0;
  while (true) {
    const std::size_t bar = s.find('|', start);
    const std::string part = trim(s.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (auto n = number(part)) out.value |= *n, out.text += (out.text.empty() ? "" : "|") + hex(*n);
    else if (auto c = trace::constant_value(part)) out.value |= *c, out.text += (out.text.empty() ? "" : "|") + part;
    else return std::nullopt;  // an empty part too
    if (bar == std::string::npos) return out;
    start = bar + 1;
  }
}
std::optional<u64> symbolic(const std::string& s) {
  auto v = symbolic_spelled(s);
  return v ? std::optional<u64>(v->value) : std::nullopt;
}
std::optional<std::string> spelled(const std::string& s) {
  auto v = symbolic_spelled(s);
  return v ? std::optional<std::string>(v->text) : std::nullopt;
}

// Top-level comma split of an argument list (braces, brackets, parentheses and quotes nest).
std::vector<std::string> split_args(const std::string& s) {
  std::vector<std::string> out;
  int depth = 0;
  bool quote = false;
  std::string cur;
  for (std::size_t i = 0; i < s.size(); i++) {
    const char c = s[i];
    if (quote) {
      if (c == '\\' && i + 1 < s.size()) {
        cur += c;
        cur += s[++i];
      } else if (c == '"') quote = false, cur += c;
      else cur += c;
      continue;
    }
    if (c == '"') quote = true;
    if (c == '{' || c == '[' || c == '(') depth++;
    if (c == '}' || c == ']' || c == ')') depth--;
    if (c == ',' && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trim(cur).empty() || !out.empty()) out.push_back(trim(cur));
  return out;
}

// `11<anon_inode:kvm-vcpu:0>` (strace -y) -> `11`.
std::string strip_fd_path(const std::string& s) {
  const auto lt = s.find('<');
  return lt == std::string::npos ? s : s.substr(0, lt);
}

struct Call {
  std::string name;
  std::vector<std::string> args;
  std::string ret;       // `0`, `0x7f..`, `-1`, `?`
  std::string err;       // `EEXIST` when ret is -1
};

// `name(args) = ret [ERRNO (text)]`; nullopt when the line is not one complete call.
std::optional<Call> parse_call(const std::string& line) {
  const auto open = line.find('(');
  if (open == std::string::npos || open == 0) return std::nullopt;
  Call c;
  c.name = line.substr(0, open);
  for (char ch : c.name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return std::nullopt;
  // The closing parenthesis of the argument list: the last ") = " at depth 0.
  int depth = 0;
  bool quote = false;
  std::size_t close = std::string::npos;
  for (std::size_t i = open; i < line.size(); i++) {
    const char ch = line[i];
    if (quote) {
      if (ch == '\\') i++;
      else if (ch == '"') quote = false;
      continue;
    }
    if (ch == '"') quote = true;
    else if (ch == '(' || ch == '{' || ch == '[') depth++;
    else if (ch == ')' || ch == '}' || ch == ']') {
      if (--depth == 0 && ch == ')') {
        close = i;
        break;
      }
    }
  }
  if (close == std::string::npos) return std::nullopt;
  std::string rest = trim(line.substr(close + 1));
  if (rest.rfind("= ", 0) != 0) return std::nullopt;
  std::stringstream ss(rest.substr(2));
  ss >> c.ret;
  if (c.ret.empty() || c.ret == "?") return std::nullopt;
  if (c.ret == "-1") {
    ss >> c.err;
    // An errno the trace language does not know cannot be written (found by fuzzing: `-1 E`).
    if (c.err.empty() || !trace::errno_value(c.err)) return std::nullopt;
  } else if (!number(c.ret)) {
    return std::nullopt;
  }
  c.args = split_args(line.substr(open + 1, close - open - 1));
  return c;
}

// `{slot=0, flags=0, ...}` -> field -> text.
std::map<std::string, std::string> struct_fields(const std::string& s) {
  std::map<std::string, std::string> out;
  if (s.size() < 2 || s.front() != '{' || s.back() != '}') return out;
  for (const auto& f : split_args(s.substr(1, s.size() - 2))) {
    const auto eq = f.find('=');
    if (eq != std::string::npos) out[trim(f.substr(0, eq))] = trim(f.substr(eq + 1));
  }
  return out;
}

class Importer {
 public:
  explicit Importer(std::string file) : file_(std::move(file)) {}

  void line(int n, const std::string& raw);
  ImportResult finish();

 private:
  void comment(int n, const std::string& why, const std::string& text) {
    out_ << "# " << file_ << ":" << n << ": " << why << ": " << printable(text) << "\n";
    result_.comments++;
  }
  void emit(const std::string& stmt, const std::string& tid) {
    out_ << stmt << "\n";
    result_.statements++;
    (void)tid;
  }
  void call(int n, const Call& c, const std::string& text, const std::string& tid);
  void ioctl(int n, const Call& c, const std::string& text, const std::string& tid);
  void recorded_only(const std::string& fd, const std::string& req, u64 number_req, const std::string& arg,
                     const std::string& res, const std::string& tid);
  // An fd argument: its handle, or nullopt if no traced call created it; fd_kind: that handle's kind.
  std::optional<std::string> fd(const std::string& arg) const {
    auto v = number(strip_fd_path(arg));
    if (!v) return std::nullopt;
    return handles_.fd(fd_key(*v));
  }
  unsigned fd_kind(const std::string& arg) const { return handles_.kind(fd_key(*number(strip_fd_path(arg)))); }
  // An address inside an mmap'd range: `memN+OFF`.
  std::optional<std::string> address(const std::string& arg) const {
    auto v = symbolic(arg);
    if (!v) return std::nullopt;
    auto e = handles_.address(*v);
    if (!e) return std::nullopt;
    return trace::print_expr(*e);
  }
  std::string result(const Call& c) const {
    return c.ret == "-1" ? "-1 " + c.err : std::to_string(*number(c.ret));
  }
  std::string with_tid(const std::string& args, const std::string& tid) const {
    return tid.empty() ? args : args + ", tid=" + tid;
  }
  static std::string fd_key(u64 fd) { return std::to_string(static_cast<int>(fd)); }

  std::string file_;
  std::ostringstream out_;
  ImportResult result_;
  Handles handles_;                          // fd number -> handle, mmap'd ranges
  std::map<std::string, std::string> pending_;  // tid -> the text before `<unfinished ...>`
  std::string vm_;                           // the last VM handle (vCPUs are named after it)
};

void Importer::line(int n, const std::string& raw) {
  std::string text = trim(raw);
  if (text.empty()) return;
  std::string tid;
  // `[pid  1234] ` (strace -f) or a leading pid (strace -f -o FILE).
  if (text.rfind("[pid", 0) == 0) {
    const auto close = text.find(']');
    if (close == std::string::npos) return comment(n, "unreadable line", text);
    tid = trim(text.substr(4, close - 4));
    // Only a decimal pid below 2^64 is a tid (`[pid!20001]` made `tid=!20001`, and a 100-digit pid a number
    // out of range, neither of which parses; found by fuzzing).
    if (tid.empty() || tid.find_first_not_of("0123456789") != std::string::npos || !number(tid))
      return comment(n, "unreadable line", text);
    text = trim(text.substr(close + 1));
  } else if (std::isdigit(static_cast<unsigned char>(text[0]))) {
    const auto sp = text.find(' ');
    if (sp != std::string::npos && number(text.substr(0, sp))) {
      tid = text.substr(0, sp);
      text = trim(text.substr(sp + 1));
    }
  }
  // `-t`/`-tt` timestamps: `12:34:56[.123456] `.
  if (text.size() > 8 && text[2] == ':' && text[5] == ':') text = trim(text.substr(text.find(' ') + 1));
  if (text.rfind("---", 0) == 0 || text.rfind("+++", 0) == 0) return comment(n, "signal or exit", text);
  // A call another thread interrupted: keep its start until it resumes, then it counts where it returned.
  const std::string unfinished = "<unfinished ...>";
  if (text.size() >= unfinished.size() && text.compare(text.size() - unfinished.size(), unfinished.size(), unfinished) == 0) {
    pending_[tid] = trim(text.substr(0, text.size() - unfinished.size()));
    return;
  }
  if (text.rfind("<... ", 0) == 0) {
    const auto resumed = text.find("resumed>");
    auto it = pending_.find(tid);
    if (resumed == std::string::npos || it == pending_.end()) return comment(n, "resumed call without its start", text);
    std::string head = it->second;
    pending_.erase(it);
    std::string tail = text.substr(resumed + 8);
    // strace prints the args seen so far before <unfinished ...>; the resumed part completes the list.
    if (!head.empty() && head.back() != '(' && !tail.empty() && tail[0] != ')' && tail[0] != ',') head += ", ";
    text = head + tail;
  }
  auto c = parse_call(text);
  if (!c) return comment(n, "not a complete call", text);
  call(n, *c, text, tid);
}

void Importer::call(int n, const Call& c, const std::string& text, const std::string& tid) {
  const bool ok = c.ret != "-1";
  const auto& a = c.args;
  if (c.name == "openat" || c.name == "open") {
    const std::string& path = c.name == "openat" ? (a.size() > 1 ? a[1] : "") : (a.empty() ? "" : a[0]);
    if (path != "\"/dev/kvm\"") return comment(n, "not /dev/kvm", text);
    if (!ok) return comment(n, "opening /dev/kvm failed", text);
    handles_.bind(fd_key(*number(c.ret)), "kvm", trace::kHandleKvm);  // the predefined handle
    return;
  }
  if (c.name == "ioctl") return ioctl(n, c, text, tid);
  if (c.name == "mmap" && a.size() == 6) {
    auto size = symbolic(a[1]);
    auto prot = symbolic(a[2]);
    auto flags = symbolic(a[3]);
    if (!size || !prot || !flags) return comment(n, "unknown mmap argument", text);
    std::string kw;
    if (*prot != (uapi::PROT_READ | uapi::PROT_WRITE)) kw += ", prot=" + (*prot == 0 ? "PROT_NONE" : *spelled(a[2]));
    const bool anon = *flags & uapi::MAP_ANONYMOUS;
    std::string backing;
    if (anon) {
      auto word = anon_backing(*flags);
      if (!word) return comment(n, "mmap flags the trace cannot state", text);
      backing = *word;
      const u64 placed = *flags & (uapi::MAP_FIXED | uapi::MAP_NORESERVE | uapi::MAP_FIXED_NOREPLACE);
      if (placed) {
        std::string f;
        for (auto [bit, name] : {std::pair<u64, const char*>{uapi::MAP_FIXED, "MAP_FIXED"},
                                 {uapi::MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"}, {uapi::MAP_NORESERVE, "MAP_NORESERVE"}})
          if (placed & bit) f += (f.empty() ? "" : "|") + std::string(name);
        kw += ", flags=" + f;
      }
      if (*flags & (uapi::MAP_FIXED | uapi::MAP_FIXED_NOREPLACE)) {
        auto at = address(a[0]);
        if (!at) return comment(n, "MAP_FIXED outside every traced mapping", text);
        kw += ", addr=" + *at;
      } else if (ok && (*number(c.ret) & ((2ull << 20) - 1))) {
        kw += ", align=4K";  // the kernel placed it off a 2M boundary: keep that for mapping levels
      }
    } else {
      auto f = fd(a[4]);
      if (!f) return comment(n, "mmap of an fd no traced call created", text);
      if (fd_kind(a[4]) == trace::kHandleVcpu) return comment(n, "the vCPU's kvm_run mapping is not modelled", text);
      if (!fits(fd_kind(a[4]), "mmap", 1)) return comment(n, "mmap of an fd that is not a memfd or guest_memfd", text);
      backing = *f;
      if (!spelled(a[5])) return comment(n, "unknown mmap argument", text);
      kw = ", offset=" + *spelled(a[5]) + ", prot=" + (*prot == 0 ? "PROT_NONE" : *spelled(a[2])) +
           ((*flags & uapi::MAP_PRIVATE) ? ", flags=MAP_PRIVATE" : ", flags=MAP_SHARED");
    }
    if (!ok) return emit("mmap(" + hex(*size) + ", " + backing + kw + ") = " + result(c), tid);
    const std::string name = handles_.fresh("mem");
    handles_.map(*number(c.ret), *size, name);
    return emit(name + " = mmap(" + with_tid(hex(*size) + ", " + backing + kw, tid) + ")", tid);
  }
  if ((c.name == "munmap" || c.name == "madvise" || c.name == "mprotect") && a.size() >= 2) {
    auto at = address(a[0]);
    auto size = symbolic(a[1]);
    if (!at || !size) return comment(n, "address outside every traced mapping", text);
    std::string extra;
    if (c.name != "munmap") {
      if (a.size() != 3 || !symbolic(a[2])) return comment(n, "unknown advice or protection", text);
      if (c.name == "madvise" && !trace::constant_value(a[2])) return comment(n, "advice the trace cannot state", text);
      extra = ", " + (*symbolic(a[2]) == 0 && c.name == "mprotect" ? std::string("PROT_NONE") : *spelled(a[2]));
    }
    if (c.name == "munmap" && ok) handles_.unmap(*symbolic(a[0]), *size);
    return emit(c.name + "(" + with_tid(*at + ", " + hex(*size) + extra, tid) + ") = " + result(c), tid);
  }
  if (c.name == "memfd_create") {
    if (!ok) return comment(n, "failed memfd_create", text);
    const std::string name = handles_.fresh("memfd");
    handles_.bind(fd_key(*number(c.ret)), name, trace::kHandleMemfd);
    return emit(name + " = memfd_create(" + with_tid("0", tid) + ")", tid);
  }
  if (c.name == "ftruncate" || c.name == "fallocate" || c.name == "close") {
    // As many arguments as the statement has (`ftruncate(3, 0, 0)` did not parse; found by fuzzing).
    if (a.size() != trace::find_statement(c.name, false)->params.size()) return comment(n, "wrong argument count", text);
    auto f = fd(a[0]);
    if (!f) return comment(n, "fd no traced call created", text);
    std::string args = *f;
    for (std::size_t i = 1; i < a.size(); i++) {
      auto v = symbolic(a[i]);
      if (!v) return comment(n, "unknown argument", text);
      args += ", " + *spelled(a[i]);
    }
    if (c.name == "close" && ok) {
      handles_.unbind(fd_key(*number(strip_fd_path(a[0]))));
      if (*f == "kvm") return comment(n, "closing /dev/kvm (the trace keeps it open)", text);
    }
    return emit(c.name + "(" + with_tid(args, tid) + ") = " + result(c), tid);
  }
  comment(n, "a call the trace format has no statement for", text);
}

void Importer::ioctl(int n, const Call& c, const std::string& text, const std::string& tid) {
  const auto& a = c.args;
  if (a.size() < 2) return comment(n, "ioctl without a request", text);
  auto f = fd(a[0]);
  if (!f) return comment(n, "ioctl on an fd no traced call created", text);
  // The request: strace's name (maybe `NAME /* 0x... */` with -X verbose) or a number (-X raw).
  std::string req = trim(a[1].substr(0, a[1].find("/*")));
  std::optional<u64> number_req = number(req);
  if (number_req) {
    if (const char* name = trace::ioctl_request_name(*number_req)) req = name;
  } else if (!trace::ioctl_request_value(req)) {
    return comment(n, "not a KVM ioctl", text);
  }
  if (!number_req) number_req = trace::ioctl_request_value(req);
  const bool ok = c.ret != "-1";
  const std::string arg = a.size() > 2 ? a[2] : "0";
  const std::string res = " = " + result(c);
  // A request its statement cannot take on this fd (KVM_CHECK_EXTENSION on a vCPU fd), or one without a
  // statement: recorded-only, as the kernel answered it.
  if (!fits(fd_kind(a[0]), req)) return recorded_only(*f, req, *number_req, arg, res, tid);
  auto integer = [](const std::string& s) { return spelled(s); };
  if (req == "KVM_CREATE_VM") {
    auto type = integer(arg);
    if (!type) return comment(n, "unknown VM type", text);
    if (!ok) return emit("KVM_CREATE_VM(" + with_tid(*type, tid) + ")" + res, tid);
    vm_ = handles_.new_vm();
    handles_.bind(fd_key(*number(c.ret)), vm_, trace::kHandleVm);
    return emit(vm_ + " = KVM_CREATE_VM(" + with_tid(*type, tid) + ")", tid);
  }
  if (req == "KVM_CREATE_VCPU") {
    auto id = number(arg);
    if (!id) return comment(n, "unknown vCPU id", text);
    if (!ok) return emit("KVM_CREATE_VCPU(" + with_tid(*f + ", " + hex(*id), tid) + ")" + res, tid);
    const std::string name = handles_.new_vcpu(*id);
    handles_.bind(fd_key(*number(c.ret)), name, trace::kHandleVcpu);
    return emit(name + " = KVM_CREATE_VCPU(" + with_tid(*f + ", " + hex(*id), tid) + ")", tid);
  }
  if (req == "KVM_CHECK_EXTENSION") {
    auto cap = integer(arg);
    if (!cap) return comment(n, "a capability this trace format has no name for", text);
    return emit("KVM_CHECK_EXTENSION(" + with_tid(*f + ", " + *cap, tid) + ")" + res, tid);
  }
  if (req == "KVM_SET_USER_MEMORY_REGION") {
    auto fields = struct_fields(arg);
    if (fields.empty()) return comment(n, "the region's fields are not in the log (use strace's default decoding)", text);
    std::string rec;
    for (const char* k : {"slot", "flags", "guest_phys_addr", "memory_size", "userspace_addr"}) {
      auto it = fields.find(k);
      if (it == fields.end()) continue;
      std::string v;
      if (std::string(k) == "userspace_addr") {
        auto at = address(it->second);
        auto raw = symbolic(it->second);
        if (!at && !raw) return comment(n, "unknown userspace_addr", text);
        v = at ? *at : hex(*raw);
      } else {
        auto x = symbolic(it->second);
        if (!x) return comment(n, "unknown field value", text);
        v = (std::string(k) == "slot" && *x >= 0x10000) ? trace::print_expr(slot_expr(*x)) : *spelled(it->second);
      }
      rec += (rec.empty() ? "" : ", ") + std::string(k) + "=" + v;
    }
    return emit("KVM_SET_USER_MEMORY_REGION(" + with_tid(*f + ", {" + rec + "}", tid) + ")" + res, tid);
  }
  // Modelled ioctls whose struct strace prints only as a pointer: a statement would have to invent it.
  for (const char* modelled : {"KVM_SET_USER_MEMORY_REGION2", "KVM_CREATE_GUEST_MEMFD", "KVM_SET_MEMORY_ATTRIBUTES",
                               "KVM_PRE_FAULT_MEMORY", "KVM_GET_DIRTY_LOG", "KVM_CLEAR_DIRTY_LOG", "KVM_ENABLE_CAP"})
    if (req == modelled) return comment(n, "its struct is not in the log", text);
  recorded_only(*f, req, *number_req, arg, res, tid);
}

// `ioctl(FD, REQUEST[, arg=N])`: an integer argument is kept; a pointer's bytes are not in the log.
void Importer::recorded_only(const std::string& fd, const std::string& req, u64 number_req, const std::string& arg,
                             const std::string& res, const std::string& tid) {
  std::string kw;
  if (trace::ioctl_size(number_req) == 0 && symbolic(arg) && *symbolic(arg) != 0) kw = ", arg=" + hex(*symbolic(arg));
  const std::string request = trace::ioctl_request_name(number_req) ? req : hex(number_req);
  emit("ioctl(" + with_tid(fd + ", " + request + kw, tid) + ")" + res, tid);
}

ImportResult Importer::finish() {
  for (const auto& [tid, head] : pending_) comment(0, "unfinished at the end of the log (tid " + tid + ")", head);
  ImportResult r = result_;
  r.trace = "kvmsim-trace 1\n# imported by kvmsim import strace from " + printable(file_) + "\n" + out_.str();
  auto parsed = trace::parse(r.trace, file_ + " (imported)");
  if (auto* e = std::get_if<trace::ParseError>(&parsed)) KVMSIM_ASSERT_CTX(false, "import produced: " + e->str());
  return r;
}

}  // namespace

ImportResult import_strace(const std::string& text, const std::string& file) {
  Importer imp(file);
  std::size_t start = 0;
  int n = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    imp.line(++n, text.substr(start, end - start));
    start = end + 1;
  }
  return imp.finish();
}

}  // namespace kvmsim::importer
