// VisionInspector on a model whose answer is known (apps/vision_test_model.h, 4x4 input): white parts
// are good, black parts dark, mid-gray undecided.
#include "apps/vision_inspector.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "apps/vision_test_model.h"
#include "engine/model.h"

namespace pf::apps {
namespace {

std::string BrightnessModel(const std::string& last = "Softmax", const std::string& extra = "") {
  return testing::BrightnessModel(4, last, extra);
}

std::unique_ptr<VisionInspector> Make(VisionOptions o, const std::string& model_bytes = BrightnessModel()) {
  auto m = engine::OnnxModel::Load(model_bytes, "brightness.onnx", {});
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (o.good_classes.empty()) o.good_classes = {"good"};
  auto v = VisionInspector::Create(std::move(*m), o);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? std::move(*v) : nullptr;
}

images::Image Flat(int w, int h, uint8_t value, int channels = 1) {
  images::Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.data.assign(static_cast<size_t>(w) * h * channels, value);
  return img;
}

std::string Pgm(int w, int h, uint8_t value) { return testing::FlatPgm(w, h, value); }

TEST(VisionInspector, BilinearDownscaleAveragesPairsAndNormalizes) {
  auto v = Make({}, BrightnessModel("Softmax", R"(, "normalization": {"mean": [0.5], "std": [0.25], "axis": 1})"));
  ASSERT_TRUE(v);
  images::Image img = Flat(8, 8, 0);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) img.data[y * 8 + x] = static_cast<uint8_t>(10 * x + 3 * y);
  auto t = v->Preprocess(img, {});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->shape, (engine::Shape{1, 1, 4, 4}));
  for (int oy = 0; oy < 4; ++oy) {
    for (int ox = 0; ox < 4; ++ox) {
      // Half-pixel centres at scale 2: the mean of source pixels 2o and 2o + 1 on each axis.
      const double mean = (10 * (2 * ox + 0.5) + 3 * (2 * oy + 0.5)) / 255.0;
      EXPECT_NEAR(t->f[oy * 4 + ox], (mean - 0.5) / 0.25, 1e-5) << ox << "," << oy;
    }
  }
  // A 4x4 ROI at (2, 4) of the same size is copied exactly; RGB becomes BT.601 gray.
  auto roi = v->Preprocess(img, {2, 4, 4, 4});
  ASSERT_TRUE(roi.ok());
  EXPECT_NEAR(roi->f[0], ((10 * 2 + 3 * 4) / 255.0 - 0.5) / 0.25, 1e-5);
  images::Image rgb = Flat(4, 4, 0, 3);
  for (size_t k = 0; k < rgb.data.size(); k += 3) {
    rgb.data[k] = 200;
    rgb.data[k + 1] = 100;
    rgb.data[k + 2] = 50;
  }
  auto g = v->Preprocess(rgb, {});
  ASSERT_TRUE(g.ok());
  EXPECT_NEAR(g->f[5], ((0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255.0 - 0.5) / 0.25, 1e-4);
  // 16-bit samples scale by 65535.
  images::Image deep = Flat(4, 4, 0);
  deep.bit_depth = 16;
  deep.data.assign(32, 0);
  const uint16_t half = 32768;
  for (int k = 0; k < 16; ++k) std::memcpy(&deep.data[2 * k], &half, 2);
  auto d = v->Preprocess(deep, {});
  ASSERT_TRUE(d.ok());
  EXPECT_NEAR(d->f[0], (32768.0 / 65535.0 - 0.5) / 0.25, 1e-5);
}

TEST(VisionInspector, VerdictBands) {
  auto v = Make({});
  ASSERT_TRUE(v);
  Inspection white = v->InspectImage(Flat(4, 4, 255));
  EXPECT_EQ(white.verdict, Verdict::kAccept) << white.reason;
  ASSERT_EQ(white.rois.size(), 1u);
  EXPECT_EQ(white.rois[0].class_name, "good");
  Inspection black = v->InspectImage(Flat(4, 4, 0));
  EXPECT_EQ(black.verdict, Verdict::kReject);
  EXPECT_NE(black.reason.find("dark"), std::string::npos) << black.reason;
  Inspection gray = v->InspectImage(Flat(4, 4, 128));  // m = 0.502: p(good) = 0.51
  EXPECT_EQ(gray.verdict, Verdict::kUncertain);
  EXPECT_EQ(gray.reason, "below the confidence threshold");
  EXPECT_GT(gray.times.total_ms, 0);
  // Two ROIs: a dark one rejects the part; both bright accept it.
  VisionOptions o;
  o.rois = {{0, 0, 4, 4}, {4, 0, 4, 4}};
  auto two = Make(o);
  images::Image half = Flat(8, 4, 255);
  for (int y = 0; y < 4; ++y)
    for (int x = 4; x < 8; ++x) half.data[y * 8 + x] = 0;
  Inspection r = two->InspectImage(half);
  EXPECT_EQ(r.verdict, Verdict::kReject);
  ASSERT_EQ(r.rois.size(), 2u);
  EXPECT_EQ(r.rois[0].verdict, Verdict::kAccept);
  EXPECT_EQ(r.rois[1].verdict, Verdict::kReject);
  EXPECT_EQ(two->InspectImage(Flat(8, 4, 255)).verdict, Verdict::kAccept);
  // The overlay draws the first ROI green and the second red.
  images::Image ov = Overlay(half, r);
  EXPECT_EQ(ov.channels, 3);
  EXPECT_EQ(ov.data[0], 0);    // (0, 0): green box edge
  EXPECT_EQ(ov.data[1], 200);
  EXPECT_EQ(ov.data[4 * 3], 230);  // (4, 0): red
}

TEST(VisionInspector, FailSafeNeverAccepts) {
  auto v = Make({});
  ASSERT_TRUE(v);
  // Decode error: a truncated image and a zero-byte file.
  std::string pgm = Pgm(4, 4, 255);
  Inspection cut = v->Inspect(pgm.substr(0, pgm.size() - 3), "part-1.pgm");
  EXPECT_EQ(cut.verdict, Verdict::kUncertain);
  EXPECT_NE(cut.reason.find("decode error"), std::string::npos) << cut.reason;
  EXPECT_NE(cut.reason.find("part-1.pgm"), std::string::npos) << cut.reason;
  EXPECT_EQ(v->Inspect("", "empty.png").verdict, Verdict::kUncertain);
  EXPECT_EQ(v->Inspect(pgm, "ok.pgm").verdict, Verdict::kAccept);
  // Deadline miss: a good part judged too late.
  VisionOptions late;
  late.deadline_ms = 1e-6;
  auto vl = Make(late);
  Inspection l = vl->Inspect(pgm, "late.pgm");
  EXPECT_EQ(l.verdict, Verdict::kUncertain);
  EXPECT_NE(l.reason.find("deadline miss"), std::string::npos) << l.reason;
  // Model error: non-finite outputs.
  auto vn = Make({}, BrightnessModel("DivByZero"));
  Inspection n = vn->InspectImage(Flat(4, 4, 0));
  EXPECT_EQ(n.verdict, Verdict::kUncertain);
  EXPECT_NE(n.reason.find("model error"), std::string::npos) << n.reason;
  // 16-bit where 8 is expected; an ROI outside the image.
  VisionOptions eight;
  eight.expect_bit_depth = 8;
  auto v8 = Make(eight);
  std::string p16 = "P5\n4 4\n65535\n" + std::string(32, '\xff');
  Inspection deep = v8->Inspect(p16, "deep.pgm");
  EXPECT_EQ(deep.verdict, Verdict::kUncertain);
  EXPECT_NE(deep.reason.find("16-bit image where 8-bit is expected"), std::string::npos) << deep.reason;
  VisionOptions far;
  far.rois = {{2, 2, 4, 4}};
  Inspection outside = Make(far)->InspectImage(Flat(4, 4, 255));
  EXPECT_EQ(outside.verdict, Verdict::kUncertain);
  EXPECT_NE(outside.reason.find("outside"), std::string::npos) << outside.reason;
}

TEST(VisionInspector, BadConfigurationIsRefused) {
  auto m = engine::OnnxModel::Load(BrightnessModel(), "brightness.onnx", {});
  VisionOptions o;
  o.good_classes = {"shiny"};
  auto r = VisionInspector::Create(std::move(*m), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("shiny"), std::string::npos);
  auto m2 = engine::OnnxModel::Load(BrightnessModel(), "brightness.onnx", {});
  o.good_classes = {"good"};
  o.accept_threshold = 1.5;
  EXPECT_FALSE(VisionInspector::Create(std::move(*m2), o).ok());
}

}  // namespace
}  // namespace pf::apps
