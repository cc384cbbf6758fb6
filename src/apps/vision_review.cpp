#include "apps/vision_review.h"

#include <algorithm>
#include <cmath>

namespace pf::apps {

Interval WilsonInterval(int64_t k, int64_t n, double z) {
  if (n <= 0) return {0, 0, 1};
  const double p = static_cast<double>(k) / static_cast<double>(n);
  const double nn = static_cast<double>(n);
  const double denom = 1 + z * z / nn;
  const double centre = (p + z * z / (2 * nn)) / denom;
  const double half = z * std::sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / denom;
  return {p, std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

bool AuditSelected(uint64_t seed, uint64_t sequence, double audit_rate) {
  // splitmix64 of (seed, sequence): uniform in [0, 1).
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + sequence;
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<double>(x >> 11) * 0x1.0p-53 < audit_rate;
}

void ReviewBook::AddInspection(const ReviewRecord& r) {
  ++inspected_;
  ++(r.verdict == "accept" ? accept_ : r.verdict == "reject" ? reject_ : uncertain_);
  audited_ += r.verdict == "accept" && r.audit;
  if (!NeedsReview(r)) return;
  records_[r.sequence] = r;
  open_[r.sequence] = true;
  while (open_.size() > max_open_) {
    records_.erase(open_.begin()->first);
    open_.erase(open_.begin());
    ++expired_;
  }
}

Result<ReviewRecord> ReviewBook::AddVerdict(uint32_t sequence, bool agree, const std::string& label) {
  const auto it = records_.find(sequence);
  if (it == records_.end()) return NotFound("inspection {} is not waiting for a verdict (unknown, accepted outside the audit, or expired from the queue)", sequence);
  ReviewRecord& r = it->second;
  if (r.agree) return AlreadyExists("inspection {} already has an inspector's verdict", sequence);
  bool truth_good;
  if (!label.empty()) {
    truth_good = std::find(good_.begin(), good_.end(), label) != good_.end();
  } else if (r.verdict == "accept") {
    truth_good = agree;
  } else if (r.verdict == "reject") {
    truth_good = !agree;
  } else {
    return InvalidArgument("inspection {} was uncertain: the verdict must name the class", sequence);
  }
  r.agree = agree;
  r.label = label.empty() && agree ? r.model_class : label;
  r.truth_good = truth_good;
  open_.erase(sequence);
  return r;
}

std::vector<ReviewRecord> ReviewBook::Queue(size_t limit) const {
  std::vector<ReviewRecord> out;
  for (auto it = open_.rbegin(); it != open_.rend() && out.size() < limit; ++it) out.push_back(records_.at(it->first));
  return out;
}

ReviewBook::Stats ReviewBook::ComputeStats() const {
  Stats s;
  s.inspected = inspected_;
  s.accept = accept_;
  s.reject = reject_;
  s.uncertain = uncertain_;
  s.audited = audited_;
  s.expired = expired_;
  for (const auto& [seq, r] : records_) {
    if (r.verdict == "accept") {
      if (r.audit && r.truth_good) {
        ++s.reviewed_audits;
        s.escapes_found += !*r.truth_good;
      }
    } else if (r.verdict == "reject") {
      if (r.truth_good) {
        ++s.reviewed_rejects;
        s.confirmed_rejects += !*r.truth_good;
      }
    } else {
      if (r.truth_good) {
        ++s.reviewed_uncertain;
        s.uncertain_defective += !*r.truth_good;
      }
    }
  }
  s.precision = WilsonInterval(s.confirmed_rejects, s.reviewed_rejects);
  s.escape_rate = WilsonInterval(s.escapes_found, s.reviewed_audits);
  const double A = static_cast<double>(s.accept), R = static_cast<double>(s.reject), U = static_cast<double>(s.uncertain);
  s.estimated_escapes = {A * s.escape_rate.estimate, A * s.escape_rate.low, A * s.escape_rate.high};
  const Interval q = WilsonInterval(s.uncertain_defective, s.reviewed_uncertain);
  auto recall = [&](double p, double qq, double e) {
    const double tp = R * p + U * qq, fn = A * e;
    return tp + fn > 0 ? tp / (tp + fn) : 0.0;
  };
  if (s.reviewed_rejects > 0 && (s.reviewed_audits > 0 || s.accept == 0) && (s.reviewed_uncertain > 0 || s.uncertain == 0)) {
    s.recall = {recall(s.precision.estimate, q.estimate, s.escape_rate.estimate),
                recall(s.precision.low, q.low, s.escape_rate.high), recall(s.precision.high, q.high, s.escape_rate.low)};
  } else {
    s.recall = {0, 0, 1};  // nothing reviewed yet: anything is possible
  }
  return s;
}

}  // namespace pf::apps
