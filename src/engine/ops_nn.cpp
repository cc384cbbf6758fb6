// Spatial operators: Conv, MaxPool, AveragePool, GlobalAveragePool, Resize (nearest, linear, cubic).
// The kernels treat 1-D and 2-D spatial data as 3-D with leading size-1 dimensions, so one loop
// nest serves every rank from 1 to 3.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/op_util.h"
#include "engine/ops_table.h"

namespace pf::engine::op {

// Resolves auto_pad, pads, strides, dilations and ceil_mode into per-axis geometry (ONNX spec:
// SAME_* gives out = ceil(in / stride) with the extra padding at the end for SAME_UPPER).
Result<std::vector<Axis>> Geometry(const Node& n, const Shape& in, const Shape& kernel, bool allow_ceil) {
  const size_t r = in.size();
  auto strides = n.Ints("strides", Shape(r, 1));
  auto dil = n.Ints("dilations", Shape(r, 1));
  auto pads = n.Ints("pads", Shape(2 * r, 0));
  const std::string auto_pad = n.Str("auto_pad", "NOTSET");
  const bool ceil_mode = allow_ceil && n.Int("ceil_mode", 0) != 0;
  if (strides.size() != r || dil.size() != r || pads.size() != 2 * r || kernel.size() != r) {
    return InvalidArgument("{}: strides/dilations/pads/kernel_shape do not match {} spatial dims", n.Label(), r);
  }
  std::vector<Axis> ax(r);
  for (size_t d = 0; d < r; ++d) {
    Axis& a = ax[d];
    a.in = in[d];
    a.kernel = kernel[d];
    a.stride = strides[d];
    a.dilation = dil[d];
    if (pads[d] < 0 || pads[d + r] < 0) return InvalidArgument("{}: pads must be >= 0", n.Label());
    if (a.stride < 1 || a.dilation < 1 || a.kernel < 1) {
      return InvalidArgument("{}: strides, dilations and kernel sizes must be >= 1", n.Label());
    }
    const int64_t eff = (a.kernel - 1) * a.dilation + 1;
    if (auto_pad == "NOTSET") {
      a.pad_begin = pads[d];
      a.pad_end = pads[d + r];
      const int64_t span = a.in + a.pad_begin + a.pad_end - eff;
      if (span < 0) return InvalidArgument("{}: kernel is larger than the padded input", n.Label());
      a.out = (ceil_mode ? (span + a.stride - 1) / a.stride : span / a.stride) + 1;
      // A window may not start in the end padding only (ceil_mode).
      if (ceil_mode && (a.out - 1) * a.stride >= a.in + a.pad_begin) --a.out;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      a.out = (a.in + a.stride - 1) / a.stride;
      const int64_t total = std::max<int64_t>(0, (a.out - 1) * a.stride + eff - a.in);
      a.pad_begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      a.pad_end = total - a.pad_begin;
    } else if (auto_pad == "VALID") {
      if (a.in < eff) return InvalidArgument("{}: kernel is larger than the input", n.Label());
      a.out = (a.in - eff) / a.stride + 1;
    } else {
      return InvalidArgument("{}: unknown auto_pad '{}'", n.Label(), auto_pad);
    }
  }
  return ax;
}

// Pads geometry to exactly 3 spatial axes (leading size-1 axes).
std::vector<Axis> To3d(std::vector<Axis> ax) {
  while (ax.size() < 3) ax.insert(ax.begin(), Axis{});
  return ax;
}

Status CheckSpatial(const Node& n, const Shape& x) {
  if (x.size() < 3 || x.size() > 5) {
    return Unimplemented("{}: input rank {} is not supported (1 to 3 spatial dims)", n.Label(), x.size());
  }
  return Status::Ok();
}

Shape OutShape(const Shape& x, int64_t channels, const std::vector<Axis>& ax) {
  Shape s{x[0], channels};
  for (const auto& a : ax) s.push_back(a.out);
  return s;
}

namespace {

// pf_sum (engine/passes.h): a 4th input, the output's shape, added before pf_activation.
Result<Outs> InferConv(const Node& n, const Infos& in, int64_t) {
  const bool sum = n.Int("pf_sum", 0) != 0;
  PF_RETURN_IF_ERROR(CheckArity(n, in, 2, sum ? 4 : 3));
  if (sum && in.size() != 4) return InvalidArgument("{}: pf_sum needs 4 inputs (x, w, b or \"\", sum)", n.Label());
  if (sum && in[3] == nullptr) return InvalidArgument("{}: pf_sum is set but the sum input is missing", n.Label());
  PF_RETURN_IF_ERROR(ParseFusedActivation(n).status());
  for (size_t k = 0; k < in.size(); ++k) if (in[k]) PF_RETURN_IF_ERROR(RequireFloat(n, in, k));
  const Shape& x = in[0]->shape;
  const Shape& w = in[1]->shape;
  PF_RETURN_IF_ERROR(CheckSpatial(n, x));
  const int64_t g = n.Int("group", 1);
  if (w.size() != x.size()) return InvalidArgument("{}: W rank {} differs from X rank {}", n.Label(), w.size(), x.size());
  if (g < 1 || x[1] != w[1] * g || w[0] % g != 0) {
    return InvalidArgument("{}: channels do not match: X {} W {} group {}", n.Label(), ShapeToString(x),
                           ShapeToString(w), g);
  }
  const Shape kernel(w.begin() + 2, w.end());
  if (n.Has("kernel_shape") && n.Ints("kernel_shape") != kernel) {
    return InvalidArgument("{}: kernel_shape differs from W's shape", n.Label());
  }
  if (in.size() >= 3 && in[2] && in[2]->shape != Shape{w[0]}) {
    return InvalidArgument("{}: B has shape {}, expected [{}]", n.Label(), ShapeToString(in[2]->shape), w[0]);
  }
  PF_ASSIGN_OR_RETURN(auto ax, Geometry(n, Shape(x.begin() + 2, x.end()), kernel, false));
  Shape y = OutShape(x, w[0], ax);
  if (sum && in[3]->shape != y) {
    return InvalidArgument("{}: pf_sum input has shape {}, the output {}", n.Label(), ShapeToString(in[3]->shape),
                           ShapeToString(y));
  }
  return Outs{Info(DType::kFloat, y)};
}

Result<std::vector<Tensor>> RunConv(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& x = *in[0];
  const Tensor& w = *in[1];
  const Tensor* b = in.size() >= 3 ? in[2] : nullptr;
  const Tensor* sum = in.size() >= 4 ? in[3] : nullptr;
  PF_ASSIGN_OR_RETURN(const FusedActivation act, ParseFusedActivation(n));
  PF_ASSIGN_OR_RETURN(auto ax0, Geometry(n, Shape(x.shape.begin() + 2, x.shape.end()),
                                         Shape(w.shape.begin() + 2, w.shape.end()), false));
  const auto ax = To3d(ax0);
  const int64_t nb = x.shape[0], c = x.shape[1], m = w.shape[0], g = n.Int("group", 1);
  const int64_t cg = c / g, mg = m / g;
  const int64_t in_sz = ax[0].in * ax[1].in * ax[2].in, out_sz = ax[0].out * ax[1].out * ax[2].out;
  const int64_t k_sz = ax[0].kernel * ax[1].kernel * ax[2].kernel;
  Tensor y = MakeOutput(outs[0]);
  for (int64_t bi = 0; bi < nb; ++bi)
  for (int64_t oc = 0; oc < m; ++oc) {
    const int64_t grp = oc / mg;
    float* py = y.f.data() + (bi * m + oc) * out_sz;
    for (int64_t oz = 0; oz < ax[0].out; ++oz)
    for (int64_t oy = 0; oy < ax[1].out; ++oy)
    for (int64_t ox = 0; ox < ax[2].out; ++ox) {
      double acc = b ? b->f[oc] : 0.0;
      for (int64_t ic = 0; ic < cg; ++ic) {
        const float* px = x.f.data() + (bi * c + grp * cg + ic) * in_sz;
        const float* pw = w.f.data() + (oc * cg + ic) * k_sz;
        for (int64_t kz = 0; kz < ax[0].kernel; ++kz) {
          const int64_t iz = oz * ax[0].stride - ax[0].pad_begin + kz * ax[0].dilation;
          if (iz < 0 || iz >= ax[0].in) continue;
          for (int64_t ky = 0; ky < ax[1].kernel; ++ky) {
            const int64_t iy = oy * ax[1].stride - ax[1].pad_begin + ky * ax[1].dilation;
            if (iy < 0 || iy >= ax[1].in) continue;
            for (int64_t kx = 0; kx < ax[2].kernel; ++kx) {
              const int64_t ix = ox * ax[2].stride - ax[2].pad_begin + kx * ax[2].dilation;
              if (ix < 0 || ix >= ax[2].in) continue;
              acc += static_cast<double>(px[(iz * ax[1].in + iy) * ax[2].in + ix]) *
                     pw[(kz * ax[1].kernel + ky) * ax[2].kernel + kx];
            }
          }
        }
      }
      py[(oz * ax[1].out + oy) * ax[2].out + ox] = static_cast<float>(acc);
    }
  }
  // Same float operations as separate Add and activation nodes would do.
  if (sum != nullptr) {
    for (size_t k = 0; k < y.f.size(); ++k) y.f[k] = y.f[k] + sum->f[k];
  }
  if (act.kind != FusedActivation::Kind::kNone) {
    for (float& v : y.f) v = act.Apply(v);
  }
  return std::vector<Tensor>{std::move(y)};
}

Result<Outs> InferPool(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 1, 1));
  const DType t = in[0]->dtype;
  const bool max_ok = t == DType::kFloat || t == DType::kUint8 || t == DType::kInt8;
  if (n.op_type == "AveragePool" || !max_ok) PF_RETURN_IF_ERROR(RequireFloat(n, in, 0));
  const Shape& x = in[0]->shape;
  PF_RETURN_IF_ERROR(CheckSpatial(n, x));
  if (!n.Has("kernel_shape")) return InvalidArgument("{}: kernel_shape is required", n.Label());
  PF_ASSIGN_OR_RETURN(auto ax, Geometry(n, Shape(x.begin() + 2, x.end()), n.Ints("kernel_shape"), true));
  Outs o{Info(t, OutShape(x, x[1], ax))};
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) {
    if (n.op_type != "MaxPool") return InvalidArgument("{}: has one output only", n.Label());
    o.push_back(Info(DType::kInt64, o[0].shape));
  }
  return o;
}

// One pooling routine for both ops: MaxPool keeps the max (and its flat index into X),
// AveragePool divides by the valid count, or with count_include_pad by the window clipped to the
// padded input.
Result<std::vector<Tensor>> RunPool(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& x = *in[0];
  PF_ASSIGN_OR_RETURN(auto ax0, Geometry(n, Shape(x.shape.begin() + 2, x.shape.end()), n.Ints("kernel_shape"), true));
  const auto ax = To3d(ax0);
  const bool is_max = n.op_type == "MaxPool";
  const bool include_pad = n.Int("count_include_pad", 0) != 0;
  const int64_t planes = x.shape[0] * x.shape[1];
  const int64_t in_sz = ax[0].in * ax[1].in * ax[2].in, out_sz = ax[0].out * ax[1].out * ax[2].out;
  std::vector<Tensor> y;
  for (const auto& info : outs) y.push_back(MakeOutput(info));
  const bool col_major = n.Int("storage_order", 0) != 0;
  // Integer MaxPool (uint8/int8) compares exactly in float.
  auto value = [&x](int64_t at) { return x.is_float() ? x.f[at] : static_cast<float>(x.i[at]); };
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t base = p * in_sz;
    int64_t o = p * out_sz;
    for (int64_t oz = 0; oz < ax[0].out; ++oz)
    for (int64_t oy = 0; oy < ax[1].out; ++oy)
    for (int64_t ox = 0; ox < ax[2].out; ++ox, ++o) {
      const int64_t pos[3] = {oz, oy, ox};
      int64_t lo[3], hi[3], padded = 1;
      for (int d = 0; d < 3; ++d) {
        lo[d] = pos[d] * ax[d].stride - ax[d].pad_begin;
        hi[d] = std::min(lo[d] + (ax[d].kernel - 1) * ax[d].dilation + 1, ax[d].in + ax[d].pad_end);
        padded *= (hi[d] - lo[d] + ax[d].dilation - 1) / ax[d].dilation;
      }
      float best = -std::numeric_limits<float>::infinity();
      int64_t best_at = -1, count = 0;
      double sum = 0;
      for (int64_t iz = lo[0]; iz < hi[0]; iz += ax[0].dilation) {
        if (iz < 0 || iz >= ax[0].in) continue;
        for (int64_t iy = lo[1]; iy < hi[1]; iy += ax[1].dilation) {
          if (iy < 0 || iy >= ax[1].in) continue;
          for (int64_t ix = lo[2]; ix < hi[2]; ix += ax[2].dilation) {
            if (ix < 0 || ix >= ax[2].in) continue;
            const int64_t at = (iz * ax[1].in + iy) * ax[2].in + ix;
            const float v = value(base + at);
            if (best_at < 0 || v > best) {
              best = v;
              best_at = col_major ? (ix * ax[1].in + iy) * ax[0].in + iz : at;
            }
            sum += v;
            ++count;
          }
        }
      }
      if (is_max) {
        if (y[0].is_float()) y[0].f[o] = best; else y[0].i[o] = static_cast<int64_t>(best);
        if (y.size() > 1) y[1].i[o] = best_at < 0 ? -1 : p * in_sz + best_at;
      } else {
        const int64_t div = include_pad ? padded : count;
        y[0].f[o] = div == 0 ? 0.0f : static_cast<float>(sum / div);
      }
    }
  }
  return y;
}

Result<Outs> InferGlobalAveragePool(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 1, 1));
  PF_RETURN_IF_ERROR(RequireFloat(n, in, 0));
  const Shape& x = in[0]->shape;
  if (x.size() < 2) return InvalidArgument("{}: X must have rank >= 2", n.Label());
  Shape s = x;
  std::fill(s.begin() + 2, s.end(), 1);
  return Outs{Info(DType::kFloat, s)};
}

Result<std::vector<Tensor>> RunGlobalAveragePool(const Node&, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& x = *in[0];
  Tensor y = MakeOutput(outs[0]);
  const int64_t planes = x.shape[0] * x.shape[1], sz = planes == 0 ? 0 : x.size() / planes;
  for (int64_t p = 0; p < planes; ++p) {
    double sum = 0;
    for (int64_t k = 0; k < sz; ++k) sum += x.f[p * sz + k];
    y.f[p] = sz == 0 ? 0.0f : static_cast<float>(sum / sz);
  }
  return std::vector<Tensor>{std::move(y)};
}

// Resize, opsets 11-17: X, roi, scales, sizes (scales or sizes, the other empty or absent).
struct ResizeParams {
  Shape out;
  std::vector<double> scales;
  std::vector<double> roi;  // 2 * rank, only for tf_crop_and_resize
};

bool Given(const Infos& in, size_t k) { return k < in.size() && in[k] && NumElements(in[k]->shape) > 0; }

Result<ResizeParams> ResizeSetup(const Node& n, const Infos& in) {
  const Shape& x = in[0]->shape;
  const size_t r = x.size();
  ResizeParams p;
  if (Given(in, 3)) {
    PF_ASSIGN_OR_RETURN(auto sizes, ConstInts(n, in, 3, "sizes"));
    if (sizes.size() != r) return InvalidArgument("{}: sizes has {} values for rank {}", n.Label(), sizes.size(), r);
    p.out = sizes;
    for (size_t d = 0; d < r; ++d) {
      p.scales.push_back(x[d] == 0 ? 1.0 : static_cast<double>(static_cast<float>(sizes[d]) / static_cast<float>(x[d])));
    }
  } else if (Given(in, 2)) {
    const Tensor* s = in[2]->value;
    if (s == nullptr) return Unimplemented("{}: input 'scales' must be a constant for static shapes", n.Label());
    if (!s->is_float() || s->f.size() != r) return InvalidArgument("{}: scales must be {} floats", n.Label(), r);
    for (size_t d = 0; d < r; ++d) {
      if (!(s->f[d] > 0)) return InvalidArgument("{}: scale {} must be > 0", n.Label(), s->f[d]);
      p.scales.push_back(s->f[d]);
      p.out.push_back(static_cast<int64_t>(std::floor(static_cast<double>(x[d]) * s->f[d])));
    }
  } else {
    return InvalidArgument("{}: needs scales or sizes", n.Label());
  }
  for (size_t d = 0; d < r; ++d) {
    if (p.out[d] < 0 || (x[d] == 0 && p.out[d] > 0)) {
      return InvalidArgument("{}: cannot resize axis {} from {} to {}", n.Label(), d, x[d], p.out[d]);
    }
  }
  if (n.Str("coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize") {
    if (!Given(in, 1) || in[1]->value == nullptr || in[1]->value->size() != static_cast<int64_t>(2 * r)) {
      return InvalidArgument("{}: tf_crop_and_resize needs a constant roi of {} values", n.Label(), 2 * r);
    }
    for (int64_t k = 0; k < in[1]->value->size(); ++k) p.roi.push_back(in[1]->value->At(k));
  }
  return p;
}

Result<Outs> InferResize(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 1, 4));
  PF_RETURN_IF_ERROR(RequireFloat(n, in, 0));
  const std::string mode = n.Str("mode", "nearest");
  if (mode != "nearest" && mode != "linear" && mode != "cubic") {
    return InvalidArgument("{}: unknown mode '{}'", n.Label(), mode);
  }
  PF_ASSIGN_OR_RETURN(ResizeParams p, ResizeSetup(n, in));
  return Outs{Info(DType::kFloat, p.out)};
}

// For one output coordinate of one axis: up to four source indices with their weights (1 for
// nearest, 2 for linear, 4 for cubic), and whether the coordinate falls outside the input
// (tf_crop_and_resize extrapolation).
struct Tap {
  int count = 1;
  int64_t at[4] = {0, 0, 0, 0};
  double w[4] = {1, 0, 0, 0};
  bool outside = false;
};

// Cubic convolution weights (Keys, coefficient a) for the neighbours at floor(x)-1 .. floor(x)+2,
// where r = x - floor(x); with exclude_outside, weights of neighbours outside [0, in) are dropped
// and the rest renormalised, else those neighbours repeat the edge value.
void CubicTap(double xi, int64_t in, double a, bool exclude_outside, Tap* t) {
  const double fl = std::floor(xi), r = xi - fl;
  auto w = [a](double d) {  // d = distance to the neighbour, in [0, 2]
    if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
    return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  };
  const double dist[4] = {r + 1, r, 1 - r, 2 - r};
  double sum = 0;
  t->count = 4;
  for (int k = 0; k < 4; ++k) {
    const int64_t idx = static_cast<int64_t>(fl) - 1 + k;
    t->w[k] = w(dist[k]);
    if (exclude_outside && (idx < 0 || idx >= in)) t->w[k] = 0;
    t->at[k] = std::clamp<int64_t>(idx, 0, in - 1);
    sum += t->w[k];
  }
  if (exclude_outside && sum != 0) {
    for (double& v : t->w) v /= sum;
  }
}

Result<std::vector<Tap>> AxisTaps(const Node& n, int64_t in, int64_t out, double scale, double roi_lo, double roi_hi) {
  const std::string ctm = n.Str("coordinate_transformation_mode", "half_pixel");
  const std::string nearest = n.Str("nearest_mode", "round_prefer_floor");
  const std::string mode = n.Str("mode", "nearest");
  std::vector<Tap> taps(out);
  for (int64_t xo = 0; xo < out; ++xo) {
    // The spec's reference measures the resized length as in * scale, unrounded.
    const double resized = in * scale;
    double xi;
    if (ctm == "half_pixel") xi = (xo + 0.5) / scale - 0.5;
    else if (ctm == "pytorch_half_pixel") xi = resized > 1 ? (xo + 0.5) / scale - 0.5 : 0.0;
    else if (ctm == "align_corners") xi = resized == 1 ? 0.0 : xo * static_cast<double>(in - 1) / (resized - 1);
    else if (ctm == "asymmetric") xi = xo / scale;
    else if (ctm == "tf_half_pixel_for_nn") xi = (xo + 0.5) / scale;
    else if (ctm == "tf_crop_and_resize") {
      xi = resized > 1 ? roi_lo * (in - 1) + xo * (roi_hi - roi_lo) * (in - 1) / (resized - 1)
                   : 0.5 * (roi_lo + roi_hi) * (in - 1);
    } else {
      return InvalidArgument("{}: unknown coordinate_transformation_mode '{}'", n.Label(), ctm);
    }
    Tap& t = taps[xo];
    if (ctm == "tf_crop_and_resize" && (xi < 0 || xi > in - 1)) {
      t.outside = true;
      continue;
    }
    if (mode == "cubic") {
      CubicTap(xi, in, n.Float("cubic_coeff_a", -0.75f), n.Int("exclude_outside", 0) != 0, &t);
    } else if (mode == "linear") {
      xi = std::clamp(xi, 0.0, static_cast<double>(in - 1));
      t.count = 2;
      t.at[0] = static_cast<int64_t>(std::floor(xi));
      t.at[1] = std::min(t.at[0] + 1, in - 1);
      t.w[1] = xi - t.at[0];
      t.w[0] = 1 - t.w[1];
    } else {
      double r;
      const double fl = std::floor(xi);
      if (nearest == "round_prefer_floor") r = xi - fl == 0.5 ? fl : std::round(xi);
      else if (nearest == "round_prefer_ceil") r = xi - fl == 0.5 ? fl + 1 : std::round(xi);
      else if (nearest == "floor") r = fl;
      else if (nearest == "ceil") r = std::ceil(xi);
      else return InvalidArgument("{}: unknown nearest_mode '{}'", n.Label(), nearest);
      t.at[0] = std::clamp<int64_t>(static_cast<int64_t>(r), 0, in - 1);
    }
  }
  return taps;
}

Result<std::vector<Tensor>> RunResize(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  Infos infos;
  std::vector<TensorInfo> storage;
  storage.reserve(in.size());
  for (const Tensor* t : in) {
    storage.push_back(t ? TensorInfo{t->dtype, t->shape, t} : TensorInfo{});
    infos.push_back(t ? &storage.back() : nullptr);
  }
  PF_ASSIGN_OR_RETURN(ResizeParams p, ResizeSetup(n, infos));
  const Tensor& x = *in[0];
  const size_t r = x.shape.size();
  std::vector<std::vector<Tap>> taps(r);
  for (size_t d = 0; d < r; ++d) {
    const double lo = p.roi.empty() ? 0 : p.roi[d], hi = p.roi.empty() ? 1 : p.roi[d + r];
    PF_ASSIGN_OR_RETURN(taps[d], AxisTaps(n, x.shape[d], p.out[d], p.scales[d], lo, hi));
  }
  const float extrapolation = n.Float("extrapolation_value", 0.0f);
  const auto xs = Strides(x.shape);
  Tensor y = MakeOutput(outs[0]);
  std::vector<int64_t> pos(r, 0);
  for (int64_t j = 0; j < y.size(); ++j) {
    bool outside = false;
    for (size_t d = 0; d < r; ++d) outside = outside || taps[d][pos[d]].outside;
    double v = 0;
    if (outside) {
      v = extrapolation;
    } else {
      // Sum over the product of the per-axis taps (a 1-, 2^r- or 4^r-point stencil).
      std::vector<int> k(r, 0);
      while (true) {
        double w = 1;
        int64_t at = 0;
        for (size_t d = 0; d < r; ++d) {
          const Tap& t = taps[d][pos[d]];
          w *= t.w[k[d]];
          at += t.at[k[d]] * xs[d];
        }
        if (w != 0) v += w * x.f[at];
        size_t d = r;
        while (d > 0 && ++k[d - 1] == taps[d - 1][pos[d - 1]].count) k[--d] = 0;
        if (d == 0) break;
      }
    }
    y.f[j] = static_cast<float>(v);
    for (int d = static_cast<int>(r) - 1; d >= 0; --d) {
      if (++pos[d] < y.shape[d]) break;
      pos[d] = 0;
    }
  }
  return std::vector<Tensor>{std::move(y)};
}

}  // namespace

void RegisterNn(std::vector<OpDef>* t) {
  t->push_back({"Conv", InferConv, RunConv});
  t->push_back({"MaxPool", InferPool, RunPool});
  t->push_back({"AveragePool", InferPool, RunPool});
  t->push_back({"GlobalAveragePool", InferGlobalAveragePool, RunGlobalAveragePool});
  t->push_back({"Resize", InferResize, RunResize});
}

}  // namespace pf::engine::op
