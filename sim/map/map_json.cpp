// The JSON forms of `kvmsim map` (schema: docs/json.md "map" and "map --timeline"). Addresses are
// hex strings, as in `explain --format json`; byte counts are numbers (exact below 2^53 = 8 PiB).
#include "model/vm/explain.h"
#include "sim/json/json.h"
#include "sim/map/map_svg.h"

namespace kvmsim {

namespace {

using model::hex;

std::string head(const MapPictureInfo& info) {
  return "{\"schema\": 1, \"file\": " + json_quote(info.file) +
         ", \"at_line\": " + (info.at_line ? std::to_string(info.at_line) : "null") +
         ", \"profile\": " + json_quote(info.profile);
}

std::string bytes_json(const u64 b[4]) {
  return "{\"4K\": " + std::to_string(b[1]) + ", \"2M\": " + std::to_string(b[2]) + ", \"1G\": " +
         std::to_string(b[3]) + ", \"unmapped\": " + std::to_string(b[0]) + "}";
}

}  // namespace

std::string gpa_map_json(const MapPictureInfo& info, const std::vector<GpaMap>& maps) {
  std::string j = head(info) + ", \"vms\": [";
  for (std::size_t v = 0; v < maps.size(); ++v) {
    const GpaMap& m = maps[v];
    j += std::string(v ? ", " : "") + "{\"name\": " + json_quote(m.vm) + ", \"bytes\": " + bytes_json(m.bytes) +
         ", \"slots\": [";
    for (std::size_t i = 0; i < m.slots.size(); ++i) {
      const MapSlot& s = m.slots[i];
      j += std::string(i ? ", " : "") + "{\"as_id\": " + std::to_string(s.as_id) + ", \"id\": " +
           std::to_string(s.id) + ", \"gpa\": " + json_quote(hex(s.gpa)) + ", \"size\": " + json_quote(hex(s.size)) +
           ", \"hva\": " + json_quote(hex(s.hva)) + ", \"flags\": " + json_quote(model::memslot_flags_text(s.flags)) +
           ", \"backing\": " + json_quote(s.backing) + ", \"gpa_align\": " + json_quote(size_text(s.gpa_align)) +
           ", \"hva_align\": " + json_quote(size_text(s.hva_align)) +
           ", \"congruent_2m\": " + (s.congruent_2m ? "true" : "false") +
           ", \"congruent_1g\": " + (s.congruent_1g ? "true" : "false") + ", \"runs\": [";
      for (std::size_t k = 0; k < s.runs.size(); ++k) {
        const MapRun& r = s.runs[k];
        j += std::string(k ? ", " : "") + "{\"start\": " + json_quote(hex(r.start)) + ", \"end\": " +
             json_quote(hex(r.end)) + ", \"state\": " + json_quote(run_state_name(r.state)) + ", \"level\": " +
             (r.level ? json_quote(level_name(r.level)) : "null") + ", \"leaves\": " + std::to_string(r.leaves) +
             ", \"private\": " + (r.is_private ? "true" : "false") + ", \"zapped_line\": " +
             (r.zapped_line ? std::to_string(r.zapped_line) : "null") + ", \"rule\": " + json_quote(r.rule) +
             ", \"verdict\": " + json_quote(r.verdict) + "}";
      }
      j += "]}";
    }
    j += "]}";
  }
  return j + "]}\n";
}

std::string timeline_json(const MapPictureInfo& info, const std::vector<const VmHistory*>& vms) {
  std::string j = head(info) + ", \"vms\": [";
  for (std::size_t v = 0; v < vms.size(); ++v) {
    const VmHistory& h = *vms[v];
    j += std::string(v ? ", " : "") + "{\"name\": " + json_quote(h.name) + ", \"samples\": [";
    for (std::size_t i = 0; i < h.samples.size(); ++i) {
      const TimelineSample& s = h.samples[i];
      const model::MmuCounters& d = s.delta;
      j += std::string(i ? ",\n  " : "\n  ") + "{\"line\": " + std::to_string(s.line) + ", \"statement\": " +
           json_quote(s.statement) + ", \"bytes\": " + bytes_json(s.bytes) + ", \"events\": {\"leaves_zapped\": " +
           std::to_string(d.leaves_zapped) + ", \"eager_splits\": " + std::to_string(d.eager_splits) +
           ", \"huge_recovered\": " + std::to_string(d.huge_recovered) + ", \"collapsible_zapped\": " +
           std::to_string(d.collapsible_zapped) + ", \"nx_splits\": " + std::to_string(d.nx_splits) +
           ", \"nx_recovered\": " + std::to_string(d.nx_recovered) + "}, \"causes\": [";
      for (std::size_t c = 0; c < s.causes.size(); ++c) j += std::string(c ? ", " : "") + json_quote(s.causes[c]);
      j += "]}";
    }
    j += "]}";
  }
  return j + "]}\n";
}

}  // namespace kvmsim
