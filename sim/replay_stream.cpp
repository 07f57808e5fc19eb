#include "sim/replay_stream.h"

#include <cerrno>
#include <cstring>

#include "sim/replay.h"

namespace kvmsim {

namespace {
constexpr std::size_t kBlock = 1 << 20;  // read size; a longer line grows the buffer
}  // namespace

TraceStream::TraceStream(std::FILE* in, std::string file) : in_(in), parser_(std::move(file)), buf_(kBlock) {}

bool TraceStream::next_line(std::string_view* line, bool* newline) {
  if (done_) return false;
  for (;;) {
    const char* base = buf_.data();
    if (const void* nl = std::memchr(base + begin_, '\n', end_ - begin_)) {
      const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(nl) - base);
      *line = std::string_view(base + begin_, at - begin_);
      *newline = true;
      begin_ = at + 1;
      return true;
    }
    if (eof_) {  // the piece after the last '\n' (possibly empty) is a line too
      *line = std::string_view(base + begin_, end_ - begin_);
      *newline = false;
      begin_ = end_;
      done_ = true;
      return true;
    }
    // Keep the partial line, make room (grow only for a line longer than the buffer), read on.
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
    const std::size_t n = std::fread(buf_.data() + end_, 1, buf_.size() - end_, in_);
    end_ += n;
    bytes_ += n;
    if (n == 0) {
      if (std::ferror(in_)) {
        error_ = trace::ParseError{parser_.file(), parser_.line() + 1, 1,
                                   std::string("read error: ") + std::strerror(errno)};
        done_ = true;
        return false;
      }
      eof_ = true;
    }
  }
}

void TraceStream::write(std::string_view s) {
  if (copy_ && !s.empty() && std::fwrite(s.data(), 1, s.size(), copy_) != s.size()) write_failed_ = true;
}

void TraceStream::flush_pending() {
  if (!pending_) return;
  pending_ = false;
  const trace::Statement& st = parser_.statement();
  if (rewritten_) {
    std::string line = splice_result(st, *rewritten_);
    if (line != st.text) changed_ = true;
    write(line);
  } else {
    write(st.text);
  }
  if (pending_newline_) write("\n");
  rewritten_.reset();
}

trace::Statement* TraceStream::next() {
  flush_pending();
  if (error_) return nullptr;
  std::string_view line;
  bool newline = false;
  while (next_line(&line, &newline)) {
    switch (parser_.feed(line)) {
      case trace::StreamParser::Fed::nothing:
        write(line);
        if (newline) write("\n");
        break;
      case trace::StreamParser::Fed::statement:
        pending_ = copy_ != nullptr;
        pending_newline_ = newline;
        return &parser_.statement();
      case trace::StreamParser::Fed::error:
        error_ = parser_.error();
        return nullptr;
    }
  }
  if (!error_) error_ = parser_.finish();
  return nullptr;
}

}  // namespace kvmsim
