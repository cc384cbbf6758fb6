#pragma once
// Real and complex FFT plans over KissFFT (BSD-3, float). A plan is made once for one size and
// reused: Forward/Inverse never allocate. Unnormalised like KissFFT and FFTW: Inverse(Forward(x))
// gives N*x. Not thread-safe: one plan per thread (the plans hold scratch space).
#include <complex>
#include <cstddef>
#include <memory>
#include <span>

#include "core/status.h"

namespace pf::dsp {

using Complex = std::complex<float>;

// The smallest n' >= n whose only prime factors are 2, 3 and 5 (fast sizes for KissFFT).
std::size_t NextFastSize(std::size_t n);
// The largest n' <= n whose only prime factors are 2, 3 and 5 (0 for n == 0).
std::size_t PrevFastSize(std::size_t n);

// Real-input FFT of an even size n: n real samples <-> n/2+1 complex bins (DC .. Nyquist).
class RealFft {
 public:
  // n must be even and >= 2.
  static Result<RealFft> Create(std::size_t n);
  RealFft(RealFft&&) noexcept;
  RealFft& operator=(RealFft&&) noexcept;
  ~RealFft();

  std::size_t size() const { return n_; }
  std::size_t bins() const { return n_ / 2 + 1; }
  // in.size() == size(), out.size() == bins(); checked with assert only (hot path).
  void Forward(std::span<const float> in, std::span<Complex> out);
  // in.size() == bins() (imaginary parts of DC and Nyquist ignored), out.size() == size().
  void Inverse(std::span<const Complex> in, std::span<float> out);

 private:
  RealFft(std::size_t n, void* fwd, void* inv) : n_(n), fwd_(fwd), inv_(inv) {}
  std::size_t n_ = 0;
  void* fwd_ = nullptr;  // kiss_fftr_cfg
  void* inv_ = nullptr;
};

// Complex FFT of any size n >= 1 (fastest for NextFastSize sizes).
class ComplexFft {
 public:
  static Result<ComplexFft> Create(std::size_t n);
  ComplexFft(ComplexFft&&) noexcept;
  ComplexFft& operator=(ComplexFft&&) noexcept;
  ~ComplexFft();

  std::size_t size() const { return n_; }
  // in and out have size() elements and must not overlap (KissFFT allocates when in-place).
  void Forward(std::span<const Complex> in, std::span<Complex> out);
  void Inverse(std::span<const Complex> in, std::span<Complex> out);

 private:
  ComplexFft(std::size_t n, void* fwd, void* inv) : n_(n), fwd_(fwd), inv_(inv) {}
  std::size_t n_ = 0;
  void* fwd_ = nullptr;  // kiss_fft_cfg
  void* inv_ = nullptr;
};

}  // namespace pf::dsp
