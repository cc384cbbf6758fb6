#include "dsp/iso_severity.h"

#include <gtest/gtest.h>

namespace pf::dsp {
namespace {

TEST(IsoSeverityTest, DefaultBoundariesOfIso10816_3) {
  auto b = DefaultZoneBoundaries(MachineGroup::kGroup2, Foundation::kRigid);
  EXPECT_EQ(b.ab, 1.4);
  EXPECT_EQ(b.bc, 2.8);
  EXPECT_EQ(b.cd, 4.5);
  b = DefaultZoneBoundaries(MachineGroup::kGroup2, Foundation::kFlexible);
  EXPECT_EQ(b.ab, 2.3);
  EXPECT_EQ(b.cd, 7.1);
  b = DefaultZoneBoundaries(MachineGroup::kGroup1, Foundation::kRigid);
  EXPECT_EQ(b.bc, 4.5);
  EXPECT_EQ(b.cd, 7.1);
  b = DefaultZoneBoundaries(MachineGroup::kGroup1, Foundation::kFlexible);
  EXPECT_EQ(b.ab, 3.5);
  EXPECT_EQ(b.cd, 11.0);
}

TEST(IsoSeverityTest, ClassifyEdgesGoUp) {
  const auto b = DefaultZoneBoundaries(MachineGroup::kGroup2, Foundation::kRigid);
  EXPECT_EQ(*ClassifySeverity(0.0, b), SeverityZone::kA);
  EXPECT_EQ(*ClassifySeverity(1.39, b), SeverityZone::kA);
  EXPECT_EQ(*ClassifySeverity(1.4, b), SeverityZone::kB);
  EXPECT_EQ(*ClassifySeverity(2.8, b), SeverityZone::kC);
  EXPECT_EQ(*ClassifySeverity(4.49, b), SeverityZone::kC);
  EXPECT_EQ(*ClassifySeverity(4.5, b), SeverityZone::kD);
  EXPECT_EQ(SeverityZoneName(SeverityZone::kD), "D");
  // Configurable boundaries.
  EXPECT_EQ(*ClassifySeverity(2.0, ZoneBoundaries{1, 1.5, 3}), SeverityZone::kC);
}

TEST(IsoSeverityTest, Errors) {
  const auto b = DefaultZoneBoundaries(MachineGroup::kGroup1, Foundation::kRigid);
  EXPECT_EQ(ClassifySeverity(-1, b).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ClassifySeverity(1, ZoneBoundaries{2, 1, 3}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMachineGroup("2"), MachineGroup::kGroup2);
  EXPECT_EQ(ParseFoundation("flexible"), Foundation::kFlexible);
  EXPECT_FALSE(ParseFoundation("soft").has_value());
}

}  // namespace
}  // namespace pf::dsp
