#include "dsp/iso_severity.h"

#include <cmath>

namespace pf::dsp {

std::string_view SeverityZoneName(SeverityZone z) {
  switch (z) {
    case SeverityZone::kA: return "A";
    case SeverityZone::kB: return "B";
    case SeverityZone::kC: return "C";
    case SeverityZone::kD: return "D";
  }
  return "?";
}

std::optional<MachineGroup> ParseMachineGroup(std::string_view s) {
  if (s == "1" || s == "group1") return MachineGroup::kGroup1;
  if (s == "2" || s == "group2") return MachineGroup::kGroup2;
  return std::nullopt;
}

std::optional<Foundation> ParseFoundation(std::string_view s) {
  if (s == "rigid") return Foundation::kRigid;
  if (s == "flexible") return Foundation::kFlexible;
  return std::nullopt;
}

ZoneBoundaries DefaultZoneBoundaries(MachineGroup group, Foundation foundation) {
  const bool rigid = foundation == Foundation::kRigid;
  if (group == MachineGroup::kGroup1) return rigid ? ZoneBoundaries{2.3, 4.5, 7.1} : ZoneBoundaries{3.5, 7.1, 11.0};
  return rigid ? ZoneBoundaries{1.4, 2.8, 4.5} : ZoneBoundaries{2.3, 4.5, 7.1};
}

Status ValidateZoneBoundaries(const ZoneBoundaries& b) {
  if (!(std::isfinite(b.ab) && std::isfinite(b.bc) && std::isfinite(b.cd) && b.ab > 0 && b.ab < b.bc &&
        b.bc < b.cd)) {
    return InvalidArgument("severity zones: boundaries A/B {} B/C {} C/D {} mm/s must satisfy 0 < A/B < B/C < C/D",
                           b.ab, b.bc, b.cd);
  }
  return Status::Ok();
}

Result<SeverityZone> ClassifySeverity(double v, const ZoneBoundaries& b) {
  PF_RETURN_IF_ERROR(ValidateZoneBoundaries(b));
  if (!std::isfinite(v) || v < 0) return InvalidArgument("severity zones: velocity {} mm/s must be finite and >= 0", v);
  if (v < b.ab) return SeverityZone::kA;
  if (v < b.bc) return SeverityZone::kB;
  if (v < b.cd) return SeverityZone::kC;
  return SeverityZone::kD;
}

}  // namespace pf::dsp
