// The model manifest: parsing (every field, round trip through ManifestToJson), precise errors
// (key path or JSON byte), validation against a model's declared inputs/outputs (each mismatch
// names its field), SHA-256 against the FIPS 180-2 test vector, and the ONNX model hash against
// python's hashlib.sha256(model.graph.SerializeToString()).
#include "engine/manifest.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>

#include "testing.h"

namespace pf::engine {
namespace {

constexpr char kHash[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";  // sha256("abc")

std::string FullManifest() {
  return fmt::format(R"({{
  "manifest_version": 1, "name": "weld_classifier", "version": "2.1.0", "model_sha256": "{}",
  "inputs": [{{"name": "image", "shape": [1, 3, 8, 8], "dtype": "float",
              "normalization": {{"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "axis": 1}},
              "preprocessing": "resize 8x8, RGB"}}],
  "outputs": [{{"name": "probs", "meaning": "probability per weld class", "class_names": ["ok", "porosity", "crack"],
               "thresholds": {{"alarm": 0.8, "warn": 0.5}}}}],
  "training_data": [{{"input": "image", "feature": "channel 0", "count": 1200, "mean": 0.48, "std": 0.2,
                     "min": 0.0, "max": 1.0, "p01": 0.05, "p50": 0.47, "p99": 0.97}}]
}})",
                     kHash);
}

const std::vector<ValueInfo> kInputs{{"image", DType::kFloat, {-1, 3, 8, 8}}};
const std::vector<ValueInfo> kOutputs{{"probs", DType::kFloat, {-1, 3}}};

TEST(Manifest, ParsesEveryFieldAndRoundTrips) {
  auto m = ParseManifest(FullManifest(), "m.json");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->present);
  EXPECT_EQ(m->name, "weld_classifier");
  EXPECT_EQ(m->version, "2.1.0");
  ASSERT_EQ(m->inputs.size(), 1u);
  EXPECT_EQ(m->inputs[0].shape, (Shape{1, 3, 8, 8}));
  EXPECT_EQ(m->inputs[0].mean, (std::vector<double>{0.485, 0.456, 0.406}));
  EXPECT_EQ(m->inputs[0].std[2], 0.225);
  EXPECT_EQ(m->inputs[0].preprocessing, "resize 8x8, RGB");
  EXPECT_EQ(m->outputs[0].class_names, (std::vector<std::string>{"ok", "porosity", "crack"}));
  EXPECT_EQ(m->outputs[0].thresholds.at("alarm"), 0.8);
  ASSERT_EQ(m->training_data.size(), 1u);
  EXPECT_EQ(m->training_data[0].count, 1200);
  EXPECT_EQ(m->training_data[0].p99, 0.97);
  EXPECT_TRUE(ValidateManifest(*m, kInputs, kOutputs, kHash).ok());

  auto again = ParseManifest(ManifestToJson(*m), "again");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(ManifestToJson(*again), ManifestToJson(*m));
  EXPECT_EQ(again->inputs[0].mean, m->inputs[0].mean);
  EXPECT_EQ(again->training_data[0].p01, 0.05);
}

TEST(Manifest, ParseErrorsNameTheKey) {
  auto msg = [](const std::string& json) { return ParseManifest(json, "m.json").status().message(); };
  std::string full = FullManifest();
  EXPECT_EQ(msg("{\"manifest_version\": 1,").rfind("m.json: not valid JSON: ", 0), 0u);
  EXPECT_NE(msg("{\"manifest_version\": 1,").find("parse error at line 1, column 24"), std::string::npos)
      << msg("{\"manifest_version\": 1,");
  EXPECT_EQ(msg(R"({"manifest_version": 2})"), "m.json: 'manifest_version' 2 is not supported (this build reads 1)");
  EXPECT_EQ(msg(R"({"manifest_version": 1, "name": "a", "version": "1"})"), "m.json: required key 'model_sha256' is missing");
  std::string typo = full;
  typo.replace(typo.find("\"thresholds\""), 12, "\"threshold\"");
  EXPECT_EQ(msg(typo), "m.json: unknown key 'outputs[0].threshold'");
  std::string bad_std = full;
  bad_std.replace(bad_std.find("0.229"), 5, "\"x\"");
  EXPECT_EQ(msg(bad_std), "m.json: 'inputs[0].normalization.std[0]' must be a number");
  std::string bad_dtype = full;
  bad_dtype.replace(bad_dtype.find("\"float\""), 7, "\"float16\"");
  EXPECT_EQ(msg(bad_dtype), "m.json: 'inputs[0].dtype': dtype 'float16' is not one of float, int64, int32, uint8, int8, bool");
  std::string bad_threshold = full;
  bad_threshold.replace(bad_threshold.find("0.8"), 3, "\"high\"");
  EXPECT_EQ(msg(bad_threshold), "m.json: 'outputs[0].thresholds.alarm' must be a number");
}

// Found by fuzz_onnx_loader (fuzz/regressions/fuzz_onnx_loader/manifest_number_overflow.onnx): a number
// too large for any type made nlohmann throw out_of_range, not parse_error, and the process ended.
TEST(Manifest, NumberTooLargeIsAnErrorNotACrash) {
  auto m = ParseManifest(R"({"manifest_version": 7e79752})", "m.onnx");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("not valid JSON"), std::string::npos) << m.status().ToString();
}

TEST(Manifest, ValidationNamesTheMismatchedField) {
  const Manifest good = *ParseManifest(FullManifest(), "m.json");
  auto check = [&](auto edit, std::vector<ValueInfo> inputs = kInputs, std::vector<ValueInfo> outputs = kOutputs) {
    Manifest m = good;
    edit(m);
    return ValidateManifest(m, inputs, outputs, kHash).message();
  };
  EXPECT_EQ(check([](Manifest& m) { m.model_sha256 = "00"; }),
            fmt::format("manifest 'model_sha256' 00 does not match the model's hash {}", kHash));
  EXPECT_EQ(check([](Manifest& m) { m.inputs[0].name = "img"; }),
            "manifest 'inputs[0]' ('img').name: the model has no input 'img'");
  EXPECT_EQ(check([](Manifest& m) { m.inputs[0].dtype = DType::kUint8; }),
            "manifest 'inputs[0]' ('image').dtype uint8 does not match the model's declared input dtype float");
  EXPECT_EQ(check([](Manifest& m) { m.inputs[0].shape = {1, 3, 16, 16}; }),
            "manifest 'inputs[0]' ('image').shape [1,3,16,16] does not match the model's declared input shape [-1,3,8,8]");
  EXPECT_EQ(check([](Manifest& m) { m.inputs[0].std.pop_back(); }),
            "manifest 'inputs[0]' ('image').normalization: mean has 3 values but std has 2");
  EXPECT_EQ(check([](Manifest& m) { m.inputs[0].std[1] = 0; }),
            "manifest 'inputs[0]' ('image').normalization.std[1] is 0 (must be > 0)");
  EXPECT_EQ(check([](Manifest& m) { m.inputs[0].axis = 2; }),
            "manifest 'inputs[0]' ('image').normalization: 3 mean/std values for 8 channels on axis 2");
  EXPECT_EQ(check([](Manifest& m) { m.outputs[0].class_names.pop_back(); }),
            "manifest 'outputs[0]' ('probs').class_names: 2 names but the output's last dimension is 3");
  EXPECT_EQ(check([](Manifest& m) { m.outputs.clear(); }), "manifest 'outputs': the model's output 'probs' is not described");
  EXPECT_EQ(check([](Manifest&) {}, {kInputs[0], {"mask", DType::kUint8, {8}}}),
            "manifest 'inputs': the model's input 'mask' is not described");
  EXPECT_EQ(check([](Manifest& m) { m.training_data[0].p50 = 0.99; }),
            "manifest 'training_data[0]' ('channel 0' of 'image'): min 0 <= p01 0.05 <= p50 0.99 <= p99 0.97 <= max 1 "
            "does not hold");
  EXPECT_EQ(check([](Manifest& m) { m.training_data[0].input = "sound"; }),
            "manifest 'training_data[0]' ('channel 0' of 'sound').input: no manifest input 'sound'");
}

TEST(Manifest, Sha256MatchesTheStandardTestVectors) {
  EXPECT_EQ(Sha256Hex("abc"), kHash);
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Manifest, OnnxModelHashIsPythonsHashOfTheGraph) {
  if (pf::testing::Run("/usr/bin/python3 -c 'import onnx' 2>/dev/null") != 0) GTEST_SKIP() << "python3-onnx missing";
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* n = g->add_node();
  n->set_op_type("Relu");
  n->add_input("x");
  n->add_output("y");
  auto* meta = m.add_metadata_props();
  meta->set_key("pf.manifest");
  meta->set_value("{}");
  pf::testing::TempDir dir;
  const std::string path = dir.path() + "/m.onnx";
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
  std::string out;
  ASSERT_EQ(pf::testing::Run(fmt::format("/usr/bin/python3 -c \"import onnx, hashlib; "
                                         "print(hashlib.sha256(onnx.load('{}').graph.SerializeToString()).hexdigest())\"",
                                         path),
                             &out),
            0)
      << out;
  auto h = OnnxModelHash(m.SerializeAsString());
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(*h + "\n", out);
  // Changing only the metadata leaves the hash alone; changing the graph changes it.
  meta->set_value("{\"other\": 1}");
  EXPECT_EQ(*OnnxModelHash(m.SerializeAsString()), *h);
  n->set_op_type("Sigmoid");
  EXPECT_NE(*OnnxModelHash(m.SerializeAsString()), *h);
  EXPECT_EQ(OnnxModelHash(m.SerializeAsString().substr(0, 5)).status().message(),
            "not an ONNX model: byte 2: field 7 length runs past the end");
}

}  // namespace
}  // namespace pf::engine
