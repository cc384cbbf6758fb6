// Session (engine/session.h): the load-time planning (passes, shapes, kernels, arena) and the
// run loop. Layout: a value has a plain (row-major) buffer, a oneDNN-native buffer, or both; a
// chain of oneDNN convolutions passes native buffers, and the producer also writes the plain
// form only when some consumer (a reference node, a Gemm, a graph output) needs it.
#include "engine/session.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <set>
#include <type_traits>

#include "core/log.h"
#include "engine/dnnl_kernels.h"
#include "engine/memory_plan.h"
#include "engine/quant_loops.h"
#include "engine/ops.h"
#include "engine/ops_table.h"
#include "engine/shape_inference.h"

namespace pf::engine {
namespace {

namespace dk = dnnl_kernels;

int64_t ElementBytes(DType t) {
  switch (t) {
    case DType::kFloat: return 4;
    case DType::kInt64: return 8;
    case DType::kInt32: return 4;
    case DType::kUint8: case DType::kInt8: case DType::kBool: return 1;
  }
  return 8;
}

// Tensor -> native row-major buffer of the tensor's dtype.
void ToNative(const Tensor& t, void* dst) {
  const int64_t n = t.size();
  switch (t.dtype) {
    case DType::kFloat: std::memcpy(dst, t.f.data(), n * sizeof(float)); return;
    case DType::kInt64: std::memcpy(dst, t.i.data(), n * sizeof(int64_t)); return;
    case DType::kInt32: {
      auto* d = static_cast<int32_t*>(dst);
      for (int64_t j = 0; j < n; ++j) d[j] = static_cast<int32_t>(t.i[j]);
      return;
    }
    case DType::kInt8: {
      auto* d = static_cast<int8_t*>(dst);
      for (int64_t j = 0; j < n; ++j) d[j] = static_cast<int8_t>(t.i[j]);
      return;
    }
    case DType::kUint8: case DType::kBool: {
      auto* d = static_cast<uint8_t*>(dst);
      for (int64_t j = 0; j < n; ++j) d[j] = static_cast<uint8_t>(t.i[j]);
      return;
    }
  }
}

// Native buffer -> tensor (t->dtype and t->shape set; the element vector is resized).
void FromNative(const void* src, Tensor* t) {
  const int64_t n = t->size();
  if (t->dtype == DType::kFloat) {
    t->f.resize(n);
    std::memcpy(t->f.data(), src, n * sizeof(float));
    return;
  }
  t->i.resize(n);
  switch (t->dtype) {
    case DType::kInt64: std::memcpy(t->i.data(), src, n * sizeof(int64_t)); return;
    case DType::kInt32: {
      const auto* s = static_cast<const int32_t*>(src);
      for (int64_t j = 0; j < n; ++j) t->i[j] = s[j];
      return;
    }
    case DType::kInt8: {
      const auto* s = static_cast<const int8_t*>(src);
      for (int64_t j = 0; j < n; ++j) t->i[j] = s[j];
      return;
    }
    default: {
      const auto* s = static_cast<const uint8_t*>(src);
      for (int64_t j = 0; j < n; ++j) t->i[j] = s[j];
      return;
    }
  }
}

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// The session's state. Values are indexed by id; buffers are arena regions planned once.

namespace {

// One node's kernel. Execute reads and writes buffers through the session's pointer table.
class Step {
 public:
  virtual ~Step() = default;
  virtual Status Execute(Session::Impl& s) = 0;
  virtual std::string Kind() const = 0;
  virtual std::string Implementation() const { return ""; }  // oneDNN's implementation name, for profiles
};

}  // namespace

struct Session::Impl {
  struct Slot {
    std::string name;
    DType dtype = DType::kFloat;
    Shape shape;
    int64_t elems = 0;
    const Tensor* constant = nullptr;
    int producer = -1;        // node index; -1 for graph inputs and constants
    int graph_input = -1;     // index into graph.inputs
    bool in_place = false;    // a graph input read from the caller's tensor
    bool needs_plain = false;
    int plain = -1;           // buffer id of the row-major form
    int native = -1;          // buffer id of the oneDNN form (may equal plain)
    const dnnl::memory::desc* native_desc = nullptr;  // owned by the producing kernel
    dnnl_kernels::NativeProducer* native_owner = nullptr;  // a kernel whose dst is native_desc (DstToPlain)
    int first = 0, last = 0;  // node indices of first and last use
  };
  struct Buffer {
    std::string name;
    int64_t bytes = 0;
    int first = 0, last = 0;
    int64_t offset = 0;
  };

  Graph graph;
  PassReport report;
  SessionOptions options;
  std::vector<Slot> slots;
  std::map<std::string, int> ids;
  std::vector<Buffer> buffers;
  std::vector<std::unique_ptr<Step>> steps;
  std::vector<int> output_ids;
  std::unique_ptr<uint8_t, AlignedFree> arena;
  int64_t arena_bytes = 0;
  std::vector<void*> input_ptrs;  // per graph input, bound by each Run
  uint64_t runs = 0, late = 0;
  int64_t released_bytes = 0;  // constants released after their oneDNN kernels were built
  static constexpr int64_t kReleaseElements = 1024;  // small constants stay (not worth it)
  std::vector<double> node_ms;  // options.profile
  Histogram* latency = nullptr;
  Counter* runs_counter = nullptr;
  Counter* late_counter = nullptr;

  int AddBuffer(std::string name, int64_t bytes, int first, int last) {
    buffers.push_back(Buffer{std::move(name), bytes, first, last, 0});
    return static_cast<int>(buffers.size()) - 1;
  }
  void* BufferPtr(int b) const { return arena.get() + buffers[b].offset; }
  void* PlainPtr(int id) const {
    const Slot& s = slots[id];
    if (s.in_place) return input_ptrs[s.graph_input];
    return BufferPtr(s.plain);
  }
  void* NativePtr(int id) const { return BufferPtr(slots[id].native); }
  int Id(const std::string& name) const {
    auto it = ids.find(name);
    return it == ids.end() ? -1 : it->second;
  }

  void ComputeLifetimes(int node_count);
  Status Plan();
  Status BuildSteps();
  Status BuildStep(int k);  // the step of node k, appended to steps
  Status BindInputs(const TensorMap& inputs);
};

namespace {

using Impl = Session::Impl;

// ---------------------------------------------------------------------------------------------
// Reference kernels: Tensor in, Tensor out, converted at the arena's edge.

class RefStep : public Step {
 public:
  RefStep(const Node& node, const OpDef* def, std::vector<TensorInfo> outs, int64_t opset, const Impl& s)
      : node_(node), def_(def), outs_(std::move(outs)), opset_(opset) {
    for (const auto& name : node.inputs) {
      const int id = name.empty() ? -1 : s.Id(name);
      in_ids_.push_back(id);
      Tensor t;
      if (id >= 0) {
        t.dtype = s.slots[id].dtype;
        t.shape = s.slots[id].shape;
      }
      scratch_.push_back(std::move(t));
    }
    for (const auto& name : node.outputs) out_ids_.push_back(name.empty() ? -1 : s.Id(name));
  }
  Status Execute(Impl& s) override {
    std::vector<const Tensor*> ins(in_ids_.size(), nullptr);
    for (size_t k = 0; k < in_ids_.size(); ++k) {
      const int id = in_ids_[k];
      if (id < 0) continue;
      const auto& slot = s.slots[id];
      if (slot.constant != nullptr) {
        ins[k] = slot.constant;
      } else {
        FromNative(s.PlainPtr(id), &scratch_[k]);
        ins[k] = &scratch_[k];
      }
    }
    PF_ASSIGN_OR_RETURN(auto outs, def_->run(node_, ins, outs_, opset_));
    for (size_t k = 0; k < out_ids_.size() && k < outs.size(); ++k) {
      if (out_ids_[k] < 0) continue;
      const auto& slot = s.slots[out_ids_[k]];
      if (outs[k].dtype != slot.dtype || outs[k].shape != slot.shape) {
        return Internal("{}: output {} is {} {}, the plan has {} {}", node_.Label(), k, DTypeName(outs[k].dtype),
                        ShapeToString(outs[k].shape), DTypeName(slot.dtype), ShapeToString(slot.shape));
      }
      ToNative(outs[k], s.PlainPtr(out_ids_[k]));
    }
    return Status::Ok();
  }
  std::string Kind() const override { return "ref:" + node_.op_type; }

 private:
  const Node& node_;
  const OpDef* def_;
  std::vector<TensorInfo> outs_;
  int64_t opset_;
  std::vector<int> in_ids_, out_ids_;
  std::vector<Tensor> scratch_;  // reused input tensors (their vectors keep their capacity)
};

// Reshape-like ops: the row-major bytes do not change.
class CopyStep : public Step {
 public:
  CopyStep(std::string op, int in, int out, int64_t bytes) : op_(std::move(op)), in_(in), out_(out), bytes_(bytes) {}
  Status Execute(Impl& s) override {
    void* dst = s.PlainPtr(out_);
    const void* src = s.PlainPtr(in_);
    if (dst != src) std::memmove(dst, src, bytes_);
    return Status::Ok();
  }
  std::string Kind() const override { return "copy:" + op_; }

 private:
  std::string op_;
  int in_, out_;
  int64_t bytes_;
};

// QuantizeLinear / DequantizeLinear with per-tensor constant scale and zero point, and
// PfQLinearAdd of same-shape per-tensor operands: the reference arithmetic (ops_math.cpp,
// ops_quant.cpp) element for element, on native buffers.
class QuantStep : public Step {
 public:
  struct Param {
    int id = -1;
    DType dtype = DType::kFloat;
    float scale = 1;
    int64_t zp = 0;
  };
  QuantStep(std::string op, std::vector<Param> in, Param out, op::FusedActivation act, int64_t n)
      : op_(std::move(op)), in_(std::move(in)), out_(out), act_(act), n_(n) {
    lo_ = out_.dtype == DType::kUint8 ? 0 : -128;
    hi_ = out_.dtype == DType::kUint8 ? 255 : 127;
  }
  Status Execute(Impl& s) override;
  std::string Kind() const override { return "native:" + op_; }

  // PfQLinearAdd on oneDNN-native buffers of one layout (elementwise, so the layout does not
  // matter; padded channels are computed too); `owner` converts the output to row-major.
  void SetNative(int64_t elements, dnnl_kernels::NativeProducer* owner) {
    native_ = true;
    n_ = elements;
    owner_ = owner;
  }
  bool native_ = false;
  bool to_plain_ = false;
  int out_id() const { return out_.id; }

 private:
  const void* In(Impl& s, int k) const;
  dnnl_kernels::NativeProducer* owner_ = nullptr;
  std::string op_;
  std::vector<Param> in_;
  Param out_;
  op::FusedActivation act_;
  int64_t n_;
  double lo_ = 0, hi_ = 255;
};

// std::nearbyint in the default rounding mode (half to even) for |v| < 2^51, without a libm
// call: adding and subtracting 1.5 * 2^52 leaves the rounded integer. Callers clamp v first.
inline double RoundHalfEven(double v) {
  constexpr double kMagic = 6755399441055744.0;
  return (v + kMagic) - kMagic;
}
constexpr double kRoundLimit = 1e15;  // far beyond every saturation range, below 2^51

// Calls f(T{}) with T the C++ type of a quantized dtype (u8, s8, or int32 for DequantizeLinear).
template <typename F>
void WithQuantType(DType t, F&& f) {
  if (t == DType::kUint8) f(uint8_t{});
  else if (t == DType::kInt8) f(int8_t{});
  else f(int32_t{});
}

const void* QuantStep::In(Impl& s, int k) const {
  return native_ ? s.NativePtr(in_[k].id) : s.PlainPtr(in_[k].id);
}

Status QuantStep::Execute(Impl& s) {
  void* y = native_ ? s.NativePtr(out_.id) : s.PlainPtr(out_.id);
  if (op_ == "QuantizeLinear") {
    const float* x = static_cast<const float*>(s.PlainPtr(in_[0].id));
    const float scale = in_[1].scale;
    const double zp = static_cast<double>(out_.zp), lo = lo_, hi = hi_;
    if (out_.dtype == DType::kUint8) {
      qloops::Quantize(x, n_, scale, static_cast<int32_t>(out_.zp), static_cast<uint8_t*>(y));
    } else if (out_.dtype == DType::kInt8) {
      qloops::Quantize(x, n_, scale, static_cast<int32_t>(out_.zp), static_cast<int8_t*>(y));
    } else {
      WithQuantType(out_.dtype, [&](auto q) {
        using Q = decltype(q);
        Q* out = static_cast<Q*>(y);
        for (int64_t k = 0; k < n_; ++k) {
          const double v = std::clamp(static_cast<double>(x[k] / scale), -kRoundLimit, kRoundLimit);
          out[k] = static_cast<Q>(std::clamp(RoundHalfEven(v) + zp, lo, hi));
        }
      });
    }
  } else if (op_ == "DequantizeLinear") {
    float* out = static_cast<float*>(y);
    const float scale = in_[0].scale;
    const int64_t zp = in_[0].zp;
    const void* x = s.PlainPtr(in_[0].id);
    if (in_[0].dtype == DType::kUint8) {
      qloops::Dequantize(static_cast<const uint8_t*>(x), n_, scale, static_cast<int32_t>(zp), out);
    } else if (in_[0].dtype == DType::kInt8) {
      qloops::Dequantize(static_cast<const int8_t*>(x), n_, scale, static_cast<int32_t>(zp), out);
    } else {
      WithQuantType(in_[0].dtype, [&](auto q) {
        using Q = decltype(q);
        const Q* xq = static_cast<const Q*>(x);
        for (int64_t k = 0; k < n_; ++k) out[k] = static_cast<float>(static_cast<int64_t>(xq[k]) - zp) * scale;
      });
    }
  } else {  // PfQLinearAdd
    const float as = in_[0].scale, bs = in_[1].scale;
    const int64_t az = in_[0].zp, bz = in_[1].zp;
    const double ys = out_.scale, yz = static_cast<double>(out_.zp), lo = lo_, hi = hi_;
    const bool act = act_.kind != op::FusedActivation::Kind::kNone;
    WithQuantType(in_[0].dtype, [&](auto qa) {
      WithQuantType(in_[1].dtype, [&](auto qb) {
        WithQuantType(out_.dtype, [&](auto qy) {
          using A = decltype(qa);
          using B = decltype(qb);
          using Y = decltype(qy);
          const A* a = static_cast<const A*>(In(s, 0));
          const B* b = static_cast<const B*>(In(s, 1));
          Y* out = static_cast<Y*>(y);
          if (!act) {
            const float ysf = out_.scale, ra = as / ysf, rb = bs / ysf;
            const float ra_za = ra * static_cast<float>(az), rb_zb = rb * static_cast<float>(bz);
            const float fixed = static_cast<float>(out_.zp) - (ra_za + rb_zb);
            if constexpr (std::is_same_v<A, B> && std::is_same_v<A, Y> && sizeof(A) == 1) {
              if (qloops::AddInRange(ra, rb, fixed)) {
                qloops::Add(a, b, n_, ra, rb, fixed, out);
                return;
              }
            }
            for (int64_t k = 0; k < n_; ++k) {
              // fmaf(a, ra, fmaf(b, rb, fixed)) without a libm call per element: the products of an
              // 8-bit integer and a float are exact in double, and so (for these magnitudes) are
              // the sums, so rounding each to float gives the fused results.
              const float inner = static_cast<float>(static_cast<double>(b[k]) * rb + fixed);
              const float v = static_cast<float>(static_cast<double>(a[k]) * ra + inner);
              out[k] = static_cast<Y>(std::clamp(RoundHalfEven(static_cast<double>(v)), lo, hi));
            }
            return;
          }
          for (int64_t k = 0; k < n_; ++k) {
            const float da = static_cast<float>(static_cast<int64_t>(a[k]) - az) * as;
            const float db = static_cast<float>(static_cast<int64_t>(b[k]) - bz) * bs;
            double real = static_cast<double>(da + db);
            if (act) real = act_.Apply(static_cast<float>(real));
            const double v = std::clamp(real / ys, -kRoundLimit, kRoundLimit);
            out[k] = static_cast<Y>(std::clamp(RoundHalfEven(v) + yz, lo, hi));
          }
        });
      });
    });
    if (to_plain_) return owner_->DstToPlain(y, s.PlainPtr(out_.id));
  }
  return Status::Ok();
}

bool IsReshapeLike(const std::string& op) {
  return op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" || op == "Identity";
}

// ---------------------------------------------------------------------------------------------
// oneDNN kernels.

dk::DataType ToDnnl(DType t) {
  return t == DType::kUint8 ? dk::DataType::kU8 : t == DType::kInt8 ? dk::DataType::kS8 : dk::DataType::kF32;
}
dnnl::memory::data_type DnnlType(DType t) {
  return t == DType::kUint8  ? dnnl::memory::data_type::u8
         : t == DType::kInt8 ? dnnl::memory::data_type::s8
                             : dnnl::memory::data_type::f32;
}

dk::Activation ActivationOf(const Node& n) {
  dk::Activation a;
  a.kind = n.Str("pf_activation", "");
  if (a.kind == "Clip") {
    a.min = n.Float("pf_min", -std::numeric_limits<float>::max());
    a.max = n.Float("pf_max", std::numeric_limits<float>::max());
  } else if (a.kind == "LeakyRelu") {
    a.alpha = n.Float("pf_alpha", 0.01f);
  } else if (a.kind == "HardSigmoid") {
    a.alpha = n.Float("pf_alpha", 0.2f);
    a.beta = n.Float("pf_beta", 0.5f);
  }
  return a;
}

std::vector<int8_t> Int8Of(const Tensor& t) { return std::vector<int8_t>(t.i.begin(), t.i.end()); }
std::vector<int32_t> Int32Of(const Tensor& t) { return std::vector<int32_t>(t.i.begin(), t.i.end()); }

// Per-tensor quantization parameters from constant inputs (scale, optional zero point).
bool ScalarQuant(const Impl& s, const Node& n, size_t scale_k, size_t zp_k, dk::Quant* q) {
  const int sid = s.Id(n.Input(scale_k));
  if (sid < 0 || !s.slots[sid].constant || s.slots[sid].elems != 1) return false;
  q->scale = s.slots[sid].constant->f.empty() ? 0.0f : s.slots[sid].constant->f[0];
  q->zero_point = 0;
  if (!n.Input(zp_k).empty()) {
    const int zid = s.Id(n.Input(zp_k));
    if (zid < 0 || !s.slots[zid].constant || s.slots[zid].elems != 1) return false;
    q->zero_point = static_cast<int32_t>(s.slots[zid].constant->i[0]);
  }
  return q->scale > 0;
}

// Weights of a quantized node: s8 constant, zero point(s) 0, scales per tensor or per channel.
bool WeightQuant(const Impl& s, const Node& n, size_t w_k, size_t scale_k, size_t zp_k, int64_t channels,
                 std::vector<int8_t>* wq, std::vector<float>* scales) {
  const int wid = s.Id(n.Input(w_k)), sid = s.Id(n.Input(scale_k));
  if (wid < 0 || sid < 0 || !s.slots[wid].constant || !s.slots[sid].constant) return false;
  if (s.slots[wid].dtype != DType::kInt8) return false;
  const Tensor& sc = *s.slots[sid].constant;
  if (sc.size() != 1 && sc.size() != channels) return false;
  if (!n.Input(zp_k).empty()) {
    const int zid = s.Id(n.Input(zp_k));
    if (zid < 0 || !s.slots[zid].constant) return false;
    for (int64_t z : s.slots[zid].constant->i) if (z != 0) return false;
  }
  *wq = Int8Of(*s.slots[wid].constant);
  *scales = sc.f;
  return true;
}

// ONNX pads of a Conv as oneDNN wants them, from the attributes and the inferred output size.
void ConvGeometry(const Node& n, const Shape& x, const Shape& w, const Shape& y, dk::ConvSpec* c) {
  const size_t r = x.size() - 2;
  auto strides = n.Ints("strides", Shape(r, 1));
  auto dil = n.Ints("dilations", Shape(r, 1));
  auto pads = n.Ints("pads", Shape(2 * r, 0));
  const std::string auto_pad = n.Str("auto_pad", "NOTSET");
  std::vector<int64_t> begin(r), end(r);
  for (size_t d = 0; d < r; ++d) {
    const int64_t eff = (w[2 + d] - 1) * dil[d] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t total = std::max<int64_t>(0, (y[2 + d] - 1) * strides[d] + eff - x[2 + d]);
      begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end[d] = total - begin[d];
    } else if (auto_pad == "VALID") {
      begin[d] = 0;
      end[d] = 0;
    } else {
      begin[d] = pads[d];
      end[d] = pads[d + r];
    }
  }
  c->batch = x[0];
  c->in_c = x[1];
  c->out_c = w[0];
  c->group = n.Int("group", 1);
  const size_t h = r == 2 ? 0 : r;  // index of the h axis, r when 1-D
  c->in_h = r == 2 ? x[2] : 1;
  c->in_w = x[1 + r];
  c->kernel_h = r == 2 ? w[2] : 1;
  c->kernel_w = w[1 + r];
  c->stride_h = h < r ? strides[0] : 1;
  c->stride_w = strides[r - 1];
  c->dilation_h = h < r ? dil[0] : 1;
  c->dilation_w = dil[r - 1];
  c->pad_top = h < r ? begin[0] : 0;
  c->pad_bottom = h < r ? end[0] : 0;
  c->pad_left = begin[r - 1];
  c->pad_right = end[r - 1];
}

dnnl::memory::desc PlainDesc(const dk::ConvSpec& c, int64_t channels, int64_t h, int64_t w, DType t) {
  return dnnl::memory::desc({c.batch, channels, h, w}, DnnlType(t), dnnl::memory::format_tag::nchw);
}

class ConvStep : public Step {
 public:
  ConvStep(std::unique_ptr<dk::ConvKernel> k, bool int8, int src, int dst, int sum)
      : src_(src), dst_(dst), sum_(sum), k_(std::move(k)), int8_(int8) {}
  Status Execute(Impl& s) override {
    if (!native_) {
      return k_->Execute(s.PlainPtr(src_), s.PlainPtr(dst_), sum_ >= 0 ? s.PlainPtr(sum_) : nullptr);
    }
    const void* src = nullptr;
    if (src_staging_ >= 0) {
      src = s.BufferPtr(src_staging_);
      PF_RETURN_IF_ERROR(k_->SrcFromPlain(s.PlainPtr(src_), s.BufferPtr(src_staging_)));
    } else {
      src = src_native_ ? s.NativePtr(src_) : s.PlainPtr(src_);
    }
    void* dst = s.NativePtr(dst_);
    const void* sum = sum_ < 0 ? nullptr : sum_native_ ? s.NativePtr(sum_) : s.PlainPtr(sum_);
    PF_RETURN_IF_ERROR(k_->ExecuteNative(src, dst, sum));
    if (to_plain_) PF_RETURN_IF_ERROR(k_->DstToPlain(dst, s.PlainPtr(dst_)));
    return Status::Ok();
  }
  std::string Kind() const override { return int8_ ? "dnnl:conv_int8" : "dnnl:conv_fp32"; }
  std::string Implementation() const override { return k_->impl(); }

  dk::ConvKernel& kernel() { return *k_; }
  int Reorders() const { return native_ ? (src_staging_ >= 0) + (to_plain_ ? 1 : 0) : 0; }
  bool native_ = false;       // ExecuteNative on native buffers; else Execute on plain ones
  bool src_native_ = false;   // native mode: src read from the producer's native buffer
  bool sum_native_ = false;   // native mode: sum read from its producer's native buffer (else plain == native)
  int src_staging_ = -1;      // native mode: buffer for SrcFromPlain, -1 when src is plain already
  bool to_plain_ = false;     // native mode: also write the plain form of dst
  int src_, dst_, sum_;

 private:
  std::unique_ptr<dk::ConvKernel> k_;
  bool int8_;
};

class GemmStep : public Step {
 public:
  GemmStep(std::unique_ptr<dk::GemmKernel> k, bool int8, int a, int y) : k_(std::move(k)), int8_(int8), a_(a), y_(y) {}
  Status Execute(Impl& s) override { return k_->Execute(s.PlainPtr(a_), s.PlainPtr(y_)); }
  std::string Kind() const override { return int8_ ? "dnnl:gemm_int8" : "dnnl:gemm_fp32"; }
  std::string Implementation() const override { return k_->impl(); }

 private:
  std::unique_ptr<dk::GemmKernel> k_;
  bool int8_;
  int a_, y_;
};

bool IsConstant(const Impl& s, const std::string& name) {
  const int id = s.Id(name);
  return id >= 0 && s.slots[id].constant != nullptr;
}
bool IsComputed(const Impl& s, const std::string& name) {
  const int id = s.Id(name);
  return id >= 0 && s.slots[id].constant == nullptr;
}

// A ConvSpec for Conv / QLinearConv, or nullopt when the node is outside what the kernel takes.
struct ConvPlan {
  dk::ConvSpec spec;
  std::vector<float> w, b;
  std::vector<int8_t> wq;
  std::vector<int32_t> bq;
  int src = -1, dst = -1, sum = -1;
};

std::optional<ConvPlan> PlanConv(const Impl& s, const Node& n) {
  ConvPlan p;
  const bool q = n.op_type == "QLinearConv";
  const std::string& x = n.Input(0);
  const std::string& w = n.Input(q ? 3 : 1);
  if (!IsComputed(s, x) || !IsConstant(s, w) || n.outputs.empty()) return std::nullopt;
  const auto& xs = s.slots[s.Id(x)];
  const auto& ws = s.slots[s.Id(w)];
  const int yid = s.Id(n.outputs[0]);
  if (yid < 0 || (xs.shape.size() != 3 && xs.shape.size() != 4)) return std::nullopt;
  ConvGeometry(n, xs.shape, ws.shape, s.slots[yid].shape, &p.spec);
  p.spec.activation = ActivationOf(n);
  p.src = s.Id(x);
  p.dst = yid;
  if (!q) {
    if (xs.dtype != DType::kFloat) return std::nullopt;
    p.w = ws.constant->f;
    const std::string& b = n.Input(2);
    if (!b.empty()) {
      if (!IsConstant(s, b)) return std::nullopt;
      p.b = s.slots[s.Id(b)].constant->f;
    }
    if (n.Int("pf_sum", 0) != 0) {
      if (n.inputs.size() != 4 || !IsComputed(s, n.inputs[3])) return std::nullopt;
      p.spec.sum = true;
      p.sum = s.Id(n.inputs[3]);
    }
    return p;
  }
  if (xs.dtype != DType::kUint8 && xs.dtype != DType::kInt8) return std::nullopt;
  p.spec.int8 = true;
  p.spec.src_type = ToDnnl(xs.dtype);
  p.spec.dst_type = ToDnnl(s.slots[yid].dtype);
  if (!ScalarQuant(s, n, 1, 2, &p.spec.src) || !ScalarQuant(s, n, 6, 7, &p.spec.dst)) return std::nullopt;
  if (!WeightQuant(s, n, 3, 4, 5, ws.shape[0], &p.wq, &p.spec.weight_scales)) return std::nullopt;
  p.spec.reduce_range = s.options.int8_reduce_range.value_or(dk::Int8MaySaturate());
  const std::string& b = n.Input(8);
  if (!b.empty()) {
    if (!IsConstant(s, b)) return std::nullopt;
    p.bq = Int32Of(*s.slots[s.Id(b)].constant);
  }
  return p;
}

struct GemmPlan {
  dk::GemmSpec spec;
  std::vector<float> w, b;
  std::vector<int8_t> wq;
  std::vector<int32_t> bq;
  int a = -1, y = -1;
};

std::optional<GemmPlan> PlanGemm(const Impl& s, const Node& n) {
  GemmPlan p;
  const std::string& op = n.op_type;
  const bool q = op == "QLinearMatMul" || op == "PfQLinearGemm";
  const std::string& a = n.Input(0);
  const std::string& w = n.Input(q ? 3 : 1);
  if (!IsComputed(s, a) || !IsConstant(s, w) || n.outputs.empty()) return std::nullopt;
  const auto& as = s.slots[s.Id(a)];
  const auto& ws = s.slots[s.Id(w)];
  p.a = s.Id(a);
  p.y = s.Id(n.outputs[0]);
  if (p.y < 0 || ws.shape.size() != 2 || as.shape.size() < 2) return std::nullopt;
  p.spec.trans_b = (op == "Gemm" || op == "PfQLinearGemm") && n.Int("transB", 0) != 0;
  if (op == "Gemm" || op == "PfQLinearGemm") {
    if (as.shape.size() != 2 || n.Int("transA", 0) != 0) return std::nullopt;
  }
  p.spec.n = p.spec.trans_b ? ws.shape[0] : ws.shape[1];
  p.spec.k = p.spec.trans_b ? ws.shape[1] : ws.shape[0];
  p.spec.m = NumElements(as.shape) / as.shape.back();
  if (as.shape.back() != p.spec.k) return std::nullopt;
  p.spec.activation = ActivationOf(n);
  if (!q) {
    if (as.dtype != DType::kFloat) return std::nullopt;
    p.w = ws.constant->f;
    if (op == "Gemm") {
      if (n.Float("alpha", 1.0f) != 1.0f) return std::nullopt;
      const std::string& c = n.Input(2);
      if (!c.empty()) {
        if (!IsConstant(s, c) || n.Float("beta", 1.0f) != 1.0f) return std::nullopt;
        const Tensor& ct = *s.slots[s.Id(c)].constant;
        if (ct.size() != p.spec.n || (ct.shape.size() == 2 && ct.shape[0] != 1)) return std::nullopt;
        p.b = ct.f;
      }
    }
    return p;
  }
  if (as.dtype != DType::kUint8 && as.dtype != DType::kInt8) return std::nullopt;
  p.spec.int8 = true;
  p.spec.src_type = ToDnnl(as.dtype);
  p.spec.dst_type = ToDnnl(s.slots[p.y].dtype);
  if (!ScalarQuant(s, n, 1, 2, &p.spec.src) || !ScalarQuant(s, n, 6, 7, &p.spec.dst)) return std::nullopt;
  if (!WeightQuant(s, n, 3, 4, 5, p.spec.n, &p.wq, &p.spec.weight_scales)) return std::nullopt;
  p.spec.reduce_range = s.options.int8_reduce_range.value_or(dk::Int8MaySaturate());
  if (op == "PfQLinearGemm" && !n.Input(8).empty()) {
    if (!IsConstant(s, n.Input(8))) return std::nullopt;
    p.bq = Int32Of(*s.slots[s.Id(n.Input(8))].constant);
  }
  return p;
}

// A native QuantStep for a node, or null when the node is outside what it takes.
std::unique_ptr<Step> PlanQuant(const Impl& s, const Node& n) {
  const std::string& op = n.op_type;
  if (op != "QuantizeLinear" && op != "DequantizeLinear" && op != "PfQLinearAdd") return nullptr;
  if (n.outputs.size() != 1 || s.Id(n.outputs[0]) < 0) return nullptr;
  const auto& y = s.slots[s.Id(n.outputs[0])];
  auto scalar = [&](size_t k, float* v) {
    const int id = s.Id(n.Input(k));
    if (id < 0 || !s.slots[id].constant || s.slots[id].elems != 1 || !s.slots[id].constant->is_float()) return false;
    *v = s.slots[id].constant->f[0];
    return *v > 0 && std::isfinite(*v);
  };
  auto zero_point = [&](size_t k, int64_t* z) {
    *z = 0;
    if (n.Input(k).empty()) return true;
    const int id = s.Id(n.Input(k));
    if (id < 0 || !s.slots[id].constant || s.slots[id].elems != 1 || s.slots[id].constant->is_float()) return false;
    *z = s.slots[id].constant->i[0];
    return true;
  };
  auto operand = [&](size_t k, size_t scale_k, QuantStep::Param* p) {
    if (!IsComputed(s, n.Input(k))) return false;
    p->id = s.Id(n.Input(k));
    p->dtype = s.slots[p->id].dtype;
    return s.slots[p->id].shape == y.shape && scalar(scale_k, &p->scale) && zero_point(scale_k + 1, &p->zp);
  };
  QuantStep::Param out{s.Id(n.outputs[0]), y.dtype, 1, 0};
  std::vector<QuantStep::Param> in(2);
  op::FusedActivation act;
  if (op == "QuantizeLinear") {
    if (!operand(0, 1, &in[0]) || in[0].dtype != DType::kFloat) return nullptr;
    if (y.dtype != DType::kUint8 && y.dtype != DType::kInt8) return nullptr;
    in[1].scale = in[0].scale;
    out.zp = in[0].zp;
  } else if (op == "DequantizeLinear") {
    if (!operand(0, 1, &in[0]) || in[0].dtype == DType::kFloat || in[0].dtype == DType::kInt64) return nullptr;
    if (in[0].dtype == DType::kBool) return nullptr;
  } else {
    if (!operand(0, 1, &in[0]) || !operand(3, 4, &in[1])) return nullptr;
    for (const auto& p : in) if (p.dtype != DType::kUint8 && p.dtype != DType::kInt8) return nullptr;
    if (y.dtype != DType::kUint8 && y.dtype != DType::kInt8) return nullptr;
    if (!scalar(6, &out.scale) || !zero_point(7, &out.zp)) return nullptr;
    auto parsed = op::ParseFusedActivation(n);
    if (!parsed.ok()) return nullptr;
    act = *parsed;
  }
  return std::make_unique<QuantStep>(op, std::move(in), out, act, y.elems);
}

// MaxPool (1-D/2-D, float/u8/s8, no indices output) and GlobalAveragePool (float) on plain
// buffers, with the reference kernel's arithmetic (ops_nn.cpp): a window skips padding, the first
// element starts the max, averages sum in double.
class PoolStep : public Step {
 public:
  struct Geometry {
    int64_t planes = 0, in_h = 1, in_w = 1, out_h = 1, out_w = 1, k_h = 1, k_w = 1, s_h = 1, s_w = 1, d_h = 1,
            d_w = 1, p_top = 0, p_left = 0;
  };
  PoolStep(std::string op, DType t, int in, int out, Geometry g)
      : op_(std::move(op)), t_(t), in_(in), out_(out), g_(g), x_lo_(g.out_w), x_hi_(g.out_w) {
    for (int64_t ox = 0; ox < g.out_w; ++ox) Taps(ox, g.s_w, g.p_left, g.d_w, g.k_w, g.in_w, &x_lo_[ox], &x_hi_[ox]);
  }
  Status Execute(Impl& s) override {
    const void* x = s.PlainPtr(in_);
    void* y = s.PlainPtr(out_);
    if (op_ == "GlobalAveragePool") {
      const int64_t sz = g_.in_h * g_.in_w;
      const float* px = static_cast<const float*>(x);
      float* py = static_cast<float*>(y);
      for (int64_t p = 0; p < g_.planes; ++p) {
        double sum = 0;
        for (int64_t k = 0; k < sz; ++k) sum += px[p * sz + k];
        py[p] = sz == 0 ? 0.0f : static_cast<float>(sum / sz);
      }
      return Status::Ok();
    }
    switch (t_) {
      case DType::kFloat: Max(static_cast<const float*>(x), static_cast<float*>(y)); break;
      case DType::kUint8: Max(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y)); break;
      default: Max(static_cast<const int8_t*>(x), static_cast<int8_t*>(y)); break;
    }
    return Status::Ok();
  }
  std::string Kind() const override { return "native:" + op_; }
  const Geometry& geometry() const { return g_; }
  int in_id() const { return in_; }
  int out_id() const { return out_; }

 private:
  // Kernel taps [lo, hi) of one output position that land inside the input (no per-tap test).
  static void Taps(int64_t o, int64_t stride, int64_t pad, int64_t dil, int64_t kernel, int64_t in, int64_t* lo,
                   int64_t* hi) {
    const int64_t start = o * stride - pad;  // input index of tap 0
    *lo = start >= 0 ? 0 : (-start + dil - 1) / dil;
    *hi = start >= in ? 0 : std::min(kernel, (in - 1 - start) / dil + 1);
  }
  template <typename T>
  void Max(const T* x, T* y) const {
    const Geometry& g = g_;
    for (int64_t p = 0; p < g.planes; ++p) {
      const T* px = x + p * g.in_h * g.in_w;
      T* py = y + p * g.out_h * g.out_w;
      for (int64_t oy = 0; oy < g.out_h; ++oy) {
        int64_t y_lo = 0, y_hi = 0;
        Taps(oy, g.s_h, g.p_top, g.d_h, g.k_h, g.in_h, &y_lo, &y_hi);
        for (int64_t ox = 0; ox < g.out_w; ++ox) {
          T best = std::numeric_limits<T>::lowest();
          if constexpr (std::is_floating_point_v<T>) best = -std::numeric_limits<T>::infinity();
          const int64_t x0 = ox * g.s_w - g.p_left;
          const int64_t kx0 = x_lo_[ox], kx1 = x_hi_[ox];
          // The first tap starts the max, as in the reference (a NaN there stays; later ones never win).
          if (y_lo < y_hi && kx0 < kx1) best = px[(oy * g.s_h - g.p_top + y_lo * g.d_h) * g.in_w + x0 + kx0 * g.d_w];
          for (int64_t ky = y_lo; ky < y_hi; ++ky) {
            const T* row = px + (oy * g.s_h - g.p_top + ky * g.d_h) * g.in_w + x0;
            for (int64_t kx = kx0; kx < kx1; ++kx) {
              const T v = row[kx * g.d_w];
              best = v > best ? v : best;
            }
          }
          py[oy * g.out_w + ox] = best;
        }
      }
    }
  }
  std::string op_;
  DType t_;
  int in_, out_;
  Geometry g_;
  std::vector<int64_t> x_lo_, x_hi_;  // per output column: the kernel taps inside the input
};

// PfQLinearGlobalAveragePool on plain NCHW 8-bit tensors: the reference arithmetic (ops_quant.cpp,
// ONNX Runtime's): an integer sum per plane minus x_zp * size, times the float scale
// x_scale / (y_scale * size), rounded half to even, plus y_zp, saturated.
class QGapStep : public Step {
 public:
  QGapStep(int in, int out, DType x, DType y, int64_t planes, int64_t size, int32_t xz, float scale, int32_t yz)
      : in_(in), out_(out), x_(x), y_(y), planes_(planes), size_(size), xz_(xz), scale_(scale), yz_(yz) {}
  Status Execute(Impl& s) override {
    const void* x = s.PlainPtr(in_);
    void* y = s.PlainPtr(out_);
    if (x_ == DType::kUint8) Run(static_cast<const uint8_t*>(x), y);
    else Run(static_cast<const int8_t*>(x), y);
    return Status::Ok();
  }
  std::string Kind() const override { return "native:PfQLinearGlobalAveragePool"; }

 private:
  template <typename X>
  void Run(const X* x, void* y) const {
    const double lo = y_ == DType::kUint8 ? 0 : -128, hi = y_ == DType::kUint8 ? 255 : 127;
    for (int64_t p = 0; p < planes_; ++p) {
      int64_t acc = -static_cast<int64_t>(xz_) * size_;
      const X* row = x + p * size_;
      int32_t part = 0;  // |sum| < 2^31 for size < 2^23
      for (int64_t k = 0; k < size_; ++k) part += row[k];
      acc += part;
      const float v = static_cast<float>(acc) * scale_;
      const double q = std::clamp(RoundHalfEven(std::clamp<double>(v, -kRoundLimit, kRoundLimit)) + yz_, lo, hi);
      if (y_ == DType::kUint8) static_cast<uint8_t*>(y)[p] = static_cast<uint8_t>(q);
      else static_cast<int8_t*>(y)[p] = static_cast<int8_t>(q);
    }
  }
  int in_, out_;
  DType x_, y_;
  int64_t planes_, size_;
  int32_t xz_;
  float scale_;
  int32_t yz_;
};

std::unique_ptr<Step> PlanQGap(const Impl& s, const Node& n) {
  if (n.op_type != "PfQLinearGlobalAveragePool" || n.outputs.size() != 1 || !IsComputed(s, n.Input(0))) return nullptr;
  const int yid = s.Id(n.outputs[0]);
  if (yid < 0) return nullptr;
  const auto& x = s.slots[s.Id(n.Input(0))];
  const auto& y = s.slots[yid];
  const auto is8 = [](DType t) { return t == DType::kUint8 || t == DType::kInt8; };
  if (!is8(x.dtype) || !is8(y.dtype) || x.shape.size() < 3) return nullptr;
  const auto scalar = [&](size_t k) -> const Tensor* {
    const int id = k < n.inputs.size() ? s.Id(n.Input(k)) : -1;
    if (id < 0 || !s.slots[id].constant || s.slots[id].elems != 1) return nullptr;
    return s.slots[id].constant;
  };
  const Tensor *xs = scalar(1), *ys = scalar(3);
  if (xs == nullptr || ys == nullptr || !xs->is_float() || !ys->is_float()) return nullptr;
  const Tensor *xz = n.Input(2).empty() ? nullptr : scalar(2), *yz = n.Input(4).empty() ? nullptr : scalar(4);
  if ((!n.Input(2).empty() && (xz == nullptr || xz->is_float())) || (!n.Input(4).empty() && (yz == nullptr || yz->is_float()))) {
    return nullptr;
  }
  if (n.Str("pf_activation", "") != "") return nullptr;
  const int64_t planes = x.shape[0] * x.shape[1];
  const int64_t size = planes == 0 ? 0 : x.elems / planes;
  if (size <= 0 || size >= (int64_t{1} << 23) || !(ys->f[0] > 0) || !std::isfinite(ys->f[0])) return nullptr;
  const float scale = xs->f[0] / (ys->f[0] * static_cast<float>(size));
  return std::make_unique<QGapStep>(s.Id(n.Input(0)), yid, x.dtype, y.dtype, planes, size,
                                    xz ? static_cast<int32_t>(xz->i[0]) : 0, scale, yz ? static_cast<int32_t>(yz->i[0]) : 0);
}

std::unique_ptr<Step> PlanPool(const Impl& s, const Node& n) {
  const std::string& op = n.op_type;
  if (op != "MaxPool" && op != "GlobalAveragePool") return nullptr;
  if (n.outputs.size() != 1 || !IsComputed(s, n.Input(0)) || s.Id(n.outputs[0]) < 0) return nullptr;
  const auto& x = s.slots[s.Id(n.Input(0))];
  const auto& y = s.slots[s.Id(n.outputs[0])];
  const size_t rank = x.shape.size();
  if (rank != 3 && rank != 4) return nullptr;
  PoolStep::Geometry g;
  g.planes = x.shape[0] * x.shape[1];
  g.in_h = rank == 4 ? x.shape[2] : 1;
  g.in_w = x.shape[rank - 1];
  g.out_h = rank == 4 ? y.shape[2] : 1;
  g.out_w = y.shape[rank - 1];
  if (op == "GlobalAveragePool") {
    if (x.dtype != DType::kFloat) return nullptr;
    return std::make_unique<PoolStep>(op, x.dtype, s.Id(n.Input(0)), s.Id(n.outputs[0]), g);
  }
  if (x.dtype != DType::kFloat && x.dtype != DType::kUint8 && x.dtype != DType::kInt8) return nullptr;
  const size_t r = rank - 2;
  const auto kernel = n.Ints("kernel_shape");
  auto strides = n.Ints("strides", Shape(r, 1));
  auto dil = n.Ints("dilations", Shape(r, 1));
  auto pads = n.Ints("pads", Shape(2 * r, 0));
  if (kernel.size() != r || strides.size() != r || dil.size() != r || pads.size() != 2 * r) return nullptr;
  const std::string auto_pad = n.Str("auto_pad", "NOTSET");
  std::vector<int64_t> begin(r, 0);
  for (size_t d = 0; d < r; ++d) {
    const int64_t in = x.shape[2 + d], out = y.shape[2 + d];
    const int64_t eff = (kernel[d] - 1) * dil[d] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t total = std::max<int64_t>(0, (out - 1) * strides[d] + eff - in);
      begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    } else if (auto_pad == "NOTSET") {
      begin[d] = pads[d];
    } else if (auto_pad != "VALID") {
      return nullptr;
    }
  }
  g.k_h = r == 2 ? kernel[0] : 1;
  g.k_w = kernel[r - 1];
  g.s_h = r == 2 ? strides[0] : 1;
  g.s_w = strides[r - 1];
  g.d_h = r == 2 ? dil[0] : 1;
  g.d_w = dil[r - 1];
  g.p_top = r == 2 ? begin[0] : 0;
  g.p_left = begin[r - 1];
  return std::make_unique<PoolStep>(op, x.dtype, s.Id(n.Input(0)), s.Id(n.outputs[0]), g);
}

// MaxPool on oneDNN, in the layout of its input (a convolution's native dst, or plain NCHW).
class DnnlPoolStep : public Step {
 public:
  DnnlPoolStep(std::unique_ptr<dk::PoolKernel> k, int src, int dst, bool src_native)
      : src_(src), dst_(dst), src_native_(src_native), k_(std::move(k)) {}
  Status Execute(Impl& s) override {
    void* dst = s.NativePtr(dst_);
    PF_RETURN_IF_ERROR(k_->ExecuteNative(src_native_ ? s.NativePtr(src_) : s.PlainPtr(src_), dst));
    if (to_plain_) PF_RETURN_IF_ERROR(k_->DstToPlain(dst, s.PlainPtr(dst_)));
    return Status::Ok();
  }
  std::string Kind() const override { return "dnnl:maxpool"; }
  std::string Implementation() const override { return k_->impl(); }
  dk::PoolKernel& kernel() { return *k_; }
  bool to_plain_ = false;  // also write the plain form of dst
  int src_, dst_;

 private:
  bool src_native_;
  std::unique_ptr<dk::PoolKernel> k_;
};

bool IsDnnlConvOp(const std::string& op) { return op == "Conv" || op == "QLinearConv"; }
bool IsDnnlGemmOp(const std::string& op) {
  return op == "Gemm" || op == "MatMul" || op == "QLinearMatMul" || op == "PfQLinearGemm";
}

template <typename T>
const T* DataOrNull(const std::vector<T>& v) { return v.empty() ? nullptr : v.data(); }

}  // namespace

// ---------------------------------------------------------------------------------------------

Status Session::Impl::BuildStep(int k) {
  {
    const Node& node = graph.nodes[k];
    const std::string where = node.Label();
    // dnnl convolution
    if (options.use_dnnl && IsDnnlConvOp(node.op_type)) {
      if (auto p = PlanConv(*this, node)) {
        Slot& src = slots[p->src];
        if (src.native_desc != nullptr) p->spec.src_layout = src.native_desc;
        p->spec.plain_interface = !options.chain_layouts;
        auto kernel = dk::ConvKernel::Create(p->spec, DataOrNull(p->w), DataOrNull(p->wq), DataOrNull(p->b),
                                             DataOrNull(p->bq));
        const auto native_sum = [&](const dk::ConvKernel& kr) {
          if (p->sum < 0) return true;
          const Slot& sum = slots[p->sum];
          const auto dst_plain = PlainDesc(p->spec, p->spec.out_c, p->spec.out_h(), p->spec.out_w(), slots[p->dst].dtype);
          return sum.native_desc != nullptr ? *sum.native_desc == kr.dst_desc() : kr.dst_desc() == dst_plain;
        };
        if (kernel.ok() && !p->spec.plain_interface && !native_sum(**kernel)) {
          // The sum input's layout differs: this conv runs through the plain interface after all.
          p->spec.plain_interface = true;
          kernel = dk::ConvKernel::Create(p->spec, DataOrNull(p->w), DataOrNull(p->wq), DataOrNull(p->b),
                                          DataOrNull(p->bq));
        }
        if (kernel.ok()) {
          auto step = std::make_unique<ConvStep>(std::move(kernel.value()), p->spec.int8, p->src, p->dst, p->sum);
          dk::ConvKernel& kr = step->kernel();
          Slot& dst = slots[p->dst];
          const auto dst_plain = PlainDesc(p->spec, p->spec.out_c, p->spec.out_h(), p->spec.out_w(), dst.dtype);
          const bool native = options.chain_layouts && native_sum(kr);
          if (native) {
            step->native_ = true;
            if (src.native_desc != nullptr) {
              step->src_native_ = true;
            } else {
              src.needs_plain = true;
              const auto src_plain = PlainDesc(p->spec, p->spec.in_c, p->spec.in_h, p->spec.in_w, src.dtype);
              if (!(kr.src_desc() == src_plain)) {
                step->src_staging_ = AddBuffer(node.outputs[0] + "#src", kr.src_desc().get_size(), k, k);
              }
            }
            if (p->sum >= 0) {
              step->sum_native_ = slots[p->sum].native_desc != nullptr;
              if (!step->sum_native_) slots[p->sum].needs_plain = true;
            }
            dst.native_desc = &kr.dst_desc();
            dst.native_owner = &kr;
            // In place over the sum input when this node is its last reader (no copy of it).
            const bool in_place = step->sum_native_ && slots[p->sum].last == k && p->sum != p->src &&
                                  *slots[p->sum].native_desc == kr.dst_desc();
            dst.native = in_place ? slots[p->sum].native
                                  : AddBuffer(dst.name + "#native", kr.dst_desc().get_size(), k, k);
            if (kr.dst_desc() == dst_plain) dst.plain = dst.native;  // the native form is plain
          } else {
            src.needs_plain = true;
            if (p->sum >= 0) slots[p->sum].needs_plain = true;
          }
          steps.push_back(std::move(step));
          return Status::Ok();
        }
        PF_LOG_WARN("{}: oneDNN convolution unavailable, using the reference kernel: {}", where,
                    kernel.status().ToString());
      }
    }
    // dnnl gemm / matmul
    if (options.use_dnnl && IsDnnlGemmOp(node.op_type)) {
      if (auto p = PlanGemm(*this, node)) {
        auto kernel = dk::GemmKernel::Create(p->spec, DataOrNull(p->w), DataOrNull(p->wq), DataOrNull(p->b),
                                             DataOrNull(p->bq));
        if (kernel.ok()) {
          slots[p->a].needs_plain = true;
          steps.push_back(std::make_unique<GemmStep>(std::move(kernel.value()), p->spec.int8, p->a, p->y));
          return Status::Ok();
        }
        PF_LOG_WARN("{}: oneDNN gemm unavailable, using the reference kernel: {}", where, kernel.status().ToString());
      }
    }
    if (options.use_dnnl && node.op_type == "MaxPool") {
      if (auto p = PlanPool(*this, node)) {
        const auto& g = static_cast<PoolStep*>(p.get())->geometry();
        Slot& src = slots[Id(node.Input(0))];
        Slot& dst = slots[Id(node.outputs[0])];
        dk::PoolSpec ps;
        ps.batch = src.shape[0];
        ps.channels = src.shape[1];
        ps.in_h = g.in_h;
        ps.in_w = g.in_w;
        ps.out_h = g.out_h;
        ps.out_w = g.out_w;
        ps.kernel_h = g.k_h;
        ps.kernel_w = g.k_w;
        ps.stride_h = g.s_h;
        ps.stride_w = g.s_w;
        ps.dilation_h = g.d_h;
        ps.dilation_w = g.d_w;
        ps.pad_top = g.p_top;
        ps.pad_left = g.p_left;
        ps.type = src.dtype == DType::kFloat ? dk::DataType::kF32
                  : src.dtype == DType::kUint8 ? dk::DataType::kU8 : dk::DataType::kS8;
        const bool src_native = src.native_desc != nullptr && options.chain_layouts;
        if (src_native) ps.src_layout = src.native_desc;
        // A plain s8 tensor pooled by oneDNN would hand an s8 layout to a following conv that carries
        // s8 as u8 on CPUs without VNNI (dnnl_kernels.h): leave that case to the native loop.
        const bool carry_mismatch = !src_native && src.dtype == DType::kInt8 && dk::Int8MaySaturate();
        auto kernel = carry_mismatch ? Result<std::unique_ptr<dk::PoolKernel>>(Unimplemented("s8 carried as u8"))
                                     : dk::PoolKernel::Create(ps);
        if (kernel.ok()) {
          auto step = std::make_unique<DnnlPoolStep>(std::move(kernel.value()), Id(node.Input(0)), Id(node.outputs[0]),
                                                     src_native);
          dk::PoolKernel& kr = step->kernel();
          if (!src_native) src.needs_plain = true;
          dst.native_desc = &kr.dst_desc();
          dst.native_owner = &kr;
          dst.native = AddBuffer(dst.name + "#native", kr.dst_desc().get_size(), k, k);
          const auto plain = dnnl::memory::desc({ps.batch, ps.channels, ps.out_h, ps.out_w}, DnnlType(dst.dtype),
                                                dnnl::memory::format_tag::nchw);
          if (kr.dst_desc() == plain) dst.plain = dst.native;  // the native form is plain
          steps.push_back(std::move(step));
          return Status::Ok();
        }
        PF_LOG_DEBUG("{}: oneDNN pooling unavailable, using the native kernel: {}", where, kernel.status().ToString());
      }
    }
    if (node.op_type == "PfQLinearAdd" && options.chain_layouts) {
      if (auto q = PlanQuant(*this, node)) {
        const Slot& a = slots[Id(node.Input(0))];
        const Slot& b = slots[Id(node.Input(3))];
        Slot& y = slots[Id(node.outputs[0])];
        // Elementwise on the native bytes only when they hold the graph's dtype (not s8 carried as u8).
        if (a.native_desc && b.native_desc && *a.native_desc == *b.native_desc && a.dtype == y.dtype &&
            b.dtype == y.dtype && a.native_owner != nullptr && a.native_desc->data_type() == DnnlType(y.dtype)) {
          auto* add = static_cast<QuantStep*>(q.get());
          const int64_t bytes = static_cast<int64_t>(a.native_desc->get_size());
          add->SetNative(bytes / ElementBytes(y.dtype), a.native_owner);
          y.native_desc = a.native_desc;
          y.native_owner = a.native_owner;
          y.native = AddBuffer(y.name + "#native", bytes, k, k);
          if (a.plain == a.native) y.plain = y.native;  // the layout is row-major
          steps.push_back(std::move(q));
          return Status::Ok();
        }
      }
    }
    for (const auto& in : node.inputs) {
      const int id = Id(in);
      if (id >= 0) slots[id].needs_plain = true;
    }
    if (auto q = PlanQuant(*this, node)) {
      steps.push_back(std::move(q));
      return Status::Ok();
    }
    if (auto p = PlanPool(*this, node)) {
      steps.push_back(std::move(p));
      return Status::Ok();
    }
    if (auto p = PlanQGap(*this, node)) {
      steps.push_back(std::move(p));
      return Status::Ok();
    }
    if (IsReshapeLike(node.op_type) && IsComputed(*this, node.Input(0)) && node.outputs.size() == 1) {
      const int in = Id(node.Input(0)), out = Id(node.outputs[0]);
      steps.push_back(std::make_unique<CopyStep>(node.op_type, in, out, slots[out].elems * ElementBytes(slots[out].dtype)));
      return Status::Ok();
    }
    const OpDef* def = FindOp(node.op_type);
    if (def == nullptr) return Unimplemented("{}: operator '{}' is not supported", where, node.op_type);
    std::vector<TensorInfo> outs;
    for (const auto& o : node.outputs) {
      const int id = Id(o);
      outs.push_back(id >= 0 ? TensorInfo{slots[id].dtype, slots[id].shape, nullptr} : TensorInfo{});
    }
    steps.push_back(std::make_unique<RefStep>(node, def, std::move(outs), graph.opset, *this));
    }
  return Status::Ok();
}

Status Session::Impl::BuildSteps() {
  const int n_nodes = static_cast<int>(graph.nodes.size());
  // Constants read only by oneDNN kernels (weights, biases: copied and reordered into the kernel at
  // Create) are released after their last reader's kernel exists, so a model's weights are held
  // once, in the kernels' layout; graph() keeps their dtype and shape.
  std::vector<bool> kept(slots.size(), false);
  for (int k = 0; k < n_nodes; ++k) {
    for (const auto& in : graph.nodes[k].inputs) {
      if (!in.empty()) PF_RETURN_IF_ERROR(graph.MaterializeConstant(in));  // deferred weights load here
    }
    PF_RETURN_IF_ERROR(BuildStep(k));
    const bool dnnl = dynamic_cast<ConvStep*>(steps[k].get()) != nullptr ||
                      dynamic_cast<GemmStep*>(steps[k].get()) != nullptr;
    for (const auto& in : graph.nodes[k].inputs) {
      const int id = Id(in);
      if (id < 0 || slots[id].constant == nullptr) continue;
      if (!dnnl) kept[id] = true;
      if (!options.keep_constants && !kept[id] && slots[id].last == k && slots[id].elems >= kReleaseElements) {
        Tensor& t = graph.constants.at(slots[id].name);
        std::vector<float>().swap(t.f);
        std::vector<int64_t>().swap(t.i);
        released_bytes += slots[id].elems * (t.is_float() ? 4 : 8);
      }
    }
    }
  for (int id : output_ids) slots[id].needs_plain = true;
  // Native producers whose value is also needed row-major write both forms.
  for (int k = 0; k < n_nodes; ++k) {
    if (auto* add = dynamic_cast<QuantStep*>(steps[k].get()); add != nullptr && add->native_) {
      const Slot& y = slots[add->out_id()];
      add->to_plain_ = y.needs_plain && y.plain != y.native;
    }
    if (auto* pool = dynamic_cast<DnnlPoolStep*>(steps[k].get()); pool != nullptr) {
      const Slot& y = slots[pool->dst_];
      pool->to_plain_ = y.needs_plain && y.plain != y.native;
    }
    auto* conv = dynamic_cast<ConvStep*>(steps[k].get());
    if (conv == nullptr || !conv->native_) continue;
    Slot& dst = slots[conv->dst_];
    conv->to_plain_ = dst.needs_plain && dst.plain != dst.native;
  }
  return Status::Ok();
}

void Session::Impl::ComputeLifetimes(int node_count) {
  // A value lives from its producer (graph inputs: 0) to its last reader; graph outputs until
  // after the last node.
  for (auto& s : slots) s.first = s.last = std::max(s.producer, 0);
  for (int k = 0; k < node_count; ++k) {
    for (const auto& in : graph.nodes[k].inputs) {
      const int id = Id(in);
      if (id >= 0) slots[id].last = std::max(slots[id].last, k);
    }
  }
  for (int id : output_ids) slots[id].last = node_count;
}

Status Session::Impl::Plan() {
  // A native buffer may hold two values (a convolution's sum input, then its output, in place).
  std::set<int> natives;
  for (const auto& s : slots) {
    if (s.native < 0) continue;
    Buffer& b = buffers[s.native];
    if (natives.insert(s.native).second) {
      b.first = s.first;
      b.last = s.last;
    }
    b.first = std::min(b.first, s.first);
    b.last = std::max(b.last, s.last);
  }
  for (auto& s : slots) {
    if (s.constant != nullptr || s.in_place) continue;
    if (s.plain < 0 && (s.native < 0 || s.needs_plain)) {
      s.plain = AddBuffer(s.name, s.elems * ElementBytes(s.dtype), s.first, s.last);
    }
  }
  std::vector<TensorLifetime> lifetimes;
  for (const auto& b : buffers) lifetimes.push_back(TensorLifetime{b.name, b.bytes, b.first, b.last});
  const MemoryPlan plan = PlanMemory(lifetimes);
  for (auto& b : buffers) b.offset = plan.offset.at(b.name);
  arena_bytes = plan.arena_bytes;
  const size_t alloc = static_cast<size_t>(std::max<int64_t>(arena_bytes, kArenaAlignment));
  arena.reset(static_cast<uint8_t*>(std::aligned_alloc(kArenaAlignment, alloc)));
  if (!arena) return ResourceExhausted("model '{}': cannot allocate the {} byte arena", options.model_name, alloc);
  std::memset(arena.get(), 0, alloc);
  return Status::Ok();
}

Status Session::Impl::BindInputs(const TensorMap& inputs) {
  for (const auto& [name, t] : inputs) {
    const int id = Id(name);
    if (id < 0 || slots[id].graph_input < 0) {
      std::string names;
      for (const auto& in : graph.inputs) names += (names.empty() ? "" : ", ") + in.name;
      return InvalidArgument("model '{}': '{}' is not an input of the model (inputs: {})", options.model_name, name,
                             names);
    }
  }
  for (size_t k = 0; k < graph.inputs.size(); ++k) {
    const ValueInfo& decl = graph.inputs[k];
    auto it = inputs.find(decl.name);
    if (it == inputs.end()) {
      return InvalidArgument("model '{}': input '{}' is missing (expected {} {})", options.model_name, decl.name,
                             DTypeName(decl.dtype), ShapeToString(decl.shape));
    }
    const Tensor& t = it->second;
    if (t.dtype != decl.dtype) {
      return InvalidArgument("model '{}': input '{}' has dtype {} but the model expects {} {}", options.model_name,
                             decl.name, DTypeName(t.dtype), DTypeName(decl.dtype), ShapeToString(decl.shape));
    }
    if (t.shape != decl.shape) {
      return InvalidArgument("model '{}': input '{}' has shape {} but the model expects {}", options.model_name,
                             decl.name, ShapeToString(t.shape), ShapeToString(decl.shape));
    }
    const size_t have = t.is_float() ? t.f.size() : t.i.size();
    if (have != static_cast<size_t>(NumElements(decl.shape))) {
      return InvalidArgument("model '{}': input '{}' has {} elements, shape {} needs {}", options.model_name,
                             decl.name, have, ShapeToString(decl.shape), NumElements(decl.shape));
    }
    const int id = Id(decl.name);
    if (slots[id].in_place) {
      input_ptrs[k] = t.is_float() ? static_cast<void*>(const_cast<float*>(t.f.data()))
                                   : static_cast<void*>(const_cast<int64_t*>(t.i.data()));
    } else {
      ToNative(t, BufferPtr(slots[id].plain));
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------

namespace {

// Fixes unknown input dims from options.input_shapes, else to 1 (logged).
Status FixInputShapes(Graph& g, const SessionOptions& o) {
  for (const auto& [name, shape] : o.input_shapes) {
    bool found = false;
    for (const auto& in : g.inputs) found = found || in.name == name;
    if (!found) {
      std::string names;
      for (const auto& in : g.inputs) names += (names.empty() ? "" : ", ") + in.name;
      return InvalidArgument("model '{}': input_shapes names '{}', which is not an input of the model (inputs: {})",
                             o.model_name, name, names);
    }
  }
  for (auto& in : g.inputs) {
    auto it = o.input_shapes.find(in.name);
    if (it != o.input_shapes.end()) {
      const Shape& want = it->second;
      bool fits = want.size() == in.shape.size();
      for (size_t d = 0; fits && d < want.size(); ++d) fits = want[d] > 0 && (in.shape[d] < 0 || in.shape[d] == want[d]);
      if (!fits) {
        return InvalidArgument("model '{}': input '{}': shape {} from the options does not fit the declared {}",
                               o.model_name, in.name, ShapeToString(want), ShapeToString(in.shape));
      }
      in.shape = want;
      continue;
    }
    bool dynamic = false;
    for (auto& d : in.shape) {
      if (d < 0) {
        d = 1;
        dynamic = true;
      }
    }
    if (dynamic) {
      PF_LOG_INFO("model '{}': input '{}' has unknown dimensions; fixed to {} (set SessionOptions::input_shapes "
                  "to choose)", o.model_name, in.name, ShapeToString(in.shape));
    }
  }
  return Status::Ok();
}

}  // namespace

bool Session::EnsurePassiveOpenMp() {
  static std::once_flag once;
  static bool started_passive = false;
  std::call_once(once, [] {
    const char* v = std::getenv("OMP_WAIT_POLICY");
    std::string policy = v ? v : "";
    for (auto& c : policy) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    started_passive = policy == "passive";
    if (v == nullptr) {
      setenv("OMP_WAIT_POLICY", "passive", 0);
    }
    if (!started_passive) {
      PF_LOG_WARN("OMP_WAIT_POLICY is '{}', not 'passive': OpenMP workers of multi-threaded models spin between "
                  "runs; start the process with OMP_WAIT_POLICY=passive (libgomp reads it at load time)",
                  v ? v : "");
    }
  });
  return started_passive;
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::Create(Graph graph, const SessionOptions& options) {
  EnsurePassiveOpenMp();
  if (options.threads < 1) {
    return InvalidArgument("model '{}': threads must be >= 1, got {}", options.model_name, options.threads);
  }
  omp_set_num_threads(options.threads);  // oneDNN fixes its thread split when a kernel is created
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  PF_RETURN_IF_ERROR(FixInputShapes(graph, options));
  if (options.optimize) {
    PassOptions passes = options.passes;
    // Without VNNI and without an explicit reduce-range choice, wide int8 weights keep their QDQ
    // form and run in fp32: within a step of the integer result (7-bit requantization is not).
    if (options.use_dnnl && !options.int8_reduce_range.has_value() && dk::Int8MaySaturate()) {
      passes.int8_weight_limit = std::min(passes.int8_weight_limit, dk::kSafeWeight);
    }
    auto report = Optimize(graph, passes);
    if (!report.ok()) return report.status().WithContext(fmt::format("model '{}'", options.model_name));
    impl->report = *report;
    if (report->wide_weight_nodes > 0) {
      PF_LOG_WARN("model '{}': {} quantized layers have 8-bit weights wider than 7 bits, which this CPU ({}, no "
                  "VNNI) would saturate: they run in fp32 (slower). For int8 speed here, quantize with reduce-range "
                  "(7-bit weights), or set int8_reduce_range to requantize at load (approximate)",
                  options.model_name, report->wide_weight_nodes, dk::EffectiveIsa());
    }
  } else {
    PF_RETURN_IF_ERROR(graph.SortTopologically());
  }
  impl->graph = std::move(graph);
  Graph& g = impl->graph;
  auto infos_or = InferShapes(g);
  if (!infos_or.ok()) return infos_or.status().WithContext(fmt::format("model '{}'", options.model_name));
  const auto& infos = *infos_or;

  auto add = [&](const std::string& name) {
    if (name.empty() || impl->ids.count(name)) return;
    Impl::Slot s;
    s.name = name;
    const auto it = infos.find(name);
    if (it != infos.end()) {
      s.dtype = it->second.dtype;
      s.shape = it->second.shape;
    }
    s.elems = NumElements(s.shape);
    impl->ids[name] = static_cast<int>(impl->slots.size());
    impl->slots.push_back(std::move(s));
  };
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    add(g.inputs[k].name);
    auto& s = impl->slots[impl->ids[g.inputs[k].name]];
    s.graph_input = static_cast<int>(k);
    s.in_place = s.dtype == DType::kFloat || s.dtype == DType::kInt64;
  }
  for (const auto& [name, t] : g.constants) {
    add(name);
    impl->slots[impl->ids[name]].constant = &t;
  }
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    for (const auto& o : g.nodes[k].outputs) {
      if (o.empty()) continue;
      if (!infos.count(o)) continue;
      add(o);
      impl->slots[impl->ids[o]].producer = static_cast<int>(k);
    }
  }
  for (auto& out : g.outputs) {
    const int id = impl->Id(out.name);
    if (id < 0) return InvalidArgument("model '{}': graph output '{}' is not computed", options.model_name, out.name);
    out.dtype = impl->slots[id].dtype;
    out.shape = impl->slots[id].shape;
    impl->output_ids.push_back(id);
  }
  impl->input_ptrs.assign(g.inputs.size(), nullptr);

  impl->ComputeLifetimes(static_cast<int>(g.nodes.size()));
  auto built = impl->BuildSteps();
  if (!built.ok()) return built.WithContext(fmt::format("model '{}'", options.model_name));
  for (int id : impl->output_ids) PF_RETURN_IF_ERROR(g.MaterializeConstant(impl->slots[id].name));
  PF_RETURN_IF_ERROR(impl->Plan());
  g.load_deferred = nullptr;  // every constant a step reads is loaded; the import's store goes
  impl->node_ms.assign(impl->steps.size(), 0.0);

  if (options.metrics != nullptr) {
    const Labels labels{{"model", options.model_name}};
    impl->latency = &options.metrics->GetHistogram("pf_model_latency_seconds", "Model inference latency", labels);
    impl->runs_counter = &options.metrics->GetCounter("pf_model_runs_total", "Model inference runs", labels);
    impl->late_counter =
        &options.metrics->GetCounter("pf_model_late_total", "Model inference runs that missed their deadline", labels);
  }
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

Result<RunResult> Session::Run(const TensorMap& inputs, std::optional<std::chrono::nanoseconds> deadline) {
  Impl& s = *impl_;
  const auto start = std::chrono::steady_clock::now();
  omp_set_num_threads(s.options.threads);
  PF_RETURN_IF_ERROR(s.BindInputs(inputs));
  for (size_t k = 0; k < s.steps.size(); ++k) {
    const auto t0 = s.options.profile ? std::chrono::steady_clock::now() : start;
    auto st = s.steps[k]->Execute(s);
    if (!st.ok()) return st.WithContext(fmt::format("model '{}'", s.options.model_name));
    if (s.options.profile) {
      s.node_ms[k] += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  RunResult result;
  for (size_t k = 0; k < s.output_ids.size(); ++k) {
    const auto& slot = s.slots[s.output_ids[k]];
    Tensor t;
    if (slot.constant != nullptr) {
      t = *slot.constant;
    } else {
      t.dtype = slot.dtype;
      t.shape = slot.shape;
      FromNative(s.PlainPtr(s.output_ids[k]), &t);
    }
    result.outputs[s.graph.outputs[k].name] = std::move(t);
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  result.latency_ms = std::chrono::duration<double, std::milli>(elapsed).count();
  result.late = deadline.has_value() && elapsed > *deadline;
  ++s.runs;
  if (result.late) ++s.late;
  if (s.latency != nullptr) {
    s.latency->Observe(result.latency_ms / 1e3);
    s.runs_counter->Inc();
    if (result.late) s.late_counter->Inc();
  }
  return result;
}

const Graph& Session::graph() const { return impl_->graph; }
const PassReport& Session::report() const { return impl_->report; }
int64_t Session::arena_bytes() const { return impl_->arena_bytes; }
int64_t Session::planned_bytes() const {
  int64_t sum = 0;
  for (const auto& b : impl_->buffers) sum += b.bytes;
  return sum;
}
std::vector<std::string> Session::NodeKernels() const {
  std::vector<std::string> kinds;
  for (const auto& s : impl_->steps) kinds.push_back(s->Kind());
  return kinds;
}
std::vector<std::string> Session::NodeImpls() const {
  std::vector<std::string> impls;
  for (const auto& s : impl_->steps) impls.push_back(s->Implementation());
  return impls;
}
int Session::reference_nodes() const {
  int n = 0;
  for (const auto& s : impl_->steps) n += dynamic_cast<RefStep*>(s.get()) != nullptr;
  return n;
}
int Session::reorders() const {
  int n = 0;
  for (const auto& s : impl_->steps) {
    if (auto* c = dynamic_cast<ConvStep*>(s.get())) n += c->Reorders();
    if (auto* q = dynamic_cast<QuantStep*>(s.get())) n += q->to_plain_ ? 1 : 0;
  }
  return n;
}
const std::vector<ValueInfo>& Session::inputs() const { return impl_->graph.inputs; }
const std::vector<ValueInfo>& Session::outputs() const { return impl_->graph.outputs; }
std::vector<double> Session::node_time_ms() const { return impl_->node_ms; }
int64_t Session::released_constant_bytes() const { return impl_->released_bytes; }
uint64_t Session::runs() const { return impl_->runs; }
uint64_t Session::late_runs() const { return impl_->late; }
int Session::threads() const { return impl_->options.threads; }

}  // namespace pf::engine
