#include "connect/opcua/subscription.h"

#include <algorithm>

#include <fmt/format.h>

namespace pf::opcua {

namespace {
constexpr uint32_t kBadTimeout = 0x800A0000u;
uint32_t After(uint32_t s) { return s == 0xFFFFFFFFu ? 1 : s + 1; }  // sequence numbers skip 0 on wrap
}  // namespace

Result<std::vector<uint32_t>> SequenceTracker::Accept(uint32_t seq, bool keep_alive) {
  if (seq == 0) return DataLoss("sequence number 0 is not valid");
  std::vector<uint32_t> missing;
  if (seq != next_) {
    // Distance from next_ to seq going forward (with the wrap that skips 0).
    uint64_t dist = seq > next_ ? uint64_t{seq} - next_ : (uint64_t{0xFFFFFFFFu} - next_) + seq;
    if (dist > kMaxGap) {
      return DataLoss("sequence number {} {} expected {}: a jump of {} is not a gap but a broken stream", seq,
                      keep_alive ? "in a keep-alive, " : "", next_, dist);
    }
    for (uint32_t s = next_; s != seq; s = After(s)) missing.push_back(s);
  }
  next_ = keep_alive ? seq : After(seq);
  return missing;
}

Subscription::~Subscription() { (void)Close(); }

template <typename Resp, typename Req>
Result<Resp> Subscription::Call(Req req, uint32_t timeout_hint_ms) {
  SecureChannel& ch = client_.channel();
  PF_RETURN_IF_ERROR(ch.MaybeRenew());
  req.request_header = ch.NewHeader(client_.auth_token());
  if (timeout_hint_ms > 0) req.request_header.timeout_hint = timeout_hint_ms;
  PF_ASSIGN_OR_RETURN(Resp resp, ch.Call<Resp>(req));
  if (resp.response_header.service_result.IsBad()) {
    return Unavailable("{}: {}", Resp::kName, resp.response_header.service_result.Name());
  }
  return resp;
}

Result<std::unique_ptr<Subscription>> Subscription::Create(Client& client, const SubscriptionOptions& o) {
  if (!(o.publishing_interval_ms > 0)) {
    return InvalidArgument("publishing interval must be positive, got {} ms", o.publishing_interval_ms);
  }
  if (o.max_keep_alive_count == 0) return InvalidArgument("max keep-alive count must be at least 1");
  if (o.lifetime_count < 3 * o.max_keep_alive_count) {
    return InvalidArgument("lifetime count {} must be at least 3 x the keep-alive count {} (OPC 10000-4 5.13.2)",
                           o.lifetime_count, o.max_keep_alive_count);
  }
  std::unique_ptr<Subscription> s(new Subscription(client));
  s->opt_ = o;
  CreateSubscriptionRequest req;
  req.requested_publishing_interval = o.publishing_interval_ms;
  req.requested_lifetime_count = o.lifetime_count;
  req.requested_max_keep_alive_count = o.max_keep_alive_count;
  req.max_notifications_per_publish = o.max_notifications_per_publish;
  req.publishing_enabled = true;
  req.priority = o.priority;
  PF_ASSIGN_OR_RETURN(auto resp, s->Call<CreateSubscriptionResponse>(req));
  if (resp.subscription_id == 0) return DataLoss("CreateSubscriptionResponse: subscription id 0");
  s->id_ = resp.subscription_id;
  s->open_ = true;
  s->revised_interval_ = resp.revised_publishing_interval;
  s->revised_lifetime_ = resp.revised_lifetime_count;
  s->revised_keep_alive_ = resp.revised_max_keep_alive_count;
  return s;
}

Result<std::vector<MonitoredItem>> Subscription::Monitor(const std::vector<MonitorRequest>& items) {
  if (!open_) return FailedPrecondition("subscription is closed");
  std::vector<MonitoredItem> out;
  out.reserve(items.size());
  const size_t limit = client_.limits().max_monitored_items_per_call;
  const size_t per_call = limit == 0 ? std::max<size_t>(items.size(), 1) : limit;
  for (size_t start = 0; start < items.size(); start += per_call) {
    const size_t end = std::min(items.size(), start + per_call);
    CreateMonitoredItemsRequest req;
    req.subscription_id = id_;
    req.timestamps_to_return = opt_.timestamps;
    for (size_t i = start; i < end; ++i) {
      const MonitorRequest& m = items[i];
      if (m.deadband != DeadbandType::kNone && !(m.deadband_value >= 0)) {
        return InvalidArgument("item {} ({}): deadband must be >= 0, got {}", i, m.node.ToString(), m.deadband_value);
      }
      if (m.deadband == DeadbandType::kPercent && m.deadband_value > 100) {
        return InvalidArgument("item {} ({}): percent deadband must be 0..100, got {}", i, m.node.ToString(),
                               m.deadband_value);
      }
      MonitoredItemCreateRequest c;
      c.item_to_monitor = ReadValueId{m.node, m.attribute_id, "", {}};
      c.monitoring_mode = MonitoringMode::kReporting;
      c.requested_parameters.client_handle = static_cast<uint32_t>(items_.size() + i);
      c.requested_parameters.sampling_interval = m.sampling_interval_ms;
      c.requested_parameters.queue_size = m.queue_size;
      c.requested_parameters.discard_oldest = m.discard_oldest;
      if (m.deadband != DeadbandType::kNone || m.trigger != DataChangeTrigger::kStatusValue) {
        c.requested_parameters.filter = ToExtensionObject(DataChangeFilter{m.trigger, m.deadband, m.deadband_value});
      }
      req.items_to_create.push_back(std::move(c));
    }
    ++create_item_calls_;
    PF_ASSIGN_OR_RETURN(auto resp, Call<CreateMonitoredItemsResponse>(std::move(req)));
    if (resp.results.size() != end - start) {
      return DataLoss("CreateMonitoredItemsResponse: {} results for {} items", resp.results.size(), end - start);
    }
    for (size_t i = start; i < end; ++i) {
      const MonitoredItemCreateResult& r = resp.results[i - start];
      MonitoredItem mi;
      mi.client_handle = static_cast<uint32_t>(items_.size() + i);
      mi.node = items[i].node;
      mi.status = r.status_code;
      mi.monitored_item_id = r.monitored_item_id;
      mi.revised_sampling_interval_ms = r.revised_sampling_interval;
      mi.revised_queue_size = r.revised_queue_size;
      out.push_back(mi);
    }
  }
  items_.insert(items_.end(), out.begin(), out.end());
  return out;
}

Result<PublishResult> Subscription::Convert(const NotificationMessage& m) {
  PublishResult r;
  r.sequence_number = m.sequence_number;
  r.publish_time = m.publish_time;
  if (m.IsKeepAlive()) {
    r.kind = PublishResult::Kind::kKeepAlive;
    return r;
  }
  r.kind = PublishResult::Kind::kData;
  for (size_t k = 0; k < m.notification_data.size(); ++k) {
    const ExtensionObject& x = m.notification_data[k];
    if (x.type_id == NodeId::Numeric(0, DataChangeNotification::kBinaryEncodingId)) {
      DataChangeNotification dcn;
      Status st = FromExtensionObject(x, &dcn);
      if (!st.ok()) return DataLoss("notification {} data {}: {}", m.sequence_number, k, st.message());
      for (const MonitoredItemNotification& n : dcn.monitored_items) {
        if (n.client_handle >= items_.size()) {
          return DataLoss("notification {}: unknown client handle {} (have {} items)", m.sequence_number,
                          n.client_handle, items_.size());
        }
        r.changes.push_back(DataChange{n.client_handle, items_[n.client_handle].node, n.value});
      }
    } else if (x.type_id == NodeId::Numeric(0, StatusChangeNotification::kBinaryEncodingId)) {
      StatusChangeNotification sc;
      Status st = FromExtensionObject(x, &sc);
      if (!st.ok()) return DataLoss("notification {} data {}: {}", m.sequence_number, k, st.message());
      r.status = sc.status;
      if (r.changes.empty()) r.kind = PublishResult::Kind::kStatusChange;
    }
    // Event notifications (id 916) are not requested by this client; ignored.
  }
  return r;
}

Result<PublishResult> Subscription::Poll(std::chrono::milliseconds timeout) {
  if (held_) {
    PublishResult r = std::move(*held_);
    held_.reset();
    return r;
  }
  if (!open_) return FailedPrecondition("subscription is closed");
  PublishRequest req;
  req.subscription_acknowledgements = acks_;
  const uint32_t hint = static_cast<uint32_t>(std::max<int64_t>(1, timeout.count()));
  SecureChannel& ch = client_.channel();
  PF_RETURN_IF_ERROR(ch.MaybeRenew());
  req.request_header = ch.NewHeader(client_.auth_token());
  req.request_header.timeout_hint = hint;
  auto called = ch.Call<PublishResponse>(req);
  PublishResult timed_out;
  timed_out.kind = PublishResult::Kind::kTimeout;
  // A server that lets the timeout hint pass answers with a ServiceFault BadTimeout.
  if (!called.ok() && ch.is_open() && called.status().message().find("BadTimeout") != std::string::npos) {
    return timed_out;
  }
  PF_RETURN_IF_ERROR(called.status());
  PublishResponse resp = std::move(*called);
  acks_.clear();  // the server has them now (their per-ack results are informational)
  const StatusCode sr = resp.response_header.service_result;
  if (sr.code == kBadTimeout) return timed_out;
  if (sr.IsBad()) return Unavailable("PublishResponse: {}", sr.Name());
  if (resp.subscription_id != id_) {
    return DataLoss("PublishResponse for subscription {}, expected {}", resp.subscription_id, id_);
  }
  const NotificationMessage& m = resp.notification_message;
  PF_ASSIGN_OR_RETURN(std::vector<uint32_t> missing, seq_.Accept(m.sequence_number, m.IsKeepAlive()));
  PF_ASSIGN_OR_RETURN(PublishResult r, Convert(m));
  if (!m.IsKeepAlive()) acks_.push_back(SubscriptionAcknowledgement{id_, m.sequence_number});
  if (!missing.empty()) {
    PublishResult gap;
    gap.kind = PublishResult::Kind::kGap;
    gap.sequence_number = m.sequence_number;
    gap.publish_time = m.publish_time;
    gap.missing = std::move(missing);
    if (r.kind != PublishResult::Kind::kKeepAlive) held_ = std::move(r);
    return gap;
  }
  return r;
}

Result<PublishResult> Subscription::Republish(uint32_t sequence_number) {
  if (!open_) return FailedPrecondition("subscription is closed");
  RepublishRequest req;
  req.subscription_id = id_;
  req.retransmit_sequence_number = sequence_number;
  PF_ASSIGN_OR_RETURN(auto resp, Call<RepublishResponse>(std::move(req)));
  const NotificationMessage& m = resp.notification_message;
  if (m.sequence_number != sequence_number) {
    return DataLoss("RepublishResponse: message {} for requested {}", m.sequence_number, sequence_number);
  }
  PF_ASSIGN_OR_RETURN(PublishResult r, Convert(m));
  if (!m.IsKeepAlive()) acks_.push_back(SubscriptionAcknowledgement{id_, sequence_number});
  // Forward distance from the expected number (with the wrap that skips 0): at or past it moves it on.
  const uint32_t next = seq_.next();
  const uint64_t dist = sequence_number >= next ? uint64_t{sequence_number} - next
                                                : (uint64_t{0xFFFFFFFFu} - next) + sequence_number;
  if (dist <= SequenceTracker::kMaxGap) seq_ = SequenceTracker(After(sequence_number));
  return r;
}

Result<std::vector<uint32_t>> Subscription::Transfer(bool send_initial_values) {
  if (!open_) return FailedPrecondition("subscription is closed");
  TransferSubscriptionsRequest req;
  req.subscription_ids = {id_};
  req.send_initial_values = send_initial_values;
  PF_ASSIGN_OR_RETURN(auto resp, Call<TransferSubscriptionsResponse>(std::move(req)));
  if (resp.results.size() != 1) {
    return DataLoss("TransferSubscriptionsResponse: {} results for 1 subscription", resp.results.size());
  }
  const TransferResult& r = resp.results[0];
  if (r.status_code.IsBad()) return Unavailable("TransferSubscriptions {}: {}", id_, r.status_code.Name());
  return r.available_sequence_numbers;
}

Status Subscription::Close() {
  if (!open_) return Status::Ok();
  open_ = false;
  if (!client_.channel().is_open()) return Status::Ok();
  DeleteSubscriptionsRequest req;
  req.subscription_ids = {id_};
  auto resp = Call<DeleteSubscriptionsResponse>(req);
  if (!resp.ok()) return resp.status();
  if (resp->results.size() == 1 && resp->results[0].IsBad()) {
    return Unavailable("DeleteSubscriptions {}: {}", id_, resp->results[0].Name());
  }
  return Status::Ok();
}

}  // namespace pf::opcua
