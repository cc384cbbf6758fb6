#pragma once
// The validated plant configuration: runtime options, the ISA-95 asset model, every tag with its
// asset and source, and each source's config table. Built from the ConfigNode tree; every error
// names file, line and key. Nothing below runtime/ reads the config file.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "alerts/alert_types.h"
#include "alerts/labels.h"
#include "runtime/condition_config.h"
#include "runtime/model_config.h"
#include "runtime/spc_config.h"
#include "runtime/vision_config.h"
#include "alerts/threshold_rule.h"
#include "connect/source.h"
#include "core/config.h"
#include "core/model.h"

namespace pf {

struct ApiConfig {
  bool enabled = true;
  std::string host = "127.0.0.1";
  int port = 8080;
};

struct HistoryConfig {
  Duration retention{std::chrono::hours(24 * 30)};
  Duration retention_check{std::chrono::minutes(10)};
};

// The one database for history, events and the outbox.
struct StoreConfig {
  std::string path;  // "" = <data_dir>/plantfloor.db
  bool fsync = true;
  Duration commit_window{std::chrono::milliseconds(200)};  // group commit
  uint64_t disk_budget_bytes = 0;                           // 0 = no cap
};

struct UplinkConfig {
  std::string name, type;
  const ConfigNode* node = nullptr;  // points into PlantConfig::root
};

struct RuntimeConfig {
  std::string plant_name = "plant";
  std::string data_dir = "var/plantfloor";
  std::string log_level = "info";
  size_t queue_capacity = 1024;  // batches on the sample bus
  bool exit_when_sources_finish = false;
};

struct SourceConfig {
  std::string name;
  std::string type;
  const ConnectorInfo* connector = nullptr;
  const ConfigNode* node = nullptr;  // points into PlantConfig::root
  bool enabled = true;
  std::vector<SourceTagConfig> tags;
};

// [alerts] and [[alerts.rules]]: the alert engine's settings (asset areas come from the asset
// model, operator positions from [alerts.positions]) and the threshold rules, each on a declared tag.
struct AlertsConfig {
  alerts::AlertEngineConfig engine;
  std::vector<alerts::ThresholdRuleConfig> rules;
  Duration max_shelve{std::chrono::hours(24 * 7)};
  std::vector<std::string> cause_codes = alerts::DefaultCauseCodes();  // feedback causes, failure modes
  bool source_clock = false;  // clock = "source": the alert clock follows the watched samples' source time
};

struct PlantConfig {
  std::shared_ptr<const ConfigNode> root;  // keeps every node alive for the factories
  RuntimeConfig runtime;
  ApiConfig api;
  HistoryConfig history;
  StoreConfig store;
  std::vector<UplinkConfig> uplinks;
  std::vector<Asset> assets;
  std::vector<AssetTemplate> templates;
  std::vector<TagDef> tags;  // index == TagId
  std::vector<SourceConfig> sources;
  AlertsConfig alerts;
  std::vector<SpcChartConfig> spc_charts;
  std::vector<ConditionMonitorEntry> condition_monitors;
  std::vector<OverallMonitorEntry> condition_overall;
  std::vector<ModelEntry> models;  // [[models]]: models on live tags
  std::vector<VisionEntry> vision;  // [[vision]]: inspection stations

  const Asset* FindAsset(std::string_view id) const;
};

// Validates the whole tree: keys, types, references (assets, templates, sources), duplicates.
Result<PlantConfig> BuildPlantConfig(ConfigNode root);
// Creates every enabled source (which validates its own keys: addresses, columns, files) without
// starting it. `check` calls this; so does the runtime, which keeps what it returns.
Result<std::vector<std::unique_ptr<Source>>> CreateSources(const PlantConfig& pc, MetricsRegistry& metrics);

// Keys of each table, for validation and `plantfloor config-reference`.
std::span<const FieldSpec> RootSpec();
std::span<const FieldSpec> PlantSpec();
std::span<const FieldSpec> ApiSpec();
std::span<const FieldSpec> HistorySpec();
std::span<const FieldSpec> StoreSpec();
std::span<const FieldSpec> AssetSpec();
std::span<const FieldSpec> TemplateSpec();
std::span<const FieldSpec> CommonSourceSpec();
std::span<const FieldSpec> CommonTagSpec();
std::span<const FieldSpec> AlertsSpec();

// The whole reference as Markdown (README and docs are generated from it).
std::string ConfigReferenceMarkdown();

}  // namespace pf
