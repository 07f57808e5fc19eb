// Progress of long work (fuzz campaigns, nested boots and batches, long replays) on stderr, never on
// stdout: the loops doing the work call a ProgressFn with a one-line status ("fuzz: case 12, 340/1000
// steps"); the Progress reporter behind it decides whether to print. Nothing is printed for work that
// ends within a second. On a terminal the status is one line rewritten in place (\r); otherwise a
// plain line every few seconds, so logs stay readable. `kvmsim --quiet` installs no reporter.
// Invariants: the work does not depend on whether a reporter is installed (stdout is byte-identical
// with and without); a null ProgressFn means "nobody listens"; the reporter holds no global state.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace kvmsim {

// What long loops call, as often as they like (the reporter rate-limits). May be empty. An empty status
// means "done": a terminal's status line is cleared, so the caller's next stderr line starts clean.
using ProgressFn = std::function<void(const std::string& status)>;

// Calls `fn` if one is installed.
inline void report_progress(const ProgressFn& fn, const std::string& status) {
  if (fn) fn(status);
}

class Progress {
 public:
  using Clock = std::function<double()>;  // monotonic seconds
  static double steady_seconds();

  // `terminal`: rewrite one line in place; else print a line every `period_s`. Nothing before `delay_s`.
  Progress(std::ostream& err, bool terminal, Clock clock = steady_seconds, double delay_s = 1.0,
           double period_s = 5.0);
  ~Progress() { finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void report(const std::string& status);
  // A callback bound to this reporter (it must outlive the callback's use).
  ProgressFn fn() {
    return [this](const std::string& status) { report(status); };
  }
  // On a terminal, clears the status line so what follows starts on a clean line.
  void finish();

 private:
  std::ostream& err_;
  bool terminal_;
  Clock clock_;
  double delay_s_, period_s_;
  double start_;
  double last_ = -1;  // when the last status was printed (-1: never)
  bool line_open_ = false;
};

}  // namespace kvmsim
