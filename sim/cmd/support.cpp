#include "sim/cmd/support.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "sim/cmd/exit_codes.h"
#include "sim/trace/parser.h"

namespace kvmsim {

namespace fs = std::filesystem;

bool expand_trace_paths(const std::vector<std::string>& paths, std::vector<std::string>* files,
                        std::string* error) {
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".trace") found.push_back(it->path().string());
      }
      // Directory iteration order is unspecified: sort so reports are deterministic.
      std::sort(found.begin(), found.end());
      files->insert(files->end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec)) {
      files->push_back(p);
    } else if (fs::exists(p, ec)) {
      // A FIFO or device would block or never end: refuse it by its kind, without opening it.
      *error = p + ": not a regular file or directory (" +
               std::string(fs::is_fifo(p, ec)             ? "a FIFO"
                           : fs::is_character_file(p, ec) ? "a character device"
                           : fs::is_block_file(p, ec)     ? "a block device"
                           : fs::is_socket(p, ec)         ? "a socket"
                                                          : "a special file") +
               ")";
      return false;
    } else {
      *error = p + ": no such file or directory";
      return false;
    }
  }
  return true;
}

bool read_text_file(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *text = ss.str();
  return true;
}

std::optional<trace::Trace> load_trace(const std::string& file, std::ostream& err) {
  std::string text;
  std::error_code ec;
  if (fs::exists(file, ec) && !fs::is_regular_file(file, ec)) {
    err << file << ": not a regular file (a FIFO or device is never opened: it could block)\n";
    return std::nullopt;
  }
  if (!read_text_file(file, &text)) {
    err << file << ": cannot read file\n";
    return std::nullopt;
  }
  auto parsed = trace::parse(text, file);
  if (auto* e = std::get_if<trace::ParseError>(&parsed)) {
    err << e->str() << "\n";
    return std::nullopt;
  }
  return std::get<trace::Trace>(std::move(parsed));
}

int directive_line(const std::string& source, const std::string& word) {
  std::istringstream in(source);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.rfind(word, 0) == 0) return n;
  return 1;
}

std::string known_profile_names() {
  std::string s;
  for (const auto& p : model::builtin_profiles()) s += (s.empty() ? "" : ", ") + p.name;
  return s;
}

std::vector<std::string> check_backends(const std::vector<std::unique_ptr<Backend>>& sides, bool profile_given,
                                        std::ostream& err) {
  std::vector<std::string> out;
  for (const auto& s : sides) {
    std::string why = s->unavailable();
    if (!why.empty()) {
      err << "kvmsim: backend " << s->name() << " unavailable: " << why << "\n";
      out.push_back(s->name() + ": " + why);
    } else if (std::string note = profile_given ? "" : s->host_profile_note(); !note.empty()) {
      err << "kvmsim: " << s->name() << ": " << note << "\n";
    }
  }
  return out;
}

int unavailable_exit(bool require) { return require ? kExitMismatch : kExitNothingRan; }

const model::Profile* trace_profile(const std::string& flag, const trace::Trace& t, std::ostream& err) {
  const std::string name = !flag.empty() ? flag : t.profile.value_or(model::default_profile().name);
  const model::Profile* p = model::find_profile(name);
  if (!p) err << "kvmsim: unknown profile '" << name << "' (known: " << known_profile_names() << ")\n";
  return p;
}

}  // namespace kvmsim
