// [[vision]] validation by BuildPlantConfig: the model is loaded and checked, every error names the
// file, line and key; a valid station declares its tags (stored for every part) so rules can watch them.
#include <gtest/gtest.h>

#include <fstream>

#include <fmt/format.h>

#include "apps/vision_test_model.h"
#include "runtime/config_loader.h"
#include "runtime/plant_config.h"
#include "testing.h"

namespace pf {
namespace {

constexpr const char* kBase = R"(
[[assets]]
id = "line1"
area = "finishing"
line = "line1"

[[sources]]
name = "plc"
type = "modbus"
endpoint = "tcp://127.0.0.1:1502"
asset = "line1"
[[sources.tags]]
name = "line1.part"
address = "hr:0"
type = "uint16"
)";

class VisionConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = dir_.path() + "/brightness.onnx";
    std::ofstream(model_, std::ios::binary) << apps::testing::BrightnessModel(4);
  }
  Result<PlantConfig> Build(const std::string& extra) {
    auto env = [](const std::string&, std::string*) { return false; };
    PF_ASSIGN_OR_RETURN(ConfigNode root, ParseConfigText(std::string(kBase) + extra, dir_.path() + "/plant.toml", env));
    return BuildPlantConfig(std::move(root));
  }
  // A station table with `extra` keys.
  std::string Station(const std::string& extra, const std::string& name = "surface1") {
    return fmt::format("\n[[vision]]\nname = \"{}\"\nasset = \"line1\"\nmodel = \"brightness.onnx\"\nwatch = \"in-{}\"\n{}\n", name,
                       name, extra);
  }
  std::string Error(const std::string& extra) {
    auto pc = Build(extra);
    EXPECT_FALSE(pc.ok());
    return pc.ok() ? "" : pc.status().ToString();
  }
  pf::testing::TempDir dir_;
  std::string model_;
};

TEST_F(VisionConfig, DeclaresTheStationTagsAndReadsItsOptions) {
  auto pc = Build(Station(R"(rois = ["0,0,8,8", "8,0,8,8"]
good_classes = ["good"]
deadline = "80ms"
expect_bits = 8
modbus_listen = "0.0.0.0:1502"
part_id_tag = "line1.part"
audit_rate = 0.05
review_budget = "10MB"
journal_max = "2MB"
journal_keep = 2)") + R"(
[[alerts.rules]]
tag = "surface1.verdict"
asset = "line1"
kind = "high"
limit = 2.5
)");
  ASSERT_TRUE(pc.ok()) << pc.status().ToString();
  ASSERT_EQ(pc->vision.size(), 1u);
  const VisionEntry& v = pc->vision[0];
  EXPECT_EQ(v.model, dir_.path() + "/brightness.onnx");  // relative to the configuration file
  EXPECT_EQ(v.station.folder.dir, dir_.path() + "/in-surface1");
  EXPECT_EQ(v.inspector.rois.size(), 2u);
  EXPECT_DOUBLE_EQ(v.inspector.deadline_ms, 80.0);
  EXPECT_EQ(v.inspector.expect_bit_depth, 8);
  EXPECT_EQ(v.station.modbus_host, "0.0.0.0");
  EXPECT_EQ(v.station.modbus_port, 1502);
  EXPECT_EQ(v.part_id_tag, "line1.part");
  EXPECT_DOUBLE_EQ(v.station.audit_rate, 0.05);
  EXPECT_EQ(v.station.review_budget_bytes, 10'000'000);
  EXPECT_EQ(v.station.journal_max_bytes, 2'000'000);
  EXPECT_EQ(v.station.journal_keep, 2);
  EXPECT_FALSE(v.station.camera_must_open);
  EXPECT_EQ(v.classes, (std::vector<std::string>{"good", "dark"}));
  for (const char* t : {"surface1.verdict", "surface1.class", "surface1.confidence", "surface1.latency_ms"}) {
    auto it = std::find_if(pc->tags.begin(), pc->tags.end(), [&](const TagDef& d) { return d.name == t; });
    ASSERT_NE(it, pc->tags.end()) << t;
    EXPECT_EQ(it->asset_id, "line1");
    EXPECT_TRUE(it->derived);
    EXPECT_EQ(it->store, StoreMode::kAll) << t;
  }
  EXPECT_EQ(pc->alerts.rules.size(), 1u);
}

TEST_F(VisionConfig, ErrorsNameTheKeyAndWhatIsWrong) {
  // file:line: vision[i].key: for key errors (the station table starts on line 18 of kBase + extra).
  const auto starts = [](const std::string& err, const std::string& prefix) { return err.find(prefix) != std::string::npos; };
  EXPECT_TRUE(starts(Error(Station("part_id_tag = \"line1.nothing\"")), "plant.toml:17: vision[0].part_id_tag: unknown tag"))
      << Error(Station("part_id_tag = \"line1.nothing\""));
  EXPECT_TRUE(starts(Error(Station("rois = [\"1,2,3\"]")), "plant.toml:22: vision[0].rois: '1,2,3'")) << Error(Station("rois = [\"1,2,3\"]"));
  EXPECT_TRUE(starts(Error(Station("") + Station("", "surface1")), ": vision[1].name: duplicate station name")) << Error(Station("") + Station("", "surface1"));
  EXPECT_TRUE(starts(Error(Station("modbus_listen = \"0.0.0.0:1502\"") + Station("modbus_listen = \"127.0.0.1:1502\"", "s2")),
                     ": vision[1].modbus_listen: port 1502 is taken by the station at"));
  EXPECT_TRUE(starts(Error("\n[api]\nlisten = \"127.0.0.1:18080\"\n" + Station("modbus_listen = \"0.0.0.0:18080\"")),
                     ": vision[0].modbus_listen: port 18080 is the API's"));
  // Different addresses on one port do not clash.
  EXPECT_TRUE(Build("\n[api]\nlisten = \"127.0.0.1:18080\"\n" + Station("modbus_listen = \"192.0.2.1:18080\"")).ok());
  EXPECT_NE(Error(Station("", "surface0") + Station("part_id_tag = \"surface0.verdict\"")).find("derived tag 'surface0.verdict'"),
            std::string::npos);
  EXPECT_NE(Error(Station("anomaly = \"somewhere\"")).find("not both"), std::string::npos);
  EXPECT_NE(Error("\n[[vision]]\nname = \"s\"\nasset = \"line1\"\nwatch = \"in\"\n").find("give model"), std::string::npos);
  const std::string missing = Error("\n[[vision]]\nname = \"s\"\nasset = \"line1\"\nmodel = \"nope.onnx\"\nwatch = \"in\"\n");
  EXPECT_NE(missing.find("plant.toml:"), std::string::npos) << missing;
  EXPECT_NE(missing.find("model"), std::string::npos) << missing;
  EXPECT_NE(missing.find("nope.onnx"), std::string::npos) << missing;
  EXPECT_NE(Error(Station("part_id_tag = \"line1.nothing\"")).find("unknown tag 'line1.nothing'"), std::string::npos);
  EXPECT_NE(Error(Station("rois = [\"1,2,3\"]")).find("'1,2,3': expected x,y,w,h"), std::string::npos);
  EXPECT_NE(Error(Station("rois = [\"0,0,0,4\"]")).find("expected x,y,w,h"), std::string::npos);
  EXPECT_NE(Error(Station("good_classes = [\"shiny\"]")).find("shiny"), std::string::npos);
  EXPECT_NE(Error(Station("accept_threshold = 1.5")).find("accept_threshold"), std::string::npos);
  EXPECT_NE(Error(Station("expect_bits = 12")).find("8 or 16"), std::string::npos);
  EXPECT_NE(Error(Station("modbus_listen = \"1502\"")).find("modbus_listen"), std::string::npos);
  EXPECT_NE(Error(Station("modbus_listen = \"h:70000\"")).find("0 to 65535"), std::string::npos);
  EXPECT_NE(Error(Station("journal_max = \"10kB\"")).find("at least 1 MiB"), std::string::npos);
  EXPECT_NE(Error(Station("audit_rate = -0.1")).find("audit_rate"), std::string::npos);
  EXPECT_NE(Error(Station("watchh = \"x\"")).find("watchh"), std::string::npos);
  EXPECT_NE(Error(Station("") + Station("", "surface1")).find("duplicate station name 'surface1'"), std::string::npos);
  EXPECT_NE(Error(Station("part_id_max_age = \"-1s\"")).find("part_id_max_age"), std::string::npos);
  EXPECT_NE(Error(Station("").replace(Station("").find("line1\""), 5, "line9")).find("unknown asset 'line9'"), std::string::npos);
  EXPECT_NE(Error(Station("") + "\n[[vision]]\nname = \"s2\"\nasset = \"line1\"\nmodel = \"brightness.onnx\"\nwatch = \"in-surface1\"\n")
                .find("is watched by the station at"),
            std::string::npos);
  EXPECT_NE(Error(Station("", "bad name")).find("cannot be a station name"), std::string::npos);
  EXPECT_NE(Error(Station("part_id_pattern = \"^P[0-9]+\"")).find("needs a group"), std::string::npos);
  EXPECT_NE(Error(Station("part_id_pattern = \"^(P[0-9]+\"")).find("is not a regular expression"), std::string::npos);
}

}  // namespace
}  // namespace pf
