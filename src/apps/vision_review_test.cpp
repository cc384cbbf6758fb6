// ReviewBook and Wilson intervals against hand-computed values.
#include "apps/vision_review.h"

#include <gtest/gtest.h>

namespace pf::apps {
namespace {

TEST(VisionReview, WilsonIntervalKnownValues) {
  // 8 of 10: Wilson 95 % [0.4902, 0.9433] (e.g. Newcombe 1998, method 3).
  const Interval w = WilsonInterval(8, 10);
  EXPECT_DOUBLE_EQ(w.estimate, 0.8);
  EXPECT_NEAR(w.low, 0.4902, 1e-4);
  EXPECT_NEAR(w.high, 0.9433, 1e-4);
  const Interval zero = WilsonInterval(0, 50);
  EXPECT_DOUBLE_EQ(zero.low, 0);
  EXPECT_NEAR(zero.high, 0.0713, 1e-4);
  const Interval none = WilsonInterval(0, 0);
  EXPECT_EQ(none.low, 0);
  EXPECT_EQ(none.high, 1);
}

TEST(VisionReview, AuditRateIsRespectedAndStable) {
  int selected = 0;
  for (uint64_t s = 1; s <= 100000; ++s) selected += AuditSelected(7, s, 0.01);
  EXPECT_NEAR(selected, 1000, 100);  // binomial sd ~31
  EXPECT_EQ(AuditSelected(7, 12345, 0.01), AuditSelected(7, 12345, 0.01));
  EXPECT_FALSE(AuditSelected(7, 5, 0.0));
  EXPECT_TRUE(AuditSelected(7, 5, 1.0));
}

TEST(VisionReview, PrecisionEscapesAndRecall) {
  ReviewBook book({"ok"});
  uint32_t seq = 0;
  // 100 rejects, 20 reviewed: 18 confirmed. 1000 accepts, 50 audited and reviewed: 1 escape.
  for (int k = 0; k < 100; ++k) book.AddInspection(++seq, "r", "reject", "crack");
  for (uint32_t s = 1; s <= 20; ++s) ASSERT_TRUE(book.AddVerdict(s, s > 2, "").ok());
  for (int k = 0; k < 1000; ++k) book.AddInspection(++seq, "a", "accept", "ok", k < 50);
  for (uint32_t s = 101; s <= 150; ++s) ASSERT_TRUE(book.AddVerdict(s, s != 101, s == 101 ? "crack" : "").ok());
  book.AddInspection(++seq, "u", "uncertain", "crack");
  EXPECT_EQ(book.AddVerdict(seq, true, "").status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(book.AddVerdict(seq, false, "ok").ok());
  EXPECT_EQ(book.AddVerdict(seq, false, "ok").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(book.AddVerdict(9999, true, "").status().code(), StatusCode::kNotFound);
  const auto s = book.ComputeStats();
  EXPECT_EQ(s.inspected, 1101);
  EXPECT_EQ(s.reviewed_rejects, 20);
  EXPECT_EQ(s.confirmed_rejects, 18);
  EXPECT_DOUBLE_EQ(s.precision.estimate, 0.9);
  EXPECT_EQ(s.reviewed_audits, 50);
  EXPECT_EQ(s.escapes_found, 1);
  EXPECT_DOUBLE_EQ(s.escape_rate.estimate, 0.02);
  EXPECT_DOUBLE_EQ(s.estimated_escapes.estimate, 20);
  // recall = 100*0.9 / (100*0.9 + 1000*0.02) = 90 / 110.
  EXPECT_NEAR(s.recall.estimate, 90.0 / 110.0, 1e-12);
  EXPECT_LT(s.recall.low, s.recall.estimate);
  EXPECT_GT(s.recall.high, s.recall.estimate);
  EXPECT_EQ(s.reviewed_uncertain, 1);
  EXPECT_EQ(s.uncertain_defective, 0);
  // The queue: rejects 21..100 unreviewed, newest first; no reviewed or unaudited accept in it.
  const auto q = book.Queue(5);
  ASSERT_EQ(q.size(), 5u);
  EXPECT_EQ(q[0].sequence, 100u);
}

TEST(VisionReview, MemoryStaysBoundedOnALongRun) {
  ReviewBook book({"ok"}, 100);
  uint32_t seq = 0;
  for (int k = 0; k < 100000; ++k) book.AddInspection(++seq, "a", "accept", "ok", false);  // counted only
  for (int k = 0; k < 250; ++k) book.AddInspection(++seq, "r", "reject", "crack");
  EXPECT_EQ(book.Queue(1000).size(), 100u);  // the newest 100 open ones
  EXPECT_EQ(book.AddVerdict(100001, true, "").status().code(), StatusCode::kNotFound);  // expired
  ASSERT_TRUE(book.AddVerdict(seq, true, "").ok());
  const auto s = book.ComputeStats();
  EXPECT_EQ(s.inspected, 100250);
  EXPECT_EQ(s.accept, 100000);
  EXPECT_EQ(s.expired, 150);
  EXPECT_EQ(s.reviewed_rejects, 1);
}

}  // namespace
}  // namespace pf::apps
