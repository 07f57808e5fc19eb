// Differential replay: a scripted pair (the model against a model with one scripted deviation)
// gives the exact divergence text; bindings compare success only; unobservable is no divergence;
// profile differences are labelled. With /dev/kvm present, the real pair on a memslot trace.
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "model/vm/kvm.h"
#include "model/profiles/profile.h"
#include "sim/backend/backend.h"
#include "sim/cmd/commands.h"
#include "sim/cmd/support.h"
#include "sim/differential.h"
#include "sim/kvm/probe.h"
#include "sim/trace/parser.h"

namespace kvmsim {
namespace {

// The model, except: host addresses are elsewhere, memslots with id >= 1 collide (EEXIST), and
// mappings cannot be observed (as on real KVM).
class Deviant : public model::Kvm {
 public:
  explicit Deviant(const model::Profile& p) : model::Kvm(p) {}
  std::string backend_name() const override { return "fake"; }
  Ret mmap(u64 size, Backing backing, u64 align) override {
    Ret r = model::Kvm::mmap(size, backing, align);
    return r.is_ok() ? Ret::ok(r.ret + (1ll << 40)) : r;
  }
  Ret ioctl_set_user_memory_region(int fd, const uapi::kvm_userspace_memory_region& r) override {
    if ((r.slot & 0xffff) >= 1 && r.memory_size) return Ret::fail(EEXIST);
    auto moved = r;
    if (moved.userspace_addr >= (1ull << 40)) moved.userspace_addr -= 1ull << 40;
    return model::Kvm::ioctl_set_user_memory_region(fd, moved);
  }
  std::optional<Mapping> mapping(int, u64) override { return std::nullopt; }
};

// The model, except that it refuses any hugetlb mapping as a host limit (as the real backend does
// when no huge pages are reserved).
class NoHugePages : public model::Kvm {
 public:
  explicit NoHugePages(const model::Profile& p) : model::Kvm(p) {}
  std::string backend_name() const override { return "nohuge"; }
  Ret mmap(u64 size, Backing backing, u64 align) override {
    if (backing == Backing::hugetlb_2m || backing == Backing::hugetlb_1g) {
      refused_ = true;
      return Ret::fail(ENOMEM);
    }
    return model::Kvm::mmap(size, backing, align);
  }
  Diagnostic take_diagnostic() override {
    if (!std::exchange(refused_, false)) return {};
    return Diagnostic{"hugetlb: no huge pages available", true};
  }

 private:
  bool refused_ = false;
};

trace::Trace parse_ok(const std::string& text) {
  auto parsed = trace::parse(text, "t.trace");
  if (auto* e = std::get_if<trace::ParseError>(&parsed)) ADD_FAILURE() << e->str();
  return std::get<trace::Trace>(parsed);
}

const char* kTrace =
    "kvmsim-trace 1\n"
    "profile linux-6.18-pvm\n"
    "mem = mmap(4M, anon)\n"
    "vm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
    "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, guest_phys_addr=0, memory_size=4K, userspace_addr=mem}) = 0\n"
    "expect mapping(vm, 0) level=none\n"
    "KVM_SET_USER_MEMORY_REGION(vm, {slot=1, guest_phys_addr=4K, memory_size=4K, userspace_addr=mem}) = 0\n"
    "KVM_SET_USER_MEMORY_REGION(vm, {slot=2, guest_phys_addr=8K, memory_size=4K, userspace_addr=mem}) = 0\n"
    "KVM_SET_USER_MEMORY_REGION(vm, {slot=3, guest_phys_addr=0, memory_size=4K, userspace_addr=mem}) = -1 EEXIST\n";

TEST(Differential, ScriptedPairReportsFirstDivergenceExactly) {
  const model::Profile& p = *model::find_profile("linux-6.18-pvm");
  model::Kvm a(p);
  Deviant b(p);
  trace::Trace t = parse_ok(kTrace);
  DiffReport d = replay_pair(t, a, b);
  ASSERT_TRUE(d.first.has_value());
  EXPECT_EQ(d.first->line, 7);
  EXPECT_EQ(d.divergences, 2u);  // slots 1 and 2; slot 3 is EEXIST on both
  EXPECT_FALSE(d.ok());
  EXPECT_TRUE(d.a.ok());
  EXPECT_EQ(d.b.counts.mismatched, 2u);
  EXPECT_EQ(d.b.counts.unobservable, 1u);
  const std::string stmt7 =
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=1, guest_phys_addr=4K, memory_size=4K, userspace_addr=mem}) = 0";
  const std::string stmt8 =
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=2, guest_phys_addr=8K, memory_size=4K, userspace_addr=mem}) = 0";
  EXPECT_EQ(d.text(),
            "FAIL t.trace [model/linux-6.18-pvm vs fake/linux-6.18-pvm] 7 statements, 2 divergent, model 7/7 matched, "
            "fake 4/6 matched 2 mismatched 1 unobservable\n"
            "  t.trace:7: model 0, fake -1 EEXIST\n"
            "      " + stmt7 + "\n"
            "  fake: t.trace:7: expected 0, got -1 EEXIST\n    " + stmt7 + "\n"
            "  fake: t.trace:8: expected 0, got -1 EEXIST\n    " + stmt8 + "\n");
}

TEST(Differential, SamePairAgreesAndBindingsCompareSuccessOnly) {
  const model::Profile& p = *model::find_profile("linux-6.18-pvm");
  model::Kvm a(p), b(p);
  trace::Trace t = parse_ok(
      "kvmsim-trace 1\nprofile linux-6.18-pvm\nmem = mmap(4M, anon)\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, guest_phys_addr=0, memory_size=4K, userspace_addr=mem}) = 0\n");
  DiffReport d = replay_pair(t, a, b);
  EXPECT_TRUE(d.ok()) << d.text();
  EXPECT_FALSE(d.first.has_value());
  EXPECT_EQ(d.text().rfind("PASS t.trace [model/linux-6.18-pvm vs model/linux-6.18-pvm] 3 statements, 0 divergent", 0),
            0u)
      << d.text();

  // Different host addresses from a binding are not a divergence; failure vs success is.
  Deviant c(p);
  model::Kvm e(p);
  trace::Trace only_bind = parse_ok("kvmsim-trace 1\nmem = mmap(4M, anon)\nbad = mmap(0, anon)\n");
  DiffReport d2 = replay_pair(only_bind, e, c);
  EXPECT_EQ(d2.divergences, 0u) << d2.text();

  StatementResult ok_bind{3, "mem = mmap(4M, anon)", "140000000", "success", StepStatus::matched, "", std::nullopt};
  StatementResult failed_bind = ok_bind;
  failed_bind.actual = "-1 ENOMEM";
  failed_bind.status = StepStatus::mismatch;
  EXPECT_EQ(comparable_actual(ok_bind), "ok");
  EXPECT_EQ(comparable_actual(failed_bind), "failed: -1 ENOMEM");
  StatementResult unobs = ok_bind;
  unobs.status = StepStatus::unobservable;
  EXPECT_EQ(comparable_actual(unobs), std::nullopt);
}

TEST(Differential, ProfileDifferencesAreLabelled) {
  EXPECT_EQ(profile_label("", "linux-6.18-pvm"), "");
  EXPECT_EQ(profile_label("linux-6.18-pvm", "linux-6.18-pvm"), "");
  EXPECT_EQ(profile_label("linux-6.18", "linux-6.18-pvm"),
            "profile difference (trace written for linux-6.18, backend answers as linux-6.18-pvm)");
  // A trace written for upstream 6.18 run on two pvm backends: both sides' mismatches are labelled.
  const model::Profile& p = *model::find_profile("linux-6.18-pvm");
  model::Kvm a(p), b(p);
  trace::Trace t = parse_ok(
      "kvmsim-trace 1\nprofile linux-6.18\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
      "KVM_CHECK_EXTENSION(vm, KVM_CAP_MULTI_ADDRESS_SPACE) = 2\n");
  DiffReport d = replay_pair(t, a, b);
  EXPECT_EQ(d.divergences, 0u);
  const std::string label = "profile difference (trace written for linux-6.18, backend answers as linux-6.18-pvm): ";
  const std::string line = "  model: " + label + "t.trace:4: expected 2, got 0\n";
  const std::string text = d.text();
  std::size_t count = 0;
  for (auto pos = text.find(line); pos != std::string::npos; pos = text.find(line, pos + 1)) ++count;
  EXPECT_EQ(count, 2u) << "one line per side (both sides are named model here)\n" << text;
}

TEST(Differential, CliPairExitCodes) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "kvmsim_differential_test";
  fs::create_directories(dir);
  fs::path good = dir / "good.trace", bad = dir / "bad.trace";
  std::ofstream(good) << "kvmsim-trace 1\nprofile linux-6.18-pvm\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
                         "KVM_CHECK_EXTENSION(vm, KVM_CAP_MULTI_ADDRESS_SPACE) = 0\n";
  std::ofstream(bad) << "kvmsim-trace 1\nprofile linux-6.18-pvm\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
                        "KVM_CHECK_EXTENSION(vm, KVM_CAP_MULTI_ADDRESS_SPACE) = 1\n";
  ReplayArgs args;
  args.backend = "model,model";
  args.files = {good.string()};
  std::ostringstream out, err;
  EXPECT_EQ(run_replay(args, out, err), kExitOk) << out.str() << err.str();
  EXPECT_NE(out.str().find("PASS " + good.string() + " [model/linux-6.18-pvm vs model/linux-6.18-pvm]"),
            std::string::npos)
      << out.str();
  // An expectation mismatch on both sides with no divergence still fails.
  args.files = {bad.string()};
  std::ostringstream out2, err2;
  EXPECT_EQ(run_replay(args, out2, err2), kExitMismatch) << out2.str();
  EXPECT_NE(out2.str().find("0 divergent"), std::string::npos) << out2.str();
  EXPECT_NE(out2.str().find("  model: " + bad.string() + ":4: expected 1, got 0"), std::string::npos) << out2.str();
  // Unknown backend names and --update are usage errors.
  args.backend = "model,nope";
  std::ostringstream out3, err3;
  EXPECT_EQ(run_replay(args, out3, err3), kExitUsage);
  EXPECT_EQ(err3.str(), "kvmsim: unknown backend 'nope' (known: model, model-ref, kvm, nested, A,B, both)\n");
  args.backend = "model,model";
  args.update = true;
  std::ostringstream out4, err4;
  EXPECT_EQ(run_replay(args, out4, err4), kExitUsage);
  fs::remove_all(dir);
}

TEST(Differential, RealPairAgreesOnMemslotTrace) {
  std::string error;
  kvm::HostProbe probe = kvm::probe_host(&error);
  if (!error.empty()) GTEST_SKIP() << "/dev/kvm unavailable: " << error;
  const model::Profile* p = model::find_profile(kvm::matching_profile(probe));
  ASSERT_NE(p, nullptr);
  if (p->name != "linux-6.18-pvm") GTEST_SKIP() << "trace written for linux-6.18-pvm, host matches " << p->name;
  std::string why;
  auto real = open_backend("kvm", *p, BackendOptions{}, &why);
  if (!real) GTEST_SKIP() << "kvm backend unavailable: " << why;
  model::Kvm m(*p);
  trace::Trace t = parse_ok(
      "kvmsim-trace 1\nprofile linux-6.18-pvm\nmem = mmap(4M, anon)\nvm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
      "KVM_CHECK_EXTENSION(vm, KVM_CAP_MULTI_ADDRESS_SPACE) = 0\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, guest_phys_addr=0, memory_size=1M, userspace_addr=mem}) = 0\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=1, guest_phys_addr=512K, memory_size=1M, userspace_addr=mem}) = -1 EEXIST\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, guest_phys_addr=2M, memory_size=1M, userspace_addr=mem}) = 0\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0x10000, guest_phys_addr=0, memory_size=4K, userspace_addr=mem}) = -1 EINVAL\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=0}) = 0\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, memory_size=0}) = -1 EINVAL\n"
      "expect mapping(vm, 0) level=none\n");
  DiffReport d = replay_pair(t, m, *real);
  EXPECT_TRUE(d.ok()) << d.text();
  EXPECT_EQ(d.divergences, 0u);
  EXPECT_EQ(d.b.counts.unobservable, 1u);  // mapping() on kvm
  EXPECT_EQ(d.a.counts.matched, 10u);
}


TEST(Differential, HostLimitStopsTheComparisonWithoutADivergence) {
  const model::Profile& p = *model::find_profile("linux-6.18");
  model::Kvm a(p);
  NoHugePages b(p);
  trace::Trace t = parse_ok(
      "kvmsim-trace 1\n"
      "big = mmap(2M, hugetlb_2m)\n"
      "vm = KVM_CREATE_VM(KVM_X86_DEFAULT_VM)\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=0, guest_phys_addr=0, memory_size=2M, userspace_addr=big}) = 0\n"
      "KVM_SET_USER_MEMORY_REGION(vm, {slot=1, guest_phys_addr=1G, memory_size=0x1001, userspace_addr=0}) = -1 EINVAL\n");
  DiffReport d = replay_pair(t, a, b);
  EXPECT_EQ(d.divergences, 0u) << d.text();
  ASSERT_TRUE(d.stopped.has_value()) << d.text();
  EXPECT_EQ(d.stopped->line, 2);
  EXPECT_EQ(d.stopped->backend, "nohuge");
  EXPECT_NE(d.stopped->message.find("no huge pages"), std::string::npos) << d.stopped->message;
  EXPECT_FALSE(d.ok()) << "the refusing side still fails the trace";
  EXPECT_NE(d.text().find("t.trace:2: comparison stopped: nohuge could not run"), std::string::npos) << d.text();
  EXPECT_NE(d.json().find("\"stopped_at_host_limit\":{\"line\":2"), std::string::npos) << d.json();
  // Without the refusal, the same pair runs to the end.
  model::Kvm c(p), e(p);
  EXPECT_FALSE(replay_pair(t, c, e).stopped.has_value());
}

}  // namespace
}  // namespace kvmsim
