// libFuzzer target: image decoding (connect/images: PNG, JPEG, BMP, PGM/PPM). Any input must give an
// image whose data size matches its header, or an error; never a crash, a leak or a hang. The
// small pixel limit keeps huge declared sizes from turning into slow allocations.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "connect/images/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pf::images::DecodeLimits limits;
  limits.max_pixels = 1 << 20;
  auto img = pf::images::DecodeImage(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz", limits);
  if (img.ok()) {
    const size_t want = static_cast<size_t>(img->width) * img->height * img->channels * (img->bit_depth / 8);
    if (img->data.size() != want || img->pixels() > limits.max_pixels) std::abort();
    if (img->bit_depth == 8) {
      auto png = pf::images::EncodePng(*img);
      if (!png.ok()) std::abort();
    }
  }
  return 0;
}
