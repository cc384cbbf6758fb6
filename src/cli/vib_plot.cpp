#include "cli/vib_plot.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "spc/plot.h"

namespace pf {
namespace {

struct Rgb {
  double r, g, b;
};
constexpr Rgb Hex(uint32_t c) { return {((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0, (c & 255) / 255.0}; }
constexpr Rgb kInk = Hex(0x202124), kMuted = Hex(0x5f6368), kFrame = Hex(0x9aa0a6), kGrid = Hex(0xebedf0),
              kSeries = Hex(0x3b5b7f), kBand = Hex(0xfff3c4), kShaft = Hex(0x757575), kWhite = Hex(0xffffff);
constexpr const char* kFontFamily = "DejaVu Sans";

Rgb LocationColor(dsp::FaultLocation l) {
  switch (l) {
    case dsp::FaultLocation::kOuterRace: return Hex(0x1f63b4);
    case dsp::FaultLocation::kInnerRace: return Hex(0xd62728);
    case dsp::FaultLocation::kBall: return Hex(0x2a9d3a);
    case dsp::FaultLocation::kCage: return Hex(0x8e44ad);
    default: return kShaft;
  }
}

struct Panel {
  double left, top, width, height;
  double x_min, x_max, y_min, y_max;  // y in axis units (log10 for a log panel)
  double X(double v) const { return left + (v - x_min) / (x_max - x_min) * width; }
  double Y(double v) const { return top + (y_max - std::clamp(v, y_min, y_max)) / (y_max - y_min) * height; }
};

// A vertical marker: a line through the panel and a label above it.
struct Marker {
  double hz;
  std::string label;
  Rgb color;
  bool strong;
  bool dashed;
};

class Painter {
 public:
  explicit Painter(cairo_t* cr) : cr_(cr) {}
  void Color(Rgb c) { cairo_set_source_rgb(cr_, c.r, c.g, c.b); }
  void Font(double size, bool bold = false) {
    cairo_select_font_face(cr_, kFontFamily, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr_, size);
  }
  double TextWidth(const std::string& s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr_, s.c_str(), &e);
    return std::isfinite(e.x_advance) ? e.x_advance : 0;
  }
  // anchor: 0 start, 0.5 middle, 1 end.
  void Text(const std::string& s, double x, double y, double anchor = 0) {
    cairo_move_to(cr_, x - anchor * TextWidth(s), y);
    cairo_show_text(cr_, s.c_str());
  }
  void Line(double x0, double y0, double x1, double y1, double width, bool dashed = false) {
    static const double kDash[] = {5, 3};
    cairo_set_dash(cr_, kDash, dashed ? 2 : 0, 0);
    cairo_set_line_width(cr_, width);
    cairo_move_to(cr_, x0, y0);
    cairo_line_to(cr_, x1, y1);
    cairo_stroke(cr_);
    cairo_set_dash(cr_, nullptr, 0, 0);
  }
  void Rect(double x, double y, double w, double h, bool fill) {
    cairo_rectangle(cr_, x, y, w, h);
    if (fill) {
      cairo_fill(cr_);
    } else {
      cairo_set_line_width(cr_, 1);
      cairo_stroke(cr_);
    }
  }
  void Ring(double x, double y, double r) {
    cairo_new_sub_path(cr_);
    cairo_arc(cr_, x, y, r, 0, 2 * M_PI);
    cairo_set_line_width(cr_, 1.6);
    cairo_stroke(cr_);
  }
  cairo_t* cr() { return cr_; }

 private:
  cairo_t* cr_;
};

std::string TickLabel(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e4 || a < 1e-3) return fmt::format("{:.0e}", v);
  return fmt::format("{:g}", v);
}

void DrawFrame(Painter& p, const Panel& g, const std::string& y_title, bool log_y, const std::string& x_title) {
  p.Font(11);
  for (double t : spc::NiceTicks(g.x_min, g.x_max, 10)) {
    const double x = g.X(t);
    p.Color(kGrid);
    p.Line(x, g.top, x, g.top + g.height, 1);
    p.Color(kMuted);
    p.Text(TickLabel(t), x, g.top + g.height + 15, 0.5);
  }
  if (log_y) {
    for (double d = std::ceil(g.y_min); d <= g.y_max + 1e-9; d += 1) {
      const double y = g.Y(d);
      p.Color(kGrid);
      p.Line(g.left, y, g.left + g.width, y, 1);
      p.Color(kMuted);
      p.Text(fmt::format("1e{}", static_cast<int>(d)), g.left - 6, y + 4, 1);
    }
  } else {
    for (double t : spc::NiceTicks(g.y_min, g.y_max, 6)) {
      const double y = g.Y(t);
      p.Color(kGrid);
      p.Line(g.left, y, g.left + g.width, y, 1);
      p.Color(kMuted);
      p.Text(TickLabel(t), g.left - 6, y + 4, 1);
    }
  }
  p.Color(kFrame);
  p.Rect(g.left, g.top, g.width, g.height, false);
  p.Color(kInk);
  p.Font(12);
  p.Text(x_title, g.left + g.width / 2, g.top + g.height + 34, 0.5);
  cairo_save(p.cr());
  cairo_translate(p.cr(), g.left - 62, g.top + g.height / 2);
  cairo_rotate(p.cr(), -M_PI / 2);
  p.Text(y_title, 0, 0, 0.5);
  cairo_restore(p.cr());
}

// The spectrum as a polyline; transform maps a value to the axis unit (log10 or identity).
template <typename F>
void DrawSeries(Painter& p, const Panel& g, std::span<const float> v, double bin_hz, std::size_t first_bin, F transform) {
  cairo_save(p.cr());
  cairo_rectangle(p.cr(), g.left, g.top, g.width, g.height);
  cairo_clip(p.cr());
  p.Color(kSeries);
  cairo_set_line_width(p.cr(), 0.9);
  bool first = true;
  for (std::size_t k = first_bin; k < v.size(); ++k) {
    const double f = static_cast<double>(k) * bin_hz;
    if (f > g.x_max) break;
    const double x = g.X(f), y = g.Y(transform(v[k]));
    first ? cairo_move_to(p.cr(), x, y) : cairo_line_to(p.cr(), x, y);
    first = false;
  }
  cairo_stroke(p.cr());
  cairo_restore(p.cr());
}

// Lines through the panel; labels above it, stacked in up to `rows` rows so they do not overlap.
void DrawMarkers(Painter& p, const Panel& g, std::vector<Marker> markers, int rows) {
  std::sort(markers.begin(), markers.end(), [](const Marker& a, const Marker& b) { return a.hz < b.hz; });
  std::vector<double> row_end(static_cast<std::size_t>(rows), -1e9);
  constexpr double kRowHeight = 14;
  for (const Marker& m : markers) {
    if (m.hz < g.x_min || m.hz > g.x_max) continue;
    const double x = g.X(m.hz);
    p.Color(m.color);
    p.Line(x, g.top, x, g.top + g.height, m.strong ? 1.8 : 1.0, m.dashed);
    p.Font(10.5, m.strong);
    const double w = p.TextWidth(m.label);
    const double lx = std::clamp(x - w / 2, g.left - 20, g.left + g.width + 20 - w);
    std::size_t row = 0;
    while (row + 1 < row_end.size() && row_end[row] > lx - 4) ++row;
    if (row_end[row] > lx - 4) row = static_cast<std::size_t>(std::min_element(row_end.begin(), row_end.end()) - row_end.begin());
    row_end[row] = lx + w;
    const double ly = g.top - 6 - kRowHeight * static_cast<double>(row);
    p.Line(x, ly + 2, x, g.top, 0.6);
    p.Text(m.label, lx, ly - 1);
  }
}

Status CheckFinite(std::span<const float> v, const char* what) {
  for (std::size_t k = 0; k < v.size(); ++k)
    if (!std::isfinite(v[k])) return InvalidArgument("plot: {} bin {} is not finite", what, k);
  return Status::Ok();
}

bool EndsWithPng(const std::string& path) {
  if (path.size() < 4) return false;
  std::string ext = path.substr(path.size() - 4);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png";
}

Status Validate(const VibPlotInput& in, const std::string& path) {
  if (!EndsWithPng(path)) return InvalidArgument("--plot '{}': only PNG is written (the name must end in .png)", path);
  if (in.amplitude.size() < 2 || in.ses.size() < 2) return InvalidArgument("plot: empty spectrum");
  if (!in.diagnosis) return InvalidArgument("plot: no diagnosis");
  if (in.width < 400 || in.width > 6000 || in.height < 400 || in.height > 6000)
    return InvalidArgument("plot: size {}x{} outside 400..6000", in.width, in.height);
  for (double v : {in.amplitude_bin_hz, in.ses_bin_hz, in.shaft_hz})
    if (!std::isfinite(v) || v <= 0) return InvalidArgument("plot: bin width or shaft speed {} is not a positive number", v);
  PF_RETURN_IF_ERROR(CheckFinite(in.amplitude, "amplitude spectrum"));
  return CheckFinite(in.ses, "envelope spectrum");
}

void DrawAmplitudePanel(Painter& p, const VibPlotInput& in, const Panel& frame) {
  Panel g = frame;
  g.x_min = 0;
  g.x_max = static_cast<double>(in.amplitude.size() - 1) * in.amplitude_bin_hz;
  float peak = 0;
  for (std::size_t k = 1; k < in.amplitude.size(); ++k) peak = std::max(peak, in.amplitude[k]);
  g.y_max = std::ceil(std::log10(peak > 0 ? peak : 1.0f) + 1e-9);
  g.y_min = g.y_max - 6;
  if (in.envelope_band.hi_hz > in.envelope_band.lo_hz) {
    const double x0 = g.X(in.envelope_band.lo_hz), x1 = g.X(std::min(in.envelope_band.hi_hz, g.x_max));
    p.Color(kBand);
    p.Rect(x0, g.top + 1, x1 - x0, g.height - 2, true);
    p.Color(kMuted);
    p.Font(10.5);
    p.Text(fmt::format("envelope band {:.0f}-{:.0f} Hz", in.envelope_band.lo_hz, in.envelope_band.hi_hz), (x0 + x1) / 2,
           g.top + 14, 0.5);
  }
  DrawFrame(p, g, "amplitude (g)", true, "frequency (Hz)");
  const double floor_v = std::pow(10.0, g.y_min);
  DrawSeries(p, g, in.amplitude, in.amplitude_bin_hz, 0, [floor_v](float v) { return std::log10(std::max<double>(v, floor_v)); });
  DrawMarkers(p, g, {{in.shaft_hz, fmt::format("1× {:.2f} Hz", in.shaft_hz), kShaft, true, false}}, 1);
  p.Color(kInk);
  p.Font(12.5, true);
  p.Text("Amplitude spectrum (Hann, averaged over the blocks)", g.left, g.top - 26);
}

void DrawEnvelopePanel(Painter& p, const VibPlotInput& in, const Panel& frame) {
  Panel g = frame;
  const dsp::Diagnosis& d = *in.diagnosis;
  double highest = 3.5 * in.shaft_hz;
  for (const auto& c : d.candidates)
    for (const auto& h : c.harmonics)
      if (h.searched || h.shaft_coincident) highest = std::max(highest, h.expected_hz);
  g.x_min = 0;
  g.x_max = std::min(highest * 1.08, static_cast<double>(in.ses.size() - 1) * in.ses_bin_hz);
  float peak = 0;
  for (std::size_t k = 1; k < in.ses.size() && static_cast<double>(k) * in.ses_bin_hz <= g.x_max; ++k)
    peak = std::max(peak, in.ses[k]);
  g.y_min = 0;
  g.y_max = peak > 0 ? 1.12 * peak : 1.0;
  DrawFrame(p, g, "squared envelope (g²)", false, "frequency (Hz)");
  // From bin 1: bin 0 is what is left of the squared envelope's mean after windowing, not a line.
  DrawSeries(p, g, in.ses, in.ses_bin_hz, 1, [](float v) { return static_cast<double>(v); });

  std::vector<Marker> markers;
  for (int m = 1; m <= 3; ++m)
    markers.push_back({m * in.shaft_hz, m == 1 ? "1×" : fmt::format("{}×", m), kShaft, false, true});
  for (const auto& c : d.candidates) {
    const bool named = c.location == d.location;
    const std::string name(FaultFrequencyName(c.location));
    for (std::size_t h = 0; h < c.harmonics.size(); ++h) {
      const auto& line = c.harmonics[h];
      if (!line.searched && !line.shaft_coincident) continue;
      markers.push_back({line.expected_hz, h == 0 ? name : fmt::format("{}×{}", h + 1, name), LocationColor(c.location),
                         named, !named});
    }
  }
  DrawMarkers(p, g, markers, 4);
  // Rings on the lines found above the detection threshold, at the peak that was found.
  for (int pass = 0; pass < 2; ++pass) {  // the named location's rings last, on top
    for (const auto& c : d.candidates) {
      if ((c.location == d.location) != (pass == 1)) continue;
      p.Color(LocationColor(c.location));
      for (const auto& line : c.harmonics) {
        if (!line.searched || line.snr_db < in.detection_snr_db || line.found_hz > g.x_max) continue;
        p.Ring(g.X(line.found_hz), g.Y(line.amplitude), 5);
      }
    }
  }
  // Legend: each location's fundamental, and the verdict.
  p.Font(11);
  const double lx = g.left + g.width - 250, ly = g.top + 10;
  cairo_set_source_rgba(p.cr(), 1, 1, 1, 0.85);  // lines under the legend stay visible
  p.Rect(lx - 8, ly - 2, 250, 18 * 5 + 8, true);
  p.Color(kFrame);
  p.Rect(lx - 8, ly - 2, 250, 18 * 5 + 8, false);
  double y = ly + 12;
  for (auto l : {dsp::FaultLocation::kOuterRace, dsp::FaultLocation::kInnerRace, dsp::FaultLocation::kBall, dsp::FaultLocation::kCage}) {
    for (const auto& c : d.candidates) {
      if (c.location != l) continue;
      p.Color(LocationColor(l));
      p.Line(lx, y - 4, lx + 18, y - 4, c.location == d.location ? 2.2 : 1.2, c.location != d.location);
      p.Color(kInk);
      p.Text(fmt::format("{} ({}) {:.2f} Hz, {:.1f} dB", FaultFrequencyName(l), dsp::FaultLocationName(l), c.fundamental_hz,
                         c.score),
             lx + 24, y);
      y += 18;
    }
  }
  p.Font(11, true);
  p.Text(fmt::format("diagnosis: {} (margin {:.1f} dB)", dsp::FaultLocationName(d.location), d.margin), lx, y);
  p.Color(kInk);
  p.Font(12.5, true);
  p.Text("Squared-envelope spectrum (averaged), fault frequencies and harmonics", g.left, g.top - 66);
}

}  // namespace

std::string_view FaultFrequencyName(dsp::FaultLocation l) {
  switch (l) {
    case dsp::FaultLocation::kOuterRace: return "BPFO";
    case dsp::FaultLocation::kInnerRace: return "BPFI";
    case dsp::FaultLocation::kBall: return "BSF";
    case dsp::FaultLocation::kCage: return "FTF";
    default: return "";
  }
}

Status WriteVibPlot(const VibPlotInput& in, const std::string& path) {
  PF_RETURN_IF_ERROR(Validate(in, path));
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, in.width, in.height), cairo_surface_destroy);
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr(cairo_create(surface.get()), cairo_destroy);
  if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS)
    return Unavailable("plot: cairo: {}", cairo_status_to_string(cairo_status(cr.get())));
  Painter p(cr.get());
  p.Color(kWhite);
  cairo_paint(cr.get());
  p.Color(kInk);
  p.Font(15, true);
  p.Text(in.title, 20, 26);

  const double left = 90, right = 30, w = in.width - left - right;
  const double top1 = 80, h1 = (in.height - 80) * 0.34;
  const double top2 = top1 + h1 + 50 + 4 * 14 + 30, h2 = in.height - top2 - 50;
  DrawAmplitudePanel(p, in, {left, top1, w, h1, 0, 1, 0, 1});
  DrawEnvelopePanel(p, in, {left, top2, w, h2, 0, 1, 0, 1});

  cairo_surface_flush(surface.get());
  const cairo_status_t st = cairo_surface_write_to_png(surface.get(), path.c_str());
  if (st != CAIRO_STATUS_SUCCESS) return Unavailable("--plot '{}': cannot write: {}", path, cairo_status_to_string(st));
  return Status::Ok();
}

}  // namespace pf
