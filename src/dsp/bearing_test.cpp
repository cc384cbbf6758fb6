#include "dsp/bearing.h"

#include <gtest/gtest.h>

namespace pf::dsp {
namespace {

TEST(BearingTest, Cwru6205Multiples) {
  // CWRU's published multiples of shaft speed for the drive-end 6205 (SOURCE.md).
  auto g = LookupBearing("6205");
  ASSERT_TRUE(g.ok());
  auto f = DefectMultiples(*g);
  ASSERT_TRUE(f.ok());
  EXPECT_NEAR(f->bpfo, 3.5848, 1e-4);
  EXPECT_NEAR(f->bpfi, 5.4152, 1e-4);
  EXPECT_NEAR(f->bsf, 2.357, 5e-4);
  EXPECT_NEAR(f->ftf, 0.39828, 5e-5);  // CWRU rounds its table
  // At 1797 rpm: BPFI 162.2 Hz, BPFO 107.4 Hz, BSF 70.6 Hz, FTF 11.9 Hz.
  const auto hz = f->Scaled(1797 / 60.0);
  EXPECT_NEAR(hz.bpfi, 162.2, 0.05);
  EXPECT_NEAR(hz.bpfo, 107.4, 0.05);
  EXPECT_NEAR(hz.bsf, 70.6, 0.05);
  EXPECT_NEAR(hz.ftf, 11.9, 0.05);
}

TEST(BearingTest, Cwru6203Multiples) {
  auto f = DefectMultiples(*LookupBearing("6203"));
  EXPECT_NEAR(f->bpfi, 4.9469, 1e-4);
  EXPECT_NEAR(f->bpfo, 3.0530, 2e-4);
  EXPECT_NEAR(f->ftf, 0.3817, 1e-4);
  EXPECT_NEAR(2 * f->bsf, 3.9874, 1e-3);
}

TEST(BearingTest, ContactAngleAndIdentities) {
  // BPFO + BPFI = n, and FTF = BPFO / n, for any geometry.
  auto g = LookupBearing("ZA-2115");
  ASSERT_TRUE(g.ok());
  auto f = DefectMultiples(*g);
  EXPECT_NEAR(f->bpfo + f->bpfi, 16, 1e-12);
  EXPECT_NEAR(f->ftf * 16, f->bpfo, 1e-12);
  // Qiu et al. 2006: BPFO 236.4 Hz at 2000 rpm.
  EXPECT_NEAR(f->bpfo * 2000 / 60, 236.4, 0.3);
  for (const auto& b : BearingCatalogue()) EXPECT_TRUE(ValidateGeometry(b.geometry).ok()) << b.name;
}

TEST(BearingTest, ParseAndErrors) {
  auto g = ParseGeometry("9, 0.3126, 1.537, 0");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->elements, 9);
  EXPECT_EQ(ParseGeometry("9,0.3,x,0").status().message(), "bearing geometry: D (pitch diameter): not a number 'x'");
  EXPECT_EQ(ParseGeometry("9,0.3,1.5").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseGeometry("9,2,1.5,0").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseGeometry("9.5,0.3,1.5,0").status().code(), StatusCode::kInvalidArgument);
  auto missing = LookupBearing("6309");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("6205"), std::string::npos);
}

}  // namespace
}  // namespace pf::dsp
