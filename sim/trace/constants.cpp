#include "sim/trace/constants.h"

#include "model/uapi.h"

namespace kvmsim::trace {

namespace {
namespace u = kvmsim::uapi;

#define C(name) Constant{#name, static_cast<u64>(u::name)}
const std::vector<Constant> kConstants = {
    // memslot flags
    C(KVM_MEM_LOG_DIRTY_PAGES), C(KVM_MEM_READONLY), C(KVM_MEM_GUEST_MEMFD),
    // attributes and exits
    C(KVM_MEMORY_ATTRIBUTE_PRIVATE), C(KVM_MEMORY_EXIT_FLAG_PRIVATE),
    C(KVM_EXIT_IO), C(KVM_EXIT_MMIO), C(KVM_EXIT_SHUTDOWN), C(KVM_EXIT_INTERNAL_ERROR), C(KVM_EXIT_MEMORY_FAULT),
    // guest_memfd
    C(GUEST_MEMFD_FLAG_MMAP), C(GUEST_MEMFD_FLAG_INIT_SHARED),
    // dirty log
    C(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE), C(KVM_DIRTY_LOG_INITIALLY_SET),
    // quirks
    C(KVM_X86_QUIRK_SLOT_ZAP_ALL),
    // VM types
    C(KVM_X86_DEFAULT_VM), C(KVM_X86_SW_PROTECTED_VM), C(KVM_X86_SEV_VM), C(KVM_X86_SEV_ES_VM),
    C(KVM_X86_SNP_VM), C(KVM_X86_TDX_VM),
    // capabilities
    C(KVM_CAP_USER_MEMORY), C(KVM_CAP_NR_MEMSLOTS), C(KVM_CAP_SYNC_MMU), C(KVM_CAP_READONLY_MEM),
    C(KVM_CAP_MULTI_ADDRESS_SPACE), C(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2), C(KVM_CAP_DIRTY_LOG_RING),
    C(KVM_CAP_BINARY_STATS_FD), C(KVM_CAP_DISABLE_QUIRKS2), C(KVM_CAP_VM_DISABLE_NX_HUGE_PAGES),
    C(KVM_CAP_DIRTY_LOG_RING_ACQ_REL), C(KVM_CAP_USER_MEMORY2), C(KVM_CAP_MEMORY_FAULT_INFO),
    C(KVM_CAP_MEMORY_ATTRIBUTES), C(KVM_CAP_GUEST_MEMFD), C(KVM_CAP_VM_TYPES), C(KVM_CAP_PRE_FAULT_MEMORY),
    C(KVM_CAP_GUEST_MEMFD_FLAGS), C(KVM_CAP_GUEST_MEMFD_MEMORY_ATTRIBUTES),
    C(KVM_CAP_MAP_MEMORY),  // proposal (RFC v1)
    // KVM_MAP_MEMORY flags (proposal, RFC v1)
    C(KVM_MEMORY_MAPPING_FLAG_WRITE), C(KVM_MEMORY_MAPPING_FLAG_EXEC), C(KVM_MEMORY_MAPPING_FLAG_USER),
    C(KVM_MEMORY_MAPPING_FLAG_PRIVATE),
    // limits
    C(KVM_MEM_SLOTS_NUM), C(KVM_INTERNAL_MEM_SLOTS), C(KVM_USER_MEM_SLOTS), C(KVM_MEM_MAX_NR_PAGES),
    C(KVM_MAX_NR_ADDRESS_SPACES), C(KVM_API_VERSION),
    // host-side
    C(FALLOC_FL_KEEP_SIZE), C(FALLOC_FL_PUNCH_HOLE), C(FALLOC_FL_COLLAPSE_RANGE), C(FALLOC_FL_ZERO_RANGE),
    C(MADV_DONTNEED), C(MADV_HUGEPAGE), C(MADV_NOHUGEPAGE),
    C(PROT_NONE), C(PROT_READ), C(PROT_WRITE), C(PROT_EXEC), C(MAP_SHARED), C(MAP_PRIVATE),
};
#undef C

struct Errno {
  const char* name;
  int value;
};
// Linux x86-64: asm-generic/errno-base.h, asm-generic/errno.h, then the kernel-internal codes
// (include/linux/errno.h) that can leak to userspace through buggy paths. Aliases come after
// their primary name so value->name finds the primary one.
const Errno kErrnos[] = {
    {"EPERM", 1}, {"ENOENT", 2}, {"ESRCH", 3}, {"EINTR", 4}, {"EIO", 5}, {"ENXIO", 6}, {"E2BIG", 7},
    {"ENOEXEC", 8}, {"EBADF", 9}, {"ECHILD", 10}, {"EAGAIN", 11}, {"ENOMEM", 12}, {"EACCES", 13},
    {"EFAULT", 14}, {"ENOTBLK", 15}, {"EBUSY", 16}, {"EEXIST", 17}, {"EXDEV", 18}, {"ENODEV", 19},
    {"ENOTDIR", 20}, {"EISDIR", 21}, {"EINVAL", 22}, {"ENFILE", 23}, {"EMFILE", 24}, {"ENOTTY", 25},
    {"ETXTBSY", 26}, {"EFBIG", 27}, {"ENOSPC", 28}, {"ESPIPE", 29}, {"EROFS", 30}, {"EMLINK", 31},
    {"EPIPE", 32}, {"EDOM", 33}, {"ERANGE", 34}, {"EDEADLK", 35}, {"ENAMETOOLONG", 36}, {"ENOLCK", 37},
    {"ENOSYS", 38}, {"ENOTEMPTY", 39}, {"ELOOP", 40}, {"ENOMSG", 42}, {"EIDRM", 43}, {"ECHRNG", 44},
    {"EL2NSYNC", 45}, {"EL3HLT", 46}, {"EL3RST", 47}, {"ELNRNG", 48}, {"EUNATCH", 49}, {"ENOCSI", 50},
    {"EL2HLT", 51}, {"EBADE", 52}, {"EBADR", 53}, {"EXFULL", 54}, {"ENOANO", 55}, {"EBADRQC", 56},
    {"EBADSLT", 57}, {"EBFONT", 59}, {"ENOSTR", 60}, {"ENODATA", 61}, {"ETIME", 62}, {"ENOSR", 63},
    {"ENONET", 64}, {"ENOPKG", 65}, {"EREMOTE", 66}, {"ENOLINK", 67}, {"EADV", 68}, {"ESRMNT", 69},
    {"ECOMM", 70}, {"EPROTO", 71}, {"EMULTIHOP", 72}, {"EDOTDOT", 73}, {"EBADMSG", 74}, {"EOVERFLOW", 75},
    {"ENOTUNIQ", 76}, {"EBADFD", 77}, {"EREMCHG", 78}, {"ELIBACC", 79}, {"ELIBBAD", 80}, {"ELIBSCN", 81},
    {"ELIBMAX", 82}, {"ELIBEXEC", 83}, {"EILSEQ", 84}, {"ERESTART", 85}, {"ESTRPIPE", 86}, {"EUSERS", 87},
    {"ENOTSOCK", 88}, {"EDESTADDRREQ", 89}, {"EMSGSIZE", 90}, {"EPROTOTYPE", 91}, {"ENOPROTOOPT", 92},
    {"EPROTONOSUPPORT", 93}, {"ESOCKTNOSUPPORT", 94}, {"EOPNOTSUPP", 95}, {"EPFNOSUPPORT", 96},
    {"EAFNOSUPPORT", 97}, {"EADDRINUSE", 98}, {"EADDRNOTAVAIL", 99}, {"ENETDOWN", 100}, {"ENETUNREACH", 101},
    {"ENETRESET", 102}, {"ECONNABORTED", 103}, {"ECONNRESET", 104}, {"ENOBUFS", 105}, {"EISCONN", 106},
    {"ENOTCONN", 107}, {"ESHUTDOWN", 108}, {"ETOOMANYREFS", 109}, {"ETIMEDOUT", 110}, {"ECONNREFUSED", 111},
    {"EHOSTDOWN", 112}, {"EHOSTUNREACH", 113}, {"EALREADY", 114}, {"EINPROGRESS", 115}, {"ESTALE", 116},
    {"EUCLEAN", 117}, {"ENOTNAM", 118}, {"ENAVAIL", 119}, {"EISNAM", 120}, {"EREMOTEIO", 121},
    {"EDQUOT", 122}, {"ENOMEDIUM", 123}, {"EMEDIUMTYPE", 124}, {"ECANCELED", 125}, {"ENOKEY", 126},
    {"EKEYEXPIRED", 127}, {"EKEYREVOKED", 128}, {"EKEYREJECTED", 129}, {"EOWNERDEAD", 130},
    {"ENOTRECOVERABLE", 131}, {"ERFKILL", 132}, {"EHWPOISON", 133},
    // kernel-internal (include/linux/errno.h)
    {"ERESTARTSYS", 512}, {"ERESTARTNOINTR", 513}, {"ERESTARTNOHAND", 514}, {"ENOIOCTLCMD", 515},
    {"ERESTART_RESTARTBLOCK", 516}, {"EPROBE_DEFER", 517}, {"EOPENSTALE", 518}, {"ENOPARAM", 519},
    {"EBADHANDLE", 521}, {"ENOTSYNC", 522}, {"EBADCOOKIE", 523}, {"ENOTSUPP", 524}, {"ETOOSMALL", 525},
    {"ESERVERFAULT", 526}, {"EBADTYPE", 527}, {"EJUKEBOX", 528}, {"EIOCBQUEUED", 529}, {"ERECALLCONFLICT", 530},
    {"ENOGRACE", 531},
    // aliases
    {"EWOULDBLOCK", 11}, {"EDEADLOCK", 35}, {"ENOTSUP", 95},
};
}  // namespace

const std::vector<Constant>& constants() { return kConstants; }

std::optional<u64> constant_value(std::string_view name) {
  for (const auto& c : kConstants)
    if (name == c.name) return c.value;
  return std::nullopt;
}

std::optional<int> errno_value(std::string_view name) {
  for (const auto& e : kErrnos)
    if (name == e.name) return e.value;
  return std::nullopt;
}

const char* errno_name(int err) {
  for (const auto& e : kErrnos)
    if (e.value == err) return e.name;
  return nullptr;
}

std::vector<Constant> flag_family(std::string_view prefix) {
  std::vector<Constant> out;
  for (const auto& c : kConstants) {
    std::string_view n(c.name);
    if (n.substr(0, prefix.size()) == prefix && c.value != 0 && (c.value & (c.value - 1)) == 0) out.push_back(c);
  }
  return out;
}

}  // namespace kvmsim::trace
