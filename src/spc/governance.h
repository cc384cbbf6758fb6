#pragma once
// Limit governance for live charts: control limits are versioned, and a recomputed limit is only a
// proposal until an engineer approves it. Each version records who proposed it and why, on which
// data it rests (basis), and who approved or rejected it, when and why. Limits can be keyed by a
// production-context value (product or recipe): each key has its own active version.
//
//   propose (who, why, basis, values)  -> version N, status "proposed"
//   approve N (who, why)               -> N "approved" and active for its key; the previously active
//                                         version of that key becomes "superseded"
//   reject N (who, why)                -> N "rejected"
// Only a proposed version can be approved or rejected. Versions are numbered per chart from 1 and
// never reused or deleted. Pure: the caller persists ToJson() and records each change as an event.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace pf::spc {

// What a live chart's limits derive from: process mean and sigma of one value at subgroup size n.
struct LimitValues {
  double center = 0;
  double sigma = 0;
  int n = 1;
  bool operator==(const LimitValues&) const = default;
};

enum class LimitStatus { kProposed, kApproved, kSuperseded, kRejected };
std::string_view LimitStatusName(LimitStatus s);  // "proposed", "approved", "superseded", "rejected"

struct LimitVersion {
  int version = 0;
  std::string key;  // production-context value the limits are for ("" = any)
  LimitValues values;
  LimitStatus status = LimitStatus::kProposed;
  std::string proposed_by, proposal_reason, basis;  // basis: "baseline of 100 points from ... to ..."
  Timestamp proposed_at;
  std::string decided_by, decision_reason;  // approval or rejection
  Timestamp decided_at;
};

class LimitRegistry {
 public:
  // Errors: InvalidArgument (sigma <= 0 or not finite, n < 1, empty who/why: message starts
  // with the field name).
  Result<int> Propose(const std::string& key, const LimitValues& values, const std::string& who,
                      const std::string& why, const std::string& basis, Timestamp now);
  // NotFound: no such version. FailedPrecondition: not a proposal. InvalidArgument: empty who/why.
  Status Approve(int version, const std::string& who, const std::string& why, Timestamp now);
  Status Reject(int version, const std::string& who, const std::string& why, Timestamp now);

  // The approved limits for a context value: the key's own, else the key "" ones.
  const LimitVersion* Active(const std::string& key) const;
  const LimitVersion* Find(int version) const;
  const std::vector<LimitVersion>& versions() const { return versions_; }

  std::string ToJson() const;
  static Result<LimitRegistry> FromJson(const std::string& json);

 private:
  static Status Who(const std::string& who, const std::string& why);
  std::vector<LimitVersion> versions_;  // index = version - 1
};

}  // namespace pf::spc
