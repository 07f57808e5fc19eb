#include "sim/cmd/support.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <variant>

#include "sim/cmd/exit_codes.h"
#include "sim/json/json.h"
#include "sim/trace/parser.h"

namespace kvmsim {

namespace fs = std::filesystem;

bool expand_trace_paths(const std::vector<std::string>& paths, std::vector<std::string>* files,
                        std::string* error) {
  for (const auto& p : paths) {
    std::error_code ec;
    if (p == kStdinPath) {
      files->push_back(p);  // read by load_trace; named <stdin> in messages and reports
    } else if (fs::is_directory(p, ec)) {
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

bool write_text_output(const std::string& path, const std::string& text, std::ostream& out, std::ostream& err) {
  if (path.empty()) {
    out << text;
    return true;
  }
  std::ofstream f(path, std::ios::binary);
  if (!(f << text) || !f.flush()) {
    err << path << ": cannot write file\n";
    return false;
  }
  return true;
}

std::optional<trace::Trace> load_trace(const std::string& file, std::ostream& err, trace::ParseError* error) {
  auto fail = [&](trace::ParseError e) -> std::optional<trace::Trace> {
    err << (e.line ? e.str() : e.file + ": " + e.message) << "\n";
    if (error) *error = std::move(e);
    return std::nullopt;
  };
  std::string text;
  std::string name = file;
  std::error_code ec;
  if (file == kStdinPath) {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
    name = kStdinName;
  } else if (fs::exists(file, ec) && !fs::is_regular_file(file, ec)) {
    return fail({file, 0, 0, "not a regular file (a FIFO or device is never opened: it could block)"});
  } else if (!read_text_file(file, &text)) {
    return fail({file, 0, 0, "cannot read file"});
  }
  auto parsed = trace::parse(text, name);
  if (auto* e = std::get_if<trace::ParseError>(&parsed)) return fail(std::move(*e));
  return std::get<trace::Trace>(std::move(parsed));
}

std::string error_json(const std::string& file, int line, int col, const std::string& message) {
  auto num = [](int v) { return v > 0 ? std::to_string(v) : std::string("null"); };
  return "{\"file\": " + (file.empty() ? std::string("null") : json_quote(file)) + ", \"line\": " + num(line) +
         ", \"col\": " + num(col) + ", \"message\": " + json_quote(message) + "}";
}

std::string error_json(const trace::ParseError& e) { return error_json(e.file, e.line, e.col, e.message); }

std::string error_document(const std::string& file, int line, int col, const std::string& message) {
  return "{\"schema\": 1, \"error\": " + error_json(file, line, col, message) + "}\n";
}

int directive_line(const std::string& source, const std::string& word) {
  std::istringstream in(source);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.rfind(word, 0) == 0) return n;
  return 1;
}

const model::Profile* with_host_header(const model::Profile& base, const trace::Trace& t,
                                       std::vector<std::shared_ptr<model::Profile>>* owned, std::string* error) {
  if (!t.host) return &base;
  auto p = std::make_shared<model::Profile>(base);
  if (!t.host->thp.empty()) p->thp = *model::thp_policy_named(t.host->thp);  // the parser checked the word
  if (!t.host->shmem_thp.empty()) {
    p->shmem_thp = *model::shmem_thp_policy_named(t.host->shmem_thp);
    if (p->shmem_thp != model::ShmemThpPolicy::never && p->shmem_thp != model::ShmemThpPolicy::deny) {
      *error = "host shmem_thp=" + t.host->shmem_thp +
               ": the model maps shmem and memfd at 4K only (docs/semantics/host-memory.md §6), so only never and "
               "deny can be replayed";
      return nullptr;
    }
  }
  owned->push_back(p);
  return p.get();
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
