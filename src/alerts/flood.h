#pragma once
// Flood detection per operator position (EEMUA 191 / ISA-18.2): more than `count` alerts raised
// within a sliding `window` is a flood. It starts at the alert that pushes the window above
// `count` and ends at the instant the window holds `count` again (the (count+1)-th most recent
// raise leaves it). Pure and deterministic; not thread-safe (owned by one AlertEngine).
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "alerts/alert_types.h"

namespace pf::alerts {

class FloodDetector {
 public:
  FloodDetector(int count, Duration window) : count_(count), window_(window) {}

  // Ends floods that are over by `raise.time`, then counts the raise; appends a start record when
  // it makes a flood. Raises should arrive in time order (a late one is inserted in order).
  void OnRaise(const AlertTransition& raise, std::vector<FloodRecord>& out);
  // Ends floods whose window fell back to `count` at or before `now`.
  void Advance(Timestamp now, std::vector<FloodRecord>& out);
  bool InFlood(const std::string& position) const;

  nlohmann::json ToJson() const;
  Status FromJson(const nlohmann::json& j);

 private:
  struct Raise {
    Timestamp time;
    std::string asset, cause;
    Priority priority = Priority::kLow;
  };
  struct Position {
    std::deque<Raise> recent;  // raises within the window ending at the last time seen
    bool in_flood = false;
    FloodRecord current;
    std::map<std::pair<std::string, std::string>, int> causes;
  };
  void AdvancePosition(const std::string& name, Position& p, Timestamp now, std::vector<FloodRecord>& out);
  static void Count(Position& p, const Raise& r);
  static FloodRecord Summary(const Position& p);

  int count_;
  Duration window_;
  std::map<std::string, Position> positions_;
};

}  // namespace pf::alerts
