#include "sim/map/map_svg.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "model/types.h"
#include "model/vm/explain.h"

namespace kvmsim {

namespace {

using model::hex;

constexpr int kWidth = 1200;
constexpr int kLeft = 20;
constexpr int kBarWidth = kWidth - 2 * kLeft;
constexpr double kMinRun = 3.0;  // px: the narrowest run drawn

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

const char* level_colour(int level) {
  switch (level) {
    case 1: return "#e4572e";  // 4K
    case 2: return "#2e86de";  // 2M
    case 3: return "#27ae60";  // 1G
  }
  return "#dddddd";
}
constexpr const char* kNeverColour = "#e6e6e6";
constexpr const char* kPrivateColour = "#8e44ad";

std::string fill_of(const MapRun& r) {
  if (r.state == MapRun::State::mapped) return level_colour(r.level);
  if (r.state == MapRun::State::zapped) return "url(#zapped)";
  return kNeverColour;
}

// A legend / state key: "4K", "2M", "1G", "never mapped", "zapped".
std::string state_key(const MapRun& r) {
  if (r.state == MapRun::State::mapped) return level_name(r.level);
  return r.state == MapRun::State::zapped ? "zapped" : "never mapped";
}

std::string text(double x, double y, const std::string& s, const std::string& attrs = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\"" + (attrs.empty() ? "" : " " + attrs) + ">" + esc(s) +
         "</text>\n";
}

// Cuts `s` into lines of at most `width` characters at spaces.
std::vector<std::string> wrap(const std::string& s, std::size_t width) {
  std::vector<std::string> lines;
  std::string cur;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = s.find(' ', i);
    if (j == std::string::npos) j = s.size();
    const std::string word = s.substr(i, j - i);
    if (!cur.empty() && cur.size() + 1 + word.size() > width) {
      lines.push_back(cur);
      cur.clear();
    }
    cur += (cur.empty() ? "" : " ") + word;
    i = j + 1;
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

std::string svg_open(int height, const std::string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(kWidth) + "\" height=\"" +
         std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(kWidth) + " " + std::to_string(height) +
         "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n<title>" + esc(title) +
         "</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
         "<defs><pattern id=\"zapped\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
         "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f2f2f2\"/>"
         "<rect width=\"2\" height=\"6\" fill=\"#999999\"/></pattern></defs>\n";
}

std::string swatch(double x, double y, const std::string& fill, const std::string& label, const std::string& key) {
  return "<g class=\"legend-item\" data-level=\"" + esc(key) + "\"><rect x=\"" + num(x) + "\" y=\"" + num(y - 10) +
         "\" width=\"14\" height=\"12\" fill=\"" + fill + "\" stroke=\"#555555\"/>" + text(x + 19, y, label) + "</g>\n";
}

std::string header_line(const MapPictureInfo& info) {
  return info.file + (info.at_line ? " at line " + std::to_string(info.at_line) : std::string()) + ", profile " +
         info.profile;
}

// x offsets of `sizes` laid out in `width` px: proportional, but never narrower than kMinRun.
std::vector<double> layout(const std::vector<u64>& sizes, double width) {
  std::vector<double> w(sizes.size(), 0);
  const double n = static_cast<double>(sizes.size());
  const double floor_w = std::min(kMinRun, width / std::max(1.0, n));
  long double total = 0;
  for (u64 s : sizes) total += s;
  const double rest = width - floor_w * n;
  for (std::size_t i = 0; i < sizes.size(); ++i)
    w[i] = floor_w + (total > 0 ? static_cast<double>(rest * (sizes[i] / total)) : 0.0);
  return w;
}

}  // namespace

std::string html_page(const std::string& title, const std::string& svg) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + esc(title) +
         "</title>\n<style>\nbody { font-family: DejaVu Sans, Arial, sans-serif; margin: 12px; background: #ffffff; }\n"
         ".run:hover, .marker:hover { stroke: #000000; stroke-width: 2; }\n</style>\n</head>\n<body>\n" + svg +
         "</body>\n</html>\n";
}

std::string gpa_map_svg(const MapPictureInfo& info, const std::vector<GpaMap>& maps) {
  std::string body;
  double y = 24;
  body += text(kLeft, y, "kvmsim map: " + header_line(info), "font-size=\"15\" font-weight=\"bold\"");
  y += 18;
  body += text(kLeft, y,
               "One row per memslot in gpa order; gaps between slots are compressed (marker with their size); runs "
               "are proportional within a row, at least 3 px. Hover a run for its range and explain verdict.",
               "fill=\"#555555\"");
  y += 10;
  // Distinct (state, rule, verdict) triples, keyed A, B, ..., AA, ... in order of first appearance.
  std::map<std::string, std::string> key_of;
  std::vector<std::pair<std::string, std::string>> keys;  // key, text
  auto key_for = [&](const MapRun& r) {
    const std::string t = state_key(r) + (r.is_private ? " private" : "") +
                          (r.rule.empty() ? std::string() : " [" + r.rule + "]") + ": " + r.verdict;
    auto it = key_of.find(t);
    if (it != key_of.end()) return it->second;
    std::size_t n = keys.size();
    std::string k;
    do {
      k.insert(k.begin(), static_cast<char>('A' + n % 26));
      n = n / 26;
    } while (n-- > 0);
    key_of[t] = k;
    keys.push_back({k, t});
    return k;
  };

  if (maps.empty()) {
    y += 28;
    body += text(kLeft, y, "no VM was created", "font-size=\"14\"");
  }
  for (const GpaMap& m : maps) {
    y += 28;
    body += text(kLeft, y, "VM " + m.vm, "font-size=\"14\" font-weight=\"bold\"");
    // Legend: only the states present, with their bytes.
    std::map<std::string, u64> present;
    for (const MapSlot& s : m.slots)
      for (const MapRun& r : s.runs) present[state_key(r)] += r.end - r.start;
    bool any_private = false;
    for (const MapSlot& s : m.slots)
      for (const MapRun& r : s.runs) any_private |= r.is_private;
    double lx = kLeft + 140;
    for (const char* k : {"1G", "2M", "4K", "never mapped", "zapped"}) {
      auto it = present.find(k);
      if (it == present.end()) continue;
      const std::string fill = std::string(k) == "zapped" ? "url(#zapped)"
                               : std::string(k) == "never mapped" ? kNeverColour
                               : level_colour(std::string(k) == "1G" ? 3 : std::string(k) == "2M" ? 2 : 1);
      body += swatch(lx, y, fill, std::string(k) + " (" + size_text(it->second) + ")", k);
      lx += 170;
    }
    if (any_private) body += swatch(lx, y, kPrivateColour, "private (stripe)", "private");
    if (m.slots.empty()) {
      y += 22;
      body += text(kLeft, y, "no memslots", "fill=\"#555555\"");
    }
    u64 prev_end = 0;
    u16 prev_as = 0;
    bool first = true;
    for (const MapSlot& s : m.slots) {
      y += 10;
      if ((!first && s.as_id == prev_as && s.gpa > prev_end) || (first && s.gpa > 0)) {
        y += 12;
        body += "<g class=\"gap\">" +
                text(kWidth / 2.0, y, "\xe2\x8b\xaf gap of " + size_text(s.gpa - (first ? 0 : prev_end)) +
                                          " without a memslot \xe2\x8b\xaf",
                     "text-anchor=\"middle\" fill=\"#777777\" font-style=\"italic\"") +
                "</g>\n";
      }
      first = false;
      prev_end = s.gpa + s.size;
      prev_as = s.as_id;
      y += 18;
      std::string align = "gpa align " + size_text(s.gpa_align) + ", hva align " + size_text(s.hva_align) +
                          ", gpa/hva congruent mod 2M: " + (s.congruent_2m ? "yes" : "no") +
                          ", mod 1G: " + (s.congruent_1g ? "yes" : "no");
      body += text(kLeft, y,
                   "slot " + std::to_string(s.id) + (s.as_id ? " (as " + std::to_string(s.as_id) + ")" : "") +
                       "  gpa [" + hex(s.gpa) + ", " + hex(s.gpa + s.size) + ") " + size_text(s.size) + "  hva " +
                       hex(s.hva) + "  flags " + model::memslot_flags_text(s.flags) + "  backing " + s.backing,
                   "font-weight=\"bold\"");
      y += 15;
      body += text(kLeft, y, align, "fill=\"#555555\"");
      y += 6;
      std::vector<u64> sizes;
      for (const MapRun& r : s.runs) sizes.push_back(r.end - r.start);
      const std::vector<double> w = layout(sizes, kBarWidth);
      double x = kLeft;
      const double bar_h = 30;
      for (std::size_t i = 0; i < s.runs.size(); ++i) {
        const MapRun& r = s.runs[i];
        const std::string key = s.as_id == 0 ? key_for(r) : "";
        std::string tip = "[" + hex(r.start) + ", " + hex(r.end) + ") " + size_text(r.end - r.start) + ": " +
                          state_key(r) + (r.state == MapRun::State::mapped ? " x " + std::to_string(r.leaves) : "") +
                          (r.is_private ? ", private" : "") +
                          (r.zapped_line ? ", zapped by line " + std::to_string(r.zapped_line) : "");
        if (!r.rule.empty()) tip += "\nlevel set by: " + r.rule;
        if (!r.verdict.empty()) tip += "\nexplain: " + r.verdict;
        if (!key.empty()) tip += "\n(legend " + key + ")";
        body += "<rect class=\"run\" x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w[i]) +
                "\" height=\"" + num(bar_h) + "\" fill=\"" + fill_of(r) + "\" stroke=\"#ffffff\" stroke-width=\"0.5\"><title>" +
                esc(tip) + "</title></rect>\n";
        if (r.is_private)
          body += "<rect x=\"" + num(x) + "\" y=\"" + num(y + bar_h) + "\" width=\"" + num(w[i]) +
                  "\" height=\"5\" fill=\"" + kPrivateColour + "\"/>\n";
        const std::string label = (key.empty() ? "" : key + ": ") + state_key(r) + " " + size_text(r.end - r.start);
        if (w[i] >= 7.0 * static_cast<double>(label.size()) + 6)
          body += text(x + 4, y + 19, label, "fill=\"#000000\" pointer-events=\"none\"");
        else if (!key.empty() && w[i] >= 9.0 * static_cast<double>(key.size()) + 4)
          body += text(x + 2, y + 19, key, "fill=\"#000000\" pointer-events=\"none\"");
        x += w[i];
      }
      y += bar_h + 5;
      // Address ticks at the row's ends.
      y += 13;
      body += text(kLeft, y, hex(s.gpa), "font-size=\"10\" fill=\"#555555\"");
      body += text(kLeft + kBarWidth, y, hex(s.gpa + s.size), "font-size=\"10\" fill=\"#555555\" text-anchor=\"end\"");
    }
    y += 6;
    body += text(kLeft, y + 14,
                 "mapped: 1G " + size_text(m.bytes[3]) + ", 2M " + size_text(m.bytes[2]) + ", 4K " +
                     size_text(m.bytes[1]) + "; slot bytes without a leaf: " + size_text(m.bytes[0]),
                 "fill=\"#333333\"");
    y += 14;
  }
  if (!keys.empty()) {
    y += 30;
    body += text(kLeft, y, "Why each run has its level (explain at the run's first page):",
                 "font-size=\"13\" font-weight=\"bold\"");
    for (const auto& [k, t] : keys) {
      bool first_line = true;
      for (const std::string& line : wrap(t, 150)) {
        y += 16;
        body += text(kLeft, y, (first_line ? k + "  " : std::string(k.size() + 2, ' ')) + line,
                     "class=\"reason\" xml:space=\"preserve\"");
        first_line = false;
      }
    }
  }
  y += 20;
  return svg_open(static_cast<int>(y), "kvmsim map: " + header_line(info)) + body + "</svg>\n";
}

std::string timeline_svg(const MapPictureInfo& info, const std::vector<const VmHistory*>& vms) {
  std::string body;
  double y = 24;
  body += text(kLeft, y, "kvmsim map --timeline: " + header_line(info), "font-size=\"15\" font-weight=\"bold\"");
  y += 18;
  body += text(kLeft, y,
               "Share of memslot bytes by mapping level after each statement (x: statements in order). Markers: what "
               "the MMU did during a statement; hover for details.",
               "fill=\"#555555\"");
  struct Marker {
    const char* name;
    const char* colour;
    u64 model::MmuCounters::*field;
    const char* what;
  };
  static const Marker kMarkers[] = {
      {"zap", "#c0392b", &model::MmuCounters::leaves_zapped, "leaves zapped"},
      {"eager split", "#e67e22", &model::MmuCounters::eager_splits, "huge leaves split eagerly"},
      {"recovery", "#16a085", &model::MmuCounters::huge_recovered, "huge leaves recovered in place"},
      {"collapsible zap", "#7f8c8d", &model::MmuCounters::collapsible_zapped, "tables zapped to collapse"},
      {"NX split", "#8e44ad", &model::MmuCounters::nx_splits, "tables split by an exec fault (NX)"},
      {"NX recovery", "#2c3e50", &model::MmuCounters::nx_recovered, "NX-split tables recovered"},
  };
  y += 14;
  double lx = kLeft;
  for (int level : {3, 2, 1}) {
    body += swatch(lx, y + 12, level_colour(level), level_name(level), level_name(level));
    lx += 70;
  }
  body += swatch(lx, y + 12, kNeverColour, "unmapped", "unmapped");
  lx += 110;
  for (const Marker& mk : kMarkers) {
    body += "<g class=\"legend-item\" data-marker=\"" + std::string(mk.name) + "\"><circle cx=\"" + num(lx + 6) +
            "\" cy=\"" + num(y + 8) + "\" r=\"5\" fill=\"" + mk.colour + "\"/>" + text(lx + 15, y + 12, mk.name) +
            "</g>\n";
    lx += 30 + 7.0 * static_cast<double>(std::string(mk.name).size());
  }
  y += 20;
  if (vms.empty()) {
    y += 26;
    body += text(kLeft, y, "no VM was created", "font-size=\"14\"");
  }
  for (const VmHistory* h : vms) {
    y += 26;
    body += text(kLeft, y, "VM " + h->name, "font-size=\"14\" font-weight=\"bold\"");
    const std::size_t n = h->samples.size();
    if (n == 0) continue;
    const double chart_h = 220, marker_h = 14 * 6, label_h = 190;
    const double top = y + 10 + label_h + marker_h;
    const double dx = static_cast<double>(kBarWidth) / static_cast<double>(n);
    // Stacked step areas, 1G at the bottom, then 2M, 4K, unmapped.
    std::vector<double> base(n, 0.0);
    for (int layer : {3, 2, 1, 0}) {
      std::string d;
      std::string back;
      for (std::size_t i = 0; i < n; ++i) {
        const TimelineSample& s = h->samples[i];
        const long double total = static_cast<long double>(s.bytes[0]) + s.bytes[1] + s.bytes[2] + s.bytes[3];
        const double share = total > 0 ? static_cast<double>(s.bytes[layer] / total) : 0.0;
        const double x0 = kLeft + dx * static_cast<double>(i), x1 = x0 + dx;
        const double y_lo = top + chart_h - chart_h * base[i];
        base[i] += share;
        const double y_hi = top + chart_h - chart_h * base[i];
        d += std::string(i ? " L" : "M") + num(x0) + " " + num(y_hi) + " L" + num(x1) + " " + num(y_hi);
        back = " L" + num(x1) + " " + num(y_lo) + " L" + num(x0) + " " + num(y_lo) + back;
      }
      body += "<path d=\"" + d + back + " Z\" fill=\"" + (layer ? level_colour(layer) : kNeverColour) +
              "\" stroke=\"none\"><title>" + (layer ? level_name(layer) : "unmapped") + "</title></path>\n";
    }
    body += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(top) + "\" width=\"" + num(kBarWidth) + "\" height=\"" +
            num(chart_h) + "\" fill=\"none\" stroke=\"#555555\"/>\n";
    body += text(kLeft - 2, top + 4, "100%", "font-size=\"9\" text-anchor=\"start\" fill=\"#555555\"");
    // Markers: one lane per kind, above the chart.
    double last_label_x = -1e9;
    for (std::size_t i = 0; i < n; ++i) {
      const TimelineSample& s = h->samples[i];
      const double cx = kLeft + dx * (static_cast<double>(i) + 0.5);
      std::string tip_head = "line " + std::to_string(s.line) + ": " + s.statement;
      for (std::size_t k = 0; k < std::size(kMarkers); ++k) {
        const u64 v = s.delta.*(kMarkers[k].field);
        if (!v) continue;
        body += "<circle class=\"marker\" cx=\"" + num(cx) + "\" cy=\"" + num(top - marker_h + 14.0 * k + 6) +
                "\" r=\"4.5\" fill=\"" + kMarkers[k].colour + "\"><title>" +
                esc(tip_head + "\n" + std::to_string(v) + " " + kMarkers[k].what) + "</title></circle>\n";
      }
      // Labels for the statements that change the huge-page story.
      std::string label;
      for (const std::string& c : s.causes) {
        std::string l;
        if (c == "dirty_log_on") l = "dirty logging on";
        else if (c == "dirty_log_off") l = "dirty logging off";
        else if (c == "attributes_changed") l = "conversion";
        else if (c == "memslot" && s.delta.leaves_zapped) l = "memslot move/delete";
        if (!l.empty()) label += (label.empty() ? "" : ", ") + l;
      }
      if (label.empty()) continue;
      label = "L" + std::to_string(s.line) + " " + label;
      body += "<line x1=\"" + num(cx) + "\" y1=\"" + num(top - marker_h - 2) + "\" x2=\"" + num(cx) + "\" y2=\"" +
              num(top + chart_h) + "\" stroke=\"#333333\" stroke-dasharray=\"3,3\" stroke-width=\"0.8\"><title>" +
              esc(tip_head) + "</title></line>\n";
      if (cx - last_label_x >= 13) {
        // Vertical, reading upwards from the marker lanes: never wider than the column it labels.
        body += "<text class=\"cause\" transform=\"translate(" + num(cx + 4) + "," + num(top - marker_h - 4) +
                ") rotate(-90)\" font-size=\"11\">" + esc(label.size() > 30 ? label.substr(0, 29) + "\xe2\x80\xa6" : label) +
                "<title>" + esc(tip_head) + "</title></text>\n";
        last_label_x = cx;
      }
    }
    y = top + chart_h + 16;
    body += text(kLeft, y, "line " + std::to_string(h->samples.front().line), "font-size=\"10\" fill=\"#555555\"");
    body += text(kLeft + kBarWidth, y, "line " + std::to_string(h->samples.back().line),
                 "font-size=\"10\" fill=\"#555555\" text-anchor=\"end\"");
    y += 8;
  }
  y += 16;
  return svg_open(static_cast<int>(y), "kvmsim map --timeline: " + header_line(info)) + body + "</svg>\n";
}

}  // namespace kvmsim
