#pragma once
// RuntimeView: what the runtime shows the API. The API never includes runtime/ or app headers;
// the runtime implements this interface and hands a pointer to ApiServer.
//
// Thread-safety: every method is called from HTTP worker threads, concurrently and at any time
// while the ApiServer runs; implementations must synchronise internally and return copies.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"
#include "core/sample.h"
#include "core/time.h"

namespace pf {

// One tag with its latest value (nullopt before the first sample) and how many samples it got.
struct TagSnapshot {
  TagDef def;
  std::optional<Sample> latest;
  uint64_t samples = 0;
};

// Connection state of one source as the health endpoint reports it.
struct SourceHealth {
  std::string name, type;
  bool connected = false;
  bool finished = false;  // a replay that reached its end: not connected, yet not unhealthy
  std::string last_error;  // "" when none
  uint64_t reconnects = 0;
  Timestamp last_success;  // ns == 0: never
};

class RuntimeView {
 public:
  virtual ~RuntimeView() = default;
  virtual std::vector<Asset> Assets() const = 0;
  virtual std::vector<TagSnapshot> Tags() const = 0;  // all tags
  virtual std::optional<TagSnapshot> FindTag(std::string_view name) const = 0;
  virtual std::vector<SourceHealth> Sources() const = 0;
  virtual ProductionContext Context(std::string_view asset_id) const = 0;
  virtual Timestamp StartedAt() const = 0;
};

}  // namespace pf
