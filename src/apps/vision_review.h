#pragma once
// The inspector loop's arithmetic (issue 10 item 7): which parts go to a person, what their verdicts
// say about the model, with counts and 95 % intervals (Wilson score intervals, z = 1.96).
//   - Rejected, uncertain and audited parts are reviewed. An accepted part is audited with probability
//     audit_rate, decided by a hash of (seed, sequence): the same part gets the same answer after a restart.
//   - precision of "reject" = confirmed defects / reviewed rejects;
//   - escape rate = defects found among reviewed audited accepts / reviewed audited accepts, and the
//     estimated escapes = accepts x escape rate;
//   - recall of the station = (R p + U q) / (R p + U q + A e) for R rejects, U uncertain parts, A
//     accepts, precision p, defective share q of reviewed uncertain parts and escape rate e: an
//     uncertain part goes to a person, so a defective one is caught, not escaped; the interval from the
//     ends of the three intervals (the conservative combination);
//   - uncertain parts: how many, how many reviewed, how many turned out defective.
// A verdict: the inspector agrees or not, and may name the true class. The part's truth: the named
// class's (good or defect) when given, else accept+agree = good, reject+agree = defect (and the
// opposite on disagree); an uncertain part needs the class. Pure; not thread-safe.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace pf::apps {

struct Interval {
  double estimate = 0, low = 0, high = 0;
};
// Wilson score interval of k successes in n trials (n == 0: estimate 0, interval [0, 1]).
Interval WilsonInterval(int64_t k, int64_t n, double z = 1.96);

bool AuditSelected(uint64_t seed, uint64_t sequence, double audit_rate);

struct ReviewRecord {
  uint32_t sequence = 0;
  std::string part_id;
  std::string verdict;  // accept | reject | uncertain
  std::string model_class;
  bool audit = false;
  // The inspector's answer.
  std::optional<bool> agree;
  std::string label;    // the true class when named
  std::optional<bool> truth_good;
};

// Memory stays bounded on a station that runs for months: accepted parts outside the audit are only
// counted; parts waiting for a person are kept up to `max_open` (the oldest open ones drop out of the
// queue, counted in `expired`); reviewed parts are kept (their number is what people can review).
class ReviewBook {
 public:
  explicit ReviewBook(std::vector<std::string> good_classes, size_t max_open = 10000)
      : good_(std::move(good_classes)), max_open_(max_open) {}
  void AddInspection(const ReviewRecord& r);
  void AddInspection(uint32_t sequence, std::string part_id, std::string verdict, std::string model_class, bool audit = false) {
    ReviewRecord r;
    r.sequence = sequence;
    r.part_id = std::move(part_id);
    r.verdict = std::move(verdict);
    r.model_class = std::move(model_class);
    r.audit = audit;
    AddInspection(r);
  }
  // Records the inspector's verdict; returns the updated record. Errors: unknown sequence (not found),
  // a second verdict (already exists), an uncertain part without a class (invalid argument).
  Result<ReviewRecord> AddVerdict(uint32_t sequence, bool agree, const std::string& label);
  bool NeedsReview(const ReviewRecord& r) const { return r.verdict != "accept" || r.audit; }
  // Parts waiting for a person, newest first.
  std::vector<ReviewRecord> Queue(size_t limit) const;

  struct Stats {
    int64_t inspected = 0, accept = 0, reject = 0, uncertain = 0, audited = 0, expired = 0;
    int64_t reviewed_rejects = 0, confirmed_rejects = 0;
    int64_t reviewed_audits = 0, escapes_found = 0;
    int64_t reviewed_uncertain = 0, uncertain_defective = 0;
    Interval precision, escape_rate, recall;
    Interval estimated_escapes;  // accepts x escape rate
  };
  Stats ComputeStats() const;

 private:
  std::vector<std::string> good_;
  size_t max_open_;
  std::map<uint32_t, ReviewRecord> records_;  // parts that need review: open or reviewed
  std::map<uint32_t, bool> open_;             // the open ones (sequence order)
  int64_t inspected_ = 0, accept_ = 0, reject_ = 0, uncertain_ = 0, audited_ = 0, expired_ = 0;
};

}  // namespace pf::apps
