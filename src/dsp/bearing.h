#pragma once
// Rolling-element bearing defect frequencies from geometry (the kinematic formulas, outer race
// stationary, no slip; e.g. Randall & Antoni 2011, "Rolling element bearing diagnostics - a
// tutorial", MSSP 25(2)), with r = (d / D) cos(contact angle):
//   FTF  (cage)            = fr/2 (1 - r)
//   BPFO (outer race)      = n fr/2 (1 - r)
//   BPFI (inner race)      = n fr/2 (1 + r)
//   BSF  (ball spin)       = D/(2d) fr (1 - r^2)     (a ball defect strikes both races: 2 x BSF)
// d and D only need the same unit. Real bearings slip 1-2 %: search with a speed tolerance.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace pf::dsp {

struct BearingGeometry {
  int elements = 0;             // number of balls / rollers n
  double element_diameter = 0;  // d
  double pitch_diameter = 0;    // D, same unit as d, D > d
  double contact_angle_deg = 0;
};

// Fault frequencies as multiples of the shaft frequency (x fr), or in Hz once multiplied by fr.
struct DefectFrequencies {
  double bpfo = 0, bpfi = 0, bsf = 0, ftf = 0;
  DefectFrequencies Scaled(double shaft_hz) const { return {bpfo * shaft_hz, bpfi * shaft_hz, bsf * shaft_hz, ftf * shaft_hz}; }
};

// kInvalidArgument (naming the field) unless elements >= 3, 0 < d < D, 0 <= angle < 90.
Status ValidateGeometry(const BearingGeometry& g);
// Per shaft revolution (multiples of fr).
Result<DefectFrequencies> DefectMultiples(const BearingGeometry& g);

struct CatalogueBearing {
  std::string_view name;
  BearingGeometry geometry;
  std::string_view source;
};
// The built-in catalogue (see bearing.cpp for the source of every entry).
std::span<const CatalogueBearing> BearingCatalogue();
// By name ("6205", case-sensitive); kNotFound lists the known names.
Result<BearingGeometry> LookupBearing(std::string_view name);
// "n,d,D,angle" as in the CLI's --geometry; each error names the field.
Result<BearingGeometry> ParseGeometry(std::string_view text);

}  // namespace pf::dsp
