#include "connect/replay/replay_config.h"

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

namespace pf {

namespace {

constexpr FieldSpec kSourceSpec[] = {
    {"file", FieldType::kString, true, "", "path of the CSV file to replay"},
    {"format", FieldType::kString, false, "wide",
     "wide (time + one column per tag), long (tag, time, value rows) or waveform (one column per channel at "
     "sample_rate_hz)"},
    {"separator", FieldType::kString, false, ",", "one character, \"tab\" or \"whitespace\" (runs of blanks)"},
    {"time_column", FieldType::kString, false, "date (wide), time (long)", "header name of the time column"},
    {"time_format", FieldType::kString, false, "rfc3339",
     "rfc3339, epoch_s, epoch_ms or a pattern with %Y %m %d %H %M %S (\"%d/%m/%Y %H:%M\")"},
    {"timezone", FieldType::kString, false, "UTC", "IANA zone of local times in the file (Asia/Seoul)"},
    {"speed", FieldType::kAny, false, "realtime", "realtime, fast (no pacing) or a factor: 60 = 60 times faster"},
    {"loop", FieldType::kBool, false, "false", "start again at the end (times continue forward)"},
    {"on_ambiguous", FieldType::kString, false, "first",
     "local time repeated at a DST fall-back: first, second or skip (always reported)"},
    {"on_out_of_order", FieldType::kString, false, "keep",
     "a row older than an earlier row: keep (emit with its own time) or skip (always reported)"},
    {"max_reported_rows", FieldType::kInt, false, "100",
     "individual events for rejected rows per file pass; the rest are summed up in one event"},
    {"tag_column", FieldType::kString, false, "tag", "long: header name of the tag column"},
    {"value_column", FieldType::kString, false, "value", "long: header name of the value column"},
    {"sample_rate_hz", FieldType::kDouble, false, "", "waveform: samples per second (required)"},
    {"block_size", FieldType::kInt, false, "1024", "waveform: samples per block"},
    {"start_time", FieldType::kString, false, "now", "waveform: RFC 3339 time of the first sample"},
};

constexpr FieldSpec kTagSpec[] = {
    {"column", FieldType::kString, true, "",
     "wide/waveform: the CSV column name; long: the tag's name in the tag column"},
    {"kind", FieldType::kString, false, "auto",
     "number, text, or auto (decided by the column's first non-empty cell)"},
};

Result<double> ParseSpeed(const ConfigReader& r) {
  const ConfigNode* n = r.Node("speed");
  if (!n) return 1.0;
  double v = -1;
  if (n->kind == ConfigNode::Kind::kInt) v = static_cast<double>(n->i);
  else if (n->kind == ConfigNode::Kind::kDouble) v = n->d;
  else if (n->kind == ConfigNode::Kind::kString) {
    std::string_view s = n->s;
    if (s == "realtime") return 1.0;
    if (s == "fast") return 0.0;
    if (!s.empty() && (s.back() == 'x' || s.back() == 'X')) s.remove_suffix(1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) v = -1;
  }
  if (!(v > 0) || v > 1e9)
    return r.Error("speed", fmt::format("expected \"realtime\", \"fast\" or a factor > 0 (60 = 60x), got {}",
                                        n->Describe()));
  return v;
}

// Finds a header column; the error names the config key, the file and the columns it has.
Result<size_t> FindColumn(const ConfigReader& r, std::string_view key, const std::string& column,
                          const ReplayConfig& cfg) {
  for (size_t i = 0; i < cfg.header.size(); ++i)
    if (cfg.header[i] == column) return i;
  return r.Error(key, fmt::format("column '{}' is not in the header of {} (it has: {})", column, cfg.file,
                                  fmt::join(cfg.header, ", ")));
}

Status ReadHeader(const ConfigReader& r, ReplayConfig& cfg) {
  std::ifstream in(cfg.file, std::ios::binary);
  if (!in) return r.Error("file", fmt::format("cannot open {}: {}", cfg.file, std::strerror(errno)));
  CsvOptions header_opts = cfg.csv;
  header_opts.multiline_fields = false;
  CsvReader reader(in, header_opts);
  CsvRow row;
  if (!reader.Next(row)) return r.Error("file", fmt::format("{} is empty: expected a header row", cfg.file));
  if (!row.ok())
    return r.Error("file", fmt::format("{}:{}: bad header row: {}", cfg.file, row.line, row.detail));
  cfg.header = std::move(row.fields);
  return Status::Ok();
}

Status ParseTags(const std::vector<SourceTagConfig>& tags, ReplayConfig& cfg) {
  static constexpr std::array<std::string_view, 3> kKinds = {"auto", "number", "text"};
  for (const auto& t : tags) {
    if (!t.node) return InvalidArgument("replay '{}': tag '{}' has no config table", cfg.name, t.name);
    ConfigReader tr(*t.node, ReplayTagSpec());
    ReplayTag tag;
    tag.id = t.id;
    tag.name = t.name;
    tag.asset_id = t.asset_id;
    PF_ASSIGN_OR_RETURN(tag.column, tr.String("column"));
    if (!tr.Has("column")) return tr.Error("column", "missing required key (the CSV column of this tag)");
    PF_ASSIGN_OR_RETURN(std::string kind, tr.Enum("kind", "auto", kKinds));
    tag.kind = kind == "number" ? ColumnKind::kNumber : kind == "text" ? ColumnKind::kText : ColumnKind::kAuto;
    if (cfg.format != ReplayFormat::kLong) {
      PF_ASSIGN_OR_RETURN(tag.index, FindColumn(tr, "column", tag.column, cfg));
    }
    cfg.tags.push_back(std::move(tag));
  }
  return Status::Ok();
}

Status ParseWaveform(const ConfigReader& r, ReplayConfig& cfg) {
  if (!r.Has("sample_rate_hz")) return r.Error("sample_rate_hz", "missing: a waveform needs its sampling rate");
  PF_ASSIGN_OR_RETURN(cfg.sample_rate_hz, r.Double("sample_rate_hz"));
  if (!(cfg.sample_rate_hz > 0)) return r.Error("sample_rate_hz", "expected a rate > 0 samples per second");
  PF_ASSIGN_OR_RETURN(cfg.block_size, r.IntIn("block_size", 1024, 1, 1 << 22));
  if (r.Has("start_time")) {
    PF_ASSIGN_OR_RETURN(std::string text, r.String("start_time"));
    auto t = ParseRfc3339(text);
    if (!t.ok()) return r.Error("start_time", t.status().message());
    cfg.start_time = *t;
    cfg.has_start_time = true;
  }
  return Status::Ok();
}

}  // namespace

std::span<const FieldSpec> ReplaySourceSpec() { return kSourceSpec; }
std::span<const FieldSpec> ReplayTagSpec() { return kTagSpec; }

Result<ReplayConfig> ParseReplayConfig(const ConfigNode& table, const std::vector<SourceTagConfig>& tags) {
  static constexpr std::array<std::string_view, 3> kFormats = {"wide", "long", "waveform"};
  static constexpr std::array<std::string_view, 3> kAmbiguous = {"first", "second", "skip"};
  static constexpr std::array<std::string_view, 2> kOrder = {"keep", "skip"};
  ConfigReader r(table, ReplaySourceSpec());
  ReplayConfig cfg;
  PF_ASSIGN_OR_RETURN(cfg.name, r.String("name", "replay"));
  if (!r.Has("file")) return r.Error("file", "missing required key (path of the CSV file to replay)");
  PF_ASSIGN_OR_RETURN(cfg.file, r.String("file"));
  PF_ASSIGN_OR_RETURN(std::string format, r.Enum("format", "wide", kFormats));
  cfg.format = format == "long" ? ReplayFormat::kLong : format == "waveform" ? ReplayFormat::kWaveform
                                                                              : ReplayFormat::kWide;
  PF_ASSIGN_OR_RETURN(std::string sep, r.String("separator", ","));
  auto csv = ParseCsvSeparator(sep);
  if (!csv.ok()) return r.Error("separator", csv.status().message());
  cfg.csv = *csv;
  cfg.csv.multiline_fields = false;  // a stray quote must not swallow the rest of the file
  PF_ASSIGN_OR_RETURN(std::string time_format, r.String("time_format", "rfc3339"));
  auto tf = TimeFormat::Parse(time_format);
  if (!tf.ok()) return r.Error("time_format", tf.status().message());
  cfg.time_format = *tf;
  PF_ASSIGN_OR_RETURN(std::string zone, r.String("timezone", "UTC"));
  auto tz = TimeZone::Load(zone);
  if (!tz.ok()) return r.Error("timezone", tz.status().message());
  cfg.tz = std::move(*tz);
  PF_ASSIGN_OR_RETURN(cfg.speed, ParseSpeed(r));
  PF_ASSIGN_OR_RETURN(cfg.loop, r.Bool("loop", false));
  PF_ASSIGN_OR_RETURN(std::string amb, r.Enum("on_ambiguous", "first", kAmbiguous));
  cfg.on_ambiguous = amb == "second" ? OnAmbiguous::kSecond : amb == "skip" ? OnAmbiguous::kSkip : OnAmbiguous::kFirst;
  PF_ASSIGN_OR_RETURN(std::string order, r.Enum("on_out_of_order", "keep", kOrder));
  cfg.skip_out_of_order = order == "skip";
  PF_ASSIGN_OR_RETURN(cfg.max_reported_rows, r.IntIn("max_reported_rows", 100, 0, 1'000'000));

  PF_RETURN_IF_ERROR(ReadHeader(r, cfg));
  if (cfg.format == ReplayFormat::kWaveform) {
    PF_RETURN_IF_ERROR(ParseWaveform(r, cfg));
  } else {
    PF_ASSIGN_OR_RETURN(std::string time_col,
                        r.String("time_column", cfg.format == ReplayFormat::kLong ? "time" : "date"));
    PF_ASSIGN_OR_RETURN(cfg.time_index, FindColumn(r, "time_column", time_col, cfg));
  }
  if (cfg.format == ReplayFormat::kLong) {
    PF_ASSIGN_OR_RETURN(std::string tag_col, r.String("tag_column", "tag"));
    PF_ASSIGN_OR_RETURN(cfg.tag_index, FindColumn(r, "tag_column", tag_col, cfg));
    PF_ASSIGN_OR_RETURN(std::string value_col, r.String("value_column", "value"));
    PF_ASSIGN_OR_RETURN(cfg.value_index, FindColumn(r, "value_column", value_col, cfg));
  }
  PF_RETURN_IF_ERROR(ParseTags(tags, cfg));
  if (cfg.tags.empty()) return r.Error("tags", "a replay source needs at least one tag");
  return cfg;
}

}  // namespace pf
