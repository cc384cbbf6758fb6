// Drawing goes through a small Canvas with two backends, cairo (PNG) and an SVG writer; text is
// measured with cairo for both, so a chart lays out the same in either file. cairo's own SVG
// surface is not used because it turns every glyph into a path: the labels would not be text.
#include "spc/plot.h"

#include <cairo.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>

namespace pf::spc {
namespace {

struct Rgb {
  double r, g, b;
};
constexpr Rgb Hex(uint32_t c) { return {((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0, (c & 255) / 255.0}; }
constexpr Rgb kInk = Hex(0x202124), kMuted = Hex(0x5f6368), kFrame = Hex(0x9aa0a6), kGrid = Hex(0xebedf0),
              kCenter = Hex(0x2e7d32), kLimit = Hex(kPlotLimitColor), kZone = Hex(0xa0a4a8),
              kSeries = Hex(0x5b87b5), kPoint = Hex(kPlotPointColor), kViolation = Hex(kPlotViolationColor),
              kPhase2 = Hex(0xf2f5f9), kWhite = Hex(0xffffff), kLegendEdge = Hex(0xc8ccd0);

struct Pt {
  double x, y;
};
struct Stroke {
  Rgb color;
  double width = 1;
  std::vector<double> dash = {};
};
struct Font {
  double size = 12;
  bool bold = false;
  bool halo = false;  // a white outline under the glyphs, to stay legible over lines
};
enum class Anchor { kStart, kMiddle, kEnd };
constexpr const char* kFontFamily = "DejaVu Sans";

// cairo's toy text API does not place combining marks, so "X̄" would lose its bar: the text is
// drawn without U+0304 and the bars are drawn as lines. bars: [begin, end) byte ranges of plain
// text under a bar.
std::string StripMacrons(const std::string& s, std::vector<std::pair<size_t, size_t>>* bars) {
  std::string plain;
  size_t last = 0;
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 2, "\xCC\x84") == 0) {
      if (bars && !plain.empty()) bars->push_back({last, plain.size()});
      i += 2;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    last = plain.size();
    plain.append(s, i, len);
    i += len;
  }
  return plain;
}

// A 1x1 cairo context: text metrics for the layout and both backends.
class Measurer {
 public:
  Measurer()
      : surface_(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1), cairo_surface_destroy),
        cr_(cairo_create(surface_.get()), cairo_destroy) {}
  double Width(const std::string& s, Font f) const {
    Select(cr_.get(), f);
    cairo_text_extents_t e;
    cairo_text_extents(cr_.get(), StripMacrons(s, nullptr).c_str(), &e);
    return std::isfinite(e.x_advance) ? e.x_advance : 0;
  }
  static void Select(cairo_t* cr, Font f) {
    cairo_select_font_face(cr, kFontFamily, CAIRO_FONT_SLANT_NORMAL,
                           f.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, f.size);
  }

 private:
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface_;
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr_;
};

// Every shape with a non-finite coordinate is dropped and remembered: the caller turns that into
// an error instead of writing a broken file.
class Canvas {
 public:
  explicit Canvas(const Measurer& m) : m_(m) {}
  virtual ~Canvas() = default;
  void Polyline(const std::vector<Pt>& pts, const Stroke& s) {
    for (const Pt& p : pts)
      if (!Ok({p.x, p.y})) return;
    if (pts.size() >= 2 && Ok({s.width})) DoPolyline(pts, s);
  }
  void Circle(Pt c, double r, const Rgb* fill, const Stroke* stroke) {
    if (Ok({c.x, c.y, r})) DoCircle(c, r, fill, stroke);
  }
  void Box(double x, double y, double w, double h, const Rgb* fill, const Stroke* stroke) {
    if (Ok({x, y, w, h}) && w > 0 && h > 0) DoBox(x, y, w, h, fill, stroke);
  }
  // at: the baseline point at the text's start, middle or end; vertical: rotated to read upwards.
  void Text(Pt at, const std::string& s, Font f, Rgb color, Anchor a, bool vertical = false) {
    if (Ok({at.x, at.y}) && !s.empty()) DoText(at, s, f, color, a, vertical);
  }
  double TextWidth(const std::string& s, Font f) const { return m_.Width(s, f); }
  bool dropped() const { return dropped_; }

 protected:
  virtual void DoPolyline(const std::vector<Pt>& pts, const Stroke& s) = 0;
  virtual void DoCircle(Pt c, double r, const Rgb* fill, const Stroke* stroke) = 0;
  virtual void DoBox(double x, double y, double w, double h, const Rgb* fill, const Stroke* stroke) = 0;
  virtual void DoText(Pt at, const std::string& s, Font f, Rgb color, Anchor a, bool vertical) = 0;
  double Offset(const std::string& s, Font f, Anchor a) const {
    return a == Anchor::kStart ? 0 : a == Anchor::kMiddle ? TextWidth(s, f) / 2 : TextWidth(s, f);
  }

 private:
  bool Ok(std::initializer_list<double> v) {
    for (double x : v)
      if (!std::isfinite(x)) return !(dropped_ = true);
    return true;
  }
  const Measurer& m_;
  bool dropped_ = false;
};

class CairoCanvas final : public Canvas {
 public:
  CairoCanvas(const Measurer& m, cairo_t* cr) : Canvas(m), cr_(cr) {}

 private:
  void Source(Rgb c) { cairo_set_source_rgb(cr_, c.r, c.g, c.b); }
  void Apply(const Stroke& s) {
    Source(s.color);
    cairo_set_line_width(cr_, s.width);
    cairo_set_dash(cr_, s.dash.data(), static_cast<int>(s.dash.size()), 0);
  }
  void Paint(const Rgb* fill, const Stroke* stroke) {
    if (fill) {
      Source(*fill);
      stroke ? cairo_fill_preserve(cr_) : cairo_fill(cr_);
    }
    if (stroke) {
      Apply(*stroke);
      cairo_stroke(cr_);
    }
    cairo_new_path(cr_);
  }
  void DoPolyline(const std::vector<Pt>& pts, const Stroke& s) override {
    cairo_set_line_join(cr_, CAIRO_LINE_JOIN_ROUND);
    cairo_move_to(cr_, pts[0].x, pts[0].y);
    for (size_t i = 1; i < pts.size(); ++i) cairo_line_to(cr_, pts[i].x, pts[i].y);
    Apply(s);
    cairo_stroke(cr_);
  }
  void DoCircle(Pt c, double r, const Rgb* fill, const Stroke* stroke) override {
    cairo_new_sub_path(cr_);
    cairo_arc(cr_, c.x, c.y, r, 0, 2 * M_PI);
    Paint(fill, stroke);
  }
  void DoBox(double x, double y, double w, double h, const Rgb* fill, const Stroke* stroke) override {
    cairo_rectangle(cr_, x, y, w, h);
    Paint(fill, stroke);
  }
  void DoText(Pt at, const std::string& s, Font f, Rgb color, Anchor a, bool vertical) override {
    Measurer::Select(cr_, f);
    Source(color);
    cairo_save(cr_);
    cairo_translate(cr_, at.x, at.y);
    if (vertical) cairo_rotate(cr_, -M_PI / 2);
    double x = -Offset(s, f, a);
    std::vector<std::pair<size_t, size_t>> bars;
    std::string plain = StripMacrons(s, &bars);
    cairo_move_to(cr_, x, 0);
    if (f.halo) {
      cairo_text_path(cr_, plain.c_str());
      cairo_set_source_rgb(cr_, 1, 1, 1);
      cairo_set_line_width(cr_, 3);
      cairo_set_line_join(cr_, CAIRO_LINE_JOIN_ROUND);
      cairo_set_dash(cr_, nullptr, 0, 0);
      cairo_stroke(cr_);
      Source(color);
      cairo_move_to(cr_, x, 0);
    }
    cairo_show_text(cr_, plain.c_str());
    for (auto [begin, end] : bars) {
      double x0 = x + TextWidth(plain.substr(0, begin), f), x1 = x + TextWidth(plain.substr(0, end), f);
      double inset = (x1 - x0) * 0.1;
      cairo_move_to(cr_, x0 + inset, -0.86 * f.size);
      cairo_line_to(cr_, x1 - inset, -0.86 * f.size);
      cairo_set_line_width(cr_, f.size * (f.bold ? 0.1 : 0.07));
      cairo_set_dash(cr_, nullptr, 0, 0);
      cairo_stroke(cr_);
    }
    cairo_restore(cr_);
    cairo_new_path(cr_);
  }
  cairo_t* cr_;
};

class SvgCanvas final : public Canvas {
 public:
  SvgCanvas(const Measurer& m, int width, int height, const std::string& title) : Canvas(m) {
    out_ = fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
        "viewBox=\"0 0 {0} {1}\" font-family=\"'DejaVu Sans', Verdana, sans-serif\">\n<title>{2}</title>\n",
        width, height, Escape(title));
  }
  std::string Finish() { return out_ + "</svg>\n"; }

 private:
  static std::string Escape(const std::string& s) {
    std::string o;
    for (char c : s) {
      switch (c) {
        case '&': o += "&amp;"; break;
        case '<': o += "&lt;"; break;
        case '>': o += "&gt;"; break;
        case '"': o += "&quot;"; break;
        default: o += c;
      }
    }
    return o;
  }
  static std::string Color(Rgb c) {
    return fmt::format("#{:02x}{:02x}{:02x}", std::lround(c.r * 255), std::lround(c.g * 255), std::lround(c.b * 255));
  }
  static std::string Paint(const Rgb* fill, const Stroke* stroke) {
    std::string s = fmt::format(" fill=\"{}\"", fill ? Color(*fill) : "none");
    if (stroke) {
      s += fmt::format(" stroke=\"{}\" stroke-width=\"{:.2f}\"", Color(stroke->color), stroke->width);
      if (!stroke->dash.empty()) s += fmt::format(" stroke-dasharray=\"{:.1f}\"", fmt::join(stroke->dash, " "));
    }
    return s;
  }
  void DoPolyline(const std::vector<Pt>& pts, const Stroke& s) override {
    out_ += "<polyline points=\"";
    for (const Pt& p : pts) out_ += fmt::format("{:.2f},{:.2f} ", p.x, p.y);
    out_.back() = '"';
    out_ += Paint(nullptr, &s) + " stroke-linejoin=\"round\"/>\n";
  }
  void DoCircle(Pt c, double r, const Rgb* fill, const Stroke* stroke) override {
    out_ += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"{:.2f}\"{}/>\n", c.x, c.y, r, Paint(fill, stroke));
  }
  void DoBox(double x, double y, double w, double h, const Rgb* fill, const Stroke* stroke) override {
    out_ += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\"{}/>\n", x, y, w, h,
                        Paint(fill, stroke));
  }
  void DoText(Pt at, const std::string& s, Font f, Rgb color, Anchor a, bool vertical) override {
    const char* anchor = a == Anchor::kStart ? "start" : a == Anchor::kMiddle ? "middle" : "end";
    out_ += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" font-size=\"{:.1f}\" fill=\"{}\" text-anchor=\"{}\"{}{}>{}</text>\n",
                        at.x, at.y, f.size, Color(color), anchor,
                        std::string(f.bold ? " font-weight=\"bold\"" : "") +
                            (f.halo ? " stroke=\"#ffffff\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\"" : ""),
                        vertical ? fmt::format(" transform=\"rotate(-90 {:.2f} {:.2f})\"", at.x, at.y) : "",
                        Escape(s));
  }
  std::string out_;
};

// ---- numbers ----

int StepDecimals(double step) { return std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 12); }

std::string Fixed(double v, int decimals) {
  if (std::fabs(v) >= 1e9) return fmt::format("{:.4g}", v);
  std::string s = fmt::format("{:.{}f}", v, decimals);
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);  // no "-0.00"
  return s;
}

// Decimals for the legend values: about three significant digits of the distance between the
// limits (74.0143 for limits 0.026 apart), at least two below 100.
int LegendDecimals(double span, double center) {
  int d;
  if (span > 0) d = 2 - static_cast<int>(std::floor(std::log10(span)));
  else if (center != 0) d = 3 - static_cast<int>(std::floor(std::log10(std::fabs(center))));
  else d = 2;
  if (span < 100) d = std::max(d, 2);
  return std::clamp(d, 0, 10);
}

std::string G(double v) { return fmt::format("{:g}", v); }

bool Same(double a, double b) { return a == b || std::fabs(a - b) <= 1e-12 * std::max(std::fabs(a), std::fabs(b)); }

// ---- names ----

std::string TypeTitle(ChartType t) {
  switch (t) {
    case ChartType::kXbarR: return "X̄-R chart";
    case ChartType::kXbarS: return "X̄-S chart";
    case ChartType::kIMR: return "I-MR chart";
    case ChartType::kP: return "p chart";
    case ChartType::kNP: return "np chart";
    case ChartType::kC: return "c chart";
    case ChartType::kU: return "u chart";
    case ChartType::kEWMA: return "EWMA chart";
    case ChartType::kCUSUM: return "CUSUM chart";
    case ChartType::kT2: return "Hotelling T² chart";
  }
  return "chart";
}

std::string AxisName(const std::string& chart) {
  static const std::map<std::string, std::string> kNames = {
      {"xbar", "X̄ (subgroup mean)"}, {"r", "R (range)"},          {"s", "S (std. deviation)"},
      {"i", "I (individual value)"},  {"mr", "MR (moving range)"}, {"p", "p (proportion)"},
      {"np", "np (count)"},           {"c", "c (count)"},          {"u", "u (per unit)"},
      {"ewma", "EWMA z"},             {"cusum_upper", "C⁺ (upper CUSUM)"},
      {"cusum_lower", "C⁻ (lower CUSUM)"}, {"t2", "T²"}};
  auto it = kNames.find(chart);
  return it == kNames.end() ? chart : it->second;
}

double Param(const ChartResult& r, const std::string& key, double otherwise) {
  auto it = r.parameters.find(key);
  return it == r.parameters.end() ? otherwise : it->second;
}

bool Subgrouped(const ChartResult& r) {
  switch (r.type) {
    case ChartType::kXbarR:
    case ChartType::kXbarS: return true;
    case ChartType::kP:
    case ChartType::kNP:
    case ChartType::kC:
    case ChartType::kU:
    case ChartType::kIMR: return false;
    default: return Param(r, "n", 1) > 1;
  }
}
std::string Noun(const ChartResult& r) {
  if (r.type == ChartType::kP || r.type == ChartType::kNP || r.type == ChartType::kC || r.type == ChartType::kU)
    return "sample";
  return Subgrouped(r) ? "subgroup" : "observation";
}

std::string DefaultTitle(const ChartResult& r) {
  std::string t = TypeTitle(r.type);
  std::vector<std::string> parts;
  auto n = r.parameters.find("n");
  switch (r.type) {
    case ChartType::kEWMA:
      parts.push_back(fmt::format("λ = {}, L = {}", G(Param(r, "lambda", 0)), G(Param(r, "L", 3))));
      if (Param(r, "asymptotic", 0) != 0) parts.push_back("asymptotic limits");
      break;
    case ChartType::kCUSUM:
      parts.push_back(fmt::format("k = {}, h = {}", G(Param(r, "k", 0)), G(Param(r, "h", 0))));
      if (Param(r, "fir", 0) != 0) parts.push_back("FIR");
      break;
    case ChartType::kT2:
      parts.push_back(fmt::format("p = {} variables, α = {}", G(Param(r, "p", 0)), G(Param(r, "alpha", 0))));
      break;
    default:
      if (Param(r, "L", 3) != 3) parts.push_back(fmt::format("L = {}", G(Param(r, "L", 3))));
  }
  if (r.type != ChartType::kC && r.type != ChartType::kIMR) {
    if (n != r.parameters.end() && (n->second > 1 || r.type == ChartType::kP || r.type == ChartType::kNP ||
                                    r.type == ChartType::kU))
      parts.insert(parts.begin(), fmt::format("n = {}", G(n->second)));
    else if (n == r.parameters.end() && r.type != ChartType::kEWMA && r.type != ChartType::kCUSUM)
      parts.insert(parts.begin(), "variable n");
  }
  for (const std::string& p : parts) t += " · " + p;
  return t;
}

// "1–25", "26–40, 45"
std::string Ranges(const std::vector<int>& idx) {
  std::string s;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && idx[j + 1] == idx[j] + 1) ++j;
    if (!s.empty()) s += ", ";
    s += j == i ? std::to_string(idx[i]) : fmt::format("{}–{}", idx[i], idx[j]);
    i = j + 1;
  }
  return s;
}

// chart name -> point index -> the rules completed there (violations mark their last point).
using Marks = std::map<std::string, std::map<int, std::vector<std::string>>>;
Marks ViolationMarks(const ChartResult& r) {
  Marks m;
  for (const Violation& v : r.violations) {
    if (v.points.empty()) continue;
    auto& rules = m[v.chart][*std::max_element(v.points.begin(), v.points.end())];
    if (std::find(rules.begin(), rules.end(), v.rule) == rules.end()) rules.push_back(v.rule);
  }
  return m;
}

std::vector<std::string> SubtitleParts(const ChartResult& r, const std::string& custom_title, const Marks& marks) {
  std::vector<std::string> parts;
  if (!custom_title.empty()) parts.push_back(DefaultTitle(r));
  std::string noun = Noun(r) + "s";
  std::vector<int> p1, p2;
  for (const ChartPoint& p : r.charts.front().points) (p.phase == 1 ? p1 : p2).push_back(p.index);
  if (p1.empty()) parts.push_back("parameters given: every point is Phase II");
  else parts.push_back(fmt::format("Phase I (limits): {} {}", noun, Ranges(p1)));
  if (!p1.empty() && !p2.empty()) parts.push_back(fmt::format("Phase II: {}", Ranges(p2)));
  if (!r.exclusions.empty()) parts.push_back(fmt::format("{} excluded", r.exclusions.size()));
  std::map<std::string, std::vector<int>> by_rule;
  for (const auto& [chart, points] : marks)
    for (const auto& [index, rules] : points)
      for (const std::string& rule : rules) by_rule[rule].push_back(index);
  if (by_rule.empty()) parts.push_back("no rule violations");
  for (auto& [rule, idx] : by_rule) {
    std::sort(idx.begin(), idx.end());
    idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
    std::string list;
    for (size_t i = 0; i < idx.size() && i < 8; ++i) list += (i ? ", " : "") + std::to_string(idx[i]);
    if (idx.size() > 8) list += fmt::format(" … ({} in all)", idx.size());
    parts.push_back(fmt::format("{} at {}", rule, list));
  }
  return parts;
}

// The parts that fit in max_width, then "…" for the rest.
std::string FitParts(const std::vector<std::string>& parts, double max_width, const Measurer& m, Font f) {
  std::string s;
  for (const std::string& p : parts) {
    std::string next = s.empty() ? p : s + "  ·  " + p;
    if (m.Width(next + "  …", f) > max_width && !s.empty()) return s + "  …";
    s = next;
  }
  return s;
}

// ---- layout ----

constexpr double kHeader = 70, kFooter = 30, kPanelTop = 24, kPanelBottom = 30, kLegendRow = 18;
const Font kTitleFont{18, true}, kSubtitleFont{12, false}, kTickFont{11, false}, kAxisFont{12, false},
    kLegendFont{12, false}, kPhaseFont{11, false}, kMarkFont{10.5, true, true};

struct LegendEntry {
  enum Kind { kLine, kMarker } kind;
  Stroke stroke;
  Rgb fill;
  bool hollow;
  std::string text;
  bool big = false;  // the larger violation marker
};

struct Panel {
  const Chart* chart = nullptr;
  std::vector<const ChartPoint*> points;  // by index
  PanelGeometry g;
  std::vector<double> y_ticks;
  int y_decimals = 0;
  bool zones = false, lcl_line = true;
  std::vector<LegendEntry> legend;
};

struct Layout {
  int width = 0, height = 0;
  std::string title, subtitle, x_title;
  std::vector<double> x_ticks;
  std::map<int, std::string> x_labels;  // index -> label, when the labels are shown
  double legend_x = 0, legend_w = 0, y_label_x = 0;
  std::vector<Panel> panels;
  Marks marks;
};

Stroke CenterStroke() { return {kCenter, 1.5}; }
Stroke LimitStroke() { return {kLimit, 1.5, {6, 4}}; }
Stroke ZoneStroke() { return {kZone, 0.9, {1.5, 3}}; }

std::string LimitText(const std::string& name, const std::vector<const ChartPoint*>& pts, double ChartPoint::*field,
                      int decimals) {
  double lo = pts.front()->*field, hi = lo;
  for (const ChartPoint* p : pts) lo = std::min(lo, p->*field), hi = std::max(hi, p->*field);
  if (Same(lo, hi)) return fmt::format("{} {}", name, Fixed(lo, decimals));
  return fmt::format("{} {}–{}", name, Fixed(lo, decimals), Fixed(hi, decimals));
}

Status CheckInput(const ChartResult& r, const PlotOptions& o) {
  if (o.width < 320 || o.width > 8000) return InvalidArgument("plot width {} is outside 320..8000", o.width);
  if (o.height != 0 && (o.height < 200 || o.height > 8000))
    return InvalidArgument("plot height {} is outside 200..8000 (or 0 for automatic)", o.height);
  if (r.charts.empty()) return InvalidArgument("plot: the chart result has no charts");
  if (r.charts.front().points.empty()) return InvalidArgument("plot: the {} chart has no points", r.charts.front().name);
  for (const Chart& c : r.charts)
    for (const ChartPoint& p : c.points)
      for (double v : {p.value, p.center, p.ucl, p.lcl, p.sigma})
        if (!std::isfinite(v))
          return InvalidArgument("plot: {} chart, point {}: a non-finite value (value {}, center {}, limits {} / {})",
                                 c.name, p.index, p.value, p.center, p.lcl, p.ucl);
  return Status::Ok();
}

Result<Panel> MakePanel(const ChartResult& r, const Chart& c, const Marks& marks) {
  Panel pn;
  pn.chart = &c;
  for (const ChartPoint& p : c.points) pn.points.push_back(&p);
  std::stable_sort(pn.points.begin(), pn.points.end(),
                   [](const ChartPoint* a, const ChartPoint* b) { return a->index < b->index; });
  pn.g.chart = c.name;
  pn.lcl_line = r.type != ChartType::kCUSUM && r.type != ChartType::kT2;  // one-sided statistics
  pn.zones = IsShewhart(r.type) && std::any_of(c.points.begin(), c.points.end(), [](const ChartPoint& p) {
               return p.sigma > 0 && p.center + p.sigma < p.ucl;
             });
  if (pn.points.empty()) return pn;
  double lo = pn.points.front()->value, hi = lo;
  for (const ChartPoint* p : pn.points) {
    for (double v : {p->value, p->center, p->ucl}) lo = std::min(lo, v), hi = std::max(hi, v);
    if (pn.lcl_line) lo = std::min(lo, p->lcl), hi = std::max(hi, p->lcl);
  }
  double span = hi - lo, mid = lo / 2 + hi / 2;
  if (!std::isfinite(span)) return InvalidArgument("plot: {} chart: values span more than a double holds", c.name);
  if (!(span > 1e-12 * std::fabs(mid))) {  // all equal: a band around the value
    double half = mid != 0 ? std::fabs(mid) * 0.05 : 1;
    lo = mid - half, hi = mid + half, span = hi - lo;
  }
  // Room for the rule labels above (and below, when a violation lies below the center line).
  auto mark = marks.find(c.name);
  bool above = false, below = false;
  if (mark != marks.end())
    for (const ChartPoint& p : c.points)
      if (mark->second.count(p.index)) (p.value >= p.center ? above : below) = true;
  pn.g.y_min = lo - (below ? 0.14 : 0.08) * span;
  pn.g.y_max = hi + (above ? 0.16 : 0.08) * span;

  double limits_span = 0;
  for (const ChartPoint* p : pn.points) limits_span = std::max(limits_span, p->ucl - (pn.lcl_line ? p->lcl : p->center));
  int d = LegendDecimals(limits_span, pn.points.front()->center);
  pn.legend.push_back({LegendEntry::kLine, LimitStroke(), kLimit, false, LimitText("UCL", pn.points, &ChartPoint::ucl, d)});
  pn.legend.push_back({LegendEntry::kLine, CenterStroke(), kCenter, false, LimitText("CL", pn.points, &ChartPoint::center, d)});
  if (pn.lcl_line)
    pn.legend.push_back({LegendEntry::kLine, LimitStroke(), kLimit, false, LimitText("LCL", pn.points, &ChartPoint::lcl, d)});
  if (pn.zones) pn.legend.push_back({LegendEntry::kLine, ZoneStroke(), kZone, false, "±1σ, ±2σ zones"});
  pn.legend.push_back({LegendEntry::kMarker, {}, kPoint, false, "point"});
  if (marks.count(c.name)) pn.legend.push_back({LegendEntry::kMarker, {}, kViolation, false, "rule violation", true});
  if (std::any_of(c.points.begin(), c.points.end(), [](const ChartPoint& p) { return p.excluded; }))
    pn.legend.push_back({LegendEntry::kMarker, {}, kPoint, true, "excluded (Phase I)"});
  return pn;
}

Result<Layout> MakeLayout(const ChartResult& r, const PlotOptions& o, const Measurer& m) {
  PF_RETURN_IF_ERROR(CheckInput(r, o));
  Layout L;
  L.width = o.width;
  L.height = o.height ? o.height : static_cast<int>(kHeader + kFooter) + 300 * static_cast<int>(r.charts.size());
  L.marks = ViolationMarks(r);
  L.title = o.title.empty() ? DefaultTitle(r) : o.title;
  std::vector<std::string> subtitle = SubtitleParts(r, o.title, L.marks);
  std::string noun = Noun(r);
  L.x_title = static_cast<char>(std::toupper(noun[0])) + noun.substr(1);

  int first = r.charts.front().points.front().index, last = first;
  for (const Chart& c : r.charts)
    for (const ChartPoint& p : c.points) first = std::min(first, p.index), last = std::max(last, p.index);
  double pad = std::max(0.6, (last - first) * 0.01);

  double slot = (L.height - kHeader - kFooter) / static_cast<double>(r.charts.size());
  double plot_h = slot - kPanelTop - kPanelBottom;
  if (plot_h < 60)
    return InvalidArgument("plot height {} is too small for {} charts (at least {} needed)", L.height,
                           r.charts.size(), static_cast<int>(kHeader + kFooter + r.charts.size() * (60 + kPanelTop + kPanelBottom)));

  double tick_w = 0, legend_w = 0;
  for (const Chart& c : r.charts) {
    PF_ASSIGN_OR_RETURN(Panel pn, MakePanel(r, c, L.marks));
    if (!pn.points.empty()) {
      pn.y_ticks = NiceTicks(pn.g.y_min, pn.g.y_max, std::max(3, static_cast<int>(plot_h / 38)));
      if (pn.y_ticks.size() >= 2) pn.y_decimals = StepDecimals(pn.y_ticks[1] - pn.y_ticks[0]);
      for (double t : pn.y_ticks) tick_w = std::max(tick_w, m.Width(Fixed(t, pn.y_decimals), kTickFont));
    } else {
      pn.g.y_min = 0, pn.g.y_max = 1;
    }
    for (const LegendEntry& e : pn.legend) legend_w = std::max(legend_w, m.Width(e.text, kLegendFont));
    L.panels.push_back(std::move(pn));
  }
  L.legend_w = std::max(130.0, legend_w + 48);
  L.y_label_x = 24;
  double left = L.y_label_x + 12 + tick_w + 10;
  L.legend_x = L.width - 12 - L.legend_w;
  double plot_w = L.legend_x - 18 - left;
  if (plot_w < 120) return InvalidArgument("plot width {} is too small for the axis labels and the legend", L.width);

  L.subtitle = FitParts(subtitle, L.width - left - 12, m, kSubtitleFont);
  for (size_t i = 0; i < L.panels.size(); ++i) {
    PanelGeometry& g = L.panels[i].g;
    g.left = left, g.width = plot_w;
    g.top = kHeader + i * slot + kPanelTop, g.height = plot_h;
    g.x_min = first - pad, g.x_max = last + pad;
  }
  L.x_ticks = NiceTicks(first - pad, last + pad, std::max(2, static_cast<int>(plot_w / 60)));
  L.x_ticks.erase(std::remove_if(L.x_ticks.begin(), L.x_ticks.end(),
                                 [&](double t) { return t != std::round(t) || t < first || t > last; }),
                  L.x_ticks.end());
  if (L.x_ticks.empty()) L.x_ticks = {static_cast<double>(first)};
  // Point labels on the axis when they say more than the index and fit between the ticks.
  bool differ = false;
  double label_w = 0;
  std::map<int, std::string> labels;
  for (const ChartPoint& p : r.charts.front().points) {
    labels[p.index] = p.label;
    differ = differ || (!p.label.empty() && p.label != std::to_string(p.index));
  }
  for (double t : L.x_ticks) label_w = std::max(label_w, m.Width(labels[static_cast<int>(t)], kTickFont));
  double tick_gap = L.x_ticks.size() > 1 ? L.panels[0].g.X(L.x_ticks[1]) - L.panels[0].g.X(L.x_ticks[0]) : plot_w;
  if (differ && label_w + 8 < tick_gap)
    for (double t : L.x_ticks) L.x_labels[static_cast<int>(t)] = labels[static_cast<int>(t)];
  return L;
}

// ---- drawing ----

double Crisp(double v) { return std::floor(v) + 0.5; }

// A per-point level (limit, center, zone line) as steps one index wide, or one straight line
// across the panel when every point has the same level. visible(p) false breaks the line.
template <typename Level, typename Visible>
void DrawLevel(Canvas& c, const Panel& pn, Level level, Visible visible, const Stroke& s) {
  const PanelGeometry& g = pn.g;
  const auto& pts = pn.points;
  bool constant = std::all_of(pts.begin(), pts.end(), [&](const ChartPoint* p) { return Same(level(*p), level(*pts[0])); });
  if (constant) {
    if (visible(*pts[0])) c.Polyline({{g.left, g.Y(level(*pts[0]))}, {g.left + g.width, g.Y(level(*pts[0]))}}, s);
    return;
  }
  std::vector<Pt> run;
  auto flush = [&] {
    c.Polyline(run, s);
    run.clear();
  };
  for (size_t i = 0; i < pts.size(); ++i) {
    const ChartPoint& p = *pts[i];
    if (!visible(p)) {
      flush();
      continue;
    }
    if (!run.empty() && pts[i - 1]->index + 1 != p.index) flush();
    double x0 = std::max(g.left, g.X(p.index - 0.5)), x1 = std::min(g.left + g.width, g.X(p.index + 0.5));
    double y = g.Y(level(p));
    if (!run.empty()) run.push_back({x0, run.back().y});
    run.push_back({x0, y});
    run.push_back({x1, y});
  }
  flush();
}

void DrawPhases(Canvas& c, const Panel& pn, bool shade) {
  const PanelGeometry& g = pn.g;
  const auto& pts = pn.points;
  bool has1 = std::any_of(pts.begin(), pts.end(), [](const ChartPoint* p) { return p->phase == 1; });
  bool has2 = std::any_of(pts.begin(), pts.end(), [](const ChartPoint* p) { return p->phase != 1; });
  if (!has1 || !has2) return;
  for (size_t i = 0; i < pts.size();) {
    size_t j = i;
    while (j + 1 < pts.size() && (pts[j + 1]->phase == 1) == (pts[i]->phase == 1)) ++j;
    double x0 = i == 0 ? g.left : (g.X(pts[i - 1]->index) + g.X(pts[i]->index)) / 2;
    double x1 = j + 1 == pts.size() ? g.left + g.width : (g.X(pts[j]->index) + g.X(pts[j + 1]->index)) / 2;
    bool one = pts[i]->phase == 1;
    if (shade) {
      if (!one) c.Box(x0, g.top, x1 - x0, g.height, &kPhase2, nullptr);
    } else {
      if (j + 1 < pts.size()) c.Polyline({{Crisp(x1), g.top}, {Crisp(x1), g.top + g.height}}, {kMuted, 1, {4, 3}});
      std::string text = one ? "Phase I" : "Phase II";
      if (c.TextWidth(text, kPhaseFont) > x1 - x0 - 4) text = one ? "I" : "II";
      c.Text({(x0 + x1) / 2, g.top - 8}, text, kPhaseFont, kMuted, Anchor::kMiddle);
    }
    i = j + 1;
  }
}

struct Box {
  double x0, y0, x1, y1;
  bool Overlaps(const Box& o) const { return x0 < o.x1 + 2 && o.x0 < x1 + 2 && y0 < o.y1 && o.y0 < y1; }
};

// "we1,we2,nelson5" -> "we1,2,nelson5": a family name is written once per run of its rules.
std::string RuleList(const std::vector<std::string>& rules) {
  std::string out, family;
  for (const std::string& rule : rules) {
    size_t digits = rule.find_first_of("0123456789");
    std::string f = rule.substr(0, digits);
    if (!out.empty()) out += ",";
    out += digits != std::string::npos && f == family ? rule.substr(digits) : rule;
    family = digits != std::string::npos ? f : "";
  }
  return out;
}

// Rule labels go above a point above the center line and below the others (the other side when
// that one is full), in up to four rows, centered on the point or ending or starting at it,
// inside the plot and clear of red markers and labels already placed; a label with no free place
// is left out (its red marker stays, and the subtitle lists every violation).
void DrawRuleLabels(Canvas& c, const Panel& pn, const std::vector<Pt>& at, double radius,
                    const std::map<int, std::vector<std::string>>& marks) {
  const PanelGeometry& g = pn.g;
  std::vector<Box> placed;  // labels, and the red markers they must not hide
  for (size_t i = 0; i < pn.points.size(); ++i)
    if (marks.count(pn.points[i]->index))
      placed.push_back({at[i].x - radius + 2, at[i].y - radius, at[i].x + radius - 2, at[i].y + radius});
  for (size_t i = 0; i < pn.points.size(); ++i) {
    auto it = marks.find(pn.points[i]->index);
    if (it == marks.end()) continue;
    std::string text = RuleList(it->second);
    double w = c.TextWidth(text, kMarkFont);
    if (w + 4 > g.width) continue;
    double x = std::clamp(at[i].x, g.left + w / 2 + 2, g.left + g.width - w / 2 - 2);
    int side = pn.points[i]->value >= pn.points[i]->center ? 0 : 1;
    bool done = false;
    for (int k = 0; k < 24 && !done; ++k) {
      int row = k / 3 % 4;
      bool up = (k < 12) == (side == 0);
      double dx = std::array<double, 3>{0, -w / 2, w / 2}[k % 3];  // centered, else ending or starting at the point
      double y = up ? at[i].y - radius - 5 - 12 * row : at[i].y + radius + 13 + 12 * row;
      double cx = std::clamp(x + dx, g.left + w / 2 + 2, g.left + g.width - w / 2 - 2);
      Box b{cx - w / 2, y - 9, cx + w / 2, y + 2};
      if (b.y0 < g.top + 1 || b.y1 > g.top + g.height - 1) continue;
      if (std::any_of(placed.begin(), placed.end(), [&](const Box& o) { return o.Overlaps(b); })) continue;
      placed.push_back(b);
      c.Text({cx, y}, text, kMarkFont, kViolation, Anchor::kMiddle);
      done = true;
    }
  }
}

void DrawPoints(Canvas& c, const Panel& pn, const std::map<int, std::vector<std::string>>* marks) {
  const PanelGeometry& g = pn.g;
  std::vector<Pt> at;
  for (const ChartPoint* p : pn.points) at.push_back({g.X(p->index), g.Y(p->value)});
  double spacing = g.width / (g.x_max - g.x_min);
  c.Polyline(at, {kSeries, spacing < 2 ? 0.8 : 1.3});
  double r = std::clamp(spacing * 0.3, 1.6, 3.8);
  for (size_t i = 0; i < pn.points.size(); ++i) {
    const ChartPoint* p = pn.points[i];
    bool violation = marks && marks->count(p->index);
    if (!violation && spacing < 3 && !p->excluded) continue;  // dense series: the line alone
    Rgb color = violation ? kViolation : kPoint;
    double radius = violation ? r + 1.3 : r;
    Stroke edge{color, 1.3};
    if (p->excluded) c.Circle(at[i], radius, &kWhite, &edge);
    else c.Circle(at[i], radius, &color, nullptr);
  }
  if (marks) DrawRuleLabels(c, pn, at, r + 1.3, *marks);
}

void DrawAxes(Canvas& c, const Layout& L, const Panel& pn) {
  const PanelGeometry& g = pn.g;
  Stroke tick{kFrame, 1};
  for (double t : pn.y_ticks) {
    double y = Crisp(g.Y(t));
    c.Polyline({{g.left - 5, y}, {g.left, y}}, tick);
    c.Text({g.left - 8, g.Y(t) + 4}, Fixed(t, pn.y_decimals), kTickFont, kInk, Anchor::kEnd);
  }
  double bottom = g.top + g.height;
  for (double t : L.x_ticks) {
    double x = Crisp(g.X(t));
    c.Polyline({{x, bottom}, {x, bottom + 5}}, tick);
    auto it = L.x_labels.find(static_cast<int>(t));
    std::string text = it != L.x_labels.end() ? it->second : fmt::format("{}", static_cast<long long>(t));
    c.Text({g.X(t), bottom + 18}, text, kTickFont, kInk, Anchor::kMiddle);
  }
  c.Box(Crisp(g.left), Crisp(g.top), std::round(g.width), std::round(g.height), nullptr, &tick);
  c.Text({L.y_label_x, g.top + g.height / 2}, AxisName(pn.chart->name), kAxisFont, kInk, Anchor::kMiddle, true);
}

void DrawLegend(Canvas& c, const Layout& L, const Panel& pn) {
  double x = L.legend_x, y = pn.g.top, h = 10 + kLegendRow * pn.legend.size();
  Stroke edge{kLegendEdge, 1};
  c.Box(Crisp(x), Crisp(y), std::round(L.legend_w), std::round(h), &kWhite, &edge);
  for (size_t i = 0; i < pn.legend.size(); ++i) {
    const LegendEntry& e = pn.legend[i];
    double mid = y + 5 + kLegendRow * (i + 0.5);
    if (e.kind == LegendEntry::kLine) {
      c.Polyline({{x + 10, mid}, {x + 34, mid}}, e.stroke);
    } else {
      Stroke s{e.fill, 1.3};
      if (e.hollow) c.Circle({x + 22, mid}, 3.5, &kWhite, &s);
      else c.Circle({x + 22, mid}, e.big ? 4.8 : 3.5, &e.fill, nullptr);
    }
    c.Text({x + 42, mid + 4}, e.text, kLegendFont, kInk, Anchor::kStart);
  }
}

void DrawPanel(Canvas& c, const Layout& L, const Panel& pn) {
  const PanelGeometry& g = pn.g;
  c.Box(g.left, g.top, g.width, g.height, &kWhite, nullptr);
  if (pn.points.empty()) {
    c.Text({g.left + g.width / 2, g.top + g.height / 2}, "no points", kAxisFont, kMuted, Anchor::kMiddle);
    DrawAxes(c, L, pn);
    return;
  }
  DrawPhases(c, pn, true);
  for (double t : pn.y_ticks) c.Polyline({{g.left, Crisp(g.Y(t))}, {g.left + g.width, Crisp(g.Y(t))}}, {kGrid, 1});
  if (pn.zones) {
    for (double k : {-2.0, -1.0, 1.0, 2.0}) {
      auto level = [k](const ChartPoint& p) { return p.center + k * p.sigma; };
      DrawLevel(c, pn, level, [&](const ChartPoint& p) { return p.sigma > 0 && level(p) > p.lcl && level(p) < p.ucl; },
                ZoneStroke());
    }
  }
  auto all = [](const ChartPoint&) { return true; };
  DrawLevel(c, pn, [](const ChartPoint& p) { return p.center; }, all, CenterStroke());
  DrawLevel(c, pn, [](const ChartPoint& p) { return p.ucl; }, all, LimitStroke());
  if (pn.lcl_line) DrawLevel(c, pn, [](const ChartPoint& p) { return p.lcl; }, all, LimitStroke());
  DrawPhases(c, pn, false);
  auto marks = L.marks.find(pn.chart->name);
  DrawPoints(c, pn, marks == L.marks.end() ? nullptr : &marks->second);
  DrawAxes(c, L, pn);
  DrawLegend(c, L, pn);
}

void Draw(Canvas& c, const Layout& L) {
  c.Box(0, 0, L.width, L.height, &kWhite, nullptr);
  double left = L.panels.front().g.left;
  c.Text({left, 30}, L.title, kTitleFont, kInk, Anchor::kStart);
  c.Text({left, 52}, L.subtitle, kSubtitleFont, kMuted, Anchor::kStart);
  for (const Panel& pn : L.panels) DrawPanel(c, L, pn);
  const PanelGeometry& g = L.panels.back().g;
  c.Text({g.left + g.width / 2, g.top + g.height + 40}, L.x_title, kAxisFont, kInk, Anchor::kMiddle);
}

std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

cairo_status_t WriteToFile(void* closure, const unsigned char* data, unsigned int length) {
  return std::fwrite(data, 1, length, static_cast<FILE*>(closure)) == length ? CAIRO_STATUS_SUCCESS
                                                                            : CAIRO_STATUS_WRITE_ERROR;
}

Status WriteFile(const std::string& path, const std::function<bool(FILE*)>& write) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return Unavailable("plot '{}': cannot open for writing: {}", path, std::strerror(errno));
  bool ok = write(f);
  int err = ok ? 0 : errno;
  if (std::fclose(f) != 0 && ok) ok = false, err = errno;
  if (!ok) return Unavailable("plot '{}': write failed: {}", path, err ? std::strerror(err) : "unknown error");
  return Status::Ok();
}

}  // namespace

std::vector<double> NiceTicks(double lo, double hi, int max_ticks) {
  if (!(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi) || max_ticks < 2) return {};
  double raw = (hi - lo) / max_ticks;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double f : {1.0, 2.0, 5.0}) {
    if (std::floor(hi / (f * mag) + 1e-9) - std::ceil(lo / (f * mag) - 1e-9) + 1 <= max_ticks) {
      step = f * mag;
      break;
    }
  }
  std::vector<double> ticks;
  double k0 = std::ceil(lo / step - 1e-9), k1 = std::floor(hi / step + 1e-9);
  for (double k = k0; k <= k1 && ticks.size() < 1000; ++k) ticks.push_back(k * step);
  return ticks;
}

Result<std::vector<PanelGeometry>> ChartPlotLayout(const ChartResult& result, const PlotOptions& options) {
  Measurer m;
  PF_ASSIGN_OR_RETURN(Layout L, MakeLayout(result, options, m));
  std::vector<PanelGeometry> out;
  for (const Panel& p : L.panels) out.push_back(p.g);
  return out;
}

Status WriteChartPlot(const ChartResult& result, const std::string& path) {
  return WriteChartPlot(result, path, PlotOptions{});
}

Status WriteChartPlot(const ChartResult& result, const std::string& path, const PlotOptions& options) {
  size_t dot = path.find_last_of('.');
  size_t slash = path.find_last_of('/');
  std::string ext = dot == std::string::npos || (slash != std::string::npos && dot < slash) ? "" : Lower(path.substr(dot));
  if (ext != ".png" && ext != ".svg")
    return InvalidArgument("plot '{}': {}: use .png or .svg", path,
                           ext.empty() ? std::string("no file extension") : fmt::format("unknown extension '{}'", ext));
  Measurer m;
  PF_ASSIGN_OR_RETURN(Layout L, MakeLayout(result, options, m));
  if (ext == ".svg") {
    SvgCanvas c(m, L.width, L.height, L.title);
    Draw(c, L);
    if (c.dropped()) return Internal("plot '{}': a shape had a non-finite coordinate", path);
    std::string svg = c.Finish();
    return WriteFile(path, [&](FILE* f) { return std::fwrite(svg.data(), 1, svg.size(), f) == svg.size(); });
  }
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      cairo_image_surface_create(CAIRO_FORMAT_ARGB32, L.width, L.height), cairo_surface_destroy);
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    return ResourceExhausted("plot '{}': cannot make a {}x{} image: {}", path, L.width, L.height,
                             cairo_status_to_string(cairo_surface_status(surface.get())));
  {
    std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr(cairo_create(surface.get()), cairo_destroy);
    CairoCanvas c(m, cr.get());
    Draw(c, L);
    if (c.dropped()) return Internal("plot '{}': a shape had a non-finite coordinate", path);
  }
  cairo_surface_flush(surface.get());
  return WriteFile(path, [&](FILE* f) {
    return cairo_surface_write_to_png_stream(surface.get(), WriteToFile, f) == CAIRO_STATUS_SUCCESS;
  });
}

}  // namespace pf::spc
