#include <gtest/gtest.h>

#include <map>

#include "runtime/config_loader.h"
#include "runtime/plant_config.h"

namespace pf {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name, std::string* value) {
    auto it = vars.find(name);
    if (it == vars.end()) return false;
    *value = it->second;
    return true;
  };
}

TEST(ExpandEnv, VariablesDefaultsAndDollarEscapes) {
  auto env = FakeEnv({{"HOST", "10.0.0.7"}, {"EMPTY", ""}});
  EXPECT_EQ(*ExpandEnv("tcp://${HOST}:502", env), "tcp://10.0.0.7:502");
  EXPECT_EQ(*ExpandEnv("${PORT:-1502}", env), "1502");
  EXPECT_EQ(*ExpandEnv("${EMPTY:-fallback}", env), "fallback");
  EXPECT_EQ(*ExpandEnv("cost $$5 and $x", env), "cost $5 and $x");
  EXPECT_EQ(ExpandEnv("${MISSING}", env).status().message(),
            "environment variable MISSING is not set and has no default (write ${MISSING:-value} for one)");
  EXPECT_EQ(ExpandEnv("${BAD NAME}", env).status().message(),
            "'${BAD NAME}' is not a valid variable reference; names are letters, digits and _");
  EXPECT_EQ(ExpandEnv("${OPEN", env).status().code(), StatusCode::kInvalidArgument);
}

TEST(ParseConfigText, LocationsPathsAndExpansionFlag) {
  auto env = FakeEnv({{"PORT", "1502"}});
  auto root = ParseConfigText("[api]\nlisten = \"127.0.0.1:${PORT}\"\n\n[[sources]]\nname = \"a\"\n", "p.toml", env);
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  const ConfigNode* listen = root->Find("api")->Find("listen");
  ASSERT_NE(listen, nullptr);
  EXPECT_EQ(listen->s, "127.0.0.1:1502");
  EXPECT_TRUE(listen->expanded);
  EXPECT_EQ(listen->loc.ToString(), "p.toml:2");
  EXPECT_EQ(listen->path, "api.listen");
  const ConfigNode& src = root->Find("sources")->items[0];
  EXPECT_EQ(src.Find("name")->path, "sources[0].name");
  EXPECT_EQ(src.Find("name")->loc.line, 5);
}

TEST(ParseConfigText, MissingVariableNamesFileLineAndKey) {
  auto root = ParseConfigText("[plant]\n\nname = \"${PLANT_NAME}\"\n", "p.toml", FakeEnv({}));
  EXPECT_EQ(root.status().message(),
            "p.toml:3: plant.name: environment variable PLANT_NAME is not set and has no default "
            "(write ${PLANT_NAME:-value} for one)");
}

TEST(ParseConfigText, SyntaxErrorNamesLine) {
  auto root = ParseConfigText("[plant]\nname = \n", "p.toml", FakeEnv({}));
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().message().rfind("p.toml:2: TOML syntax error: ", 0), 0u) << root.status().message();
}

TEST(ExpandedNumbers, AnIntegerFromAVariableIsAcceptedWhereAnIntegerIsExpected) {
  auto root = ParseConfigText("[plant]\nqueue_capacity = \"${CAP:-64}\"\n", "p.toml", FakeEnv({}));
  ASSERT_TRUE(root.ok());
  auto pc = BuildPlantConfig(std::move(*root));
  ASSERT_TRUE(pc.ok()) << pc.status().ToString();
  EXPECT_EQ(pc->runtime.queue_capacity, 64u);
}

TEST(PlantConfig, ReferenceCoversEveryTable) {
  std::string md = ConfigReferenceMarkdown();
  for (const char* k : {"### [plant]", "### [[assets]]", "### [[templates]]", "`queue_capacity`", "`deadband`"})
    EXPECT_NE(md.find(k), std::string::npos) << k;
}

}  // namespace
}  // namespace pf
