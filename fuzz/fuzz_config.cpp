// The configuration path: TOML text -> ConfigNode (with ${VAR} expansion) -> validated plant.
#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/config_loader.h"
#include "runtime/plant_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto env = [](const std::string& name, std::string* value) {
    if (name == "HOST") {
      *value = "127.0.0.1";
      return true;
    }
    return false;
  };
  auto root = pf::ParseConfigText(text, "fuzz.toml", env);
  if (!root.ok()) return 0;
  auto pc = pf::BuildPlantConfig(std::move(*root));
  if (!pc.ok()) return 0;
  pf::MetricsRegistry metrics;
  auto sources = pf::CreateSources(*pc, metrics);  // validates; never starts
  (void)sources;
  return 0;
}
