#include "connect/replay/replay_source.h"

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "connect/replay/replay_config.h"

namespace pf {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<double> ParseNumber(std::string_view s) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

class ReplaySource final : public Source {
 public:
  ReplaySource(ReplayConfig cfg, MetricsRegistry& metrics)
      : cfg_(std::move(cfg)),
        metrics_(metrics),
        rows_total_(metrics.GetCounter("pf_replay_rows_total", "CSV data rows read by a replay source",
                                       {{"source", cfg_.name}})),
        samples_total_(metrics.GetCounter("pf_replay_samples_total", "samples and block values emitted by replay",
                                          {{"source", cfg_.name}})) {
    for (size_t i = 0; i < cfg_.tags.size(); ++i) long_tags_[cfg_.tags[i].column].push_back(i);
    if (cfg_.format == ReplayFormat::kWaveform) wave_.resize(cfg_.tags.size());
  }
  ~ReplaySource() override { Stop(); }

  std::string_view name() const override { return cfg_.name; }
  bool Finished() const override { return finished_.load(); }

  Status Start(SampleSink& sink) override {
    if (thread_.joinable()) return FailedPrecondition("replay '{}': already started", cfg_.name);
    stop_ = false;
    sink_ = &sink;
    if (cfg_.format == ReplayFormat::kWaveform && !cfg_.has_start_time) cfg_.start_time = Now();
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  void Stop() override {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // ---- the reader thread ----
  void Run() {
    bool more = true;
    bool at_end = false;  // the last pass read the whole file and the sink took everything
    while (more) {
      at_end = RunPass();
      more = at_end && cfg_.loop && !stopped();
      EmitSummary();
      if (more) StartNextPass();
    }
    if (at_end && !stopped() && !cfg_.loop) {
      Report("replay_finished", "info", 0, "finished",
             fmt::format("end of file: {} rows read, {} rejected, {} samples", rows_total_.value(), rejected_rows_,
                         samples_total_.value()));
      finished_ = true;
    }
  }

  bool stopped() {
    std::lock_guard lk(mu_);
    return stop_;
  }

  // Returns false when stopped, the sink refused a batch, or the file could not be read.
  bool RunPass() {
    std::ifstream in(cfg_.file, std::ios::binary);
    if (!in) {
      Report("replay_error", "high", 0, "open_failed", fmt::format("cannot open: {}", std::strerror(errno)));
      finished_ = true;
      return false;
    }
    CsvReader reader(in, cfg_.csv);
    CsvRow row;
    if (!reader.Next(row)) return !stopped();  // header (validated at creation)
    reader.ExpectFields(cfg_.header.size());
    while (reader.Next(row)) {
      if (stopped()) return false;
      rows_total_.Inc();
      if (!row.ok()) {
        RejectRow(row.line, CsvIssueName(row.issue), row.detail);
        continue;
      }
      bool ok = cfg_.format == ReplayFormat::kWide ? WideRow(row)
                : cfg_.format == ReplayFormat::kLong ? LongRow(row)
                                                     : WaveRow(row);
      if (!ok) return false;
    }
    if (in.bad()) Report("replay_error", "high", reader.lines_read(), "read_failed", "read error");
    return cfg_.format == ReplayFormat::kWide ? true
           : cfg_.format == ReplayFormat::kLong ? FlushLong()
                                                : FlushWave(/*final=*/true);
  }

  void StartNextPass() {
    if (has_last_) {
      Duration span = last_time_ - first_time_;
      time_shift_ = time_shift_ + span + (last_interval_.count() > 0 ? last_interval_ : std::chrono::seconds(1));
    }
    has_first_ = false;
  }

  // ---- wide ----
  bool WideRow(const CsvRow& row) {
    auto t = RowTime(row.line, row.fields[cfg_.time_index]);
    if (!t || !CheckOrder(row.line, *t)) return true;
    std::vector<Sample> batch;
    batch.reserve(cfg_.tags.size());
    for (auto& tag : cfg_.tags) AddCell(tag, row.line, row.fields[tag.index], *t, batch);
    return Emit(*t, std::move(batch));
  }

  // ---- long ----
  bool LongRow(const CsvRow& row) {
    auto it = long_tags_.find(row.fields[cfg_.tag_index]);
    if (it == long_tags_.end()) return true;
    auto t = RowTime(row.line, row.fields[cfg_.time_index]);
    if (!t) return true;
    if (has_pending_ && *t != pending_time_ && !FlushLong()) return false;
    if (!has_pending_) {
      if (!CheckOrder(row.line, *t)) return true;
      has_pending_ = true;
      pending_time_ = *t;
    }
    for (size_t i : it->second) AddCell(cfg_.tags[i], row.line, row.fields[cfg_.value_index], *t, pending_);
    return true;
  }

  bool FlushLong() {
    if (!has_pending_) return true;
    has_pending_ = false;
    std::vector<Sample> batch;
    batch.swap(pending_);
    return Emit(pending_time_, std::move(batch));
  }

  // ---- waveform ----
  bool WaveRow(const CsvRow& row) {
    for (size_t i = 0; i < cfg_.tags.size(); ++i) {
      auto v = ParseNumber(row.fields[cfg_.tags[i].index]);
      if (!v) {
        RejectCell(cfg_.tags[i], row.line, row.fields[cfg_.tags[i].index]);
        wave_bad_ = true;
      }
      wave_[i].push_back(v ? static_cast<float>(*v) : std::numeric_limits<float>::quiet_NaN());
    }
    if (static_cast<int64_t>(wave_[0].size()) >= cfg_.block_size) return FlushWave(false);
    return true;
  }

  bool FlushWave(bool final) {
    if (wave_.empty() || wave_[0].empty()) return true;
    const size_t n = wave_[0].size();
    const double fs = cfg_.sample_rate_hz;
    const Timestamp start =
        cfg_.start_time + Duration(static_cast<int64_t>(std::llround(static_cast<double>(wave_samples_) / fs * 1e9)));
    const Timestamp last = start + Duration(static_cast<int64_t>(std::llround((n - 1) / fs * 1e9)));
    if (!Pace(last)) return false;
    for (size_t i = 0; i < cfg_.tags.size(); ++i) {
      Block b;
      b.tag = cfg_.tags[i].id;
      b.start_time = start;
      b.sample_rate_hz = fs;
      b.seq = ++seq_;
      if (wave_bad_) {
        b.quality = Quality::kUncertain;
        b.sub = QualitySub::kParseError;
      }
      b.values = std::move(wave_[i]);
      wave_[i].clear();
      wave_[i].reserve(static_cast<size_t>(cfg_.block_size));
      samples_total_.Inc(b.values.size());
      if (!sink_->WriteBlock(std::move(b))) return false;
    }
    wave_samples_ += n;
    wave_bad_ = false;
    return true;
  }

  // ---- cells and times ----
  void AddCell(ReplayTag& tag, int64_t line, std::string_view cell, Timestamp t, std::vector<Sample>& out) {
    if (Trim(cell).empty()) return;
    std::optional<double> num;
    if (tag.kind != ColumnKind::kText) num = ParseNumber(cell);
    if (tag.kind == ColumnKind::kAuto) tag.kind = num ? ColumnKind::kNumber : ColumnKind::kText;
    Sample s;
    s.tag = tag.id;
    s.source_time = t;
    if (tag.kind == ColumnKind::kText) {
      s.value = std::string(cell);
    } else if (num) {
      s.value = *num;
    } else {
      s.quality = Quality::kBad;
      s.sub = QualitySub::kParseError;
      RejectCell(tag, line, cell);
    }
    out.push_back(std::move(s));
  }

  // The row's UTC time (shifted when looping), or nullopt when the row is rejected.
  std::optional<Timestamp> RowTime(int64_t line, std::string_view text) {
    auto parsed = cfg_.time_format.Apply(Trim(text));
    if (!parsed.ok()) {
      RejectRow(line, "bad_time", parsed.status().message());
      return std::nullopt;
    }
    Timestamp t = parsed->instant;
    if (!parsed->absolute) {
      LocalMapping m = cfg_.tz.LocalToUtc(parsed->local);
      t = m.first;
      if (m.kind != LocalMapping::Kind::kUnique) {
        bool ambiguous = m.kind == LocalMapping::Kind::kAmbiguous;
        std::string kind(LocalMappingKindName(m.kind));
        metrics_.GetCounter("pf_replay_time_issues_total", "ambiguous, nonexistent or out-of-order row times",
                            {{"source", cfg_.name}, {"kind", kind}}).Inc();
        std::string choice = !ambiguous ? "read with the offset before the gap"
                             : cfg_.on_ambiguous == OnAmbiguous::kSkip   ? "row skipped"
                             : cfg_.on_ambiguous == OnAmbiguous::kSecond ? "second occurrence used"
                                                                         : "first occurrence used";
        Report("replay_time_ambiguous", "low", line, kind,
               fmt::format("local time {} in {} is {} ({} or {}): {}", FormatCivil(parsed->local), cfg_.tz.name(),
                           ambiguous ? "ambiguous" : "nonexistent", FormatRfc3339(m.first, 0),
                           FormatRfc3339(m.second, 0), choice));
        if (ambiguous && cfg_.on_ambiguous == OnAmbiguous::kSkip) {
          CountRejected("ambiguous_time");
          return std::nullopt;
        }
        if (ambiguous && cfg_.on_ambiguous == OnAmbiguous::kSecond) t = m.second;
      }
      t = t + Duration(parsed->fraction_ns);
    }
    return t + time_shift_;
  }

  // False when the row must be skipped (out of order and on_out_of_order = "skip").
  bool CheckOrder(int64_t line, Timestamp t) {
    if (has_last_ && has_first_ && t < newest_) {
      metrics_.GetCounter("pf_replay_time_issues_total", "ambiguous, nonexistent or out-of-order row times",
                          {{"source", cfg_.name}, {"kind", "out_of_order"}}).Inc();
      std::string detail = fmt::format("time {} is before {} of an earlier row{}", FormatRfc3339(t, 0),
                                       FormatRfc3339(newest_, 0), cfg_.skip_out_of_order ? ": row skipped" : ": kept");
      if (cfg_.skip_out_of_order) {
        RejectRow(line, "out_of_order", detail);
        return false;
      }
      Report("replay_row_out_of_order", "low", line, "out_of_order", detail);
    }
    return true;
  }

  // ---- emission and pacing ----
  bool Emit(Timestamp t, std::vector<Sample>&& batch) {
    if (!has_first_) {
      first_time_ = t;
      has_first_ = true;
      newest_ = t;
    } else if (has_last_ && t > last_time_) {
      last_interval_ = t - last_time_;
    }
    if (t > newest_) newest_ = t;
    last_time_ = t;
    has_last_ = true;
    if (batch.empty()) return true;
    if (!Pace(t)) return false;
    const Timestamp now = Now();
    for (auto& s : batch) {
      s.receive_time = now;
      s.seq = ++seq_;
    }
    samples_total_.Inc(batch.size());
    return sink_->Write(std::move(batch));
  }

  // Sleeps until the replay clock (the newest time seen) reaches t at the configured speed.
  // False when Stop() came first.
  bool Pace(Timestamp t) {
    if (cfg_.speed <= 0) return true;
    if (!paced_) {
      paced_ = true;
      pace_row_ = pace_clock_ = t;
      pace_mono_ = MonotonicNs();
      return true;
    }
    if (t > pace_clock_) pace_clock_ = t;
    const int64_t target =
        pace_mono_ + static_cast<int64_t>(static_cast<double>((pace_clock_ - pace_row_).count()) / cfg_.speed);
    std::unique_lock lk(mu_);
    return !cv_.wait_until(lk, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(target)),
                           [&] { return stop_; });
  }

  // ---- reporting ----
  void CountRejected(std::string_view reason) {
    ++rejected_rows_;
    metrics_.GetCounter("pf_replay_rows_rejected_total", "CSV rows skipped by a replay source",
                        {{"source", cfg_.name}, {"reason", std::string(reason)}}).Inc();
  }

  void RejectRow(int64_t line, std::string_view reason, std::string_view detail) {
    CountRejected(reason);
    Report("replay_row_rejected", "low", line, reason, fmt::format("row rejected ({}): {}", reason, detail));
  }

  void RejectCell(const ReplayTag& tag, int64_t line, std::string_view cell) {
    metrics_.GetCounter("pf_replay_cells_rejected_total", "CSV cells that could not be read",
                        {{"source", cfg_.name}, {"reason", "not_a_number"}}).Inc();
    std::string shown(cell.substr(0, 40));
    Report("replay_cell_rejected", "low", line, "not_a_number",
           fmt::format("column '{}' (tag '{}'): \"{}\" is not a number; sample has quality bad/parse_error",
                       cfg_.format == ReplayFormat::kLong ? cfg_.header[cfg_.value_index] : tag.column, tag.name,
                       shown));
  }

  // Emits one event; row-level reports beyond max_reported_rows per pass are only counted.
  void Report(std::string kind, std::string severity, int64_t line, std::string_view reason, std::string detail) {
    bool row_level = line > 0;
    if (row_level && reported_ >= cfg_.max_reported_rows) {
      ++suppressed_[std::string(reason)];
      return;
    }
    if (row_level) ++reported_;
    std::string where = line > 0 ? fmt::format("{}:{}", cfg_.file, line) : cfg_.file;
    nlohmann::json payload = {{"file", cfg_.file}, {"reason", reason}, {"detail", detail}};
    if (line > 0) payload["line"] = line;
    SendEvent(std::move(kind), std::move(severity), fmt::format("replay '{}': {}: {}", cfg_.name, where, detail),
              payload.dump());
  }

  void EmitSummary() {
    if (!suppressed_.empty()) {
      int64_t total = 0;
      nlohmann::json by_reason = nlohmann::json::object();
      for (const auto& [reason, n] : suppressed_) {
        total += n;
        by_reason[reason] = n;
      }
      nlohmann::json payload = {{"file", cfg_.file}, {"suppressed", total}, {"by_reason", by_reason}};
      SendEvent("replay_report_summary", "low",
                fmt::format("replay '{}': {}: {} more row reports not sent individually (limit {} per pass)",
                            cfg_.name, cfg_.file, total, cfg_.max_reported_rows),
                payload.dump());
    }
    suppressed_.clear();
    reported_ = 0;
  }

  void SendEvent(std::string kind, std::string severity, std::string message, std::string payload) {
    Event e;
    const Timestamp now = Now();
    e.id = NewEventId(now);
    e.asset_id = cfg_.tags.empty() ? "" : cfg_.tags.front().asset_id;
    e.source = "replay:" + cfg_.name;
    e.start = e.end = now;
    e.kind = std::move(kind);
    e.severity = std::move(severity);
    e.message = std::move(message);
    e.payload_json = std::move(payload);
    sink_->Emit(std::move(e));
  }

  ReplayConfig cfg_;
  MetricsRegistry& metrics_;
  Counter& rows_total_;
  Counter& samples_total_;
  SampleSink* sink_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::atomic<bool> finished_{false};

  // Reader-thread state.
  std::unordered_map<std::string, std::vector<size_t>> long_tags_;  // long: tag column value -> tags
  uint64_t seq_ = 0;
  int64_t rejected_rows_ = 0;
  int64_t reported_ = 0;
  std::map<std::string, int64_t> suppressed_;
  bool has_first_ = false, has_last_ = false;
  Timestamp first_time_, last_time_, newest_;
  Duration last_interval_{0};
  Duration time_shift_{0};
  bool has_pending_ = false;
  Timestamp pending_time_;
  std::vector<Sample> pending_;
  std::vector<std::vector<float>> wave_;
  bool wave_bad_ = false;
  uint64_t wave_samples_ = 0;
  bool paced_ = false;
  Timestamp pace_row_, pace_clock_;
  int64_t pace_mono_ = 0;
};

Result<std::unique_ptr<Source>> CreateReplay(const ConfigNode& table, const std::vector<SourceTagConfig>& tags,
                                             MetricsRegistry& metrics) {
  auto cfg = ParseReplayConfig(table, tags);
  if (!cfg.ok()) return cfg.status();
  return std::unique_ptr<Source>(std::make_unique<ReplaySource>(std::move(*cfg), metrics));
}

}  // namespace

ConnectorInfo ReplayConnector() {
  return {"replay",
          "replays a historian CSV export (wide or long) or a waveform CSV, in real time, N times faster or as "
          "fast as possible",
          ReplaySourceSpec(), ReplayTagSpec(), &CreateReplay};
}

}  // namespace pf
