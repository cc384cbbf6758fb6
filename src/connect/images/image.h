#pragma once
// Image decoding for the vision station (issue 10): PNG (libpng), JPEG (libjpeg-turbo), BMP
// (uncompressed 8/24/32-bit, own parser) and PGM/PPM (binary P5/P6 and ASCII P2/P3, own parser), 8- or
// 16-bit, gray or RGB (an alpha channel is dropped, a palette expanded), at most
// DecodeLimits::max_pixels. Every rejection is kInvalidArgument and says what and where: "not an image
// (first bytes ...)", "truncated JPEG", "PNG: CRC error", "BMP: 4-bit palettes are not supported",
// "5013504 pixels, the limit is 5000000". Decoding touches no file: callers pass bytes.
// Thread-safe (no shared state).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace pf::images {

enum class ImageFormat { kPng, kJpeg, kBmp, kPnm };
std::string_view ImageFormatName(ImageFormat f);  // "png", "jpeg", "bmp", "pnm"

struct Image {
  int width = 0, height = 0;
  int channels = 1;   // 1 gray, 3 RGB (interleaved)
  int bit_depth = 8;  // 8 or 16
  ImageFormat format = ImageFormat::kPng;
  // Row-major samples; 16-bit images hold native-endian uint16 pairs (2 bytes per sample).
  std::vector<uint8_t> data;

  int64_t pixels() const { return static_cast<int64_t>(width) * height; }
  // Sample c of pixel (x, y), as stored (0..255 or 0..65535).
  uint32_t at(int x, int y, int c = 0) const {
    const size_t i = (static_cast<size_t>(y) * width + x) * channels + c;
    if (bit_depth == 8) return data[i];
    uint16_t v;
    __builtin_memcpy(&v, &data[2 * i], 2);
    return v;
  }
  uint32_t max_value() const { return bit_depth == 8 ? 255u : 65535u; }
};

struct DecodeLimits {
  int64_t max_pixels = 2448 * 2048;  // a "5 MP" machine-vision sensor (5 013 504 pixels)
  int max_side = 16384;
};

// `what` names the source in errors (file path, "upload", "camera frame 17").
Result<Image> DecodeImage(std::string_view bytes, const std::string& what, const DecodeLimits& limits = {});

// PNG encoding (8-bit gray or RGB) for stored images and overlays.
Result<std::string> EncodePng(const Image& image);

}  // namespace pf::images
