// Routes answered from the RuntimeView: health, assets, tags, and /metrics.
#include <algorithm>
#include <map>

#include "api/json_views.h"
#include "api/params.h"
#include "api/routes.h"

namespace pf {
namespace {

#ifndef PF_VERSION
#define PF_VERSION "unknown"
#endif

// One page of a name-ordered list: items whose key sorts after `after`, at most `limit`.
template <typename T, typename KeyFn, typename JsonFn>
nlohmann::json NamePage(std::vector<T> items, KeyFn key, const std::string& after, size_t limit, JsonFn to_json) {
  std::sort(items.begin(), items.end(), [&](const T& a, const T& b) { return key(a) < key(b); });
  auto it = std::upper_bound(items.begin(), items.end(), after,
                             [&](const std::string& k, const T& item) { return k < key(item); });
  if (after.empty()) it = items.begin();
  nlohmann::json list = nlohmann::json::array();
  for (; it != items.end() && list.size() < limit; ++it) list.push_back(to_json(*it));
  nlohmann::json body = {{"items", list}, {"next_cursor", nullptr}};
  if (it != items.end() && !list.empty()) body["next_cursor"] = EncodeCursor(key(*std::prev(it)));
  return body;
}

std::map<std::string, std::vector<std::string>> TagNamesByAsset(const RuntimeView& rt) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& t : rt.Tags()) out[t.def.asset_id].push_back(t.def.name);
  for (auto& [asset, names] : out) std::sort(names.begin(), names.end());
  return out;
}

ApiResponse Health(const ApiSources& src) {
  const RuntimeView& rt = *src.runtime;
  Timestamp started = rt.StartedAt();
  Timestamp now = Now();
  bool healthy = true;
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& s : rt.Sources()) {
    if (!s.connected && !s.finished) healthy = false;
    sources.push_back(SourceJson(s));
  }
  return ApiResponse::Json({{"status", healthy ? "ok" : "degraded"},
                            {"started_at", TimeJson(started)},
                            {"uptime_s", std::max(0.0, (now - started).count() * 1e-9)},
                            {"sources", sources},
                            {"version", src.version.empty() ? std::string(BuildVersion()) : src.version}});
}

ApiResponse ListAssets(const ApiSources& src, const ApiRequest& req) {
  PF_API_ASSIGN_OR_RESPOND(size_t limit, LimitParam(req), "limit");
  PF_API_ASSIGN_OR_RESPOND(std::string after, NameCursorParam(req), "cursor");
  auto tags = TagNamesByAsset(*src.runtime);
  return ApiResponse::Json(NamePage(
      src.runtime->Assets(), [](const Asset& a) -> const std::string& { return a.id; }, after, limit,
      [&](const Asset& a) { return AssetJson(a, tags[a.id]); }));
}

ApiResponse GetAsset(const ApiSources& src, const ApiRequest& req) {
  const std::string& id = req.Param("id");
  for (const auto& a : src.runtime->Assets()) {
    if (a.id != id) continue;
    nlohmann::json j = AssetJson(a, TagNamesByAsset(*src.runtime)[a.id]);
    j["context"] = src.runtime->Context(a.id);
    return ApiResponse::Json(j);
  }
  return ApiResponse::Error(NotFound("asset '{}' is not defined", id));
}

ApiResponse ListTags(const ApiSources& src, const ApiRequest& req) {
  PF_API_ASSIGN_OR_RESPOND(size_t limit, LimitParam(req), "limit");
  PF_API_ASSIGN_OR_RESPOND(std::string after, NameCursorParam(req), "cursor");
  std::vector<TagSnapshot> tags = src.runtime->Tags();
  if (auto asset = req.Query("asset"))
    std::erase_if(tags, [&](const TagSnapshot& t) { return t.def.asset_id != *asset; });
  return ApiResponse::Json(NamePage(
      std::move(tags), [](const TagSnapshot& t) -> const std::string& { return t.def.name; }, after, limit,
      TagJson));
}

ApiResponse GetTag(const ApiSources& src, const ApiRequest& req) {
  const std::string& name = req.Param("name");
  auto tag = src.runtime->FindTag(name);
  if (!tag) return ApiResponse::Error(NotFound("tag '{}' is not defined", name));
  return ApiResponse::Json(TagJson(*tag));
}

ApiResponse Metrics(const ApiSources& src) {
  if (!src.metrics) return ApiResponse::Error(Unavailable("metrics are not enabled in this process"));
  return ApiResponse::Text(src.metrics->RenderPrometheus(), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace

std::string_view BuildVersion() { return PF_VERSION; }

Status AddRuntimeRoutes(ApiServer& server, const ApiSources& src) {
  if (!src.runtime) return InvalidArgument("api: the built-in routes need a RuntimeView");
  PF_RETURN_IF_ERROR(server.AddRoute("GET", "/api/v1/health", [src](const ApiRequest&) { return Health(src); }, false));
  PF_RETURN_IF_ERROR(server.AddRoute("GET", "/api/v1/assets", [src](const ApiRequest& r) { return ListAssets(src, r); }, false));
  PF_RETURN_IF_ERROR(server.AddRoute("GET", "/api/v1/assets/{id}", [src](const ApiRequest& r) { return GetAsset(src, r); }, false));
  PF_RETURN_IF_ERROR(server.AddRoute("GET", "/api/v1/tags", [src](const ApiRequest& r) { return ListTags(src, r); }, false));
  PF_RETURN_IF_ERROR(server.AddRoute("GET", "/api/v1/tags/{name}", [src](const ApiRequest& r) { return GetTag(src, r); }, false));
  PF_RETURN_IF_ERROR(server.AddRoute("GET", "/metrics", [src](const ApiRequest&) { return Metrics(src); }, false));
  return Status::Ok();
}

Status AddBuiltinRoutes(ApiServer& server, const ApiSources& sources) {
  PF_RETURN_IF_ERROR(AddRuntimeRoutes(server, sources));
  return AddStoreRoutes(server, sources);
}

}  // namespace pf
