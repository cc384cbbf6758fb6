#pragma once
// The fast kernels: Conv (1-D/2-D) and Gemm/MatMul, fp32 and int8, on oneDNN 2.6 (libdnnl-dev).
//
// Contract: a kernel is created once per graph node with static shapes (Create) and then run many
// times (Execute) on caller-owned buffers; Execute allocates nothing. At Create the primitive is
// built with format_tag::any, the weights are reordered once into the layout it chose, and the
// scratchpad (user mode) and the staging buffers for the plain-layout interface are allocated.
//
// Interfaces:
//   Execute(src, dst, sum)        plain row-major buffers (NCHW for conv, [M,K]/[M,N] for gemm);
//                                 reorders to and from the primitive's layout happen inside, into
//                                 preallocated buffers, and are skipped when the layout already is plain.
//   ExecuteNative(src, dst, sum)  buffers in src_desc()/dst_desc() (the layouts fixed at Create: the
//                                 primitive's choice, or ConvSpec::src_layout when given), so a session
//                                 can chain convolutions without reorders: create the next conv with
//                                 ConvSpec::src_layout = this->dst_desc(). SrcFromPlain / DstToPlain
//                                 convert at the edges of such a chain. (A conv with a folded src zero
//                                 point and padding still copies src into its bordered buffer.)
//
// Semantics (the same as the reference kernels and the "pf_" attributes of engine/passes.h):
//   fp32:  y = act(conv(x, w) + b [+ s])
//   int8:  acc = sum((x - x_zp) * w) + B (int32, weights zero point 0)
//          real = acc * x_scale * w_scale[c];  y = saturate(round(act(real [+ s]) / y_scale) + y_zp)
//          or, for dst kF32, y = act(real [+ s]) (dequantized output).
//   Activation kinds: "" (none), "Relu", "Clip" (min/max), "LeakyRelu" (alpha), "HardSigmoid"
//   (alpha/beta: clip(alpha*x+beta, 0, 1), done as eltwise linear + clip since 2.6 has no
//   hardsigmoid), "HardSwish" (ONNX's x*hardsigmoid(x, 1/6, 0.5) = oneDNN 2.6's fixed hardswish),
//   "Sigmoid", "Tanh".
//   Activations that commute with a positive scale (none, Relu, LeakyRelu, Clip with scaled
//   bounds) have 1/y_scale folded into the output scales; the others run on the real value and a
//   linear post-op rescales.
// Zero points: oneDNN never sees a src zero point. It is folded into the int32 bias at Create,
//   B' = B - x_zp * sum(w[c]) (exact; checked in int64, and left to oneDNN's attr set_zero_points
//   only if B' would overflow int32). For a padded conv the fold needs every tap to read x_zp where
//   ONNX pads (padding is real 0 = x_zp), so the primitive is created unpadded on a buffer of the
//   padded size whose border is filled with x_zp once at Create; each call writes only its interior
//   (one reorder, which the plain path needs anyway). Why not oneDNN's own src zero points: (1) its
//   brgemm kernels take none in 2.6 (falls back to jit_int8); (2) the random-shape soak (5000 configs)
//   found wrong results with them in gemm_s8u8s32 grouped convs and in AVX2 depthwise convs with
//   dilation. Measured on 3x3 64->64 56x56 u8 (1 thread, ms): zp=128 0.120 vs zp=0 0.074 on AMX
//   (oneDNN's own zp path was 0.107 there), 0.357 vs 0.330 at AVX512_CORE_VNNI, 1.26 vs 1.12 at AVX2.
//   The dst zero point is oneDNN's set_zero_points (added after the post-ops); an eltwise_round
//   post-op before it rounds first, as ONNX Runtime does (round(v) + zp, not round(v + zp)).
// Rounding: ONNX Runtime's arithmetic (qlinearconv.cc / MlasRequantizeOutput): the output scale
//   is float(float(x_scale * w_scale[c]) / y_scale), the value float(acc + B) * scale in fp32,
//   rounded half to even, then y_zp added and saturated. oneDNN gets exactly that scale as its output
//   scale (when 1/y_scale folds) and rounds in a post-op before its zero point; the reference kernels
//   (ops_quant.cpp) compute the same fp32 expression. Activations that do not fold (and HardSigmoid,
//   whose round is omitted) stay within 1 of the reference.
// s8 activations without VNNI: oneDNN 2.6 halves the weights of s8 x s8 convolutions there (its 0.5
//   weight "adjust scale" in the weight reorder), which rounds every odd weight. So when
//   Int8MaySaturate(), an s8 src or dst is carried inside as u8 with zero point + 128 (the same bytes
//   with the sign bit flipped; exact): Execute/SrcFromPlain/DstToPlain flip at the plain interface, and
//   buffers in src_desc()/dst_desc() (ExecuteNative) hold that u8 form, whose desc says u8.
// Saturation without VNNI: AVX2/AVX-512 without VNNI multiply u8 x s8 with vpmaddubsw, whose s16
//   pair sums saturate when |w| > 64 with large x. spec.reduce_range requantizes the weights to
//   7 bits (w' = round_half_even(w/2), w_scale' = 2*w_scale and the int32 bias of the channel
//   halved, round half to even, to keep its real value; exact when |w| <= 63 already, an
//   approximation of one weight quantization step otherwise). Int8MaySaturate() tells whether the
//   effective ISA (after ONEDNN_MAX_CPU_ISA, which this code never overrides) lacks VNNI. The choice
//   is the caller's: reduce_range trades an exact-weights result that saturates now and then on
//   large |x*w| pairs for a result that never saturates but uses 7-bit weights.
// oneDNN 2.6 defects worked around here: brgconv crashes (SIGSEGV, sum + eltwise) or adds a wrong
//   sum (sum alone) when some output row/column sees only padding, so such convs take the next
//   implementation; brgemm matmul drops a third eltwise post-op, so HardSigmoid's 1/y_scale is
//   folded into its own two post-ops.
// Threads: the Debian oneDNN uses OpenMP. Nothing here calls omp_set_num_threads: the caller (the
//   session) sets omp_set_num_threads(n) on its own thread (a per-thread ICV) before Create and before
//   every Execute, with the same n, because oneDNN's jit kernels fix their thread split at Create.
//   OMP_WAIT_POLICY=passive comes from the process environment (the launcher/systemd unit sets it), so
//   idle workers sleep instead of spinning against sensor ingestion.
// Thread-safety: a kernel is not thread-safe (it owns its scratchpad and staging buffers): one Execute
//   at a time per kernel. Different kernels may run concurrently on different threads.
// Errors: Create returns kInvalidArgument for inconsistent shapes/parameters and kUnimplemented
//   when oneDNN has no implementation; oneDNN exceptions never leave this file's .cpp.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/status.h"

namespace pf::engine::dnnl_kernels {

enum class DataType { kF32, kU8, kS8 };

struct Activation {
  std::string kind;  // "" = none; see the header comment
  float min = -3.4e38f, max = 3.4e38f;  // Clip
  float alpha = 0.01f, beta = 0.0f;     // LeakyRelu (alpha), HardSigmoid (alpha, beta)
};

// Quantization of one activation tensor (unused for kF32).
struct Quant {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

struct ConvSpec {
  int64_t batch = 1, in_c = 0, in_h = 1, in_w = 0;  // 1-D conv: in_h = 1, kernel_h = 1
  int64_t out_c = 0, group = 1;                      // depthwise: group == in_c == out_c
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;  // ONNX dilations (1 = dense)
  bool int8 = false;
  DataType src_type = DataType::kF32;  // int8: kU8 or kS8
  Quant src;
  std::vector<float> weight_scales;  // int8: 1 (per tensor) or out_c values; weights zero point 0
  DataType dst_type = DataType::kF32;  // int8: kU8, kS8 or kF32 (dequantized output)
  Quant dst;
  Activation activation;
  bool sum = false;           // dst = act(conv + b + s); requires dst kF32
  bool reduce_range = false;  // requantize weights to 7 bits (see header comment)
  // When set: create the primitive with exactly this src layout (chaining, see header comment).
  const dnnl::memory::desc* src_layout = nullptr;
  // False: no staging buffers for Execute() (which then fails); for a kernel run only through
  // ExecuteNative / SrcFromPlain / DstToPlain (saves two activation-sized buffers per conv).
  bool plain_interface = true;

  int64_t out_h() const;
  int64_t out_w() const;
};

// A kernel whose output lives in a oneDNN layout (dst_desc()) and can convert it to row-major
// (NCHW of the output's real dtype: s8 carried as u8 is flipped back).
class NativeProducer {
 public:
  virtual ~NativeProducer() = default;
  virtual Status DstToPlain(const void* native, void* plain) = 0;
  virtual const dnnl::memory::desc& dst_desc() const = 0;
};

// Convolution. Weights are [out_c, in_c/group, kernel_h, kernel_w] row-major: `w` (fp32) or `wq`
// (int8, s8). Bias has out_c values: `b` (fp32, may be null) or `bq` (int32, may be null). The
// buffers are copied at Create and need not outlive it.
class ConvKernel : public NativeProducer {
 public:
  static Result<std::unique_ptr<ConvKernel>> Create(const ConvSpec& spec, const float* w, const int8_t* wq,
                                                    const float* b, const int32_t* bq);
  ~ConvKernel();
  // src: NCHW of src_type; dst: NCHW of dst_type; sum: NCHW fp32, null unless spec.sum (may equal dst).
  Status Execute(const void* src, void* dst, const void* sum);
  // Same on buffers in src_desc()/dst_desc(); sum is in dst_desc() (may equal dst).
  Status ExecuteNative(const void* src, void* dst, const void* sum);
  Status SrcFromPlain(const void* plain, void* native);
  Status DstToPlain(const void* native, void* plain) override;
  const dnnl::memory::desc& src_desc() const;
  const dnnl::memory::desc& dst_desc() const override;
  // The oneDNN implementation chosen, e.g. "brgconv:avx512_core_vnni".
  std::string impl() const;
  const ConvSpec& spec() const;
  struct Impl;

 private:
  explicit ConvKernel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Max pooling (ONNX MaxPool without the Indices output) on f32, u8 or s8, 1-D (in_h = 1) or 2-D,
// run in the layout of its input so that a chain of convolutions and poolings never reorders.
// Padded taps are ignored, as ONNX specifies. On 8-bit tensors max pooling commutes with the
// (monotone) dequantization, so it runs on the quantized values; an s8 tensor carried as u8 with
// the sign bit flipped (see "s8 activations without VNNI") stays monotone too.
struct PoolSpec {
  int64_t batch = 1, channels = 0, in_h = 1, in_w = 0, out_h = 1, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // the end pads follow from the output size (ceil_mode)
  DataType type = DataType::kF32;     // the tensor's real type (plain interface)
  // The src layout (a producer's dst_desc()); null: plain NCHW. A u8 layout for an s8 type means
  // the s8-as-u8 carry: DstToPlain flips the sign bit back.
  const dnnl::memory::desc* src_layout = nullptr;
};

class PoolKernel : public NativeProducer {
 public:
  // kInvalidArgument for inconsistent sizes; kUnimplemented when a window lies wholly in the
  // padding (ONNX and oneDNN disagree there) or oneDNN has no implementation but its reference one.
  static Result<std::unique_ptr<PoolKernel>> Create(const PoolSpec& spec);
  ~PoolKernel() override;
  // src in the spec's src layout, dst in dst_desc().
  Status ExecuteNative(const void* src, void* dst);
  Status DstToPlain(const void* native, void* plain) override;
  const dnnl::memory::desc& dst_desc() const override;
  std::string impl() const;
  struct Impl;

 private:
  explicit PoolKernel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Gemm / MatMul: y[M,N] = act(a[M,K] x op(w) + bias) where op(w) = w ([K,N]) or, with trans_b,
// w^T (w is [N,K], ONNX Gemm transB=1). A batched MatMul with a constant right-hand side flattens
// its leading dims into M. Quantization as for ConvSpec (weight scales per tensor or per column n).
struct GemmSpec {
  int64_t m = 0, k = 0, n = 0;
  bool trans_b = false;
  bool int8 = false;
  DataType src_type = DataType::kF32;
  Quant src;
  std::vector<float> weight_scales;
  DataType dst_type = DataType::kF32;
  Quant dst;
  Activation activation;
  bool reduce_range = false;
};

class GemmKernel {
 public:
  static Result<std::unique_ptr<GemmKernel>> Create(const GemmSpec& spec, const float* w, const int8_t* wq,
                                                    const float* b, const int32_t* bq);
  ~GemmKernel();
  // a: [M,K] row-major of src_type; y: [M,N] row-major of dst_type.
  Status Execute(const void* a, void* y);
  std::string impl() const;
  struct Impl;

 private:
  explicit GemmKernel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when the effective ISA has no VNNI, so u8 x s8 products may saturate unless reduce_range.
bool Int8MaySaturate();
// The widest int8 weight that never saturates without VNNI (2 * 255 * 64 < 2^15); ONNX Runtime's
// reduce-range quantization uses [-64, 64].
constexpr int kSafeWeight = 64;
// oneDNN's effective ISA in words ("avx512_core_vnni", "avx2", ...), for logs and reports.
std::string EffectiveIsa();

}  // namespace pf::engine::dnnl_kernels
