#include "connect/images/image.h"

#include <cctype>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>
#include <png.h>

#include <fmt/format.h>

namespace pf::images {
namespace {

Status CheckSize(int64_t w, int64_t h, const std::string& what, const DecodeLimits& limits, std::string_view fmt_name) {
  if (w <= 0 || h <= 0) return InvalidArgument("{}: {} of {} x {} pixels", what, fmt_name, w, h);
  if (w > limits.max_side || h > limits.max_side)
    return InvalidArgument("{}: {} of {} x {} pixels, the largest side allowed is {}", what, fmt_name, w, h, limits.max_side);
  if (w * h > limits.max_pixels)
    return InvalidArgument("{}: {} of {} x {} = {} pixels, the limit is {}", what, fmt_name, w, h, w * h, limits.max_pixels);
  return Status::Ok();
}

std::string FirstBytes(std::string_view b) {
  std::string s;
  for (size_t i = 0; i < b.size() && i < 8; ++i) s += fmt::format("{}{:02x}", i ? " " : "", static_cast<uint8_t>(b[i]));
  return s.empty() ? "none: the file is empty" : s;
}

// --- JPEG ---------------------------------------------------------------------------------------

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void JpegErrorExit(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

// Warnings (a truncated file is "Premature end of JPEG file", decoded as gray fill) are errors here:
// a part judged on invented pixels is worse than a part sent to a person.
void JpegEmitMessage(j_common_ptr cinfo, int level) {
  if (level < 0) JpegErrorExit(cinfo);
}

// libjpeg reports errors by longjmp: the jumping happens in this frame, which owns no C++ object;
// the image lives in the caller (`out`), so nothing is skipped or left indeterminate.
struct JpegJob {
  std::string_view bytes;
  const DecodeLimits* limits;
  const std::string* what;
  Image* out;
  Status* status;
};

// A progressive JPEG may hold thousands of tiny scans that cost seconds of CPU: more than this is refused.
constexpr int kMaxJpegScans = 100;

void JpegProgress(j_common_ptr cinfo) {
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->is_decompressor && d->input_scan_number > kMaxJpegScans) {
    auto* e = reinterpret_cast<JpegError*>(cinfo->err);
    std::snprintf(e->message, sizeof e->message, "more than %d scans (a progressive file built to be slow)", kMaxJpegScans);
    std::longjmp(e->jump, 1);
  }
}

bool RunJpeg(JpegJob* job) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  jpeg_progress_mgr progress{};
  progress.progress_monitor = JpegProgress;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = JpegErrorExit;
  err.mgr.emit_message = JpegEmitMessage;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    *job->status = InvalidArgument("{}: JPEG: {}", *job->what, err.message);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(job->bytes.data()), static_cast<unsigned long>(job->bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  *job->status = CheckSize(cinfo.image_width, cinfo.image_height, *job->what, *job->limits, "JPEG");
  if (!job->status->ok()) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  Image& img = *job->out;
  img.width = static_cast<int>(cinfo.output_width);
  img.height = static_cast<int>(cinfo.output_height);
  img.channels = cinfo.output_components;
  img.bit_depth = 8;
  img.data.resize(static_cast<size_t>(img.width) * img.height * img.channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = img.data.data() + static_cast<size_t>(cinfo.output_scanline) * img.width * img.channels;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

Result<Image> DecodeJpeg(std::string_view bytes, const std::string& what, const DecodeLimits& limits) {
  Image img;
  img.format = ImageFormat::kJpeg;
  Status status = Status::Ok();
  JpegJob job{bytes, &limits, &what, &img, &status};
  if (!RunJpeg(&job)) return status;
  return img;
}

// --- PNG ----------------------------------------------------------------------------------------

struct PngReader {
  std::string_view bytes;
  size_t pos = 0;
  char message[256] = {0};
};

void PngRead(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
  if (r->bytes.size() - r->pos < n) {
    std::snprintf(r->message, sizeof r->message, "truncated: %zu more bytes needed at byte %zu of %zu", n, r->pos,
                  r->bytes.size());
    png_longjmp(png, 1);
  }
  std::memcpy(out, r->bytes.data() + r->pos, n);
  r->pos += n;
}

void PngError(png_structp png, png_const_charp msg) {
  auto* r = static_cast<PngReader*>(png_get_error_ptr(png));
  if (r->message[0] == 0) std::snprintf(r->message, sizeof r->message, "%s", msg);
  png_longjmp(png, 1);
}

void PngWarning(png_structp, png_const_charp) {}

// As RunJpeg: the longjmp lands in a frame without C++ objects; image and rows live in the caller.
struct PngJob {
  PngReader* reader;
  const DecodeLimits* limits;
  const std::string* what;
  Image* out;
  std::vector<png_bytep>* rows;
  Status* status;
};

bool RunPng(PngJob* job) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job->reader, PngError, PngWarning);
  if (!png) {
    *job->status = Internal("{}: PNG: cannot create a reader", *job->what);
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    *job->status = InvalidArgument("{}: PNG: {}", *job->what, job->reader->message[0] ? job->reader->message : "corrupt data");
    return false;
  }
  png_set_read_fn(png, job->reader, PngRead);
  png_read_info(png, info);
  const auto w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  *job->status = CheckSize(w, h, *job->what, *job->limits, "PNG");
  if (!job->status->ok()) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  if (depth == 16) png_set_swap(png);  // PNG stores 16-bit big-endian
  png_read_update_info(png, info);
  Image& img = *job->out;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.channels = png_get_channels(png, info);
  img.bit_depth = png_get_bit_depth(png, info);
  if ((img.channels != 1 && img.channels != 3) || (img.bit_depth != 8 && img.bit_depth != 16)) {
    png_destroy_read_struct(&png, &info, nullptr);
    *job->status = InvalidArgument("{}: PNG: {} channels of {} bits after expansion are not supported", *job->what,
                                   img.channels, img.bit_depth);
    return false;
  }
  const size_t stride = png_get_rowbytes(png, info);
  img.data.resize(stride * img.height);
  job->rows->resize(img.height);
  for (int y = 0; y < img.height; ++y) (*job->rows)[y] = img.data.data() + y * stride;
  png_read_image(png, job->rows->data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

Result<Image> DecodePng(std::string_view bytes, const std::string& what, const DecodeLimits& limits) {
  PngReader reader{bytes};
  Image img;
  img.format = ImageFormat::kPng;
  std::vector<png_bytep> rows;
  Status status = Status::Ok();
  PngJob job{&reader, &limits, &what, &img, &rows, &status};
  if (!RunPng(&job)) return status;
  return img;
}

// --- BMP ----------------------------------------------------------------------------------------

uint32_t Le32(std::string_view b, size_t at) {
  uint32_t v = 0;
  for (int k = 3; k >= 0; --k) v = (v << 8) | static_cast<uint8_t>(b[at + k]);
  return v;
}
uint16_t Le16(std::string_view b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) | (static_cast<uint8_t>(b[at + 1]) << 8));
}

Result<Image> DecodeBmp(std::string_view b, const std::string& what, const DecodeLimits& limits) {
  if (b.size() < 54) return InvalidArgument("{}: BMP: truncated header ({} bytes, 54 needed)", what, b.size());
  const uint32_t offset = Le32(b, 10), dib = Le32(b, 14);
  if (dib < 40) return InvalidArgument("{}: BMP: DIB header of {} bytes (OS/2 bitmaps are not supported)", what, dib);
  const auto w = static_cast<int32_t>(Le32(b, 18)), h_signed = static_cast<int32_t>(Le32(b, 22));
  const uint16_t bpp = Le16(b, 28);
  const uint32_t compression = Le32(b, 30);
  const bool top_down = h_signed < 0;
  const int64_t h = top_down ? -static_cast<int64_t>(h_signed) : h_signed;
  PF_RETURN_IF_ERROR(CheckSize(w, h, what, limits, "BMP"));
  if (compression != 0 && !(compression == 3 && bpp == 32))
    return InvalidArgument("{}: BMP: compression {} is not supported (uncompressed only)", what, compression);
  if (compression == 3) {
    // 32-bit bit fields: only the usual BGRX layout is taken (other masks would swap channels).
    if (b.size() < 66) return InvalidArgument("{}: BMP: truncated bit-field masks", what);
    const uint32_t r = Le32(b, 54), g = Le32(b, 58), bl = Le32(b, 62);
    if (r != 0x00FF0000u || g != 0x0000FF00u || bl != 0x000000FFu)
      return InvalidArgument("{}: BMP: bit-field masks R {:08x} G {:08x} B {:08x} are not supported (BGRX only)", what, r,
                             g, bl);
  }
  if (bpp != 8 && bpp != 24 && bpp != 32) return InvalidArgument("{}: BMP: {}-bit pixels are not supported (8, 24, 32)", what, bpp);
  Image img;
  img.format = ImageFormat::kBmp;
  img.width = w;
  img.height = static_cast<int>(h);
  std::vector<uint8_t> palette;  // RGB triplets
  bool gray_palette = false;
  uint32_t palette_colors = 0;
  if (bpp == 8) {
    uint32_t colors = Le32(b, 46);
    if (colors == 0) colors = 256;
    const size_t pal_at = size_t{14} + dib;
    if (colors > 256 || pal_at + 4ull * colors > b.size() || pal_at + 4ull * colors > offset)
      return InvalidArgument("{}: BMP: palette of {} colours after a {}-byte header does not fit before the pixels", what,
                             colors, dib);
    palette_colors = colors;
    gray_palette = true;
    palette.resize(3 * 256, 0);
    for (uint32_t c = 0; c < colors; ++c) {
      const auto bl = static_cast<uint8_t>(b[pal_at + 4 * c]), g = static_cast<uint8_t>(b[pal_at + 4 * c + 1]),
                 r = static_cast<uint8_t>(b[pal_at + 4 * c + 2]);
      palette[3 * c] = r;
      palette[3 * c + 1] = g;
      palette[3 * c + 2] = bl;
      gray_palette &= r == g && g == bl;
    }
  }
  img.channels = bpp == 8 && gray_palette ? 1 : 3;
  const size_t stride = (static_cast<size_t>(w) * bpp / 8 + 3) & ~size_t{3};
  if (offset > b.size() || b.size() - offset < stride * h)
    return InvalidArgument("{}: BMP: truncated pixel data ({} bytes from offset {}, {} needed)", what,
                           offset > b.size() ? 0 : b.size() - offset, offset, stride * h);
  img.data.resize(static_cast<size_t>(w) * h * img.channels);
  for (int64_t y = 0; y < h; ++y) {
    const auto* src = reinterpret_cast<const uint8_t*>(b.data()) + offset + stride * (top_down ? y : h - 1 - y);
    uint8_t* dst = img.data.data() + static_cast<size_t>(y) * w * img.channels;
    for (int x = 0; x < w; ++x) {
      if (bpp == 8) {
        const uint8_t idx = src[x];
        if (idx >= palette_colors)
          return InvalidArgument("{}: BMP: pixel ({}, {}) uses colour {} of a {}-colour palette", what, x, y, idx, palette_colors);
        if (img.channels == 1) {
          dst[x] = palette[3 * idx];
        } else {
          std::memcpy(dst + 3 * x, &palette[3 * idx], 3);
        }
      } else {
        const uint8_t* p = src + x * (bpp / 8);
        dst[3 * x] = p[2];
        dst[3 * x + 1] = p[1];
        dst[3 * x + 2] = p[0];
      }
    }
  }
  return img;
}

// --- PGM / PPM ------------------------------------------------------------------------------------

Result<Image> DecodePnm(std::string_view b, const std::string& what, const DecodeLimits& limits) {
  const char kind = b[1];
  const bool ascii = kind == '2' || kind == '3';
  size_t pos = 2;
  // Header: width, height, maxval, separated by whitespace, '#' comments to the end of the line.
  auto next_number = [&](const char* name) -> Result<int64_t> {
    while (pos < b.size()) {
      if (b[pos] == '#') {
        while (pos < b.size() && b[pos] != '\n') ++pos;
      } else if (std::isspace(static_cast<unsigned char>(b[pos]))) {
        ++pos;
      } else {
        break;
      }
    }
    if (pos >= b.size() || !std::isdigit(static_cast<unsigned char>(b[pos])))
      return InvalidArgument("{}: PNM: {} expected at byte {}", what, name, pos);
    int64_t v = 0;
    while (pos < b.size() && std::isdigit(static_cast<unsigned char>(b[pos]))) {
      v = v * 10 + (b[pos++] - '0');
      if (v > 1'000'000'000) return InvalidArgument("{}: PNM: {} too large at byte {}", what, name, pos);
    }
    return v;
  };
  PF_ASSIGN_OR_RETURN(int64_t w, next_number("width"));
  PF_ASSIGN_OR_RETURN(int64_t h, next_number("height"));
  PF_ASSIGN_OR_RETURN(int64_t maxval, next_number("maxval"));
  PF_RETURN_IF_ERROR(CheckSize(w, h, what, limits, "PNM"));
  if (maxval < 1 || maxval > 65535) return InvalidArgument("{}: PNM: maxval {} (1..65535)", what, maxval);
  Image img;
  img.format = ImageFormat::kPnm;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.channels = kind == '3' || kind == '6' ? 3 : 1;
  img.bit_depth = maxval > 255 ? 16 : 8;
  const uint32_t full = img.max_value();
  const size_t samples = static_cast<size_t>(w) * h * img.channels;
  img.data.resize(samples * (img.bit_depth / 8));
  auto put = [&](size_t i, uint32_t v) -> Status {
    if (v > static_cast<uint32_t>(maxval)) return InvalidArgument("{}: PNM: sample {} is {}, above maxval {}", what, i, v, maxval);
    const uint32_t s = static_cast<uint32_t>((static_cast<uint64_t>(v) * full + maxval / 2) / maxval);
    if (img.bit_depth == 8) {
      img.data[i] = static_cast<uint8_t>(s);
    } else {
      const auto s16 = static_cast<uint16_t>(s);
      std::memcpy(&img.data[2 * i], &s16, 2);
    }
    return Status::Ok();
  };
  if (ascii) {
    for (size_t i = 0; i < samples; ++i) {
      PF_ASSIGN_OR_RETURN(int64_t v, next_number("sample"));
      PF_RETURN_IF_ERROR(put(i, static_cast<uint32_t>(std::min<int64_t>(v, 1 << 30))));
    }
    return img;
  }
  if (pos >= b.size() || !std::isspace(static_cast<unsigned char>(b[pos])))
    return InvalidArgument("{}: PNM: no whitespace after maxval at byte {}", what, pos);
  ++pos;
  const size_t bytes_per = maxval > 255 ? 2 : 1;
  if (b.size() - pos < samples * bytes_per)
    return InvalidArgument("{}: PNM: truncated: {} bytes of pixel data, {} needed", what, b.size() - pos, samples * bytes_per);
  const auto* p = reinterpret_cast<const uint8_t*>(b.data()) + pos;
  for (size_t i = 0; i < samples; ++i) {
    const uint32_t v = bytes_per == 1 ? p[i] : (static_cast<uint32_t>(p[2 * i]) << 8 | p[2 * i + 1]);
    PF_RETURN_IF_ERROR(put(i, v));
  }
  return img;
}

// --- PNG writing ----------------------------------------------------------------------------------

void PngWrite(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}
void PngFlush(png_structp) {}

}  // namespace

std::string_view ImageFormatName(ImageFormat f) {
  switch (f) {
    case ImageFormat::kPng: return "png";
    case ImageFormat::kJpeg: return "jpeg";
    case ImageFormat::kBmp: return "bmp";
    case ImageFormat::kPnm: return "pnm";
  }
  return "?";
}

Result<Image> DecodeImage(std::string_view bytes, const std::string& what, const DecodeLimits& limits) {
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG\r\n\x1a\n", 8) == 0) return DecodePng(bytes, what, limits);
  if (bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF && static_cast<uint8_t>(bytes[1]) == 0xD8 &&
      static_cast<uint8_t>(bytes[2]) == 0xFF)
    return DecodeJpeg(bytes, what, limits);
  if (bytes.size() >= 2 && bytes[0] == 'B' && bytes[1] == 'M') return DecodeBmp(bytes, what, limits);
  if (bytes.size() >= 3 && bytes[0] == 'P' && (bytes[1] == '2' || bytes[1] == '3' || bytes[1] == '5' || bytes[1] == '6') &&
      std::isspace(static_cast<unsigned char>(bytes[2])))
    return DecodePnm(bytes, what, limits);
  return InvalidArgument("{}: not an image in a known format (PNG, JPEG, BMP, PGM/PPM); first bytes: {}", what,
                         FirstBytes(bytes));
}

Result<std::string> EncodePng(const Image& image) {
  if ((image.channels != 1 && image.channels != 3) || image.bit_depth != 8 || image.width <= 0 || image.height <= 0 ||
      image.data.size() != static_cast<size_t>(image.width) * image.height * image.channels)
    return InvalidArgument("PNG encoding takes 8-bit gray or RGB images with matching data, not {} x {} x {} at {} bits "
                           "with {} bytes",
                           image.width, image.height, image.channels, image.bit_depth, image.data.size());
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (!png) return Internal("PNG: cannot create a writer");
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return Internal("PNG encoding failed");
  }
  png_set_write_fn(png, &out, PngWrite, PngFlush);
  png_set_IHDR(png, info, image.width, image.height, 8, image.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 3);
  png_write_info(png, info);
  for (int y = 0; y < image.height; ++y)
    png_write_row(png, const_cast<png_bytep>(image.data.data() + static_cast<size_t>(y) * image.width * image.channels));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

}  // namespace pf::images
