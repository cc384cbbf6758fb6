#pragma once
// Operating regimes: which baseline a sample belongs to, and which samples belong to none.
//
// A machine's normal behaviour depends on where it runs (a fan at 900 rpm and at 1500 rpm has
// different vibration, temperatures and currents), so a baseline is learned per regime. A regime
// is a bin of one or two regime variables (for a variable-speed drive: speed and load), each cut
// by ascending edges into half-open bins [e0, e1), [e1, e2), ...; values outside [first, last)
// belong to no regime. With no variables there is a single regime, "all".
//
// Start-up and coast-down are no regime: their features are dominated by the transient, not by
// the machine's health. A sample is a transient when the speed variable is below
// min_speed_fraction * nominal_speed, or when the speed changes faster than max_speed_rate
// (speed units per second, measured against the previous sample). Such samples are neither
// learned nor scored, and they are counted (see RegimeCounts).
//
// RegimeClassifier keeps the previous speed sample for the rate check: one per asset and stream,
// not thread-safe. Classify does not allocate.
#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace pf::detect {

struct RegimeVariable {
  std::string name;           // "speed", "load": for messages and regime names
  std::vector<double> edges;  // ascending, at least 2: the bin boundaries
};

struct TransientRule {
  int speed_variable = -1;        // index into RegimeConfig::variables; -1: no transient rule
  double nominal_speed = 0;       // in the speed variable's unit, > 0 when the rule is on
  double min_speed_fraction = 0;  // below this fraction of nominal: start-up / coast-down
  double max_speed_rate = std::numeric_limits<double>::infinity();  // |d speed / dt|, per second
};

struct RegimeConfig {
  std::vector<RegimeVariable> variables;  // 0, 1 or 2
  TransientRule transient;

  size_t RegimeCount() const;                // product of the bin counts (1 with no variables)
  std::string RegimeName(int regime) const;  // "speed[900, 1200) load[0.5, 0.8)" or "all"
  Status Validate() const;                   // precise errors: "regime variable 'speed': edges ..."
};

enum class RegimeState : uint8_t {
  kSteady,             // in a regime: learn / score
  kLowSpeed,           // start-up or coast-down: speed below the fraction of nominal
  kFastChange,         // start-up or coast-down: speed changing faster than the rate limit
  kOutOfRange,         // a regime variable outside its edges
  kNotFinite,          // a regime value is NaN or infinite
  kTimeNotIncreasing,  // the rate check needs strictly increasing time
};
constexpr int kRegimeStateCount = 6;
std::string_view RegimeStateName(RegimeState s);  // "steady", "low_speed", ...

struct RegimeVerdict {
  RegimeState state = RegimeState::kSteady;
  int regime = -1;  // valid when state == kSteady
};

// How many samples ended in each state (index = RegimeState).
struct RegimeCounts {
  std::array<uint64_t, kRegimeStateCount> by_state{};
  uint64_t excluded() const;  // everything but kSteady
  std::string Summary() const;  // "2400 steady, 37 low_speed, 5 fast_change"
};

class RegimeClassifier {
 public:
  // config must have passed Validate().
  explicit RegimeClassifier(RegimeConfig config);

  // values: one per regime variable; t_seconds: the sample time (only used by the rate rule).
  // values.size() must equal the number of variables (checked: kOutOfRange otherwise).
  RegimeVerdict Classify(std::span<const double> values, double t_seconds);
  void Reset() { has_previous_ = false; }  // e.g. after a gap in the stream

  const RegimeConfig& config() const { return config_; }

 private:
  RegimeConfig config_;
  bool has_previous_ = false;
  double previous_speed_ = 0;
  double previous_t_ = 0;
};

}  // namespace pf::detect
