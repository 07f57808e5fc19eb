// The pictures of `kvmsim map`, written from the data alone (gpa_map.h, map_replay.h): SVG that
// reads without JavaScript (every run and marker carries an SVG <title>, shown on hover by browsers;
// the legend below the bars repeats each distinct explain verdict, keyed by a letter drawn on the
// runs wide enough to hold it) and HTML that embeds the same SVG inline with a stylesheet (no
// script, no network). docs/map.md explains the layout: one row per memslot in gpa order, gaps
// between slots compressed to a marker with their size, runs proportional to their size within a
// row with a minimum width so a 4K run in a 64 TiB slot stays visible.
// Invariant: output is a pure function of the input (fixed number formatting, no clocks), so the
// same trace gives byte-identical files.
#pragma once

#include <string>
#include <vector>

#include "sim/map/gpa_map.h"
#include "sim/map/map_replay.h"

namespace kvmsim {

struct MapPictureInfo {
  std::string file;  // the trace, as given
  int at_line = 0;
  std::string profile;
};

std::string gpa_map_svg(const MapPictureInfo& info, const std::vector<GpaMap>& maps);
std::string timeline_svg(const MapPictureInfo& info, const std::vector<const VmHistory*>& vms);
// A self-contained HTML page around one SVG document.
std::string html_page(const std::string& title, const std::string& svg);

// The JSON forms (docs/json.md "map" and "map --timeline").
std::string gpa_map_json(const MapPictureInfo& info, const std::vector<GpaMap>& maps);
std::string timeline_json(const MapPictureInfo& info, const std::vector<const VmHistory*>& vms);

}  // namespace kvmsim
