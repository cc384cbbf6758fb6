// `plantfloor inspect` through RunInspect with a brightness model built in memory (bright = "good",
// dark = "dark"): the JSON fields, a labelled set's accuracy and confusion matrix, the overlay file,
// and bad images (zero bytes, truncated, not an image, 16-bit where 8 is expected) judged "uncertain"
// with a reason while the run goes on (exit 0); a missing model exits 2.
#include "cli/inspect_cmd.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <fmt/format.h>

#include "apps/vision_test_model.h"
#include "testing.h"

namespace pf {
namespace {

std::string BrightnessModel() { return apps::testing::BrightnessModel(8); }

struct Outcome {
  int code;
  std::string out, err;
};

class InspectCmd : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = Write("b.onnx", BrightnessModel());
  }
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::string Pgm(const std::string& name, int w, int h, uint8_t v) {
    return Write(name, apps::testing::FlatPgm(w, h, v));
  }
  Outcome Run(InspectArgs a) {
    std::ostringstream out, err;
    const int code = RunInspect(a, out, err);
    return {code, out.str(), err.str()};
  }
  InspectArgs Args() {
    InspectArgs a;
    a.model = model_;
    a.good = {"good"};
    a.json = true;
    return a;
  }
  pf::testing::TempDir dir_;
  std::string model_;
};

TEST_F(InspectCmd, OneImageJsonAndOverlay) {
  InspectArgs a = Args();
  a.images = {Pgm("good_7.pgm", 16, 16, 250)};
  a.overlay = dir_.path() + "/overlay.png";
  Outcome o = Run(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["verdict"], "accept");
  EXPECT_EQ(j["class"], "good");
  EXPECT_EQ(j["part_id"], "good_7");
  EXPECT_GT(j["confidence"].get<double>(), 0.9);
  EXPECT_EQ(j["image_info"]["format"], "pnm");
  for (const char* k : {"acquire", "decode", "preprocess", "infer", "total"}) EXPECT_TRUE(j["times_ms"].contains(k)) << k;
  std::ifstream png(a.overlay, std::ios::binary);
  std::string head(8, '\0');
  png.read(head.data(), 8);
  EXPECT_EQ(head, "\x89PNG\r\n\x1a\n");
}

TEST_F(InspectCmd, LabelledSetWithBadImagesKeepsGoing) {
  InspectArgs a = Args();
  a.images = {Pgm("good_1.pgm", 8, 8, 255), Pgm("good_2.pgm", 8, 8, 240), Pgm("dark_1.pgm", 8, 8, 5),
              Pgm("dark_2.pgm", 8, 8, 200),  // a dark part the model calls good
              Write("zero.png", ""), Write("text.jpg", "part,value\n1,2\n"),
              Write("cut.pgm", "P5\n8 8\n255\n\x01\x02"), Write("deep.pgm", "P5\n8 8\n65535\n" + std::string(128, '\x7f'))};
  a.expect_bits = 8;
  Outcome o = Run(a);
  ASSERT_EQ(o.code, 0) << o.err;
  auto j = nlohmann::json::parse(o.out);
  const auto& s = j["summary"];
  EXPECT_EQ(s["images"], 8);
  EXPECT_EQ(s["labelled"], 4);
  EXPECT_DOUBLE_EQ(s["accuracy"].get<double>(), 0.75);
  EXPECT_EQ(s["confusion"], (nlohmann::json{{2, 0}, {1, 1}}));
  EXPECT_EQ(s["verdicts"]["uncertain"], 4);
  const auto& ins = j["inspections"];
  EXPECT_NE(ins[4]["reason"].get<std::string>().find("empty"), std::string::npos) << ins[4]["reason"];
  EXPECT_NE(ins[5]["reason"].get<std::string>().find("not an image"), std::string::npos) << ins[5]["reason"];
  EXPECT_NE(ins[6]["reason"].get<std::string>().find("truncated"), std::string::npos) << ins[6]["reason"];
  EXPECT_NE(ins[7]["reason"].get<std::string>().find("16-bit"), std::string::npos) << ins[7]["reason"];
  for (int k = 4; k < 8; ++k) EXPECT_EQ(ins[k]["verdict"], "uncertain");
}

TEST_F(InspectCmd, BadArgumentsExitTwo) {
  InspectArgs a = Args();
  a.model = dir_.path() + "/missing.onnx";
  a.images = {Pgm("x.pgm", 8, 8, 1)};
  Outcome o = Run(a);
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.err.find("missing.onnx"), std::string::npos) << o.err;
  a = Args();
  EXPECT_EQ(Run(a).code, 2);  // no image
  a.images = {Pgm("y.pgm", 8, 8, 1)};
  a.rois = {"1,2,3"};
  EXPECT_EQ(Run(a).code, 2);
  a.rois.clear();
  a.good = {"shiny"};
  Outcome g = Run(a);
  EXPECT_EQ(g.code, 2);
  EXPECT_NE(g.err.find("shiny"), std::string::npos) << g.err;
}

}  // namespace
}  // namespace pf
