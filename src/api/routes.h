#pragma once
// The built-in routes (REST conventions in api/http.h):
//   GET /api/v1/health                      status ok|degraded, sources, uptime, version
//   GET /api/v1/assets, /api/v1/assets/{id} ISA-95 assets with their tag names (and context)
//   GET /api/v1/tags?asset=, /api/v1/tags/{name}   tags with latest value, quality, times
//   GET /api/v1/tags/{name}/history?from&to&max_points   raw points, or buckets when more
//                                                        than max_points (default: last hour)
//   GET /api/v1/events?asset&kind&source&from&to&cursor&limit
//   GET /metrics                            Prometheus text 0.0.4
#include <string>

#include "api/api_server.h"
#include "api/runtime_view.h"
#include "core/metrics.h"
#include "store/event_store.h"
#include "store/history.h"

namespace pf {

// What the built-in routes read. Not owned; everything given must outlive the ApiServer.
struct ApiSources {
  const RuntimeView* runtime = nullptr;   // required
  const HistoryStore* history = nullptr;  // null: history answers 503 unavailable
  const EventStore* events = nullptr;     // null: events answers 503 unavailable
  const MetricsRegistry* metrics = nullptr;  // null: /metrics answers 503 unavailable
  std::string version;                    // "" = this build's version
};

// The most raw points a history query returns; longer ranges say "truncated": true.
constexpr size_t kMaxRawPoints = 100000;

// This build's version ("0.1.0").
std::string_view BuildVersion();

Status AddBuiltinRoutes(ApiServer& server, const ApiSources& sources);
// The two halves, for callers that want only one: runtime-backed and store-backed routes.
Status AddRuntimeRoutes(ApiServer& server, const ApiSources& sources);
Status AddStoreRoutes(ApiServer& server, const ApiSources& sources);

}  // namespace pf
