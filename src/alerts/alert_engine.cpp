#include "alerts/alert_engine.h"

#include <algorithm>

namespace pf::alerts {

AlertState AlertEngine::Condition::Reported() const {
  if (shelved) return AlertState::kShelved;
  if (suppressed) return AlertState::kSuppressed;
  return life;
}

AlertEngine::AlertEngine(AlertEngineConfig config)
    : config_(std::move(config)), flood_(config_.flood_count, config_.flood_window) {}

Result<AlertEngine> AlertEngine::Create(AlertEngineConfig config) {
  PF_RETURN_IF_ERROR(config.Validate());
  return AlertEngine(std::move(config));
}

Duration AlertEngine::OffDelay(const Condition& c) const {
  Duration off = config_.For(c.source).off_delay;
  return c.chattering ? std::max(off, config_.chatter_window) : off;
}

std::optional<Timestamp> AlertEngine::NextDue(const Condition& c) const {
  std::optional<Timestamp> due;
  if (c.raw != c.debounced) due = c.raw_since + (c.raw ? config_.For(c.source).on_delay : OffDelay(c));
  if (c.shelved && (!due || c.shelve_expiry < *due)) due = c.shelve_expiry;
  return due;
}

void AlertEngine::Advance(Condition& c, Timestamp now, std::vector<AlertTransition>& out) {
  for (;;) {
    std::optional<Timestamp> due = NextDue(c);
    if (!due || *due > now) return;
    if (c.raw != c.debounced && c.raw_since + (c.raw ? config_.For(c.source).on_delay : OffDelay(c)) == *due) {
      c.debounced = c.raw;
      OnDebounced(c, *due, out);
      continue;
    }
    c.shelved = false;
    Reveal(c, AlertState::kShelved, "shelve_expired", *due, "", c.shelve_reason, out);
    c.shelve_reason.clear();
    c.shelved_by.clear();
  }
}

AlertTransition AlertEngine::Record(const Condition& c, const std::string& action, AlertState from, AlertState to,
                                    Timestamp t) const {
  AlertTransition r;
  r.alert_id = c.alert_id;
  r.asset = c.asset;
  r.cause = c.cause;
  r.source = c.source;
  r.area = config_.AreaOf(c.asset);
  r.position = config_.PositionOf(c.asset);
  r.priority = c.priority;
  r.action = action;
  r.from = from;
  r.to = to;
  r.time = t;
  r.value = c.value;
  r.chattering = c.chattering;
  r.machine_state = c.machine_state;
  r.message = c.message;
  return r;
}

void AlertEngine::Raise(Condition& c, Timestamp t, std::vector<AlertTransition>& out) {
  c.alert_id = fmt::format("{:016x}{:08x}", static_cast<uint64_t>(t.ns), next_seq_++);
  c.raised_at = t;
  c.life = AlertState::kActiveUnacked;
  c.acked_by.clear();
  c.acked_at = Timestamp{};
  c.chattering = false;
  out.push_back(Record(c, "raise", AlertState::kNormal, AlertState::kActiveUnacked, t));
  CheckChatter(c, t, out);
}

void AlertEngine::EndOccurrence(Condition& c) {
  c.alert_id.clear();
  c.life = AlertState::kNormal;
  c.chattering = false;
  c.acked_by.clear();
  c.acked_at = Timestamp{};
}

void AlertEngine::CheckChatter(Condition& c, Timestamp t, std::vector<AlertTransition>& out) {
  while (!c.activations.empty() && c.activations.front() <= t - config_.chatter_window) c.activations.pop_front();
  if (c.chattering || c.alert_id.empty()) return;
  if (c.activations.size() <= static_cast<size_t>(config_.chatter_count)) return;
  c.chattering = true;
  AlertTransition r = Record(c, "chattering", c.Reported(), c.Reported(), t);
  r.reason = fmt::format("{} activations within {}", c.activations.size(), FormatDuration(config_.chatter_window));
  out.push_back(std::move(r));
}

void AlertEngine::OnDebounced(Condition& c, Timestamp t, std::vector<AlertTransition>& out) {
  if (c.Hidden()) return;
  if (c.debounced) {
    if (c.life == AlertState::kNormal) {
      Raise(c, t, out);
    } else if (c.life == AlertState::kRtnUnacked) {
      out.push_back(Record(c, "reactivate", AlertState::kRtnUnacked, AlertState::kActiveUnacked, t));
      c.life = AlertState::kActiveUnacked;
    }
    return;
  }
  if (c.life == AlertState::kActiveUnacked) {
    out.push_back(Record(c, "rtn", AlertState::kActiveUnacked, AlertState::kRtnUnacked, t));
    c.life = AlertState::kRtnUnacked;
  } else if (c.life == AlertState::kActiveAcked) {
    out.push_back(Record(c, "clear", AlertState::kActiveAcked, AlertState::kNormal, t));
    EndOccurrence(c);
  }
}

void AlertEngine::Reveal(Condition& c, AlertState before, const std::string& action, Timestamp t,
                         const std::string& who, const std::string& reason, std::vector<AlertTransition>& out) {
  auto push = [&](AlertState to) {
    AlertTransition r = Record(c, action, before, to, t);
    r.who = who;
    r.reason = reason;
    out.push_back(std::move(r));
  };
  if (c.Hidden()) {
    if (c.Reported() != before && !c.alert_id.empty()) push(c.Reported());
    return;
  }
  if (c.alert_id.empty()) {
    if (c.debounced) Raise(c, t, out);
    return;
  }
  if (!c.debounced) {
    push(AlertState::kNormal);
    EndOccurrence(c);
    return;
  }
  if (c.life != AlertState::kActiveAcked) c.life = AlertState::kActiveUnacked;
  push(c.life);
}

EngineOutput AlertEngine::Finish(std::vector<AlertTransition> transitions, std::optional<Timestamp> now) {
  std::stable_sort(transitions.begin(), transitions.end(),
                   [](const AlertTransition& a, const AlertTransition& b) { return a.time < b.time; });
  EngineOutput out;
  for (const auto& t : transitions)
    if (t.action == "raise") flood_.OnRaise(t, out.floods);
  if (now) flood_.Advance(*now, out.floods);
  if (!transitions.empty()) global_dirty_ = true;
  if (!out.floods.empty()) floods_dirty_ = true;
  out.transitions = std::move(transitions);
  return out;
}

Result<EngineOutput> AlertEngine::Evaluate(const ConditionUpdate& u) {
  if (u.asset.empty()) return InvalidArgument("alerts: update from '{}': asset is empty", u.source);
  if (u.cause.empty()) return InvalidArgument("alerts: update from '{}' for asset '{}': cause is empty", u.source, u.asset);
  if (u.source.empty()) return InvalidArgument("alerts: update for '{}/{}': source is empty", u.asset, u.cause);
  Key key{u.asset, u.cause};
  auto it = conditions_.find(key);
  if (it != conditions_.end() && u.time < it->second.last_update)
    return OutOfRange("alerts: condition '{}/{}': update at {} is older than the last one at {}", u.asset, u.cause,
                      FormatRfc3339(u.time), FormatRfc3339(it->second.last_update));
  if (it == conditions_.end()) {
    Condition fresh;
    fresh.asset = u.asset;
    fresh.cause = u.cause;
    fresh.raw_since = u.time;
    it = conditions_.emplace(key, std::move(fresh)).first;
  }
  Condition& c = it->second;
  // Only a change of the lifecycle state is persisted at once (value, message and last_update
  // of a condition that stays as it is would make every sample a write).
  auto before = c.Lifecycle();
  std::vector<AlertTransition> out;
  Advance(c, u.time, out);
  const ConditionConfig& cc = config_.For(u.source);
  c.source = u.source;
  c.priority = u.priority.value_or(cc.priority);
  c.value = u.value;
  c.message = u.message;
  c.machine_state = u.machine_state;
  c.last_update = u.time;
  bool suppress = !u.machine_state.empty() && std::find(cc.suppress_in_states.begin(), cc.suppress_in_states.end(),
                                                        u.machine_state) != cc.suppress_in_states.end();
  if (u.active != c.raw) {
    c.raw = u.active;
    c.raw_since = u.time;
    if (u.active) {
      c.activations.push_back(u.time);
      CheckChatter(c, u.time, out);
    }
  }
  // Entering suppression hides the condition before this update's value is debounced; leaving
  // it debounces the value first, so the condition comes back with its current state.
  if (suppress && !c.suppressed) SetSuppressed(c, true, u.time, out);
  Advance(c, u.time, out);
  if (!suppress && c.suppressed) SetSuppressed(c, false, u.time, out);
  if (c.Lifecycle() != before || !out.empty()) dirty_.insert(key);
  return Finish(std::move(out), u.time);
}

void AlertEngine::SetSuppressed(Condition& c, bool suppressed, Timestamp t, std::vector<AlertTransition>& out) {
  AlertState before = c.Reported();
  c.suppressed = suppressed;
  Reveal(c, before, suppressed ? "suppress" : "unsuppress", t, "", fmt::format("machine state '{}'", c.machine_state), out);
}

EngineOutput AlertEngine::Tick(Timestamp now) {
  std::vector<AlertTransition> out;
  for (auto& [key, c] : conditions_) {
    std::optional<Timestamp> due = NextDue(c);
    if (!due || *due > now) continue;
    dirty_.insert(key);
    Advance(c, now, out);
  }
  return Finish(std::move(out), now);
}

AlertEngine::Condition* AlertEngine::ByAlertId(const std::string& alert_id) {
  for (auto& [key, c] : conditions_)
    if (!c.alert_id.empty() && c.alert_id == alert_id) return &c;
  return nullptr;
}

namespace {
Status NotCurrent(const std::string& id) {
  return NotFound("alert '{}' is not current (unknown, or already cleared)", id);
}
}  // namespace

Result<EngineOutput> AlertEngine::Ack(const std::string& id, const std::string& who, const std::string& comment,
                                      Timestamp now) {
  if (who.empty()) return InvalidArgument("who: acknowledging alert '{}' needs the operator's name", id);
  Condition* found = ByAlertId(id);
  if (!found) return NotCurrent(id);
  // Work on a copy: a refused action leaves the state (and its due transitions) untouched.
  Condition c = *found;
  std::vector<AlertTransition> out;
  Advance(c, now, out);
  if (c.alert_id != id) return NotCurrent(id);
  if (c.Hidden())
    return FailedPrecondition("alert '{}' is {}; it cannot be acknowledged until it is back in service", id,
                              AlertStateName(c.Reported()));
  if (c.life == AlertState::kActiveAcked)
    return FailedPrecondition("alert '{}' is already acknowledged (by {} at {})", id, c.acked_by, FormatRfc3339(c.acked_at));
  AlertState to = c.life == AlertState::kRtnUnacked ? AlertState::kNormal : AlertState::kActiveAcked;
  AlertTransition r = Record(c, "ack", c.life, to, now);
  r.who = who;
  r.reason = comment;
  out.push_back(std::move(r));
  if (to == AlertState::kNormal) {
    EndOccurrence(c);
  } else {
    c.life = to;
    c.acked_by = who;
    c.acked_at = now;
  }
  *found = std::move(c);
  dirty_.insert({found->asset, found->cause});
  return Finish(std::move(out), now);
}

Result<EngineOutput> AlertEngine::Shelve(const std::string& id, const std::string& who, const std::string& reason,
                                         std::optional<Timestamp> expires, Timestamp now) {
  if (who.empty()) return InvalidArgument("who: shelving alert '{}' needs the operator's name", id);
  if (reason.empty()) return InvalidArgument("reason: shelving alert '{}' needs a reason", id);
  if (!expires) return InvalidArgument("expires: shelving alert '{}' needs an expiry time (a shelve is always time-limited)", id);
  if (*expires <= now)
    return InvalidArgument("expires: {} is not after now ({})", FormatRfc3339(*expires), FormatRfc3339(now));
  if (*expires - now > max_shelve_)
    return InvalidArgument("expires: {} is more than {} ahead (the longest shelve)", FormatRfc3339(*expires),
                           FormatDuration(max_shelve_));
  Condition* found = ByAlertId(id);
  if (!found) return NotCurrent(id);
  Condition c = *found;
  std::vector<AlertTransition> out;
  Advance(c, now, out);
  if (c.alert_id != id) return NotCurrent(id);
  AlertState before = c.Reported();
  c.shelved = true;
  c.shelve_expiry = *expires;
  c.shelve_reason = reason;
  c.shelved_by = who;
  if (before == AlertState::kShelved) {
    AlertTransition r = Record(c, "shelve", before, before, now);
    r.who = who;
    r.reason = reason;
    out.push_back(std::move(r));
  } else {
    Reveal(c, before, "shelve", now, who, reason, out);
  }
  *found = std::move(c);
  dirty_.insert({found->asset, found->cause});
  return Finish(std::move(out), now);
}

Result<EngineOutput> AlertEngine::Unshelve(const std::string& id, const std::string& who, Timestamp now) {
  if (who.empty()) return InvalidArgument("who: unshelving alert '{}' needs the operator's name", id);
  Condition* found = ByAlertId(id);
  if (!found) return NotCurrent(id);
  Condition c = *found;
  std::vector<AlertTransition> out;
  Advance(c, now, out);
  if (c.alert_id != id) return NotCurrent(id);
  if (!c.shelved) return FailedPrecondition("alert '{}' is not shelved (it is {})", id, AlertStateName(c.Reported()));
  c.shelved = false;
  Reveal(c, AlertState::kShelved, "unshelve", now, who, c.shelve_reason, out);
  c.shelve_reason.clear();
  c.shelved_by.clear();
  *found = std::move(c);
  dirty_.insert({found->asset, found->cause});
  return Finish(std::move(out), now);
}

AlertView AlertEngine::View(const Condition& c) const {
  AlertView v;
  v.alert_id = c.alert_id;
  v.asset = c.asset;
  v.cause = c.cause;
  v.source = c.source;
  v.area = config_.AreaOf(c.asset);
  v.position = config_.PositionOf(c.asset);
  v.priority = c.priority;
  v.state = c.Reported();
  v.condition_active = c.debounced;
  v.chattering = c.chattering;
  v.raised_at = c.raised_at;
  v.acked_by = c.acked_by;
  v.acked_at = c.acked_at;
  if (c.shelved) v.shelved_until = c.shelve_expiry;
  v.shelve_reason = c.shelve_reason;
  v.shelved_by = c.shelved_by;
  v.value = c.value;
  v.message = c.message;
  return v;
}

std::vector<AlertView> AlertEngine::Current() const {
  std::vector<AlertView> out;
  for (const auto& [key, c] : conditions_)
    if (!c.alert_id.empty()) out.push_back(View(c));
  std::sort(out.begin(), out.end(), [](const AlertView& a, const AlertView& b) { return a.alert_id < b.alert_id; });
  return out;
}

std::optional<AlertView> AlertEngine::Find(const std::string& alert_id) const {
  for (const auto& [key, c] : conditions_)
    if (!c.alert_id.empty() && c.alert_id == alert_id) return View(c);
  return std::nullopt;
}

}  // namespace pf::alerts
