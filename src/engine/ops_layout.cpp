// Data-movement operators: Concat, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Slice, Gather,
// Pad. They work on every dtype; each output element is a copy of one input element (or Pad's
// constant), so the kernels compute a source index per output element and Remap() copies.
#include <algorithm>
#include <set>

#include "engine/op_util.h"
#include "engine/ops_table.h"

namespace pf::engine::op {
namespace {

// Calls f(j, pos) for every output element j at position pos (row-major).
template <typename F>
void ForEachIndex(const Shape& shape, F f) {
  const int64_t total = NumElements(shape);
  std::vector<int64_t> pos(shape.size(), 0);
  for (int64_t j = 0; j < total; ++j) {
    f(j, pos);
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      if (++pos[d] < shape[d]) break;
      pos[d] = 0;
    }
  }
}

// Input k's TensorInfo from run-time tensors (lets Run reuse Infer's parameter parsing).
struct InfoView {
  std::vector<TensorInfo> storage;
  Infos infos;
  explicit InfoView(const Ins& in) {
    storage.reserve(in.size());
    for (const Tensor* t : in) {
      storage.push_back(t ? TensorInfo{t->dtype, t->shape, t} : TensorInfo{});
      infos.push_back(t ? &storage.back() : nullptr);
    }
  }
};

Result<std::vector<Tensor>> Single(Tensor t) { return std::vector<Tensor>{std::move(t)}; }

// Outputs that keep the data and change only the shape (Reshape, Flatten, Squeeze, Unsqueeze).
Result<std::vector<Tensor>> RunReshapeLike(const Node&, const Ins& in, const Outs& outs, int64_t) {
  Tensor y = *in[0];
  y.shape = outs[0].shape;
  return Single(std::move(y));
}

Result<Outs> InferConcat(const Node& n, const Infos& in, int64_t) {
  if (in.empty()) return InvalidArgument("{}: needs at least one input", n.Label());
  for (size_t k = 0; k < in.size(); ++k) if (!in[k]) return InvalidArgument("{}: input {} is missing", n.Label(), k);
  if (!n.Has("axis")) return InvalidArgument("{}: attribute 'axis' is required", n.Label());
  const Shape& s0 = in[0]->shape;
  // NormalizeAxis lets axis 0 through for rank 0; Concat needs rank >= 1 (found by fuzz_onnx_loader).
  if (s0.empty()) return InvalidArgument("{}: input 0 is a scalar (Concat needs rank >= 1)", n.Label());
  PF_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(n, n.Int("axis", 0), static_cast<int64_t>(s0.size())));
  Shape out = s0;
  out[axis] = 0;
  for (size_t k = 0; k < in.size(); ++k) {
    const Shape& s = in[k]->shape;
    bool same = s.size() == s0.size() && in[k]->dtype == in[0]->dtype;
    for (size_t d = 0; same && d < s.size(); ++d) same = static_cast<int64_t>(d) == axis || s[d] == s0[d];
    if (!same) {
      return InvalidArgument("{}: input {} {} does not match input 0 {} outside axis {}", n.Label(), k,
                             ShapeToString(s), ShapeToString(s0), axis);
    }
    out[axis] += s[axis];
  }
  return Outs{Info(in[0]->dtype, out)};
}

Result<std::vector<Tensor>> RunConcat(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Shape& out = outs[0].shape;
  PF_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(n, n.Int("axis", 0), static_cast<int64_t>(out.size())));
  Tensor y = MakeOutput(outs[0]);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out[d];
  for (size_t d = axis + 1; d < out.size(); ++d) inner *= out[d];
  int64_t j = 0;
  for (int64_t o = 0; o < outer; ++o) {
    for (const Tensor* t : in) {
      const int64_t len = t->shape[axis] * inner;
      for (int64_t k = 0; k < len; ++k, ++j) {
        if (y.is_float()) y.f[j] = t->f[o * len + k]; else y.i[j] = t->i[o * len + k];
      }
    }
  }
  return Single(std::move(y));
}

Result<Outs> InferReshape(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 2, 2));
  PF_ASSIGN_OR_RETURN(Shape target, ConstInts(n, in, 1, "shape"));
  const Shape& x = in[0]->shape;
  const bool allow_zero = n.Int("allowzero", 0) != 0;
  int64_t infer_at = -1, known = 1;
  for (size_t d = 0; d < target.size(); ++d) {
    if (target[d] == 0 && !allow_zero) {
      if (d >= x.size()) return InvalidArgument("{}: shape[{}] = 0 but the input has rank {}", n.Label(), d, x.size());
      target[d] = x[d];
    }
    if (target[d] == -1) {
      if (infer_at >= 0) return InvalidArgument("{}: more than one -1 in shape", n.Label());
      infer_at = static_cast<int64_t>(d);
    } else if (target[d] < 0) {
      return InvalidArgument("{}: shape[{}] = {} is invalid", n.Label(), d, target[d]);
    } else {
      if (target[d] > 0 && known > kMaxElements / target[d]) {
        return InvalidArgument("{}: shape {} has too many elements", n.Label(), ShapeToString(target));
      }
      known *= target[d];
    }
  }
  const int64_t total = NumElements(x);
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0) {
      return InvalidArgument("{}: cannot reshape {} into {}", n.Label(), ShapeToString(x), ShapeToString(target));
    }
    target[infer_at] = total / known;
  }
  if (NumElements(target) != total) {
    return InvalidArgument("{}: cannot reshape {} ({} elements) into {}", n.Label(), ShapeToString(x), total,
                           ShapeToString(target));
  }
  return Outs{Info(in[0]->dtype, target)};
}

Result<Outs> InferFlatten(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 1, 1));
  const Shape& x = in[0]->shape;
  const int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = n.Int("axis", 1);
  if (axis < -r || axis > r) return InvalidArgument("{}: axis {} is out of range for rank {}", n.Label(), axis, r);
  if (axis < 0) axis += r;
  int64_t a = 1, b = 1;
  for (int64_t d = 0; d < r; ++d) (d < axis ? a : b) *= x[d];
  return Outs{Info(in[0]->dtype, {a, b})};
}

Result<Shape> Perm(const Node& n, size_t rank) {
  Shape perm = n.Ints("perm");
  if (!n.Has("perm")) {
    for (size_t d = 0; d < rank; ++d) perm.push_back(static_cast<int64_t>(rank - 1 - d));
  }
  std::set<int64_t> seen(perm.begin(), perm.end());
  if (perm.size() != rank || seen.size() != rank || *seen.begin() < 0 || *seen.rbegin() >= static_cast<int64_t>(rank)) {
    return InvalidArgument("{}: perm {} is not a permutation of rank {}", n.Label(), ShapeToString(perm), rank);
  }
  return perm;
}

Result<Outs> InferTranspose(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 1, 1));
  PF_ASSIGN_OR_RETURN(Shape perm, Perm(n, in[0]->shape.size()));
  Shape out;
  for (int64_t p : perm) out.push_back(in[0]->shape[p]);
  return Outs{Info(in[0]->dtype, out)};
}

Result<std::vector<Tensor>> RunTranspose(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  PF_ASSIGN_OR_RETURN(Shape perm, Perm(n, in[0]->shape.size()));
  const auto xs = Strides(in[0]->shape);
  std::vector<int64_t> src(NumElements(outs[0].shape));
  ForEachIndex(outs[0].shape, [&](int64_t j, const std::vector<int64_t>& pos) {
    int64_t s = 0;
    for (size_t d = 0; d < perm.size(); ++d) s += pos[d] * xs[perm[d]];
    src[j] = s;
  });
  return Single(Remap(*in[0], outs[0].shape, src));
}

// Squeeze/Unsqueeze axes: an attribute before opset 13, an input from 13 on.
Result<std::vector<int64_t>> AxesParam(const Node& n, const Infos& in, int64_t opset, bool required) {
  if (opset < 13) {
    if (required && !n.Has("axes")) return InvalidArgument("{}: attribute 'axes' is required", n.Label());
    return n.Ints("axes");
  }
  if (in.size() < 2 || !in[1]) {
    if (required) return InvalidArgument("{}: input 'axes' is required", n.Label());
    return std::vector<int64_t>{};
  }
  return ConstInts(n, in, 1, "axes");
}

Result<Outs> InferSqueeze(const Node& n, const Infos& in, int64_t opset) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 1, opset < 13 ? 1 : 2));
  PF_ASSIGN_OR_RETURN(auto axes, AxesParam(n, in, opset, false));
  const Shape& x = in[0]->shape;
  std::vector<bool> drop(x.size(), axes.empty());
  if (axes.empty()) {
    for (size_t d = 0; d < x.size(); ++d) drop[d] = x[d] == 1;
  }
  for (int64_t a : axes) {
    if (x.empty()) return InvalidArgument("{}: axis {} of a scalar", n.Label(), a);
    PF_ASSIGN_OR_RETURN(int64_t ax, NormalizeAxis(n, a, static_cast<int64_t>(x.size())));
    if (x[ax] != 1) return InvalidArgument("{}: axis {} has size {}, not 1", n.Label(), ax, x[ax]);
    drop[ax] = true;
  }
  Shape out;
  for (size_t d = 0; d < x.size(); ++d) if (!drop[d]) out.push_back(x[d]);
  return Outs{Info(in[0]->dtype, out)};
}

Result<Outs> InferUnsqueeze(const Node& n, const Infos& in, int64_t opset) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 1, opset < 13 ? 1 : 2));
  PF_ASSIGN_OR_RETURN(auto axes, AxesParam(n, in, opset, true));
  const Shape& x = in[0]->shape;
  const int64_t r = static_cast<int64_t>(x.size() + axes.size());
  std::vector<bool> inserted(r, false);
  for (int64_t a : axes) {
    PF_ASSIGN_OR_RETURN(int64_t ax, NormalizeAxis(n, a, r));
    if (inserted[ax]) return InvalidArgument("{}: axis {} repeats", n.Label(), a);
    inserted[ax] = true;
  }
  Shape out;
  size_t k = 0;
  for (int64_t d = 0; d < r; ++d) out.push_back(inserted[d] ? 1 : x[k++]);
  return Outs{Info(in[0]->dtype, out)};
}

// Slice (opset >= 10): per axis a start, an end (both clamped per the spec) and a step.
struct SliceAxis {
  int64_t start = 0, step = 1, len = 0;
};

Result<std::vector<SliceAxis>> SliceSetup(const Node& n, const Infos& in) {
  const Shape& x = in[0]->shape;
  const int64_t r = static_cast<int64_t>(x.size());
  PF_ASSIGN_OR_RETURN(auto starts, ConstInts(n, in, 1, "starts"));
  PF_ASSIGN_OR_RETURN(auto ends, ConstInts(n, in, 2, "ends"));
  std::vector<int64_t> axes, steps;
  if (in.size() > 3 && in[3]) { PF_ASSIGN_OR_RETURN(axes, ConstInts(n, in, 3, "axes")); }
  else for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  if (in.size() > 4 && in[4]) { PF_ASSIGN_OR_RETURN(steps, ConstInts(n, in, 4, "steps")); }
  else steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    return InvalidArgument("{}: starts, ends, axes and steps differ in length", n.Label());
  }
  std::vector<SliceAxis> sa(r);
  for (int64_t d = 0; d < r; ++d) sa[d].len = x[d];
  std::vector<bool> seen(r, false);
  for (size_t k = 0; k < starts.size(); ++k) {
    if (r == 0) return InvalidArgument("{}: axis {} of a scalar", n.Label(), axes[k]);
    PF_ASSIGN_OR_RETURN(int64_t ax, NormalizeAxis(n, axes[k], r));
    if (seen[ax]) return InvalidArgument("{}: axis {} repeats", n.Label(), axes[k]);
    seen[ax] = true;
    const int64_t dim = x[ax];
    if (steps[k] == 0) return InvalidArgument("{}: step 0 on axis {}", n.Label(), ax);
    // A step longer than the axis selects at most one element; clamping it keeps the arithmetic
    // below free of overflow for steps near INT64_MIN/MAX.
    const int64_t step = std::clamp<int64_t>(steps[k], -(dim + 1), dim + 1);
    int64_t s = starts[k], e = ends[k];
    if (s < 0) s = s < -dim ? -1 : s + dim;  // below -dim clamps the same way as -1 after the add
    if (e < 0) e = e < -dim ? -1 : e + dim;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
    }
    const int64_t len = step > 0 ? (e > s ? (e - s - 1) / step + 1 : 0) : (s > e ? (s - e - 1) / -step + 1 : 0);
    sa[ax] = SliceAxis{s, step, len};
  }
  return sa;
}

Result<Outs> InferSlice(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 3, 5));
  PF_ASSIGN_OR_RETURN(auto sa, SliceSetup(n, in));
  Shape out;
  for (const auto& a : sa) out.push_back(a.len);
  return Outs{Info(in[0]->dtype, out)};
}

Result<std::vector<Tensor>> RunSlice(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  InfoView v(in);
  PF_ASSIGN_OR_RETURN(auto sa, SliceSetup(n, v.infos));
  const auto xs = Strides(in[0]->shape);
  std::vector<int64_t> src(NumElements(outs[0].shape));
  ForEachIndex(outs[0].shape, [&](int64_t j, const std::vector<int64_t>& pos) {
    int64_t s = 0;
    for (size_t d = 0; d < pos.size(); ++d) s += (sa[d].start + pos[d] * sa[d].step) * xs[d];
    src[j] = s;
  });
  return Single(Remap(*in[0], outs[0].shape, src));
}

Result<Outs> InferGather(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 2, 2));
  if (in[1]->dtype != DType::kInt64 && in[1]->dtype != DType::kInt32) {
    return InvalidArgument("{}: indices must be int32 or int64, not {}", n.Label(), DTypeName(in[1]->dtype));
  }
  const Shape& x = in[0]->shape;
  if (x.empty()) return InvalidArgument("{}: data is a scalar (Gather needs rank >= 1)", n.Label());
  PF_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(n, n.Int("axis", 0), static_cast<int64_t>(x.size())));
  Shape out(x.begin(), x.begin() + axis);
  out.insert(out.end(), in[1]->shape.begin(), in[1]->shape.end());
  out.insert(out.end(), x.begin() + axis + 1, x.end());
  return Outs{Info(in[0]->dtype, out)};
}

Result<std::vector<Tensor>> RunGather(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& x = *in[0];
  const Tensor& idx = *in[1];
  PF_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(n, n.Int("axis", 0), static_cast<int64_t>(x.shape.size())));
  const int64_t dim = x.shape[axis];
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
  for (size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  const int64_t ni = idx.size();
  std::vector<int64_t> src;
  src.reserve(NumElements(outs[0].shape));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < ni; ++k) {
      int64_t i = idx.i[k];
      if (i < -dim || i >= dim) return OutOfRange("{}: index {} is out of range for size {}", n.Label(), i, dim);
      if (i < 0) i += dim;
      for (int64_t q = 0; q < inner; ++q) src.push_back((o * dim + i) * inner + q);
    }
  }
  return Single(Remap(x, outs[0].shape, src));
}

// Pad (opset >= 11): pads and constant_value are inputs; negative pads crop.
Result<Outs> InferPad(const Node& n, const Infos& in, int64_t) {
  PF_RETURN_IF_ERROR(CheckArity(n, in, 2, 3));
  PF_ASSIGN_OR_RETURN(auto pads, ConstInts(n, in, 1, "pads"));
  const Shape& x = in[0]->shape;
  if (pads.size() != 2 * x.size()) {
    return InvalidArgument("{}: pads has {} values, rank {} needs {}", n.Label(), pads.size(), x.size(), 2 * x.size());
  }
  const std::string mode = n.Str("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") {
    return InvalidArgument("{}: unknown mode '{}'", n.Label(), mode);
  }
  Shape out;
  for (size_t d = 0; d < x.size(); ++d) {
    const int64_t len = x[d] + pads[d] + pads[d + x.size()];
    if (len < 0) return InvalidArgument("{}: pads make axis {} negative", n.Label(), d);
    if (mode != "constant" && x[d] == 0 && len > 0) return InvalidArgument("{}: cannot {}-pad an empty axis", n.Label(), mode);
    out.push_back(len);
  }
  return Outs{Info(in[0]->dtype, out)};
}

Result<std::vector<Tensor>> RunPad(const Node& n, const Ins& in, const Outs& outs, int64_t) {
  const Tensor& x = *in[0];
  const auto& pads = in[1]->i;
  const std::string mode = n.Str("mode", "constant");
  const double fill = in.size() > 2 && in[2] && in[2]->size() > 0 ? in[2]->At(0) : 0.0;
  const size_t r = x.shape.size();
  const auto xs = Strides(x.shape);
  std::vector<int64_t> src(NumElements(outs[0].shape));
  ForEachIndex(outs[0].shape, [&](int64_t j, const std::vector<int64_t>& pos) {
    int64_t s = 0;
    for (size_t d = 0; d < r && s >= 0; ++d) {
      int64_t p = pos[d] - pads[d];
      const int64_t dim = x.shape[d];
      if (p < 0 || p >= dim) {
        if (mode == "constant") { s = -1; break; }
        if (mode == "edge") {
          p = std::clamp<int64_t>(p, 0, dim - 1);
        } else if (dim == 1) {
          p = 0;
        } else {
          const int64_t period = 2 * (dim - 1);  // reflect without repeating the edge
          p = ((p % period) + period) % period;
          if (p >= dim) p = period - p;
        }
      }
      s += p * xs[d];
    }
    src[j] = s;
  });
  return Single(Remap(x, outs[0].shape, src, fill));
}

}  // namespace

void RegisterLayout(std::vector<OpDef>* t) {
  t->push_back({"Concat", InferConcat, RunConcat});
  t->push_back({"Reshape", InferReshape, RunReshapeLike});
  t->push_back({"Flatten", InferFlatten, RunReshapeLike});
  t->push_back({"Transpose", InferTranspose, RunTranspose});
  t->push_back({"Squeeze", InferSqueeze, RunReshapeLike});
  t->push_back({"Unsqueeze", InferUnsqueeze, RunReshapeLike});
  t->push_back({"Slice", InferSlice, RunSlice});
  t->push_back({"Gather", InferGather, RunGather});
  t->push_back({"Pad", InferPad, RunPad});
}

}  // namespace pf::engine::op
