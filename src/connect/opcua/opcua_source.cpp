#include "connect/opcua/opcua_source.h"

#include <cmath>
#include <ctime>
#include <limits>
#include <mutex>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "core/log.h"

namespace pf {
namespace opcua {
namespace {

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    size_t n = std::min<size_t>(3, in.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 3; ++k) v = (v << 8) | (k < n ? static_cast<uint8_t>(in[i + k]) : 0u);
    for (size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

// DateTime ticks (100 ns since 1601) as RFC 3339 with 7 fraction digits; works over the whole UA range
// (1601..9999), which int64 nanoseconds since 1970 do not cover.
std::string FormatTicks(int64_t ticks) {
  constexpr int64_t kTicksPerSecond = 10'000'000;
  constexpr int64_t kSeconds1601To1970 = 11'644'473'600;
  int64_t secs = ticks / kTicksPerSecond, frac = ticks % kTicksPerSecond;
  if (frac < 0) {
    frac += kTicksPerSecond;
    --secs;
  }
  std::time_t tt = static_cast<std::time_t>(secs - kSeconds1601To1970);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

Result<Value> Finite(double d) {
  if (!std::isfinite(d)) return OutOfRange("value {} is not a finite number", d);
  return Value(d);
}

bool IsNumeric(BuiltinType t) { return t >= BuiltinType::kSByte && t <= BuiltinType::kDouble; }

double NumericAsDouble(const Scalar& s) {
  return std::visit(
      [](const auto& x) -> double {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_arithmetic_v<T>) return static_cast<double>(x);
        else return std::numeric_limits<double>::quiet_NaN();
      },
      s);
}

}  // namespace

MappedQuality MapStatusCode(StatusCode status) {
  namespace sc = status_codes;
  uint32_t code = status.code & 0xFFFF0000u;
  switch (code) {
    case sc::kBadNodeIdUnknown:
    case sc::kBadNodeIdInvalid:
    case 0x80890000u:  // BadConfigurationError
      return {Quality::kBad, QualitySub::kConfigError};
    case sc::kBadCommunicationError:
    case 0x808A0000u:  // BadNotConnected
    case sc::kBadServerNotConnected:
    case sc::kBadNoCommunication:
      return {Quality::kBad, QualitySub::kCommFailure};
    case 0x808C0000u:  // BadSensorFailure
      return {Quality::kBad, QualitySub::kSensorFailure};
    case 0x808B0000u:  // BadDeviceFailure
      return {Quality::kBad, QualitySub::kDeviceFailure};
    case 0x803C0000u:  // BadOutOfRange
      return {Quality::kBad, QualitySub::kOutOfRange};
    case sc::kBadWaitingForInitialData:
      return {Quality::kBad, QualitySub::kNotConnected};
    case 0x40940000u:  // UncertainEngineeringUnitsExceeded
      return {Quality::kUncertain, QualitySub::kOutOfRange};
    case sc::kUncertainLastUsableValue:
      return {Quality::kUncertain, QualitySub::kLastKnown};
    case 0x40910000u:  // UncertainSubstituteValue
      return {Quality::kUncertain, QualitySub::kSubstituted};
    case 0x00960000u:  // GoodLocalOverride: set by hand at the device
      return {Quality::kGood, QualitySub::kSubstituted};
    default:
      break;
  }
  switch (status.severity()) {
    case StatusCode::Severity::kGood: return {Quality::kGood, QualitySub::kNone};
    case StatusCode::Severity::kUncertain: return {Quality::kUncertain, QualitySub::kNone};
    case StatusCode::Severity::kBad: break;
  }
  return {Quality::kBad, QualitySub::kNone};
}

Result<Value> ConvertScalar(const Variant& v) {
  if (v.is_array)
    return FailedPrecondition("an array of {} {} is not one value", v.values.size(), BuiltinTypeName(v.type));
  if (v.IsNull() || v.values.empty()) return Value();
  const Scalar& s = v.values.front();
  switch (v.type) {
    case BuiltinType::kBoolean: return Value(std::get<bool>(s));
    case BuiltinType::kSByte: return Value(int64_t{std::get<int8_t>(s)});
    case BuiltinType::kByte: return Value(int64_t{std::get<uint8_t>(s)});
    case BuiltinType::kInt16: return Value(int64_t{std::get<int16_t>(s)});
    case BuiltinType::kUInt16: return Value(int64_t{std::get<uint16_t>(s)});
    case BuiltinType::kInt32: return Value(int64_t{std::get<int32_t>(s)});
    case BuiltinType::kUInt32: return Value(int64_t{std::get<uint32_t>(s)});
    case BuiltinType::kInt64: return Value(std::get<int64_t>(s));
    case BuiltinType::kUInt64: {
      uint64_t u = std::get<uint64_t>(s);
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case BuiltinType::kFloat: return Finite(static_cast<double>(std::get<float>(s)));
    case BuiltinType::kDouble: return Finite(std::get<double>(s));
    case BuiltinType::kString:
    case BuiltinType::kXmlElement: return Value(std::get<std::string>(s));
    case BuiltinType::kByteString: return Value(Base64(std::get<std::string>(s)));
    case BuiltinType::kDateTime: return Value(FormatTicks(std::get<int64_t>(s)));
    case BuiltinType::kGuid: return Value(std::get<Guid>(s).ToString());
    case BuiltinType::kNodeId: return Value(std::get<NodeId>(s).ToString());
    case BuiltinType::kExpandedNodeId: return Value(std::get<ExpandedNodeId>(s).ToString());
    case BuiltinType::kStatusCode: return Value(int64_t{std::get<StatusCode>(s).code});
    case BuiltinType::kQualifiedName: {
      const auto& q = std::get<QualifiedName>(s);
      return Value(q.ns == 0 ? q.name : fmt::format("{}:{}", q.ns, q.name));
    }
    case BuiltinType::kLocalizedText: return Value(std::get<LocalizedText>(s).text.value_or(""));
    case BuiltinType::kVariant: {
      const auto& inner = std::get<std::shared_ptr<Variant>>(s);
      return inner ? ConvertScalar(*inner) : Value();
    }
    case BuiltinType::kDataValue: {
      const auto& inner = std::get<std::shared_ptr<DataValue>>(s);
      return inner && inner->value ? ConvertScalar(*inner->value) : Value();
    }
    case BuiltinType::kExtensionObject:
      return FailedPrecondition("an ExtensionObject (structure, encoding {}) has no tag value; monitor one of its "
                                "fields instead",
                                std::get<ExtensionObject>(s).type_id.ToString());
    case BuiltinType::kDiagnosticInfo: return FailedPrecondition("a DiagnosticInfo has no tag value");
    case BuiltinType::kNull: break;
  }
  return Value();
}

Timestamp SourceTime(const DataValue& dv, Timestamp received) {
  if (dv.source_timestamp && *dv.source_timestamp > 0)
    return Timestamp{TicksToUnixNanos(*dv.source_timestamp) + dv.source_picoseconds.value_or(0) / 100};
  if (dv.server_timestamp && *dv.server_timestamp > 0)
    return Timestamp{TicksToUnixNanos(*dv.server_timestamp) + dv.server_picoseconds.value_or(0) / 100};
  return received;
}

namespace {

TagValue Refused(const Sample& base, QualitySub sub, Status why) {
  Sample bad = base;
  bad.value = {};
  bad.quality = Quality::kBad;
  bad.sub = sub;
  return TagValue{bad, std::move(why)};
}

std::string ItemName(const TagConfig& tag) {
  return tag.item.node.empty() ? "browse path " + tag.item.browse_path : "node " + tag.item.node;
}

}  // namespace

TagValue ConvertDataValue(const TagConfig& tag, const DataValue& dv, Timestamp received) {
  MappedQuality q = MapStatusCode(dv.status.value_or(StatusCode{}));
  Sample smp{tag.id, {}, SourceTime(dv, received), received, 0, q.quality, q.sub};
  if (q.quality == Quality::kBad) return TagValue{smp, Status::Ok()};
  const Variant* v = dv.value ? &*dv.value : nullptr;
  auto where = [&] { return fmt::format("tag '{}' ({})", tag.name, ItemName(tag)); };
  if (!v || v->IsNull())
    return Refused(smp, QualitySub::kParseError, InvalidArgument("{}: no value (Null) with status {}", where(),
                                                                 dv.status.value_or(StatusCode{}).Name()));
  if (tag.waveform) {
    if (!v->is_array || !IsNumeric(v->type))
      return Refused(smp, QualitySub::kConfigError,
                     FailedPrecondition("{}: waveform = true needs a numeric array, the server sends {} {}", where(),
                                        v->is_array ? "an array of" : "a scalar", BuiltinTypeName(v->type)));
    Block b;
    b.tag = tag.id;
    b.start_time = smp.source_time;
    b.sample_rate_hz = tag.sample_rate_hz;
    b.quality = q.quality;
    b.sub = q.sub;
    b.values.reserve(v->values.size());
    for (size_t i = 0; i < v->values.size(); ++i) {
      double d = NumericAsDouble(v->values[i]);
      if (!std::isfinite(d))
        return Refused(smp, QualitySub::kParseError,
                       OutOfRange("{}: waveform element {} is not a finite number", where(), i));
      b.values.push_back(static_cast<float>(d));
    }
    return TagValue{std::move(b), Status::Ok()};
  }
  if (v->is_array)
    return Refused(smp, QualitySub::kConfigError,
                   FailedPrecondition("{}: the server sends an array of {} {}; a tag holds one value (set waveform "
                                      "= true and sample_rate for a numeric waveform, or monitor one element's node)",
                                      where(), v->values.size(), BuiltinTypeName(v->type)));
  auto value = ConvertScalar(*v);
  if (!value.ok()) {
    QualitySub sub = value.status().code() == pf::StatusCode::kOutOfRange ? QualitySub::kParseError
                                                                          : QualitySub::kConfigError;
    return Refused(smp, sub, value.status().WithContext(where()));
  }
  smp.value = std::move(*value);
  return TagValue{std::move(smp), Status::Ok()};
}

namespace {

struct Metrics {
  Counter* notifications;
  Counter* gaps;
  Counter* reconnects;
  Counter* item_errors;
  Counter* samples;
};

Metrics MakeMetrics(MetricsRegistry& reg, const std::string& source) {
  Labels l{{"source", source}};
  return Metrics{
      &reg.GetCounter("pf_opcua_notifications_total", "OPC UA data changes received", l),
      &reg.GetCounter("pf_opcua_gaps_total", "OPC UA ranges that could not be recovered (recorded as bad)", l),
      &reg.GetCounter("pf_opcua_reconnects_total", "OPC UA connections made again after a loss", l),
      &reg.GetCounter("pf_opcua_item_errors_total", "OPC UA items refused by the server or values refused", l),
      &reg.GetCounter("pf_samples_read_total", "samples read from a source", l),
  };
}

class OpcuaSource final : public Source {
 public:
  OpcuaSource(SourceConfig config, MetricsRegistry& registry)
      : config_(std::move(config)), metrics_(MakeMetrics(registry, config_.name)), last_(config_.tags.size()) {}
  ~OpcuaSource() override { Stop(); }

  std::string_view name() const override { return config_.name; }

  Status Start(SampleSink& sink) override {
    if (monitor_) return FailedPrecondition("opcua '{}': already started", config_.name);
    sink_ = &sink;
    MonitorCallbacks cb;
    cb.on_data = [this](std::vector<DataChange>&& changes) { OnData(std::move(changes)); };
    cb.on_gap = [this](const MonitorGap& gap) { OnGap(gap); };
    cb.on_state = [this](MonitorState s, const std::string& message) { OnState(s, message); };
    cb.on_item_error = [this](uint32_t handle, StatusCode status, const std::string& message) {
      OnItemError(handle, status, message);
    };
    auto m = Monitor::Start(config_.monitor, std::move(cb));
    if (!m.ok()) return m.status().WithContext(fmt::format("opcua '{}'", config_.name));
    monitor_ = std::move(*m);
    return Status::Ok();
  }

  void Stop() override {
    if (monitor_) monitor_->Stop();
  }

 private:
  enum class Link { kNever, kUp, kDown };
  // What was last sent for a tag: quality and sub-code (bad samples are sent on transition only).
  struct Last {
    std::optional<MappedQuality> reported;
    std::optional<Sample> good;  // the newest good/uncertain sample, re-sent after a gap sample
  };

  void OnData(std::vector<DataChange>&& changes) {
    metrics_.notifications->Inc(changes.size());
    Timestamp received = Now();
    std::vector<Sample> batch;
    for (const DataChange& ch : changes) {
      if (ch.client_handle >= config_.tags.size()) continue;  // Monitor's contract: handle = tag index
      const TagConfig& tag = config_.tags[ch.client_handle];
      TagValue tv = ConvertDataValue(tag, ch.value, received);
      if (auto* block = std::get_if<Block>(&tv.data)) {
        FlushBatch(batch);
        block->seq = ++seq_;
        last_[ch.client_handle].reported = MappedQuality{block->quality, block->sub};
        if (sink_->WriteBlock(std::move(*block))) metrics_.samples->Inc();
        continue;
      }
      Sample& smp = std::get<Sample>(tv.data);
      if (!tv.problem.ok()) {
        metrics_.item_errors->Inc();
        LogOnce(tv.problem.WithContext(fmt::format("opcua '{}'", config_.name)));
      }
      if (smp.quality == Quality::kBad) {
        EmitBad(ch.client_handle, smp.sub, batch, smp.source_time);
        continue;
      }
      smp.seq = ++seq_;
      last_[ch.client_handle].reported = MappedQuality{smp.quality, smp.sub};
      last_[ch.client_handle].good = smp;
      batch.push_back(std::move(smp));
    }
    FlushBatch(batch);
  }

  void OnGap(const MonitorGap& gap) {
    metrics_.gaps->Inc();
    std::vector<Sample> batch;
    std::vector<std::string> names;
    for (uint32_t h : gap.handles) {
      if (h >= config_.tags.size()) continue;
      names.push_back(config_.tags[h].name);
      Last& last = last_[h];
      batch.push_back(Sample{config_.tags[h].id, {}, gap.from, Now(), ++seq_, Quality::kBad, QualitySub::kGap});
      last.reported = MappedQuality{Quality::kBad, QualitySub::kGap};
      // A value that arrived after the gap (before the Monitor reported it) stays the tag's current value.
      if (last.good && last.good->source_time >= gap.to) {
        Sample again = *last.good;
        again.seq = ++seq_;
        last.reported = MappedQuality{again.quality, again.sub};
        batch.push_back(std::move(again));
      }
    }
    PF_LOG_WARN("opcua '{}': values of {} tags lost from {} to {}: {}", config_.name, names.size(),
                FormatRfc3339(gap.from), FormatRfc3339(gap.to), gap.reason);
    Event e = MakeEvent("source_gap", "medium",
                        fmt::format("opcua '{}': {} tags without values from {} to {}: {}", config_.name, names.size(),
                                    FormatRfc3339(gap.from), FormatRfc3339(gap.to), gap.reason));
    e.start = gap.from;
    e.end = gap.to;
    e.payload_json = nlohmann::json{{"endpoint", config_.monitor.client.endpoint_url},
                                    {"from", FormatRfc3339(gap.from, 9)},
                                    {"to", FormatRfc3339(gap.to, 9)},
                                    {"tags", names},
                                    {"reason", gap.reason}}
                         .dump();
    sink_->Emit(std::move(e));
    FlushBatch(batch);
  }

  void OnState(MonitorState state, const std::string& message) {
    if (state == MonitorState::kConnected) {
      if (link_ == Link::kUp) return;
      if (link_ == Link::kDown && ever_up_) metrics_.reconnects->Inc();
      link_ = Link::kUp;
      ever_up_ = true;
      logged_.clear();
      EmitStatus("connected", "info", message.empty() ? "connected" : message);
      return;
    }
    if (state != MonitorState::kDisconnected) return;
    std::vector<Sample> batch;
    Timestamp now = Now();
    for (size_t i = 0; i < config_.tags.size(); ++i) EmitBad(i, QualitySub::kCommFailure, batch, now);
    FlushBatch(batch);
    if (link_ == Link::kDown) return;
    const char* what = link_ == Link::kUp ? "disconnected" : "unreachable";
    link_ = Link::kDown;
    EmitStatus(what, "medium", message);
  }

  void OnItemError(uint32_t handle, StatusCode status, const std::string& message) {
    if (handle >= config_.tags.size()) return;
    metrics_.item_errors->Inc();
    const TagConfig& tag = config_.tags[handle];
    LogOnce(InvalidArgument("opcua '{}': tag '{}' ({}): {} ({})", config_.name, tag.name, ItemName(tag), message,
                            status.Name()));
    MappedQuality q = MapStatusCode(status);
    std::vector<Sample> batch;
    EmitBad(handle, q.quality == Quality::kBad && q.sub != QualitySub::kNone ? q.sub : QualitySub::kConfigError,
            batch, Now());
    FlushBatch(batch);
  }

  void EmitBad(size_t idx, QualitySub sub, std::vector<Sample>& batch, Timestamp when) {
    MappedQuality bad{Quality::kBad, sub};
    if (last_[idx].reported == bad) return;  // already reported bad with this sub-code
    last_[idx].reported = bad;
    batch.push_back(Sample{config_.tags[idx].id, {}, when, Now(), ++seq_, Quality::kBad, sub});
  }

  void FlushBatch(std::vector<Sample>& batch) {
    if (batch.empty()) return;
    size_t n = batch.size();
    if (sink_->Write(std::move(batch))) metrics_.samples->Inc(n);
    batch.clear();
  }

  Event MakeEvent(std::string_view kind, std::string_view severity, std::string message) {
    Event e;
    Timestamp now = Now();
    e.id = NewEventId(now);
    e.asset_id = config_.tags.empty() ? "" : config_.tags.front().asset_id;
    e.source = "opcua:" + config_.name;
    e.start = e.end = now;
    e.kind = std::string(kind);
    e.severity = std::string(severity);
    e.message = std::move(message);
    return e;
  }

  void EmitStatus(std::string_view state, std::string_view severity, const std::string& detail) {
    Event e = MakeEvent("source_status", severity, fmt::format("opcua '{}': {}: {}", config_.name, state, detail));
    e.payload_json = nlohmann::json{{"state", state},
                                    {"endpoint", config_.monitor.client.endpoint_url},
                                    {"detail", detail}}
                         .dump();
    sink_->Emit(std::move(e));
  }

  // Once per distinct message until the link is up again, so one broken tag does not flood the log.
  void LogOnce(const Status& s) {
    if (logged_.insert(s.message()).second) PF_LOG_WARN("{}", s.message());
  }

  SourceConfig config_;
  Metrics metrics_;
  std::vector<Last> last_;
  SampleSink* sink_ = nullptr;
  std::unique_ptr<Monitor> monitor_;
  Link link_ = Link::kNever;
  bool ever_up_ = false;
  uint64_t seq_ = 0;
  std::set<std::string> logged_;
};

Result<std::unique_ptr<Source>> Create(const ConfigNode& table, const std::vector<SourceTagConfig>& tags,
                                       MetricsRegistry& metrics) {
  PF_ASSIGN_OR_RETURN(SourceConfig config, ReadSourceConfig(table, tags));
  return std::unique_ptr<Source>(new OpcuaSource(std::move(config), metrics));
}

}  // namespace
}  // namespace opcua

ConnectorInfo OpcuaConnector() {
  return ConnectorInfo{"opcua", "OPC UA server, read-only, subscription with recovery of lost data (own client)",
                       opcua::SourceSpec(), opcua::TagSpec(), &opcua::Create};
}

}  // namespace pf
