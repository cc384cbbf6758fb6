#include "dsp/fft.h"

#include <cassert>
#include <cstdlib>
#include <utility>

#include <kiss_fft.h>
#include <kiss_fftr.h>

namespace pf::dsp {
namespace {

bool IsFast(std::size_t n) {
  for (std::size_t p : {2u, 3u, 5u}) {
    while (n % p == 0) n /= p;
  }
  return n == 1;
}

static_assert(sizeof(kiss_fft_cpx) == sizeof(Complex), "kiss_fft_cpx and std::complex<float> differ");

}  // namespace

std::size_t NextFastSize(std::size_t n) {
  if (n <= 1) return 1;
  while (!IsFast(n)) ++n;
  return n;
}

std::size_t PrevFastSize(std::size_t n) {
  while (n > 1 && !IsFast(n)) --n;
  return n;
}

Result<RealFft> RealFft::Create(std::size_t n) {
  if (n < 2 || n % 2 != 0 || n > (1u << 30)) {
    return InvalidArgument("real FFT: size {} must be even, >= 2 and <= 2^30", n);
  }
  void* fwd = kiss_fftr_alloc(static_cast<int>(n), 0, nullptr, nullptr);
  void* inv = kiss_fftr_alloc(static_cast<int>(n), 1, nullptr, nullptr);
  if (fwd == nullptr || inv == nullptr) {
    std::free(fwd);
    std::free(inv);
    return ResourceExhausted("real FFT: cannot allocate a plan of size {}", n);
  }
  return RealFft(n, fwd, inv);
}

RealFft::RealFft(RealFft&& o) noexcept
    : n_(o.n_), fwd_(std::exchange(o.fwd_, nullptr)), inv_(std::exchange(o.inv_, nullptr)) {}

RealFft& RealFft::operator=(RealFft&& o) noexcept {
  std::swap(n_, o.n_);
  std::swap(fwd_, o.fwd_);
  std::swap(inv_, o.inv_);
  return *this;
}

RealFft::~RealFft() {
  std::free(fwd_);
  std::free(inv_);
}

void RealFft::Forward(std::span<const float> in, std::span<Complex> out) {
  assert(in.size() == n_ && out.size() == bins());
  kiss_fftr(static_cast<kiss_fftr_cfg>(fwd_), in.data(), reinterpret_cast<kiss_fft_cpx*>(out.data()));
}

void RealFft::Inverse(std::span<const Complex> in, std::span<float> out) {
  assert(in.size() == bins() && out.size() == n_);
  kiss_fftri(static_cast<kiss_fftr_cfg>(inv_), reinterpret_cast<const kiss_fft_cpx*>(in.data()),
             out.data());
}

Result<ComplexFft> ComplexFft::Create(std::size_t n) {
  if (n < 1 || n > (1u << 30)) return InvalidArgument("complex FFT: size {} must be in 1..2^30", n);
  void* fwd = kiss_fft_alloc(static_cast<int>(n), 0, nullptr, nullptr);
  void* inv = kiss_fft_alloc(static_cast<int>(n), 1, nullptr, nullptr);
  if (fwd == nullptr || inv == nullptr) {
    std::free(fwd);
    std::free(inv);
    return ResourceExhausted("complex FFT: cannot allocate a plan of size {}", n);
  }
  return ComplexFft(n, fwd, inv);
}

ComplexFft::ComplexFft(ComplexFft&& o) noexcept
    : n_(o.n_), fwd_(std::exchange(o.fwd_, nullptr)), inv_(std::exchange(o.inv_, nullptr)) {}

ComplexFft& ComplexFft::operator=(ComplexFft&& o) noexcept {
  std::swap(n_, o.n_);
  std::swap(fwd_, o.fwd_);
  std::swap(inv_, o.inv_);
  return *this;
}

ComplexFft::~ComplexFft() {
  std::free(fwd_);
  std::free(inv_);
}

void ComplexFft::Forward(std::span<const Complex> in, std::span<Complex> out) {
  assert(in.size() == n_ && out.size() == n_ && in.data() != out.data());
  kiss_fft(static_cast<kiss_fft_cfg>(fwd_), reinterpret_cast<const kiss_fft_cpx*>(in.data()),
           reinterpret_cast<kiss_fft_cpx*>(out.data()));
}

void ComplexFft::Inverse(std::span<const Complex> in, std::span<Complex> out) {
  assert(in.size() == n_ && out.size() == n_ && in.data() != out.data());
  kiss_fft(static_cast<kiss_fft_cfg>(inv_), reinterpret_cast<const kiss_fft_cpx*>(in.data()),
           reinterpret_cast<kiss_fft_cpx*>(out.data()));
}

}  // namespace pf::dsp
