#pragma once
// JSON shapes of the API's resources. Times are RFC 3339 UTC with nanoseconds
// ("2026-11-25T13:45:00.123456789Z") so that a time read from a response can be sent back as a
// query bound without losing precision.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/runtime_view.h"
#include "core/model.h"
#include "core/sample.h"
#include "store/history.h"

namespace pf {

nlohmann::json TimeJson(Timestamp t);
// Like TimeJson, but null for ns == 0 ("never").
nlohmann::json OptionalTimeJson(Timestamp t);
// null for no value and for non-finite doubles (JSON has no NaN), else the number/bool/string.
nlohmann::json ValueJson(const Value& v);

// {"id","name","site","area","line","path","template","description","tags":[names]}
nlohmann::json AssetJson(const Asset& a, const std::vector<std::string>& tag_names);
// {"name","asset","unit","description","source","value","quality","quality_sub","source_time",
//  "receive_time","seq","samples"}; the latest-value fields are null before the first sample.
nlohmann::json TagJson(const TagSnapshot& t);
// {"name","type","connected","finished","last_error"|null,"reconnects","last_success"|null}
nlohmann::json SourceJson(const SourceHealth& s);
// {"time","value","quality","quality_sub","receive_time","seq"}
nlohmann::json StoredSampleJson(const StoredSample& s);
// {"start","end","count","min","max","mean","first","last","min_time","max_time","worst_quality"}
nlohmann::json BucketJson(const HistoryBucket& b);

}  // namespace pf
