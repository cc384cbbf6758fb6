#include "spc/governance.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace pf::spc {

using nlohmann::json;

std::string_view LimitStatusName(LimitStatus s) {
  switch (s) {
    case LimitStatus::kProposed: return "proposed";
    case LimitStatus::kApproved: return "approved";
    case LimitStatus::kSuperseded: return "superseded";
    case LimitStatus::kRejected: return "rejected";
  }
  return "proposed";
}

namespace {
std::optional<LimitStatus> ParseLimitStatus(std::string_view s) {
  for (LimitStatus v : {LimitStatus::kProposed, LimitStatus::kApproved, LimitStatus::kSuperseded, LimitStatus::kRejected})
    if (LimitStatusName(v) == s) return v;
  return std::nullopt;
}
}  // namespace

Status LimitRegistry::Who(const std::string& who, const std::string& why) {
  if (who.empty()) return InvalidArgument("who: required: limits are approved by a named person");
  if (why.empty()) return InvalidArgument("why: required: say why the limits change");
  return Status::Ok();
}

Result<int> LimitRegistry::Propose(const std::string& key, const LimitValues& values, const std::string& who,
                                   const std::string& why, const std::string& basis, Timestamp now) {
  PF_RETURN_IF_ERROR(Who(who, why));
  if (!std::isfinite(values.center)) return InvalidArgument("center: must be a finite number");
  if (!std::isfinite(values.sigma) || values.sigma <= 0)
    return InvalidArgument("sigma: must be above 0 (got {}); constant data cannot give control limits", values.sigma);
  if (values.n < 1) return InvalidArgument("n: subgroup size must be at least 1 (got {})", values.n);
  LimitVersion v;
  v.version = static_cast<int>(versions_.size()) + 1;
  v.key = key;
  v.values = values;
  v.proposed_by = who;
  v.proposal_reason = why;
  v.basis = basis;
  v.proposed_at = now;
  versions_.push_back(std::move(v));
  return versions_.back().version;
}

Status LimitRegistry::Approve(int version, const std::string& who, const std::string& why, Timestamp now) {
  PF_RETURN_IF_ERROR(Who(who, why));
  if (version < 1 || version > static_cast<int>(versions_.size()))
    return NotFound("version {} does not exist (versions 1 to {})", version, versions_.size());
  LimitVersion& v = versions_[version - 1];
  if (v.status != LimitStatus::kProposed)
    return FailedPrecondition("version {} is {}, only a proposed version can be approved", version,
                              LimitStatusName(v.status));
  for (LimitVersion& other : versions_)
    if (other.key == v.key && other.status == LimitStatus::kApproved) other.status = LimitStatus::kSuperseded;
  v.status = LimitStatus::kApproved;
  v.decided_by = who;
  v.decision_reason = why;
  v.decided_at = now;
  return Status::Ok();
}

Status LimitRegistry::Reject(int version, const std::string& who, const std::string& why, Timestamp now) {
  PF_RETURN_IF_ERROR(Who(who, why));
  if (version < 1 || version > static_cast<int>(versions_.size()))
    return NotFound("version {} does not exist (versions 1 to {})", version, versions_.size());
  LimitVersion& v = versions_[version - 1];
  if (v.status != LimitStatus::kProposed)
    return FailedPrecondition("version {} is {}, only a proposed version can be rejected", version,
                              LimitStatusName(v.status));
  v.status = LimitStatus::kRejected;
  v.decided_by = who;
  v.decision_reason = why;
  v.decided_at = now;
  return Status::Ok();
}

const LimitVersion* LimitRegistry::Active(const std::string& key) const {
  const LimitVersion* fallback = nullptr;
  for (const LimitVersion& v : versions_) {
    if (v.status != LimitStatus::kApproved) continue;
    if (v.key == key) return &v;
    if (v.key.empty()) fallback = &v;
  }
  return fallback;
}

const LimitVersion* LimitRegistry::Find(int version) const {
  if (version < 1 || version > static_cast<int>(versions_.size())) return nullptr;
  return &versions_[version - 1];
}

std::string LimitRegistry::ToJson() const {
  json out = json::array();
  for (const LimitVersion& v : versions_) {
    out.push_back({{"version", v.version},
                   {"key", v.key},
                   {"center", v.values.center},
                   {"sigma", v.values.sigma},
                   {"n", v.values.n},
                   {"status", LimitStatusName(v.status)},
                   {"proposed_by", v.proposed_by},
                   {"proposal_reason", v.proposal_reason},
                   {"basis", v.basis},
                   {"proposed_at", v.proposed_at.ns},
                   {"decided_by", v.decided_by},
                   {"decision_reason", v.decision_reason},
                   {"decided_at", v.decided_at.ns}});
  }
  return json{{"version", 1}, {"limits", out}}.dump();
}

Result<LimitRegistry> LimitRegistry::FromJson(const std::string& text) {
  LimitRegistry r;
  try {
    json j = json::parse(text);
    if (j.at("version").get<int>() != 1) return InvalidArgument("spc limits: unknown format version {}", j.at("version").dump());
    for (const json& e : j.at("limits")) {
      LimitVersion v;
      v.version = e.at("version").get<int>();
      if (v.version != static_cast<int>(r.versions_.size()) + 1)
        return InvalidArgument("spc limits: version {} out of sequence", v.version);
      v.key = e.at("key").get<std::string>();
      v.values.center = e.at("center").get<double>();
      v.values.sigma = e.at("sigma").get<double>();
      v.values.n = e.at("n").get<int>();
      auto status = ParseLimitStatus(e.at("status").get<std::string>());
      if (!status) return InvalidArgument("spc limits: version {}: unknown status {}", v.version, e.at("status").dump());
      v.status = *status;
      v.proposed_by = e.at("proposed_by").get<std::string>();
      v.proposal_reason = e.at("proposal_reason").get<std::string>();
      v.basis = e.at("basis").get<std::string>();
      v.proposed_at = Timestamp{e.at("proposed_at").get<int64_t>()};
      v.decided_by = e.at("decided_by").get<std::string>();
      v.decision_reason = e.at("decision_reason").get<std::string>();
      v.decided_at = Timestamp{e.at("decided_at").get<int64_t>()};
      r.versions_.push_back(std::move(v));
    }
  } catch (const json::exception& e) {
    return InvalidArgument("spc limits: {}", e.what());
  }
  return r;
}

}  // namespace pf::spc
