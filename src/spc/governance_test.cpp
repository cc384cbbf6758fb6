#include "spc/governance.h"

#include <gtest/gtest.h>

namespace pf::spc {
namespace {

const Timestamp kT0 = Timestamp::FromSeconds(1'764'000'000);

TEST(LimitRegistry, ProposalIsNotActiveUntilApproved) {
  LimitRegistry r;
  auto v1 = r.Propose("", {74.001, 0.0098, 5}, "baseline", "first 25 subgroups", "subgroups 1-25", kT0);
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(*v1, 1);
  EXPECT_EQ(r.Active(""), nullptr) << "a proposal is not active";
  ASSERT_TRUE(r.Approve(1, "eva", "capability study QS-17", kT0 + std::chrono::hours(1)).ok());
  ASSERT_NE(r.Active(""), nullptr);
  EXPECT_EQ(r.Active("")->version, 1);
  EXPECT_EQ(r.Active("")->decided_by, "eva");
  EXPECT_EQ(r.Active("P-100")->version, 1) << "a key without its own limits uses the general ones";

  // A recomputation: proposal 2; version 1 stays active until 2 is approved, then is superseded.
  ASSERT_EQ(*r.Propose("", {74.003, 0.0101, 5}, "eva", "new ring supplier", "subgroups 26-60", kT0), 2);
  EXPECT_EQ(r.Active("")->version, 1);
  ASSERT_TRUE(r.Approve(2, "eva", "supplier change approved", kT0).ok());
  EXPECT_EQ(r.Active("")->version, 2);
  EXPECT_EQ(r.Find(1)->status, LimitStatus::kSuperseded);

  // Keyed limits for one product.
  ASSERT_EQ(*r.Propose("P-200", {80.0, 0.02, 5}, "eva", "product P-200", "batch 7", kT0), 3);
  ASSERT_TRUE(r.Approve(3, "eva", "ok", kT0).ok());
  EXPECT_EQ(r.Active("P-200")->version, 3);
  EXPECT_EQ(r.Active("P-100")->version, 2);
  EXPECT_EQ(r.Find(2)->status, LimitStatus::kApproved) << "approving a keyed version leaves the general one";
}

TEST(LimitRegistry, ErrorsNameTheField) {
  LimitRegistry r;
  auto bad = r.Propose("", {1, 0, 1}, "eva", "x", "", kT0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "sigma: must be above 0 (got 0); constant data cannot give control limits");
  EXPECT_EQ(r.Propose("", {1, 1, 1}, "", "x", "", kT0).status().message(),
            "who: required: limits are approved by a named person");
  EXPECT_EQ(r.Propose("", {1, 1, 0}, "eva", "x", "", kT0).status().message(), "n: subgroup size must be at least 1 (got 0)");
  ASSERT_TRUE(r.Propose("", {1, 1, 1}, "eva", "x", "", kT0).ok());
  Status s = r.Approve(7, "eva", "ok", kT0);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "version 7 does not exist (versions 1 to 1)");
  EXPECT_EQ(r.Approve(1, "eva", "", kT0).message(), "why: required: say why the limits change");
  ASSERT_TRUE(r.Reject(1, "eva", "baseline had a tool change", kT0).ok());
  s = r.Approve(1, "eva", "ok", kT0);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "version 1 is rejected, only a proposed version can be approved");
}

TEST(LimitRegistry, JsonRoundTripKeepsEveryVersion) {
  LimitRegistry r;
  ASSERT_TRUE(r.Propose("", {10, 2, 1}, "a", "b", "c", kT0).ok());
  ASSERT_TRUE(r.Approve(1, "d", "e", kT0 + std::chrono::seconds(5)).ok());
  ASSERT_TRUE(r.Propose("X", {11, 3, 4}, "f", "g", "h", kT0).ok());
  auto back = LimitRegistry::FromJson(r.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->versions().size(), 2u);
  EXPECT_EQ(back->Active("")->values, (LimitValues{10, 2, 1}));
  EXPECT_EQ(back->Active("")->decided_at, kT0 + std::chrono::seconds(5));
  EXPECT_EQ(back->Find(2)->key, "X");
  EXPECT_EQ(back->Find(2)->status, LimitStatus::kProposed);
  EXPECT_FALSE(LimitRegistry::FromJson("{\"version\": 1, \"limits\": [{\"version\": 2}]}").ok());
  EXPECT_FALSE(LimitRegistry::FromJson("nope").ok());
}

}  // namespace
}  // namespace pf::spc
