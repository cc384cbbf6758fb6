// oneDNN 2.6 adapter for Conv and Gemm/MatMul (see dnnl_kernels.h for the contract). The only place
// in the engine that catches dnnl::error: every oneDNN call below runs inside a try block whose
// catch turns the exception into a Status.
#include "engine/dnnl_kernels.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace pf::engine::dnnl_kernels {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

dnnl::engine& CpuEngine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);  // thread-safe; shared by every kernel
  return e;
}

dt ToDnnl(DataType t) {
  switch (t) {
    case DataType::kU8: return dt::u8;
    case DataType::kS8: return dt::s8;
    case DataType::kF32: break;
  }
  return dt::f32;
}

// A 64-byte aligned, uninitialised byte buffer allocated once.
class Buffer {
 public:
  void Allocate(size_t bytes) {
    if (bytes == 0) return;
    data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  }
  void* get() const { return data_.get(); }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
};

Status FromDnnl(const dnnl::error& e, const std::string& where) {
  if (e.status == dnnl_unimplemented) return Unimplemented("oneDNN {}: no implementation ({})", where, e.what());
  if (e.status == dnnl_invalid_arguments) return InvalidArgument("oneDNN {}: {}", where, e.what());
  return Internal("oneDNN {}: {} (status {})", where, e.what(), static_cast<int>(e.status));
}

bool Homogeneous(const std::string& kind) {
  return kind.empty() || kind == "Relu" || kind == "LeakyRelu" || kind == "Clip";
}

// Appends the activation as eltwise post-ops. `unit` is the factor the accumulator has already
// been divided by (1/y_scale folded into the output scales); only homogeneous kinds accept it.
// `out` is the factor HardSigmoid applies to its own result (1/y_scale, or 1).
Status AppendActivation(const Activation& a, float unit, float out, dnnl::post_ops* po, const std::string& where) {
  using alg = dnnl::algorithm;
  if (a.kind.empty()) return Status::Ok();
  if (a.kind == "Relu") {
    po->append_eltwise(1.0f, alg::eltwise_relu, 0.0f, 0.0f);
  } else if (a.kind == "LeakyRelu") {
    po->append_eltwise(1.0f, alg::eltwise_relu, a.alpha, 0.0f);
  } else if (a.kind == "Clip") {
    po->append_eltwise(1.0f, alg::eltwise_clip, a.min * unit, a.max * unit);
  } else if (a.kind == "HardSigmoid") {
    // The requantizing 1/y_scale (`out`) goes into these two post-ops: oneDNN 2.6's brgemm matmul
    // drops a third eltwise post-op (linear, clip, linear gave clip's result).
    po->append_eltwise(1.0f, alg::eltwise_linear, a.alpha * out, a.beta * out);
    po->append_eltwise(1.0f, alg::eltwise_clip, 0.0f, out);
  } else if (a.kind == "HardSwish") {
    po->append_eltwise(1.0f, alg::eltwise_hardswish, 0.0f, 0.0f);
  } else if (a.kind == "Sigmoid") {
    po->append_eltwise(1.0f, alg::eltwise_logistic, 0.0f, 0.0f);
  } else if (a.kind == "Tanh") {
    po->append_eltwise(1.0f, alg::eltwise_tanh, 0.0f, 0.0f);
  } else {
    return Unimplemented("{}: activation '{}' is not supported", where, a.kind);
  }
  return Status::Ok();
}

// The attributes shared by conv and gemm: user scratchpad, output scales per channel (dim 1 of
// dst), src/dst zero points, the optional sum and the activation, in oneDNN's post-op order.
Result<dnnl::primitive_attr> MakeAttr(bool int8, DataType src_type, const Quant& src, const std::vector<float>& wscale,
                                      DataType dst_type, const Quant& dst, const Activation& act, bool sum,
                                      const std::string& where) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops po;
  if (sum) po.append_sum(1.0f);
  if (!int8) {
    PF_RETURN_IF_ERROR(AppendActivation(act, 1.0f, 1.0f, &po, where));
    attr.set_post_ops(po);
    return attr;
  }
  const bool quant_out = dst_type != DataType::kF32;
  // Fold 1/y_scale into the output scales when the activation commutes with it.
  const bool fold = quant_out && Homogeneous(act.kind) && !sum;
  const float unit = fold ? 1.0f / dst.scale : 1.0f;
  // The requantizing scale as ONNX Runtime computes it (qlinearconv.cc, quant_gemm.cc): the float
  // product x_scale * w_scale[c], then a float division by y_scale. A reciprocal (* (1/y_scale))
  // differs in the last bit for some channels, which flips values that lie near .5.
  std::vector<float> scales(wscale.size());
  for (size_t c = 0; c < wscale.size(); ++c) {
    const float xw = src.scale * wscale[c];
    scales[c] = fold ? xw / dst.scale : xw;
  }
  const bool per_channel = std::any_of(scales.begin(), scales.end(), [&](float s) { return s != scales[0]; });
  if (per_channel) {
    attr.set_output_scales(1 << 1, scales);
  } else {
    attr.set_output_scales(0, {scales[0]});
  }
  const bool hard_sigmoid = act.kind == "HardSigmoid";
  PF_RETURN_IF_ERROR(AppendActivation(act, unit, quant_out && hard_sigmoid ? 1.0f / dst.scale : 1.0f, &po, where));
  if (quant_out && !fold && !hard_sigmoid) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 1.0f / dst.scale, 0.0f);
  // oneDNN adds the dst zero point to the float value and rounds once (round(v + zp)); ONNX and
  // ONNX Runtime round first (round(v) + zp). The two differ when v + zp loses v's low bits near
  // .5 (e.g. v = 39.499996, zp = 128: 167.499996 is stored as 167.5 and rounds to 168, not 167).
  // Rounding in a last post-op makes the zero-point addition and the final conversion exact.
  // (Not after HardSigmoid's two post-ops: brgemm matmul drops a third eltwise, see above.)
  if (quant_out && dst.zero_point != 0 && !hard_sigmoid) {
    po.append_eltwise(1.0f, dnnl::algorithm::eltwise_round, 0.0f, 0.0f);
  }
  attr.set_post_ops(po);
  if (src_type != DataType::kF32 && src.zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {src.zero_point});
  if (quant_out && dst.zero_point != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {dst.zero_point});
  return attr;
}

// Validates quantization parameters and expands the weight scales to one per output channel;
// applies reduce_range to `wq` (a copy) when asked. A channel whose weights are halved gets twice
// the weight scale, so its int32 bias (in units of x_scale * w_scale[c]) is halved too, rounded
// half to even: *bq then points into `bias_copy`.
// `column_major`: weight e of channel c is at e * channels + c (gemm [K,N]), else c * per + e.
Status PrepareInt8(bool reduce_range, int64_t channels, int64_t per_channel_elems, bool column_major,
                   DataType src_type, const Quant& src, DataType dst_type, const Quant& dst,
                   std::vector<float>* wscale, std::vector<int8_t>* wq, const int32_t** bq,
                   std::vector<int32_t>* bias_copy, const std::string& where) {
  if (src_type == DataType::kF32) return InvalidArgument("{}: int8 needs a u8 or s8 src", where);
  if (!(src.scale > 0) || (dst_type != DataType::kF32 && !(dst.scale > 0))) {
    return InvalidArgument("{}: quantization scales must be > 0 (src {}, dst {})", where, src.scale, dst.scale);
  }
  if (wscale->size() == 1) wscale->assign(channels, (*wscale)[0]);
  if (static_cast<int64_t>(wscale->size()) != channels) {
    return InvalidArgument("{}: {} weight scales for {} output channels", where, wscale->size(), channels);
  }
  for (float s : *wscale) {
    if (!(s > 0)) return InvalidArgument("{}: weight scales must be > 0", where);
  }
  if (!reduce_range) return Status::Ok();
  bias_copy->clear();
  auto at = [&](int64_t c, int64_t e) -> int8_t& {
    if (column_major) return (*wq)[e * channels + c];
    return (*wq)[c * per_channel_elems + e];
  };
  for (int64_t c = 0; c < channels; ++c) {
    bool wide = false;
    // |w| <= 64 cannot saturate: two u8 x s8 products add to at most 2 * 255 * 64 = 32640 < 2^15
    // (ONNX Runtime's reduce-range quantizes to [-64, 64]).
    for (int64_t e = 0; e < per_channel_elems; ++e) wide |= at(c, e) > kSafeWeight || at(c, e) < -kSafeWeight;
    if (!wide) continue;
    for (int64_t e = 0; e < per_channel_elems; ++e) {
      const float h = std::nearbyint(at(c, e) / 2.0f);  // default rounding mode: half to even
      at(c, e) = static_cast<int8_t>(std::clamp(h, -64.0f, 64.0f));
    }
    (*wscale)[c] *= 2.0f;
    if (*bq != nullptr) {
      if (bias_copy->empty()) bias_copy->assign(*bq, *bq + channels);
      (*bias_copy)[c] = static_cast<int32_t>(std::nearbyint((*bias_copy)[c] / 2.0));
    }
  }
  if (!bias_copy->empty()) *bq = bias_copy->data();
  return Status::Ok();
}

// Without VNNI, oneDNN halves s8 x s8 weights (its 0.5 "weights adjust scale" against vpmaddubsw
// saturation), which loses a bit of every odd weight. So on those ISAs an s8 activation is carried
// inside as u8 with zero point + 128: the same values byte for byte with the sign bit flipped,
// exact, and the u8 x s8 path needs no adjustment (the caller's 7-bit weights keep it unsaturated).
struct Carried {
  DataType type;
  Quant q;
  bool flipped;
};
Carried Carry(bool int8, DataType t, Quant q) {
  if (!int8 || t != DataType::kS8 || !Int8MaySaturate()) return {t, q, false};
  q.zero_point += 128;
  return {DataType::kU8, q, true};
}
// x ^ 0x80 maps s8 v to u8 v + 128 and back.
void FlipSign(const void* from, void* to, size_t bytes) {
  const uint8_t* f = static_cast<const uint8_t*>(from);
  uint8_t* t = static_cast<uint8_t*>(to);
  for (size_t k = 0; k < bytes; ++k) t[k] = f[k] ^ 0x80;
}

// Folds a src zero point into the int32 bias: sum((x - zp) * w) + B = sum(x * w) + (B - zp * sum(w)).
// Exact when every tap of every window reads real input (no padding), and it lets oneDNN pick its
// brgemm kernels, which in 2.6 take no src zero point (measured: jit_int8 instead, 8-33 % slower).
// `at(c, e)` is weight e of output channel c. False when the folded bias leaves the int32 range.
template <typename At>
bool FoldSrcZeroPoint(int32_t zp, int64_t channels, int64_t per_channel, At at, const int32_t* bq,
                      std::vector<int32_t>* folded) {
  folded->assign(channels, 0);
  for (int64_t c = 0; c < channels; ++c) {
    int64_t sum = 0;
    for (int64_t e = 0; e < per_channel; ++e) sum += at(c, e);
    const int64_t v = (bq ? bq[c] : 0) - static_cast<int64_t>(zp) * sum;
    if (v < INT32_MIN || v > INT32_MAX) return false;
    (*folded)[c] = static_cast<int32_t>(v);
  }
  return true;
}

// True when some output position's window lies entirely in the padding of one axis.
bool HasEmptyWindow(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin, int64_t out) {
  for (int64_t o = 0; o < out; ++o) {
    bool touches = false;
    for (int64_t k = 0; k < kernel && !touches; ++k) {
      const int64_t i = o * stride - pad_begin + k * dilation;
      touches = i >= 0 && i < in;
    }
    if (!touches) return true;
  }
  return false;
}

// Runs a reorder between two memories (plain <-> native) on the kernel's stream.
void Reorder(dnnl::stream& s, dnnl::reorder& r, dnnl::memory& from, dnnl::memory& to) {
  r.execute(s, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
}

// A kernel's dst from its native layout (`from`, described by native_mem) into row-major `to`
// (plain_mem's desc): a copy when the layout is plain already; s8 carried as u8 flipped back.
Status NativeToPlain(dnnl::stream& s, dnnl::reorder& r, dnnl::memory& native_mem, dnnl::memory& plain_mem,
                     bool is_plain, bool flip, const void* from, void* to, const std::string& label) {
  const size_t bytes = plain_mem.get_desc().get_size();
  try {
    if (is_plain) {
      std::memcpy(to, from, bytes);
    } else {
      native_mem.set_data_handle(const_cast<void*>(from));
      plain_mem.set_data_handle(to);
      Reorder(s, r, native_mem, plain_mem);
      s.wait();
    }
    if (flip) FlipSign(to, to, bytes);
  } catch (const dnnl::error& e) {
    return FromDnnl(e, label + ": dst reorder");
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------- ConvKernel

int64_t ConvSpec::out_h() const {
  const int64_t eff = (kernel_h - 1) * dilation_h + 1;
  return (in_h + pad_top + pad_bottom - eff) / stride_h + 1;
}
int64_t ConvSpec::out_w() const {
  const int64_t eff = (kernel_w - 1) * dilation_w + 1;
  return (in_w + pad_left + pad_right - eff) / stride_w + 1;
}

constexpr int64_t kAmxMinDepth = 256;  // input channels per group x kernel taps (see Create)

struct ConvKernel::Impl {
  ConvSpec spec;
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  dnnl::stream stream;
  dnnl::memory::desc src_plain, dst_plain, src_native, dst_native;
  bool src_is_plain = false, dst_is_plain = false;
  bool flip_src = false, flip_dst = false;  // s8 carried as u8 (see Carry)
  dnnl::memory src_user, dst_user, sum_user;  // plain, handles set per call
  Buffer flip_buf;                            // plain src with the sign bit flipped
  dnnl::memory src_mem, dst_mem, wei_mem, bias_mem, scratch_mem;  // src_mem: the primitive's src
  dnnl::memory exp_mem;  // a buffer in src_native (handle per call)
  dnnl::reorder src_reorder, dst_reorder, sum_reorder;
  Buffer src_buf, dst_buf, wei_buf, bias_buf, scratch_buf;
  // Src zero point of a padded conv (see the header): the primitive reads a buffer with the padding
  // materialised as zero-point values, written once; each call fills its interior.
  bool prepad = false;
  Buffer pad_buf;
  dnnl::memory interior_mem;
  dnnl::reorder plain_to_interior, native_to_interior;
  std::string label;

  Status Run(void* src, void* dst) {
    src_mem.set_data_handle(src);
    dst_mem.set_data_handle(dst);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, wei_mem},
                                               {DNNL_ARG_DST, dst_mem}, {DNNL_ARG_SCRATCHPAD, scratch_mem}};
    if (bias_mem) args.emplace(DNNL_ARG_BIAS, bias_mem);
    prim.execute(stream, args);
    stream.wait();
    return Status::Ok();
  }
};

ConvKernel::ConvKernel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConvKernel::~ConvKernel() = default;
const dnnl::memory::desc& ConvKernel::src_desc() const { return impl_->src_native; }
const dnnl::memory::desc& ConvKernel::dst_desc() const { return impl_->dst_native; }
std::string ConvKernel::impl() const { return impl_->pd.impl_info_str(); }
const ConvSpec& ConvKernel::spec() const { return impl_->spec; }

Result<std::unique_ptr<ConvKernel>> ConvKernel::Create(const ConvSpec& spec, const float* w, const int8_t* wq,
                                                       const float* b, const int32_t* bq) {
  const std::string where = fmt::format("conv {}x{}x{}x{} -> {} k{}x{} g{}", spec.batch, spec.in_c, spec.in_h,
                                        spec.in_w, spec.out_c, spec.kernel_h, spec.kernel_w, spec.group);
  const ConvSpec& s = spec;
  if (s.batch < 1 || s.in_c < 1 || s.in_h < 1 || s.in_w < 1 || s.out_c < 1 || s.group < 1 || s.kernel_h < 1 ||
      s.kernel_w < 1 || s.stride_h < 1 || s.stride_w < 1 || s.dilation_h < 1 || s.dilation_w < 1 ||
      s.pad_top < 0 || s.pad_left < 0 || s.pad_bottom < 0 || s.pad_right < 0) {
    return InvalidArgument("{}: sizes, strides and dilations must be >= 1 and pads >= 0", where);
  }
  if (s.in_c % s.group != 0 || s.out_c % s.group != 0) {
    return InvalidArgument("{}: channels are not divisible by group {}", where, s.group);
  }
  if (s.out_h() < 1 || s.out_w() < 1) return InvalidArgument("{}: kernel is larger than the padded input", where);
  if (s.int8 ? wq == nullptr : w == nullptr) return InvalidArgument("{}: weights missing", where);
  if (s.sum && s.dst_type != DataType::kF32) return Unimplemented("{}: sum needs an fp32 dst", where);
  if (!s.int8 && (s.src_type != DataType::kF32 || s.dst_type != DataType::kF32)) {
    return InvalidArgument("{}: fp32 conv needs fp32 src and dst", where);
  }
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  impl->spec.src_layout = nullptr;
  impl->label = where;
  const int64_t g = s.group, icg = s.in_c / g, ocg = s.out_c / g;
  const int64_t wcount = s.out_c * icg * s.kernel_h * s.kernel_w;
  std::vector<float> wscale = s.weight_scales;
  std::vector<int8_t> wq_copy;
  std::vector<int32_t> bias_copy;
  if (s.int8) {
    wq_copy.assign(wq, wq + wcount);
    PF_RETURN_IF_ERROR(PrepareInt8(s.reduce_range, s.out_c, icg * s.kernel_h * s.kernel_w, false, s.src_type,
                                   s.src, s.dst_type, s.dst, &wscale, &wq_copy, &bq, &bias_copy, where));
  }
  Carried in = Carry(s.int8, s.src_type, s.src), out = Carry(s.int8, s.dst_type, s.dst);
  impl->flip_src = in.flipped;
  impl->flip_dst = out.flipped;
  if (s.src_layout != nullptr && s.src_layout->data_type() != ToDnnl(in.type)) {
    return InvalidArgument("{}: the src layout holds another data type than the kernel carries", where);
  }
  std::vector<int32_t> folded_bias;
  const bool unpadded = s.pad_top == 0 && s.pad_left == 0 && s.pad_bottom == 0 && s.pad_right == 0;
  int32_t pad_value = 0;
  if (s.int8 && in.q.zero_point != 0) {
    const int64_t per = icg * s.kernel_h * s.kernel_w;
    if (FoldSrcZeroPoint(in.q.zero_point, s.out_c, per, [&](int64_t c, int64_t e) { return wq_copy[c * per + e]; },
                         bq, &folded_bias)) {
      pad_value = in.q.zero_point;
      impl->prepad = !unpadded;
      in.q.zero_point = 0;
      bq = folded_bias.data();
    }
  }
  const bool prepad = impl->prepad;
  try {
    const dt src_t = ToDnnl(in.type), dst_t = ToDnnl(out.type);
    const dt wei_t = s.int8 ? dt::s8 : dt::f32, bias_t = s.int8 ? dt::s32 : dt::f32;
    const dims src_d{s.batch, s.in_c, s.in_h, s.in_w}, dst_d{s.batch, s.out_c, s.out_h(), s.out_w()};
    const dims wei_d = g > 1 ? dims{g, ocg, icg, s.kernel_h, s.kernel_w} : dims{s.out_c, s.in_c, s.kernel_h, s.kernel_w};
    const tag wei_plain_tag = g > 1 ? tag::goihw : tag::oihw;
    impl->src_plain = dnnl::memory::desc(src_d, src_t, tag::nchw);
    impl->dst_plain = dnnl::memory::desc(dst_d, dst_t, tag::nchw);
    const dims conv_src_d = prepad ? dims{s.batch, s.in_c, s.in_h + s.pad_top + s.pad_bottom,
                                          s.in_w + s.pad_left + s.pad_right}
                                   : src_d;
    const dims pad_l = prepad ? dims{0, 0} : dims{s.pad_top, s.pad_left};
    const dims pad_r = prepad ? dims{0, 0} : dims{s.pad_bottom, s.pad_right};
    const auto src_any = s.src_layout && !prepad ? *s.src_layout : dnnl::memory::desc(conv_src_d, src_t, tag::any);
    const auto dst_any = dnnl::memory::desc(dst_d, dst_t, tag::any);
    const auto wei_any = dnnl::memory::desc(wei_d, wei_t, tag::any);
    const bool has_bias = s.int8 ? bq != nullptr : b != nullptr;
    const auto bias_md = has_bias ? dnnl::memory::desc({s.out_c}, bias_t, tag::x) : dnnl::memory::desc();
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                         src_any, wei_any, bias_md, dst_any, {s.stride_h, s.stride_w},
                                         {s.dilation_h - 1, s.dilation_w - 1}, pad_l, pad_r);
    PF_ASSIGN_OR_RETURN(dnnl::primitive_attr attr, MakeAttr(s.int8, in.type, in.q, wscale, out.type, out.q,
                                                            s.activation, s.sum, where));
    auto& eng = CpuEngine();
    impl->pd = dnnl::convolution_forward::primitive_desc(desc, attr, eng);
    // oneDNN 2.6 ranks its AMX int8 kernels first, but on the model set (measured per conv, 1 thread)
    // only brgconv on deep reductions wins with AMX (3x3 32 -> 64: 0.068 vs 0.228 ms); its older
    // jit / jit_1x1 AMX kernels lose to brgconv on AVX-512 VNNI (0.059 vs 0.016 ms for a 1x1 conv of
    // 384 channels), and so does brgconv AMX on shallow ones (1x1 of 16 channels: 0.211 vs 0.191).
    // So an AMX implementation is passed over for the next non-AMX one in those cases.
    const auto avoid_amx = [&] {
      const std::string name = impl->pd.impl_info_str();
      if (!s.int8 || name.find("amx") == std::string::npos) return false;
      return name.rfind("jit", 0) == 0 || icg * s.kernel_h * s.kernel_w < kAmxMinDepth;
    };
    if (avoid_amx()) {
      bool found = false;
      while (!found && impl->pd.next_impl()) {
        const std::string name = impl->pd.impl_info_str();
        if (name.rfind("ref", 0) == 0) break;  // the reference is never the better choice
        found = name.find("amx") == std::string::npos;
      }
      if (!found) impl->pd = dnnl::convolution_forward::primitive_desc(desc, attr, eng);
    }
    // oneDNN 2.6's brgconv mishandles a sum post-op when an output row or column sees only padding
    // (SIGSEGV in its jit code with sum + eltwise, a wrong sum without eltwise); take the next
    // implementation in that case.
    if (s.sum && !prepad &&
        (HasEmptyWindow(s.in_h, s.kernel_h, s.stride_h, s.dilation_h, s.pad_top, s.out_h()) ||
         HasEmptyWindow(s.in_w, s.kernel_w, s.stride_w, s.dilation_w, s.pad_left, s.out_w()))) {
      while (std::string(impl->pd.impl_info_str()).rfind("brgconv", 0) == 0) {
        if (!impl->pd.next_impl()) return Unimplemented("{}: no oneDNN implementation besides brgconv", where);
      }
    }
    impl->prim = dnnl::convolution_forward(impl->pd);
    impl->stream = dnnl::stream(eng);
    const dnnl::memory::desc conv_src = impl->pd.src_desc();
    impl->src_native = !prepad ? conv_src : s.src_layout ? *s.src_layout : dnnl::memory::desc(src_d, src_t, tag::nhwc);
    impl->dst_native = impl->pd.dst_desc();
    impl->src_is_plain = impl->src_native == impl->src_plain;
    impl->dst_is_plain = impl->dst_native == impl->dst_plain;

    // Weights and bias: reordered once into the primitive's layout and kept.
    impl->wei_buf.Allocate(impl->pd.weights_desc().get_size());
    impl->wei_mem = dnnl::memory(impl->pd.weights_desc(), eng, impl->wei_buf.get());
    const void* wsrc = s.int8 ? static_cast<const void*>(wq_copy.data()) : static_cast<const void*>(w);
    dnnl::memory wei_user(dnnl::memory::desc(wei_d, wei_t, wei_plain_tag), eng, const_cast<void*>(wsrc));
    dnnl::reorder(wei_user, impl->wei_mem).execute(impl->stream, wei_user, impl->wei_mem);
    if (has_bias) {
      impl->bias_buf.Allocate(impl->pd.bias_desc().get_size());
      impl->bias_mem = dnnl::memory(impl->pd.bias_desc(), eng, impl->bias_buf.get());
      std::memcpy(impl->bias_buf.get(), s.int8 ? static_cast<const void*>(bq) : static_cast<const void*>(b),
                  s.out_c * 4);
    }
    impl->scratch_buf.Allocate(impl->pd.scratchpad_desc().get_size());
    impl->scratch_mem = dnnl::memory(impl->pd.scratchpad_desc(), eng, impl->scratch_buf.get());

    // Staging for the plain interface.
    impl->src_mem = dnnl::memory(conv_src, eng, DNNL_MEMORY_NONE);
    impl->exp_mem = dnnl::memory(impl->src_native, eng, DNNL_MEMORY_NONE);
    if (prepad) {
      impl->pad_buf.Allocate(conv_src.get_size());
      std::memset(impl->pad_buf.get(), static_cast<uint8_t>(pad_value), conv_src.get_size());
      const auto interior = conv_src.submemory_desc(src_d, {0, 0, s.pad_top, s.pad_left});
      impl->interior_mem = dnnl::memory(interior, eng, impl->pad_buf.get());
      impl->plain_to_interior = dnnl::reorder(dnnl::reorder::primitive_desc(eng, impl->src_plain, eng, interior));
      impl->native_to_interior = dnnl::reorder(dnnl::reorder::primitive_desc(eng, impl->src_native, eng, interior));
    }
    impl->dst_mem = dnnl::memory(impl->dst_native, eng, DNNL_MEMORY_NONE);
    impl->src_user = dnnl::memory(impl->src_plain, eng, DNNL_MEMORY_NONE);
    impl->dst_user = dnnl::memory(impl->dst_plain, eng, DNNL_MEMORY_NONE);
    if (impl->flip_src) impl->flip_buf.Allocate(impl->src_plain.get_size());
    if (!impl->src_is_plain) {
      if (s.plain_interface) impl->src_buf.Allocate(impl->src_native.get_size());
      impl->src_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(eng, impl->src_plain, eng, impl->src_native));
    }
    if (!impl->dst_is_plain) {
      if (s.plain_interface) impl->dst_buf.Allocate(impl->dst_native.get_size());
      impl->dst_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(eng, impl->dst_native, eng, impl->dst_plain));
      if (s.sum) {
        impl->sum_user = dnnl::memory(impl->dst_plain, eng, DNNL_MEMORY_NONE);
        impl->sum_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(eng, impl->dst_plain, eng, impl->dst_native));
      }
    }
    impl->stream.wait();
  } catch (const dnnl::error& e) {
    return FromDnnl(e, where);
  }
  return std::unique_ptr<ConvKernel>(new ConvKernel(std::move(impl)));
}

Status ConvKernel::Execute(const void* src, void* dst, const void* sum) {
  Impl& m = *impl_;
  if (!m.spec.plain_interface) return FailedPrecondition("{}: created without the plain interface", m.label);
  if (m.spec.sum != (sum != nullptr)) {
    return InvalidArgument("{}: sum input {} but the kernel was created {}", m.label, sum ? "given" : "missing",
                           m.spec.sum ? "with sum" : "without sum");
  }
  try {
    if (m.flip_src) {
      FlipSign(src, m.flip_buf.get(), m.src_plain.get_size());
      src = m.flip_buf.get();
    }
    void* s_native = const_cast<void*>(src);
    if (m.prepad) {
      m.src_user.set_data_handle(const_cast<void*>(src));
      Reorder(m.stream, m.plain_to_interior, m.src_user, m.interior_mem);
      s_native = m.pad_buf.get();
    } else if (!m.src_is_plain) {
      m.src_user.set_data_handle(const_cast<void*>(src));
      m.exp_mem.set_data_handle(m.src_buf.get());
      Reorder(m.stream, m.src_reorder, m.src_user, m.exp_mem);
      s_native = m.src_buf.get();
    }
    void* d_native = m.dst_is_plain ? dst : m.dst_buf.get();
    if (sum) {
      if (m.dst_is_plain) {
        if (sum != dst) std::memcpy(dst, sum, m.dst_plain.get_size());
      } else {
        m.sum_user.set_data_handle(const_cast<void*>(sum));
        m.dst_mem.set_data_handle(d_native);
        Reorder(m.stream, m.sum_reorder, m.sum_user, m.dst_mem);
      }
    }
    PF_RETURN_IF_ERROR(m.Run(s_native, d_native));
    if (!m.dst_is_plain) {
      m.dst_user.set_data_handle(dst);
      Reorder(m.stream, m.dst_reorder, m.dst_mem, m.dst_user);
      m.stream.wait();
    }
    if (m.flip_dst) FlipSign(dst, dst, m.dst_plain.get_size());
  } catch (const dnnl::error& e) {
    return FromDnnl(e, m.label + ": execute");
  }
  return Status::Ok();
}

Status ConvKernel::ExecuteNative(const void* src, void* dst, const void* sum) {
  Impl& m = *impl_;
  if (m.spec.sum != (sum != nullptr)) return InvalidArgument("{}: sum input does not match the kernel", m.label);
  try {
    if (sum && sum != dst) std::memcpy(dst, sum, m.dst_native.get_size());
    if (m.prepad) {
      m.exp_mem.set_data_handle(const_cast<void*>(src));
      Reorder(m.stream, m.native_to_interior, m.exp_mem, m.interior_mem);
      return m.Run(m.pad_buf.get(), dst);
    }
    return m.Run(const_cast<void*>(src), dst);
  } catch (const dnnl::error& e) {
    return FromDnnl(e, m.label + ": execute");
  }
}

Status ConvKernel::SrcFromPlain(const void* plain, void* native) {
  Impl& m = *impl_;
  try {
    if (m.flip_src) {
      FlipSign(plain, m.flip_buf.get(), m.src_plain.get_size());
      plain = m.flip_buf.get();
    }
    if (m.src_is_plain) {
      std::memcpy(native, plain, m.src_plain.get_size());
      return Status::Ok();
    }
    m.src_user.set_data_handle(const_cast<void*>(plain));
    m.exp_mem.set_data_handle(native);
    Reorder(m.stream, m.src_reorder, m.src_user, m.exp_mem);
    m.stream.wait();
  } catch (const dnnl::error& e) {
    return FromDnnl(e, m.label + ": src reorder");
  }
  return Status::Ok();
}

Status ConvKernel::DstToPlain(const void* native, void* plain) {
  Impl& m = *impl_;
  return NativeToPlain(m.stream, m.dst_reorder, m.dst_mem, m.dst_user, m.dst_is_plain, m.flip_dst, native, plain,
                       m.label);
}

// ---------------------------------------------------------------- PoolKernel

struct PoolKernel::Impl {
  PoolSpec spec;
  dnnl::pooling_v2_forward::primitive_desc pd;
  dnnl::pooling_v2_forward prim;
  dnnl::stream stream;
  dnnl::memory::desc dst_native, dst_plain;
  dnnl::memory src_mem, dst_mem, dst_user, scratch_mem;
  Buffer scratch_buf;
  dnnl::reorder to_plain;
  bool dst_is_plain = false, flip = false;
  std::string label;
};

PoolKernel::PoolKernel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PoolKernel::~PoolKernel() = default;
const dnnl::memory::desc& PoolKernel::dst_desc() const { return impl_->dst_native; }
std::string PoolKernel::impl() const { return impl_->pd.impl_info_str(); }

Result<std::unique_ptr<PoolKernel>> PoolKernel::Create(const PoolSpec& spec) {
  const PoolSpec& s = spec;
  const std::string where = fmt::format("maxpool {}x{}x{}x{} k{}x{} s{}x{}", s.batch, s.channels, s.in_h, s.in_w,
                                        s.kernel_h, s.kernel_w, s.stride_h, s.stride_w);
  if (s.batch < 1 || s.channels < 1 || s.in_h < 1 || s.in_w < 1 || s.out_h < 1 || s.out_w < 1 || s.kernel_h < 1 ||
      s.kernel_w < 1 || s.stride_h < 1 || s.stride_w < 1 || s.dilation_h < 1 || s.dilation_w < 1 || s.pad_top < 0 ||
      s.pad_left < 0) {
    return InvalidArgument("{}: sizes, strides and dilations must be >= 1 and pads >= 0", where);
  }
  const int64_t eff_h = (s.kernel_h - 1) * s.dilation_h + 1, eff_w = (s.kernel_w - 1) * s.dilation_w + 1;
  // End pads that give exactly the output size with oneDNN's floor formula (ceil_mode adds some).
  const int64_t pad_bottom = std::max<int64_t>(0, (s.out_h - 1) * s.stride_h + eff_h - s.in_h - s.pad_top);
  const int64_t pad_right = std::max<int64_t>(0, (s.out_w - 1) * s.stride_w + eff_w - s.in_w - s.pad_left);
  if ((s.in_h + s.pad_top + pad_bottom - eff_h) / s.stride_h + 1 != s.out_h ||
      (s.in_w + s.pad_left + pad_right - eff_w) / s.stride_w + 1 != s.out_w) {
    return InvalidArgument("{}: output {}x{} does not follow from the geometry", where, s.out_h, s.out_w);
  }
  if (HasEmptyWindow(s.in_h, s.kernel_h, s.stride_h, s.dilation_h, s.pad_top, s.out_h) ||
      HasEmptyWindow(s.in_w, s.kernel_w, s.stride_w, s.dilation_w, s.pad_left, s.out_w)) {
    return Unimplemented("{}: a window lies wholly in the padding", where);
  }
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  impl->spec.src_layout = nullptr;
  impl->label = where;
  try {
    const dt real_t = ToDnnl(s.type);
    const dims src_d{s.batch, s.channels, s.in_h, s.in_w}, dst_d{s.batch, s.channels, s.out_h, s.out_w};
    const auto src_md = s.src_layout ? *s.src_layout : dnnl::memory::desc(src_d, real_t, tag::nchw);
    if (src_md.dims() != src_d) return InvalidArgument("{}: the src layout has other dimensions", where);
    const dt carried_t = src_md.data_type();
    impl->flip = s.type == DataType::kS8 && carried_t == dt::u8;
    if (carried_t != real_t && !impl->flip) return InvalidArgument("{}: the src layout has another data type", where);
    const auto dst_any = dnnl::memory::desc(dst_d, carried_t, tag::any);
    dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, src_md,
                                        dst_any, {s.stride_h, s.stride_w}, {s.kernel_h, s.kernel_w},
                                        {s.dilation_h - 1, s.dilation_w - 1}, {s.pad_top, s.pad_left},
                                        {pad_bottom, pad_right});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    auto& eng = CpuEngine();
    impl->pd = dnnl::pooling_v2_forward::primitive_desc(desc, attr, eng);
    // oneDNN's reference pooling (e.g. 8-bit NCHW under AVX2) is 4-5x slower than the session's
    // native loop: leave such layouts to that.
    if (std::string(impl->pd.impl_info_str()).rfind("ref", 0) == 0) {
      return Unimplemented("{}: oneDNN has only its reference implementation for this layout", where);
    }
    impl->prim = dnnl::pooling_v2_forward(impl->pd);
    impl->stream = dnnl::stream(eng);
    impl->dst_native = impl->pd.dst_desc();
    impl->dst_plain = dnnl::memory::desc(dst_d, carried_t, tag::nchw);
    impl->dst_is_plain = impl->dst_native == impl->dst_plain;
    impl->src_mem = dnnl::memory(src_md, eng, DNNL_MEMORY_NONE);
    impl->dst_mem = dnnl::memory(impl->dst_native, eng, DNNL_MEMORY_NONE);
    impl->dst_user = dnnl::memory(impl->dst_plain, eng, DNNL_MEMORY_NONE);
    impl->scratch_buf.Allocate(impl->pd.scratchpad_desc().get_size());
    impl->scratch_mem = dnnl::memory(impl->pd.scratchpad_desc(), eng, impl->scratch_buf.get());
    if (!impl->dst_is_plain) {
      impl->to_plain = dnnl::reorder(dnnl::reorder::primitive_desc(eng, impl->dst_native, eng, impl->dst_plain));
    }
  } catch (const dnnl::error& e) {
    return FromDnnl(e, where);
  }
  return std::unique_ptr<PoolKernel>(new PoolKernel(std::move(impl)));
}

Status PoolKernel::ExecuteNative(const void* src, void* dst) {
  Impl& m = *impl_;
  try {
    m.src_mem.set_data_handle(const_cast<void*>(src));
    m.dst_mem.set_data_handle(dst);
    m.prim.execute(m.stream, {{DNNL_ARG_SRC, m.src_mem}, {DNNL_ARG_DST, m.dst_mem}, {DNNL_ARG_SCRATCHPAD, m.scratch_mem}});
    m.stream.wait();
  } catch (const dnnl::error& e) {
    return FromDnnl(e, m.label + ": execute");
  }
  return Status::Ok();
}

Status PoolKernel::DstToPlain(const void* native, void* plain) {
  Impl& m = *impl_;
  return NativeToPlain(m.stream, m.to_plain, m.dst_mem, m.dst_user, m.dst_is_plain, m.flip, native, plain, m.label);
}

// ---------------------------------------------------------------- GemmKernel

struct GemmKernel::Impl {
  GemmSpec spec;
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  dnnl::stream stream;
  dnnl::memory src_mem, dst_mem, wei_mem, bias_mem, scratch_mem;
  Buffer wei_buf, bias_buf, scratch_buf, flip_buf;
  bool flip_src = false, flip_dst = false;  // s8 carried as u8 (see Carry)
  std::string label;
};

GemmKernel::GemmKernel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GemmKernel::~GemmKernel() = default;
std::string GemmKernel::impl() const { return impl_->pd.impl_info_str(); }

Result<std::unique_ptr<GemmKernel>> GemmKernel::Create(const GemmSpec& spec, const float* w, const int8_t* wq,
                                                       const float* b, const int32_t* bq) {
  const GemmSpec& s = spec;
  const std::string where = fmt::format("gemm {}x{}x{}{}", s.m, s.k, s.n, s.trans_b ? " transB" : "");
  if (s.m < 1 || s.k < 1 || s.n < 1) return InvalidArgument("{}: sizes must be >= 1", where);
  if (s.int8 ? wq == nullptr : w == nullptr) return InvalidArgument("{}: weights missing", where);
  if (!s.int8 && (s.src_type != DataType::kF32 || s.dst_type != DataType::kF32)) {
    return InvalidArgument("{}: fp32 gemm needs fp32 src and dst", where);
  }
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  impl->label = where;
  std::vector<float> wscale = s.weight_scales;
  std::vector<int8_t> wq_copy;
  std::vector<int32_t> bias_copy;
  if (s.int8) {
    wq_copy.assign(wq, wq + s.k * s.n);
    // Column c of op(w): [K,N] row-major -> elements e*N + c; [N,K] (transB) -> c*K + e.
    PF_RETURN_IF_ERROR(PrepareInt8(s.reduce_range, s.n, s.k, !s.trans_b, s.src_type, s.src, s.dst_type, s.dst,
                                   &wscale, &wq_copy, &bq, &bias_copy, where));
  }
  Carried in = Carry(s.int8, s.src_type, s.src), out = Carry(s.int8, s.dst_type, s.dst);
  impl->flip_src = in.flipped;
  impl->flip_dst = out.flipped;
  if (impl->flip_src) impl->flip_buf.Allocate(s.m * s.k);
  std::vector<int32_t> folded_bias;
  if (s.int8 && in.q.zero_point != 0) {
    auto at = [&](int64_t c, int64_t e) { return s.trans_b ? wq_copy[c * s.k + e] : wq_copy[e * s.n + c]; };
    if (FoldSrcZeroPoint(in.q.zero_point, s.n, s.k, at, bq, &folded_bias)) {
      in.q.zero_point = 0;
      bq = folded_bias.data();
    }
  }
  try {
    const dt src_t = ToDnnl(in.type), dst_t = ToDnnl(out.type);
    const dt wei_t = s.int8 ? dt::s8 : dt::f32, bias_t = s.int8 ? dt::s32 : dt::f32;
    const auto src_md = dnnl::memory::desc({s.m, s.k}, src_t, tag::ab);
    const auto dst_md = dnnl::memory::desc({s.m, s.n}, dst_t, tag::ab);
    const auto wei_any = dnnl::memory::desc({s.k, s.n}, wei_t, tag::any);
    const bool has_bias = s.int8 ? bq != nullptr : b != nullptr;
    const auto bias_md = has_bias ? dnnl::memory::desc({1, s.n}, bias_t, tag::ab) : dnnl::memory::desc();
    PF_ASSIGN_OR_RETURN(dnnl::primitive_attr attr, MakeAttr(s.int8, in.type, in.q, wscale, out.type, out.q,
                                                            s.activation, false, where));
    auto& eng = CpuEngine();
    dnnl::matmul::desc desc(src_md, wei_any, bias_md, dst_md);
    impl->pd = dnnl::matmul::primitive_desc(desc, attr, eng);
    impl->prim = dnnl::matmul(impl->pd);
    impl->stream = dnnl::stream(eng);
    impl->wei_buf.Allocate(impl->pd.weights_desc().get_size());
    impl->wei_mem = dnnl::memory(impl->pd.weights_desc(), eng, impl->wei_buf.get());
    const void* wsrc = s.int8 ? static_cast<const void*>(wq_copy.data()) : static_cast<const void*>(w);
    dnnl::memory wei_user(dnnl::memory::desc({s.k, s.n}, wei_t, s.trans_b ? tag::ba : tag::ab), eng,
                          const_cast<void*>(wsrc));
    dnnl::reorder(wei_user, impl->wei_mem).execute(impl->stream, wei_user, impl->wei_mem);
    if (has_bias) {
      impl->bias_buf.Allocate(impl->pd.bias_desc().get_size());
      impl->bias_mem = dnnl::memory(impl->pd.bias_desc(), eng, impl->bias_buf.get());
      std::memcpy(impl->bias_buf.get(), s.int8 ? static_cast<const void*>(bq) : static_cast<const void*>(b), s.n * 4);
    }
    impl->scratch_buf.Allocate(impl->pd.scratchpad_desc().get_size());
    impl->scratch_mem = dnnl::memory(impl->pd.scratchpad_desc(), eng, impl->scratch_buf.get());
    impl->src_mem = dnnl::memory(src_md, eng, DNNL_MEMORY_NONE);
    impl->dst_mem = dnnl::memory(dst_md, eng, DNNL_MEMORY_NONE);
    impl->stream.wait();
  } catch (const dnnl::error& e) {
    return FromDnnl(e, where);
  }
  return std::unique_ptr<GemmKernel>(new GemmKernel(std::move(impl)));
}

Status GemmKernel::Execute(const void* a, void* y) {
  Impl& m = *impl_;
  try {
    if (m.flip_src) {
      FlipSign(a, m.flip_buf.get(), m.spec.m * m.spec.k);
      a = m.flip_buf.get();
    }
    m.src_mem.set_data_handle(const_cast<void*>(a));
    m.dst_mem.set_data_handle(y);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, m.src_mem}, {DNNL_ARG_WEIGHTS, m.wei_mem},
                                               {DNNL_ARG_DST, m.dst_mem}, {DNNL_ARG_SCRATCHPAD, m.scratch_mem}};
    if (m.bias_mem) args.emplace(DNNL_ARG_BIAS, m.bias_mem);
    m.prim.execute(m.stream, args);
    m.stream.wait();
    if (m.flip_dst) FlipSign(y, y, m.spec.m * m.spec.n);
  } catch (const dnnl::error& e) {
    return FromDnnl(e, m.label + ": execute");
  }
  return Status::Ok();
}

bool Int8MaySaturate() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_vnni:
    case dnnl::cpu_isa::avx512_core_bf16:
    case dnnl::cpu_isa::avx512_core_amx:
    case dnnl::cpu_isa::avx2_vnni:
    case dnnl::cpu_isa::all:
      return false;
    default:
      return true;
  }
}

std::string EffectiveIsa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case dnnl::cpu_isa::all: return "all";
  }
  return "unknown";
}

}  // namespace pf::engine::dnnl_kernels
