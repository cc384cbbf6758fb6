// Routes answered from the stores: tag history and events.
#include <chrono>

#include "api/json_views.h"
#include "api/params.h"
#include "api/routes.h"

namespace pf {
namespace {

constexpr Duration kDefaultHistoryWindow = std::chrono::hours(1);

struct Window {
  Timestamp from, to;
};

// from/to default to the hour up to `latest` (the tag's newest sample, so a replay of old data
// shows its recent hour; now when the tag has none), or the hour before `to` / after `from`.
ApiResponse ParseWindow(const ApiRequest& req, Timestamp latest, Window* w) {
  PF_API_ASSIGN_OR_RESPOND(std::optional<Timestamp> from, TimeParam(req, "from"), "from");
  PF_API_ASSIGN_OR_RESPOND(std::optional<Timestamp> to, TimeParam(req, "to"), "to");
  w->to = to ? *to : (from ? *from + kDefaultHistoryWindow : latest);
  w->from = from ? *from : w->to - kDefaultHistoryWindow;
  if (w->from >= w->to)
    return ApiResponse::Error(InvalidArgument("'to' ({}) must be after 'from' ({})", FormatRfc3339(w->to, 9),
                                              FormatRfc3339(w->from, 9)),
                              "to");
  return ApiResponse{};
}

ApiResponse History(const ApiSources& src, const ApiRequest& req) {
  const std::string& name = req.Param("name");
  auto tag = src.runtime->FindTag(name);
  if (!tag) return ApiResponse::Error(NotFound("tag '{}' is not defined", name));
  Window w;
  Timestamp latest = tag->latest ? tag->latest->source_time + Duration(1) : Now();
  if (ApiResponse bad = ParseWindow(req, latest, &w); bad.status != 200) return bad;
  PF_API_ASSIGN_OR_RESPOND(std::optional<size_t> max_points, CountParam(req, "max_points", kMaxRawPoints),
                           "max_points");
  if (!src.history) return ApiResponse::Error(Unavailable("history is not stored in this process"));

  size_t cap = max_points ? *max_points : kMaxRawPoints;
  auto raw = src.history->Query(name, w.from, w.to, cap + 1);
  // The runtime knows the tag but the store never got it (store = none, or nothing kept yet):
  // the tag exists and has no history, which is an empty list rather than a 404.
  if (!raw.ok() && raw.status().code() == StatusCode::kNotFound) raw = std::vector<StoredSample>{};
  if (!raw.ok()) return ApiResponse::Error(raw.status().WithContext(fmt::format("history of '{}'", name)));
  nlohmann::json body = {{"tag", name}, {"unit", tag->def.unit}, {"from", TimeJson(w.from)}, {"to", TimeJson(w.to)}};
  if (max_points && raw->size() > *max_points) {
    auto buckets = src.history->QueryBuckets(name, w.from, w.to, *max_points);
    if (!buckets.ok())
      return ApiResponse::Error(buckets.status().WithContext(fmt::format("history buckets of '{}'", name)));
    nlohmann::json list = nlohmann::json::array();
    for (const auto& b : *buckets) list.push_back(BucketJson(b));
    body["mode"] = "buckets";
    body["max_points"] = *max_points;
    body["buckets"] = std::move(list);
    return ApiResponse::Json(body);
  }
  bool truncated = raw->size() > cap;
  if (truncated) raw->resize(cap);
  nlohmann::json points = nlohmann::json::array();
  for (const auto& s : *raw) points.push_back(StoredSampleJson(s));
  body["mode"] = "raw";
  body["points"] = std::move(points);
  body["truncated"] = truncated;
  return ApiResponse::Json(body);
}

ApiResponse Events(const ApiSources& src, const ApiRequest& req) {
  EventQuery q;
  q.asset_id = req.Query("asset");
  q.kind = req.Query("kind");
  q.source = req.Query("source");
  q.refers_to = req.Query("refers_to");
  PF_API_ASSIGN_OR_RESPOND(q.from, TimeParam(req, "from"), "from");
  PF_API_ASSIGN_OR_RESPOND(q.to, TimeParam(req, "to"), "to");
  PF_API_ASSIGN_OR_RESPOND(q.limit, LimitParam(req), "limit");
  q.cursor = req.Query("cursor").value_or("");
  if (q.from && q.to && *q.from >= *q.to)
    return ApiResponse::Error(InvalidArgument("'to' ({}) must be after 'from' ({})", FormatRfc3339(*q.to, 9),
                                              FormatRfc3339(*q.from, 9)),
                              "to");
  if (!src.events) return ApiResponse::Error(Unavailable("events are not stored in this process"));
  auto page = src.events->Query(q);
  if (!page.ok()) {
    // The store rejects only what it cannot parse, and the cursor is the one opaque input.
    bool bad_cursor = page.status().code() == StatusCode::kInvalidArgument && !q.cursor.empty();
    return ApiResponse::Error(page.status().WithContext("events"), bad_cursor ? "cursor" : "");
  }
  nlohmann::json items = nlohmann::json::array();
  for (const auto& e : page->events) {
    auto j = nlohmann::json::parse(EventToJson(e), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return ApiResponse::Error(Internal("event '{}' does not serialise to JSON", e.id));
    items.push_back(std::move(j));
  }
  return ApiResponse::Json(
      {{"items", items},
       {"next_cursor", page->next_cursor.empty() ? nlohmann::json(nullptr) : nlohmann::json(page->next_cursor)}});
}

}  // namespace

Status AddStoreRoutes(ApiServer& server, const ApiSources& src) {
  if (!src.runtime) return InvalidArgument("api: the built-in routes need a RuntimeView");
  PF_RETURN_IF_ERROR(server.AddRoute(
      "GET", "/api/v1/tags/{name}/history", [src](const ApiRequest& r) { return History(src, r); }, false));
  PF_RETURN_IF_ERROR(
      server.AddRoute("GET", "/api/v1/events", [src](const ApiRequest& r) { return Events(src, r); }, false));
  return Status::Ok();
}

}  // namespace pf
