// ModelApp: a model on live tags. An ONNX model built here (probs = Softmax(x W + b), x [1, 4])
// with a manifest (class names, normalization) is fed from 2 tags x window 2; the outputs are
// checked against the formula computed in the test, and the cases where it must not run (window
// not full, a bad sample, a stale tag) and a deadline miss (uncertain quality, counted).
#include "apps/model_app.h"

#include <gtest/gtest.h>

#include <cmath>

#include "press_state_model.h"

namespace pf::apps {
namespace {

using namespace pf::testing::press_state;

std::unique_ptr<ModelApp> Make(ModelAppConfig c) {
  auto model = engine::OnnxModel::Load(ModelBytes(), "press_state.onnx", {});
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  auto app = ModelApp::Create(std::move(c), std::move(model).value());
  EXPECT_TRUE(app.ok()) << app.status().ToString();
  return std::move(app).value();
}

ModelAppConfig Config() {
  ModelAppConfig c;
  c.name = "press1.state";
  c.inputs = {{"x", {"press.p1", "press.t1"}, 2}};
  c.cycle_s = 1;
  return c;
}

Timestamp T(double s) { return Timestamp::FromSeconds(s); }

TEST(ModelApp, OutputsFollowTheModelOnTagWindows) {
  auto app = Make(Config());
  ASSERT_EQ(app->InputTags(), (std::vector<std::string>{"press.p1", "press.t1"}));
  ASSERT_EQ(app->OutputNames(),
            (std::vector<std::string>{"press1.state.probs.idle", "press1.state.probs.run", "press1.state.probs.fault"}));
  // Window not full yet: no inference, bad quality, the reason names the tag.
  app->OnSample(0, 1.2, Quality::kGood, T(1));
  app->OnSample(1, 11, Quality::kGood, T(1));
  ModelStep s = app->Step(T(1.5));
  EXPECT_FALSE(s.ran);
  EXPECT_EQ(s.quality, Quality::kBad);
  EXPECT_EQ(s.reason, "tag 'press.p1': 1 of 2 samples");
  EXPECT_TRUE(std::isnan(s.values[0]));
  app->OnSample(0, 0.7, Quality::kGood, T(2));
  app->OnSample(1, 24, Quality::kGood, T(2));
  s = app->Step(T(2.5));
  ASSERT_TRUE(s.ran) << s.reason;
  EXPECT_EQ(s.quality, Quality::kGood);
  // Channel-major: p1 (oldest, newest), t1 (oldest, newest).
  std::vector<double> want = Expected({1.2, 0.7, 11, 24});
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(s.values[c], want[c], 1e-5) << c;
  // The window slides: the oldest sample of each tag drops out.
  app->OnSample(0, 1.5, Quality::kGood, T(3));
  app->OnSample(1, 18, Quality::kGood, T(3));
  s = app->Step(T(3.5));
  ASSERT_TRUE(s.ran);
  want = Expected({0.7, 1.5, 24, 18});
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(s.values[c], want[c], 1e-5) << c;
  EXPECT_EQ(app->runs(), 2u);
  EXPECT_EQ(app->skipped(), 1u);
}

TEST(ModelApp, NoInferenceOnBadOrStaleInputs) {
  auto app = Make(Config());
  for (double t : {1.0, 2.0}) {
    app->OnSample(0, 1, Quality::kGood, T(t));
    app->OnSample(1, 10, t == 2.0 ? Quality::kBad : Quality::kGood, T(t));
  }
  ModelStep s = app->Step(T(2.5));
  EXPECT_FALSE(s.ran);
  EXPECT_EQ(s.reason, "tag 'press.t1': a bad sample in the window");
  // A NaN counts as bad.
  for (double t : {3.0, 4.0}) {
    app->OnSample(0, 1, Quality::kGood, T(t));
    app->OnSample(1, t == 4.0 ? std::nan("") : 10.0, Quality::kGood, T(t));
  }
  EXPECT_EQ(app->Step(T(4.5)).reason, "tag 'press.t1': a bad sample in the window");
  // Good again, but p1 stops updating: older than 2 cycles -> stale.
  for (double t : {5.0, 6.0}) {
    app->OnSample(0, 1, Quality::kGood, T(t));
    app->OnSample(1, 10, Quality::kGood, T(t));
  }
  EXPECT_TRUE(app->Step(T(6.5)).ran);
  app->OnSample(1, 10, Quality::kGood, T(9));
  s = app->Step(T(9.5));
  EXPECT_FALSE(s.ran);
  EXPECT_EQ(s.reason, "tag 'press.p1': newest sample 3.5 s old (max_input_age 2 s)");
  EXPECT_EQ(app->skipped(), 3u);
  EXPECT_EQ(app->runs(), 1u);
  // After a gap longer than max_input_age the older samples are not this window's: it refills.
  app->OnSample(0, 1, Quality::kGood, T(20));
  app->OnSample(1, 10, Quality::kGood, T(20));
  EXPECT_EQ(app->Step(T(20.5)).reason, "tag 'press.p1': 1 of 2 samples");
  app->OnSample(0, 1, Quality::kGood, T(21));
  app->OnSample(1, 10, Quality::kGood, T(21));
  EXPECT_TRUE(app->Step(T(21.5)).ran);
  // A clock that steps back by more than max_input_age restarts the window too.
  app->OnSample(0, 1, Quality::kGood, T(5));
  app->OnSample(1, 10, Quality::kGood, T(5));
  EXPECT_EQ(app->Step(T(5.5)).reason, "tag 'press.p1': 1 of 2 samples");
}

TEST(ModelApp, DeadlineMissGivesUncertainAndIsCounted) {
  ModelAppConfig c = Config();
  c.deadline_s = 1e-9;
  auto app = Make(c);
  for (double t : {1.0, 2.0}) {
    app->OnSample(0, 1, Quality::kGood, T(t));
    app->OnSample(1, 10, Quality::kGood, T(t));
  }
  ModelStep s = app->Step(T(2.2));
  ASSERT_TRUE(s.ran);
  EXPECT_TRUE(s.late);
  EXPECT_EQ(s.quality, Quality::kUncertain);
  EXPECT_FALSE(std::isnan(s.values[1]));
  EXPECT_EQ(app->late_runs(), 1u);
}

TEST(ModelApp, BindingsThatDoNotFitTheModelAreRefused) {
  auto model = [] { return std::move(engine::OnnxModel::Load(ModelBytes(), "m.onnx", {})).value(); };
  ModelAppConfig c = Config();
  c.inputs[0].window = 3;
  auto a = ModelApp::Create(c, model());
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(),
            "model app 'press1.state': input 'x' has shape [1,4] (4 elements) but 2 tags x window 3 give 6");
  c = Config();
  c.inputs[0].input = "y";
  a = ModelApp::Create(c, model());
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(), "model app 'press1.state': model input 'x' is not bound to tags");
  c = Config();
  c.cycle_s = 0;
  a = ModelApp::Create(c, model());
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("cycle: must be above 0 s"), std::string::npos) << a.status().message();
}

}  // namespace
}  // namespace pf::apps
