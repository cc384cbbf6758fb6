// ConvTranspose (the gradient of Conv with respect to its input): every input element scatters
// its kernel-weighted contribution to the outputs it would have fed in the forward Conv.
// Geometry per the ONNX spec: out = stride * (in - 1) + output_padding + (k - 1) * dilation + 1
// - pads; with output_shape (or SAME_*, out = in * stride) the total padding follows from out.
#include <algorithm>

#include "engine/op_util.h"
#include "engine/ops_table.h"

namespace pf::engine::op {
namespace {

struct TAxis {
  int64_t in = 1, out = 1, kernel = 1, stride = 1, dilation = 1, pad_begin = 0;
};

Result<std::vector<TAxis>> TransposeGeometry(const Node& n, const Shape& x, const Shape& w) {
  const size_t r = x.size() - 2;
  const auto strides = n.Ints("strides", Shape(r, 1));
  const auto dil = n.Ints("dilations", Shape(r, 1));
  const auto pads = n.Ints("pads", Shape(2 * r, 0));
  const auto out_pad = n.Ints("output_padding", Shape(r, 0));
  const auto out_shape = n.Ints("output_shape");
  const std::string auto_pad = n.Str("auto_pad", "NOTSET");
  if (strides.size() != r || dil.size() != r || pads.size() != 2 * r || out_pad.size() != r ||
      (!out_shape.empty() && out_shape.size() != r)) {
    return InvalidArgument("{}: strides/dilations/pads/output_padding/output_shape do not match {} spatial dims",
                           n.Label(), r);
  }
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID") {
    return InvalidArgument("{}: unknown auto_pad '{}'", n.Label(), auto_pad);
  }
  std::vector<TAxis> ax(r);
  for (size_t d = 0; d < r; ++d) {
    TAxis& a = ax[d];
    a.in = x[d + 2];
    a.kernel = w[d + 2];
    a.stride = strides[d];
    a.dilation = dil[d];
    if (a.stride < 1 || a.dilation < 1) return InvalidArgument("{}: strides and dilations must be >= 1", n.Label());
    const int64_t full = a.stride * (a.in - 1) + out_pad[d] + (a.kernel - 1) * a.dilation + 1;
    if (!out_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      a.out = out_shape.empty() ? a.in * a.stride : out_shape[d];
      // An output_shape beyond the full output leaves the extra cells to the bias alone (as if
      // output_padding grew), so the total padding never goes negative.
      const int64_t total = std::max<int64_t>(0, full - a.out);
      if (a.out < 1) return InvalidArgument("{}: output_shape {} must be >= 1", n.Label(), a.out);
      a.pad_begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    } else {
      const int64_t pb = auto_pad == "VALID" ? 0 : pads[d], pe = auto_pad == "VALID" ? 0 : pads[d + r];
      a.pad_begin = pb;
      a.out = full - pb - pe;
      if (a.out < 0) return InvalidArgument("{}: pads exceed the output size", n.Label());
    }
  }
  while (ax.size() < 3) ax.insert(ax.begin(), TAxis{});
  return ax;
}

Result<Outs> InferConvTranspose(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 2, 3));
  for (size_t k = 0; k < in.size(); ++k) if (in[k]) PF_RETURN_IF_ERROR(RequireFloat(n, in, k));
  const Shape& x = in[0]->shape;
  const Shape& w = in[1]->shape;
  if (x.size() < 3 || x.size() > 5) {
    return Unimplemented("{}: input rank {} is not supported (1 to 3 spatial dims)", n.Label(), x.size());
  }
  const int64_t g = n.Int("group", 1);
  if (w.size() != x.size() || g < 1 || w[0] != x[1] || x[1] % g != 0) {
    return InvalidArgument("{}: channels do not match: X {} W {} group {}", n.Label(), ShapeToString(x),
                           ShapeToString(w), g);
  }
  const int64_t m = w[1] * g;
  if (in.size() == 3 && in[2] && in[2]->shape != Shape{m}) {
    return InvalidArgument("{}: B has shape {}, expected [{}]", n.Label(), ShapeToString(in[2]->shape), m);
  }
  PF_ASSIGN_OR_RETURN(auto ax, TransposeGeometry(n, x, w));
  Shape out{x[0], m};
  for (size_t d = 3 - (x.size() - 2); d < 3; ++d) out.push_back(ax[d].out);
  return Outs{Info(DType::kFloat, out)};
}

Result<std::vector<Tensor>> RunConvTranspose(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& x = *in[0];
  const Tensor& w = *in[1];
  const Tensor* b = in.size() == 3 ? in[2] : nullptr;
  PF_ASSIGN_OR_RETURN(auto ax, TransposeGeometry(n, x.shape, w.shape));
  const int64_t nb = x.shape[0], c = x.shape[1], g = n.Int("group", 1), cg = c / g, mg = w.shape[1], m = mg * g;
  const int64_t in_sz = ax[0].in * ax[1].in * ax[2].in, out_sz = ax[0].out * ax[1].out * ax[2].out;
  const int64_t k_sz = ax[0].kernel * ax[1].kernel * ax[2].kernel;
  std::vector<double> acc(NumElements(outs[0].shape), 0.0);
  for (int64_t bi = 0; bi < nb; ++bi)
  for (int64_t ic = 0; ic < c; ++ic) {
    const int64_t grp = ic / cg;
    const float* px = x.f.data() + (bi * c + ic) * in_sz;
    for (int64_t ocg = 0; ocg < mg; ++ocg) {
      const int64_t oc = grp * mg + ocg;
      const float* pw = w.f.data() + (ic * mg + ocg) * k_sz;
      double* py = acc.data() + (bi * m + oc) * out_sz;
      for (int64_t iz = 0; iz < ax[0].in; ++iz)
      for (int64_t iy = 0; iy < ax[1].in; ++iy)
      for (int64_t ix = 0; ix < ax[2].in; ++ix) {
        const double v = px[(iz * ax[1].in + iy) * ax[2].in + ix];
        for (int64_t kz = 0; kz < ax[0].kernel; ++kz) {
          const int64_t oz = iz * ax[0].stride + kz * ax[0].dilation - ax[0].pad_begin;
          if (oz < 0 || oz >= ax[0].out) continue;
          for (int64_t ky = 0; ky < ax[1].kernel; ++ky) {
            const int64_t oy = iy * ax[1].stride + ky * ax[1].dilation - ax[1].pad_begin;
            if (oy < 0 || oy >= ax[1].out) continue;
            for (int64_t kx = 0; kx < ax[2].kernel; ++kx) {
              const int64_t ox = ix * ax[2].stride + kx * ax[2].dilation - ax[2].pad_begin;
              if (ox < 0 || ox >= ax[2].out) continue;
              py[(oz * ax[1].out + oy) * ax[2].out + ox] += v * pw[(kz * ax[1].kernel + ky) * ax[2].kernel + kx];
            }
          }
        }
      }
    }
  }
  Tensor y = MakeOutput(outs[0]);
  for (size_t j = 0; j < acc.size(); ++j) {
    const int64_t oc = (static_cast<int64_t>(j) / out_sz) % m;
    y.f[j] = static_cast<float>(acc[j] + (b ? b->f[oc] : 0.0f));
  }
  return std::vector<Tensor>{std::move(y)};
}

}  // namespace

void RegisterConvTranspose(std::vector<OpDef>* t) { t->push_back({"ConvTranspose", InferConvTranspose, RunConvTranspose}); }

}  // namespace pf::engine::op
