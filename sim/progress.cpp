#include "sim/progress.h"

#include <chrono>
#include <cstdio>

namespace kvmsim {

double Progress::steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Progress::Progress(std::ostream& err, bool terminal, Clock clock, double delay_s, double period_s)
    : err_(err), terminal_(terminal), clock_(std::move(clock)), delay_s_(delay_s), period_s_(period_s),
      start_(clock_()) {}

void Progress::report(const std::string& status) {
  if (status.empty()) return finish();
  const double now = clock_();
  const double elapsed = now - start_;
  if (elapsed < delay_s_) return;
  // A terminal line is cheap to rewrite, but not on every call of a tight loop: 4 times a second.
  const double every = terminal_ ? 0.25 : period_s_;
  if (last_ >= 0 ? now - last_ < every : (!terminal_ && elapsed < period_s_)) return;
  last_ = now;
  char when[32];
  std::snprintf(when, sizeof when, " [%.0f s]", elapsed);
  if (terminal_) {
    err_ << "\r" << status << when << "\x1b[K" << std::flush;  // \x1b[K: erase the rest of a longer old line
    line_open_ = true;
  } else {
    err_ << status << when << "\n" << std::flush;
  }
}

void Progress::finish() {
  if (!line_open_) return;
  err_ << "\r\x1b[K" << std::flush;
  line_open_ = false;
}

}  // namespace kvmsim
