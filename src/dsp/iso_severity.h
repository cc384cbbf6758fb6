#pragma once
// Vibration severity zones of ISO 10816-3:2009 (Annex A, Tables A.1 and A.2), carried over
// unchanged into ISO 20816-3:2022 for these machine groups: broadband velocity RMS in mm/s,
// 10-1000 Hz (machines above 600 r/min), measured on the bearing housings.
//   Zone A: newly commissioned machines.  B: unrestricted long-term operation.
//   C: not for long-term operation, plan a remedy.  D: severe enough to cause damage.
// Default A/B, B/C, C/D boundaries in mm/s RMS:
//   group 1 (large machines, rated power above 300 kW):   rigid 2.3 / 4.5 / 7.1, flexible 3.5 / 7.1 / 11.0
//   group 2 (medium machines, 15 kW to 300 kW):           rigid 1.4 / 2.8 / 4.5, flexible 2.3 / 4.5 / 7.1
// The standard says the boundaries are guidance and may be changed by agreement (for a
// specific machine), so they are configurable: pass ZoneBoundaries to override.
#include <optional>
#include <string_view>

#include "core/status.h"

namespace pf::dsp {

enum class MachineGroup { kGroup1, kGroup2 };       // 1: > 300 kW; 2: 15-300 kW
enum class Foundation { kRigid, kFlexible };
enum class SeverityZone { kA, kB, kC, kD };

std::string_view SeverityZoneName(SeverityZone z);  // "A" .. "D"
std::optional<MachineGroup> ParseMachineGroup(std::string_view s);  // "1", "2", "group1", "group2"
std::optional<Foundation> ParseFoundation(std::string_view s);      // "rigid", "flexible"

struct ZoneBoundaries {
  double ab = 0, bc = 0, cd = 0;  // mm/s RMS, 0 < ab < bc < cd
};

ZoneBoundaries DefaultZoneBoundaries(MachineGroup group, Foundation foundation);
// kInvalidArgument unless 0 < ab < bc < cd (all finite).
Status ValidateZoneBoundaries(const ZoneBoundaries& b);
// A below ab, B below bc, C below cd, D at or above cd (a value on a boundary is in the upper zone).
// kInvalidArgument for a negative or non-finite velocity.
Result<SeverityZone> ClassifySeverity(double velocity_rms_mm_s, const ZoneBoundaries& b);

}  // namespace pf::dsp
