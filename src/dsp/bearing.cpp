#include "dsp/bearing.h"

#include <array>
#include <charconv>
#include <cmath>
#include <numbers>
#include <vector>

namespace pf::dsp {
namespace {

// Dimensions are as published by each source (inch or mm; only d/D matters).
constexpr std::array<CatalogueBearing, 3> kCatalogue{{
    {"6205", {9, 0.3126, 1.537, 0},
     "SKF 6205-2RS JEM, drive end of the CWRU bearing rig (CWRU Bearing Data Center, bearing information; "
     "../shared/data/cwru_bearing/SOURCE.md), inch"},
    {"6203", {8, 0.2656, 1.122, 0},
     "SKF 6203-2RS JEM, fan end of the CWRU bearing rig (CWRU Bearing Data Center, bearing information), inch"},
    {"ZA-2115", {16, 0.331, 2.815, 15.17},
     "Rexnord ZA-2115 double-row bearing of the IMS/NASA run-to-failure data (Qiu, Lee, Lin, Yu 2006, "
     "J. Sound Vib. 289:1066-1090; BPFO 236.4 Hz at 2000 rpm), inch"},
}};

Result<double> ParseNumber(std::string_view s, std::string_view field) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) {
    return InvalidArgument("bearing geometry: {}: not a number '{}'", field, s);
  }
  return v;
}

}  // namespace

Status ValidateGeometry(const BearingGeometry& g) {
  if (g.elements < 3) return InvalidArgument("bearing geometry: elements {} must be >= 3", g.elements);
  if (!(g.element_diameter > 0) || !std::isfinite(g.element_diameter)) {
    return InvalidArgument("bearing geometry: element diameter {} must be > 0", g.element_diameter);
  }
  if (!(g.pitch_diameter > g.element_diameter) || !std::isfinite(g.pitch_diameter)) {
    return InvalidArgument("bearing geometry: pitch diameter {} must be > element diameter {}", g.pitch_diameter,
                           g.element_diameter);
  }
  if (!(g.contact_angle_deg >= 0 && g.contact_angle_deg < 90)) {
    return InvalidArgument("bearing geometry: contact angle {} deg must be in [0, 90)", g.contact_angle_deg);
  }
  return Status::Ok();
}

Result<DefectFrequencies> DefectMultiples(const BearingGeometry& g) {
  PF_RETURN_IF_ERROR(ValidateGeometry(g));
  const double ratio = g.element_diameter / g.pitch_diameter;
  const double r = ratio * std::cos(g.contact_angle_deg * std::numbers::pi / 180.0);
  DefectFrequencies f;
  f.ftf = 0.5 * (1 - r);
  f.bpfo = g.elements * 0.5 * (1 - r);
  f.bpfi = g.elements * 0.5 * (1 + r);
  f.bsf = 0.5 / ratio * (1 - r * r);
  return f;
}

std::span<const CatalogueBearing> BearingCatalogue() { return kCatalogue; }

Result<BearingGeometry> LookupBearing(std::string_view name) {
  std::string known;
  for (const auto& b : kCatalogue) {
    if (b.name == name) return b.geometry;
    known += known.empty() ? "" : ", ";
    known += b.name;
  }
  return NotFound("bearing '{}' is not in the catalogue (known: {})", name, known);
}

Result<BearingGeometry> ParseGeometry(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ',') {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.size() != 4) {
    return InvalidArgument("bearing geometry '{}': expected 4 comma-separated fields n,d,D,angle, got {}", text,
                           parts.size());
  }
  PF_ASSIGN_OR_RETURN(double n, ParseNumber(parts[0], "n (elements)"));
  if (n != std::floor(n)) return InvalidArgument("bearing geometry: n (elements): not an integer '{}'", parts[0]);
  BearingGeometry g;
  g.elements = static_cast<int>(n);
  PF_ASSIGN_OR_RETURN(g.element_diameter, ParseNumber(parts[1], "d (element diameter)"));
  PF_ASSIGN_OR_RETURN(g.pitch_diameter, ParseNumber(parts[2], "D (pitch diameter)"));
  PF_ASSIGN_OR_RETURN(g.contact_angle_deg, ParseNumber(parts[3], "angle (contact angle, deg)"));
  PF_RETURN_IF_ERROR(ValidateGeometry(g));
  return g;
}

}  // namespace pf::dsp
