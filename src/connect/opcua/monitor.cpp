#include "connect/opcua/monitor.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "core/backoff.h"
#include "core/log.h"

namespace pf::opcua {
namespace {

constexpr uint32_t kObjectsFolder = 85;

// One browse-path segment before resolution: the namespace as index or URI, and the name.
struct PathSegment {
  std::optional<uint16_t> ns;
  std::string uri;
  std::string name;
};

// "1:Line1/1:Temperature", "urn:x:Line1/urn:x:Temperature" or "Server" (namespace 0).
Result<std::vector<PathSegment>> ParseBrowsePath(std::string_view path) {
  std::vector<PathSegment> out;
  if (path.empty()) return InvalidArgument("browse path is empty");
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view seg = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    PathSegment s;
    size_t digits = 0;
    while (digits < seg.size() && seg[digits] >= '0' && seg[digits] <= '9') ++digits;
    if (digits > 0 && digits < seg.size() && seg[digits] == ':') {
      if (digits > 5) return InvalidArgument("browse path '{}': segment '{}': namespace index too large", path, seg);
      uint32_t ns = 0;
      for (size_t i = 0; i < digits; ++i) ns = ns * 10 + static_cast<uint32_t>(seg[i] - '0');
      if (ns > 0xFFFF) return InvalidArgument("browse path '{}': segment '{}': namespace index too large", path, seg);
      s.ns = static_cast<uint16_t>(ns);
      s.name = std::string(seg.substr(digits + 1));
    } else if (size_t colon = seg.rfind(':'); colon != std::string_view::npos) {
      s.uri = std::string(seg.substr(0, colon));
      s.name = std::string(seg.substr(colon + 1));
      if (s.uri.empty()) return InvalidArgument("browse path '{}': segment '{}': empty namespace before ':'", path, seg);
    } else {
      s.ns = 0;
      s.name = std::string(seg);
    }
    if (s.name.empty()) return InvalidArgument("browse path '{}': segment {} has no browse name", path, out.size() + 1);
    out.push_back(std::move(s));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

bool Contains(const Status& s, std::string_view what) { return s.message().find(what) != std::string::npos; }

std::string Join(const std::vector<uint32_t>& v) {
  std::string s;
  for (uint32_t x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

}  // namespace

std::string_view MonitorStateName(MonitorState s) {
  switch (s) {
    case MonitorState::kConnecting: return "connecting";
    case MonitorState::kConnected: return "connected";
    case MonitorState::kDisconnected: return "disconnected";
    case MonitorState::kStopped: return "stopped";
  }
  return "unknown";
}

struct Monitor::Impl {
  MonitorOptions opt;
  MonitorCallbacks cb;
  std::vector<std::optional<ExpandedNodeId>> nodes;         // per item (node items)
  std::vector<std::vector<PathSegment>> paths;              // per item (browse-path items)

  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  mutable std::mutex stats_mu;
  MonitorStats stats;
  std::atomic<MonitorState> state{MonitorState::kConnecting};

  // Owned by the thread.
  std::unique_ptr<Client> client;
  std::unique_ptr<Subscription> sub;
  std::vector<uint32_t> handle_item;  // subscription client handle -> item index
  Timestamp last_response{};          // wall time of the last Publish answer (data or keep-alive)
  bool have_response = false;
  struct PendingGap {
    Timestamp from;
    std::string reason;
  };
  std::optional<PendingGap> pending_gap;  // emitted with the first data after recreation
  bool dedup_next = false;                // after a transfer with initial values
  std::vector<std::optional<DataValue>> last_value;  // per item: the delivered value with the newest source time
  int dropped_client_renewals = 0;

  bool Stopping() {
    std::lock_guard<std::mutex> l(mu);
    return stopping;
  }
  // Waits d or until Stop(); false when stopping.
  bool Sleep(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(mu);
    return !cv.wait_for(l, d, [&] { return stopping; });
  }
  template <typename F>
  void Count(F&& f) {
    std::lock_guard<std::mutex> l(stats_mu);
    f(stats);
    stats.channel_renewals =
        static_cast<uint64_t>(dropped_client_renewals + (client ? client->total_channel_renewals() : 0));
  }
  std::string last_state_message;
  void SetState(MonitorState s, const std::string& message) {
    if (s == state && message == last_state_message) return;  // the same failure again: said once
    last_state_message = message;
    state = s;
    // A break is worth a warning; the rest goes to on_state (the runtime turns it into source events).
    if (s == MonitorState::kDisconnected) {
      PF_LOG_WARN("opcua monitor {}: {}: {}", opt.client.endpoint_url, MonitorStateName(s), message);
    } else {
      PF_LOG_DEBUG("opcua monitor {}: {}: {}", opt.client.endpoint_url, MonitorStateName(s), message);
    }
    if (cb.on_state) cb.on_state(s, message);
  }

  void Run();
  Status Connect();
  Status Recover(bool reopen_channel);
  Status CreateSubscription();
  Status PollOnce();
  Status HandleGap(const PublishResult& r);
  void Deliver(std::vector<DataChange>&& changes);
  void EmitGap(Timestamp from, Timestamp to, std::string reason);
  void LoseSubscription(std::string reason);
  void DropClient();
  std::chrono::milliseconds PollTimeout() const;
  void Shutdown();
};

std::chrono::milliseconds Monitor::Impl::PollTimeout() const {
  // The server may hold a Publish up to this hint. It stays below the channel's receive timeout (or the
  // channel would be closed as dead) and below an eighth of the token lifetime, so that the renewal
  // before the next Publish comes well before the token expires.
  int64_t t = opt.client.timeout.count() * 3 / 4;
  const uint32_t lifetime = client ? client->channel().revised_lifetime_ms() : 0;
  if (lifetime > 0) t = std::min<int64_t>(t, lifetime / 8);
  return std::chrono::milliseconds(std::max<int64_t>(t, 100));
}

void Monitor::Impl::DropClient() {
  sub.reset();  // its channel is closed: no DeleteSubscriptions is sent
  if (client) dropped_client_renewals += client->total_channel_renewals();
  client.reset();
}

void Monitor::Impl::EmitGap(Timestamp from, Timestamp to, std::string reason) {
  MonitorGap g;
  for (uint32_t i = 0; i < opt.items.size(); ++i) g.handles.push_back(i);
  g.from = from;
  g.to = std::max(from, to);
  g.reason = std::move(reason);
  PF_LOG_WARN("opcua monitor {}: values lost from {} to {}: {}", opt.client.endpoint_url, FormatRfc3339(g.from),
              FormatRfc3339(g.to), g.reason);
  Count([](MonitorStats& s) { ++s.gaps; });
  if (cb.on_gap) cb.on_gap(g);
}

void Monitor::Impl::LoseSubscription(std::string reason) {
  if (sub) {
    if (!pending_gap) pending_gap = PendingGap{have_response ? last_response : Now(), std::move(reason)};
    if (client && client->channel().is_open()) (void)sub->Close();  // tell the server, if it still knows it
    sub.reset();
  }
}

void Monitor::Impl::Deliver(std::vector<DataChange>&& changes) {
  std::vector<DataChange> out;
  out.reserve(changes.size());
  uint64_t repeats = 0;
  for (DataChange& d : changes) {
    if (d.client_handle >= handle_item.size()) continue;  // Subscription already checked the handle
    const uint32_t item = handle_item[d.client_handle];
    d.client_handle = item;
    const DataValue& v = d.value;
    std::optional<DataValue>& last = last_value[item];
    if (v.source_timestamp && last && last->source_timestamp) {
      // node-opcua sends every item's current value again after each ActivateSession, and a transfer
      // with sendInitialValues does too: a value already delivered is not delivered twice.
      const bool same = *v.source_timestamp == *last->source_timestamp && v.value == last->value && v.status == last->status;
      const bool older = dedup_next && *v.source_timestamp <= *last->source_timestamp;
      if (same || older) {
        ++repeats;
        continue;
      }
    }
    if (v.source_timestamp && (!last || !last->source_timestamp || *v.source_timestamp > *last->source_timestamp)) last = v;
    out.push_back(std::move(d));
  }
  dedup_next = false;
  Count([&](MonitorStats& s) {
    s.notifications += out.size();
    s.repeats_dropped += repeats;
  });
  if (!out.empty() && cb.on_data) cb.on_data(std::move(out));
}

Status Monitor::Impl::CreateSubscription() {
  const size_t n = opt.items.size();
  std::vector<std::optional<NodeId>> resolved(n);
  std::vector<BrowsePath> bps;
  std::vector<uint32_t> bp_item;
  auto item_error = [&](uint32_t i, uint32_t code, const std::string& msg) {
    PF_LOG_WARN("opcua monitor {}: item {}: {}", opt.client.endpoint_url, i, msg);
    if (cb.on_item_error) cb.on_item_error(i, StatusCode{code}, msg);
  };
  for (uint32_t i = 0; i < n; ++i) {
    if (nodes[i]) {
      auto id = client->Resolve(*nodes[i]);
      if (id.ok()) resolved[i] = *id;
      else item_error(i, status_codes::kBadNodeIdUnknown, fmt::format("node '{}': {}", opt.items[i].node, id.status().message()));
      continue;
    }
    BrowsePath bp;
    bp.starting_node = NodeId::Numeric(0, kObjectsFolder);
    bool ok = true;
    for (const PathSegment& s : paths[i]) {
      RelativePathElement e;
      e.target_name.name = s.name;
      if (s.ns) {
        e.target_name.ns = *s.ns;
      } else {
        auto at = std::find(client->namespaces().begin(), client->namespaces().end(), s.uri);
        if (at == client->namespaces().end()) {
          item_error(i, status_codes::kBadNodeIdUnknown,
                     fmt::format("browse path '{}': namespace '{}' is not in the server's NamespaceArray",
                                 opt.items[i].browse_path, s.uri));
          ok = false;
          break;
        }
        e.target_name.ns = static_cast<uint16_t>(at - client->namespaces().begin());
      }
      bp.relative_path.elements.push_back(std::move(e));
    }
    if (!ok) continue;
    bps.push_back(std::move(bp));
    bp_item.push_back(i);
  }
  if (!bps.empty()) {
    PF_ASSIGN_OR_RETURN(std::vector<BrowsePathResult> r, client->TranslateBrowsePaths(bps));
    for (size_t k = 0; k < r.size(); ++k) {
      const uint32_t i = bp_item[k];
      if (r[k].status_code.IsBad() || r[k].targets.empty()) {
        item_error(i, r[k].status_code.IsBad() ? r[k].status_code.code : status_codes::kBadNodeIdUnknown,
                   fmt::format("browse path '{}': {}", opt.items[i].browse_path,
                               r[k].status_code.IsBad() ? r[k].status_code.Name() : "no target"));
        continue;
      }
      auto id = client->Resolve(r[k].targets[0].target_id);
      if (id.ok()) resolved[i] = *id;
      else item_error(i, status_codes::kBadNodeIdUnknown, fmt::format("browse path '{}': {}", opt.items[i].browse_path, id.status().message()));
    }
  }
  PF_ASSIGN_OR_RETURN(sub, Subscription::Create(*client, opt.subscription));
  std::vector<MonitorRequest> reqs;
  handle_item.clear();
  for (uint32_t i = 0; i < n; ++i) {
    if (!resolved[i]) continue;
    MonitorRequest m;
    m.node = *resolved[i];
    m.sampling_interval_ms = opt.items[i].sampling_interval_ms;
    m.queue_size = opt.items[i].queue_size;
    m.deadband = opt.items[i].deadband;
    m.deadband_value = opt.items[i].deadband_value;
    reqs.push_back(m);
    handle_item.push_back(i);
  }
  if (reqs.empty()) return Status::Ok();
  auto items = sub->Monitor(reqs);
  if (!items.ok()) {
    sub.reset();  // half made: created again on the next attempt
    return items.status();
  }
  for (const MonitoredItem& it : *items) {
    if (it.status.IsBad()) {
      const uint32_t i = handle_item[it.client_handle];
      item_error(i, it.status.code, fmt::format("{}: {}", opt.items[i].node.empty() ? opt.items[i].browse_path : opt.items[i].node,
                                                it.status.Name()));
    }
  }
  return Status::Ok();
}

// After a break (reopen_channel) or a session the server no longer knows (!reopen_channel): keeps the
// subscription when the server still has it, else creates it again.
Status Monitor::Impl::Recover(bool reopen_channel) {
  std::string how;
  if (reopen_channel) {
    PF_RETURN_IF_ERROR(client->ReopenChannel());
    Count([](MonitorStats& s) { ++s.reconnects; });
  }
  Status act = reopen_channel ? client->ReactivateSession() : Unavailable("session lost");
  if (act.ok()) {
    Count([](MonitorStats& s) { ++s.session_reactivations; });
    how = "session reactivated";
  } else {
    if (!client->channel().is_open()) return act;
    PF_LOG_DEBUG("opcua monitor {}: {}; creating a new session", opt.client.endpoint_url, act.message());
    PF_RETURN_IF_ERROR(client->NewSession());
    how = "new session";
    if (sub) {
      auto t = sub->Transfer(true);
      if (t.ok()) {
        Count([](MonitorStats& s) { ++s.transfers; });
        how += fmt::format(", subscription {} transferred", sub->id());
        // Messages the server sent but we never got: fetch them before the next Publish.
        std::vector<uint32_t> avail = *t;
        std::sort(avail.begin(), avail.end());
        for (uint32_t s : avail) {
          if (s < sub->next_sequence()) continue;
          auto r = sub->Republish(s);
          if (!r.ok()) {
            if (!client->channel().is_open()) return r.status();
            break;  // the next Publish reports the numbers still missing as a gap
          }
          Count([](MonitorStats& st) { ++st.republished; });
          Deliver(std::move(r->changes));
        }
        dedup_next = true;  // the initial values the transfer asked for may repeat what was delivered
      } else {
        if (!client->channel().is_open()) return t.status();
        LoseSubscription(fmt::format("server lost subscription {} ({}): recreated", sub->id(), t.status().message()));
      }
    }
  }
  PF_RETURN_IF_ERROR(client->RefreshNamespaces());
  if (!sub) {
    PF_RETURN_IF_ERROR(client->RefreshLimits());  // a restarted server may announce other limits
    const bool again = pending_gap.has_value();
    PF_RETURN_IF_ERROR(CreateSubscription());
    if (again) Count([](MonitorStats& s) { ++s.recreations; });
    how += fmt::format(", subscription {} {}", sub->id(), again ? "recreated" : "created");
  }
  SetState(MonitorState::kConnected, fmt::format("connected to {} ({})", opt.client.endpoint_url, how));
  return Status::Ok();
}

Status Monitor::Impl::Connect() {
  if (client) return Recover(true);
  PF_ASSIGN_OR_RETURN(client, Client::Connect(opt.client));
  Status st = CreateSubscription();
  if (!st.ok()) {
    DropClient();
    return st;
  }
  if (pending_gap) Count([](MonitorStats& s) { ++s.recreations; });
  SetState(MonitorState::kConnected,
           fmt::format("connected to {} (subscription {}, {} items)", opt.client.endpoint_url, sub->id(), handle_item.size()));
  return Status::Ok();
}

Status Monitor::Impl::HandleGap(const PublishResult& r) {
  std::vector<uint32_t> lost;
  std::string why;
  for (uint32_t s : r.missing) {
    auto rp = sub->Republish(s);
    if (!rp.ok()) {
      if (!client->channel().is_open()) return rp.status();
      lost.push_back(s);
      why = rp.status().message();
      continue;
    }
    Count([](MonitorStats& st) { ++st.republished; });
    Deliver(std::move(rp->changes));
  }
  if (!lost.empty()) {
    EmitGap(have_response ? last_response : Now(), Now(),
            fmt::format("notification messages {} of subscription {} lost ({})", Join(lost), sub->id(), why));
  }
  return Status::Ok();
}

Status Monitor::Impl::PollOnce() {
  if (!sub) return FailedPrecondition("no subscription");
  auto r = sub->Poll(PollTimeout());
  if (!r.ok()) return r.status();
  const Timestamp now = Now();
  switch (r->kind) {
    case PublishResult::Kind::kTimeout: return Status::Ok();
    case PublishResult::Kind::kKeepAlive: Count([](MonitorStats& s) { ++s.keep_alives; }); break;
    case PublishResult::Kind::kGap: PF_RETURN_IF_ERROR(HandleGap(*r)); break;
    case PublishResult::Kind::kStatusChange: {
      // BadTimeout: the lifetime expired; GoodSubscriptionTransferred: another session took it over.
      const std::string st = r->status ? r->status->Name() : "status change";
      LoseSubscription(fmt::format("subscription {} ended ({}): recreated", sub->id(), st));
      PF_RETURN_IF_ERROR(CreateSubscription());
      Count([](MonitorStats& s) { ++s.recreations; });
      break;
    }
    case PublishResult::Kind::kData:
      if (pending_gap) {
        // Up to the first value sampled after recovery (its source time), else its arrival.
        Timestamp to = now;
        for (const DataChange& d : r->changes) {
          if (!d.value.source_timestamp) continue;
          const Timestamp src{TicksToUnixNanos(*d.value.source_timestamp)};
          if (src > pending_gap->from && src < to) to = src;
        }
        EmitGap(pending_gap->from, to, std::move(pending_gap->reason));
        pending_gap.reset();
      }
      Deliver(std::move(r->changes));
      break;
  }
  last_response = now;
  have_response = true;
  return Status::Ok();
}

void Monitor::Impl::Shutdown() {
  if (client && client->channel().is_open()) {
    if (sub) (void)sub->Close();
    sub.reset();
    client->Close();
  }
  DropClient();
  Count([](MonitorStats&) {});
  SetState(MonitorState::kStopped, "stopped");
}

void Monitor::Impl::Run() {
  Backoff backoff(opt.reconnect_min, opt.reconnect_max, std::random_device{}());
  bool connected = false;
  SetState(MonitorState::kConnecting, fmt::format("connecting to {}", opt.client.endpoint_url));
  while (!Stopping()) {
    if (!connected) {
      Status st = Connect();
      if (Stopping()) break;
      if (!st.ok()) {
        const ::pf::StatusCode code = st.code();
        if (client && (code == ::pf::StatusCode::kPermissionDenied || code == ::pf::StatusCode::kFailedPrecondition ||
                       code == ::pf::StatusCode::kInvalidArgument)) {
          // Not the network (a refused certificate or login, a changed endpoint): start over with a full
          // connect, which reads the endpoints and certificates again.
          LoseSubscription(fmt::format("reconnect failed ({}): subscription recreated", st.message()));
          DropClient();
        }
        SetState(MonitorState::kDisconnected, st.message());
        // Backoff with jitter, so that many clients of one restarted server do not retry in step.
        if (!Sleep(std::chrono::duration_cast<std::chrono::milliseconds>(backoff.Next()))) break;
        continue;
      }
      connected = true;
      backoff.Reset();
    }
    Status st = PollOnce();
    Count([](MonitorStats&) {});
    if (st.ok()) continue;
    if (Stopping()) break;
    if (client->channel().is_open()) {
      if (Contains(st, "BadSession")) {
        Status r = Recover(false);  // the server dropped the session; the channel is fine
        if (r.ok()) continue;
        st = r;
      } else if (Contains(st, "BadSubscriptionIdInvalid") || Contains(st, "BadNoSubscription")) {
        LoseSubscription(fmt::format("server lost subscription {} ({}): recreated", sub ? sub->id() : 0, st.message()));
        Status c = CreateSubscription();
        if (c.ok()) {
          Count([](MonitorStats& s) { ++s.recreations; });
          continue;
        }
        st = c;
      }
      // Anything else (a malformed notification, an unexpected answer): close the channel with the
      // reason logged, then recover like after a network break.
      if (client->channel().is_open()) (void)client->channel().Fail(st);
    }
    SetState(MonitorState::kDisconnected, st.message());
    connected = false;  // the first reconnect attempt follows at once
  }
  Shutdown();
}

Result<std::unique_ptr<Monitor>> Monitor::Start(MonitorOptions options, MonitorCallbacks callbacks) {
  PF_RETURN_IF_ERROR(ParseEndpointUrl(options.client.endpoint_url).status());
  if (options.items.empty()) return InvalidArgument("monitor: no items");
  const SubscriptionOptions& so = options.subscription;
  if (!(so.publishing_interval_ms > 0)) {
    return InvalidArgument("monitor: publishing interval must be positive, got {} ms", so.publishing_interval_ms);
  }
  if (so.max_keep_alive_count == 0) return InvalidArgument("monitor: max keep-alive count must be at least 1");
  if (so.lifetime_count < 3 * so.max_keep_alive_count) {
    return InvalidArgument("monitor: lifetime count {} must be at least 3 x the keep-alive count {} (OPC 10000-4 5.13.2)",
                           so.lifetime_count, so.max_keep_alive_count);
  }
  if (options.reconnect_min.count() <= 0 || options.reconnect_max < options.reconnect_min) {
    return InvalidArgument("monitor: reconnect backoff must satisfy 0 < min ({} ms) <= max ({} ms)",
                           options.reconnect_min.count(), options.reconnect_max.count());
  }
  if (options.client.timeout.count() <= 0) {
    return InvalidArgument("monitor: client timeout must be positive, got {} ms", options.client.timeout.count());
  }
  std::unique_ptr<Impl> impl(new Impl());
  const size_t n = options.items.size();
  impl->nodes.resize(n);
  impl->paths.resize(n);
  impl->last_value.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const MonitorItemSpec& it = options.items[i];
    if (it.node.empty() == it.browse_path.empty()) {
      return InvalidArgument("monitor: item {}: give exactly one of node and browse_path ({})", i,
                             it.node.empty() ? "neither is set" : "both are set");
    }
    if (!it.node.empty()) {
      auto id = ParseExpandedNodeId(it.node);
      if (!id.ok()) return InvalidArgument("monitor: item {}: node '{}': {}", i, it.node, id.status().message());
      impl->nodes[i] = *id;
    } else {
      auto p = ParseBrowsePath(it.browse_path);
      if (!p.ok()) return InvalidArgument("monitor: item {}: {}", i, p.status().message());
      impl->paths[i] = std::move(*p);
    }
    if (!(it.sampling_interval_ms >= 0) && it.sampling_interval_ms != -1) {
      return InvalidArgument("monitor: item {}: sampling interval must be -1 or >= 0 ms, got {}", i, it.sampling_interval_ms);
    }
    if (it.deadband != DeadbandType::kNone && !(it.deadband_value >= 0)) {
      return InvalidArgument("monitor: item {}: deadband must be >= 0, got {}", i, it.deadband_value);
    }
    if (it.deadband == DeadbandType::kPercent && it.deadband_value > 100) {
      return InvalidArgument("monitor: item {}: percent deadband must be 0..100, got {}", i, it.deadband_value);
    }
  }
  impl->opt = std::move(options);
  impl->cb = std::move(callbacks);
  std::unique_ptr<Monitor> m(new Monitor());
  m->impl_ = std::move(impl);
  Impl* raw = m->impl_.get();
  m->impl_->thread = std::thread([raw] { raw->Run(); });
  return m;
}

void Monitor::Stop() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  // From a callback (the Monitor's own thread) only the flag can be set: the loop ends after it.
  if (impl_->thread.joinable() && impl_->thread.get_id() != std::this_thread::get_id()) impl_->thread.join();
}

Monitor::~Monitor() {
  Stop();
  if (impl_ && impl_->thread.joinable()) impl_->thread.detach();  // only when destroyed from a callback
}

MonitorStats Monitor::stats() const {
  std::lock_guard<std::mutex> l(impl_->stats_mu);
  return impl_->stats;
}

MonitorState Monitor::state() const { return impl_->state.load(); }

}  // namespace pf::opcua
