// Image decoding against known pixels: tests/fixtures/images holds small images written by Debian
// python3-pil (see its SOURCE.md): 37 x 23, gray g = (7x + 3y) mod 256, RGB (g, 255 - g, xy mod 256),
// 16-bit gray 1700x + 90y; PNG and BMP must decode exactly, JPEG (quality 95) within a few levels.
// Bad input: empty, text, truncated JPEG/PNG/BMP/PNM, too many pixels, a sample above maxval.
#include "connect/images/image.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace pf::images {
namespace {

std::string Fixture(const std::string& name) {
  const char* src = std::getenv("PF_SOURCE_DIR");
  std::ifstream in(std::string(src ? src : ".") + "/tests/fixtures/images/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

int Gray(int x, int y) { return (7 * x + 3 * y) % 256; }

void ExpectPixels(const Image& img, int channels, int tolerance) {
  ASSERT_EQ(img.width, 37);
  ASSERT_EQ(img.height, 23);
  ASSERT_EQ(img.channels, channels);
  ASSERT_EQ(img.bit_depth, 8);
  int worst = 0;
  for (int y = 0; y < 23; ++y) {
    for (int x = 0; x < 37; ++x) {
      const int want[3] = {Gray(x, y), 255 - Gray(x, y), (x * y) % 256};
      for (int c = 0; c < channels; ++c) worst = std::max(worst, std::abs(static_cast<int>(img.at(x, y, c)) - want[c]));
    }
  }
  EXPECT_LE(worst, tolerance);
}

TEST(Images, PngBmpExactJpegClose) {
  for (const char* f : {"gray8.png", "gray8.bmp"}) {
    auto img = DecodeImage(Fixture(f), f);
    ASSERT_TRUE(img.ok()) << img.status().ToString();
    ExpectPixels(*img, 1, 0);
  }
  for (const char* f : {"rgb8.png", "rgb8.bmp"}) {
    auto img = DecodeImage(Fixture(f), f);
    ASSERT_TRUE(img.ok()) << img.status().ToString();
    ExpectPixels(*img, 3, 0);
  }
  auto g = DecodeImage(Fixture("gray8.jpg"), "gray8.jpg");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->format, ImageFormat::kJpeg);
  ExpectPixels(*g, 1, 40);  // sharp wraps of the sawtooth ring; most pixels are within 2
  auto c = DecodeImage(Fixture("rgb8.jpg"), "rgb8.jpg");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->channels, 3);
  EXPECT_NEAR(static_cast<int>(c->at(10, 10, 0)), Gray(10, 10), 12);
}

TEST(Images, SixteenBitPngAndPgm) {
  auto png = DecodeImage(Fixture("gray16.png"), "gray16.png");
  ASSERT_TRUE(png.ok()) << png.status().ToString();
  EXPECT_EQ(png->bit_depth, 16);
  EXPECT_EQ(png->channels, 1);
  for (int y = 0; y < 23; y += 5)
    for (int x = 0; x < 37; x += 3) ASSERT_EQ(png->at(x, y), static_cast<uint32_t>(1700 * x + 90 * y)) << x << "," << y;
  // P5 with maxval 65535: big-endian samples.
  std::string pgm = "P5\n# a comment\n3 2\n65535\n";
  for (int v : {0, 1, 256, 4095, 65535, 300}) {
    pgm.push_back(static_cast<char>(v >> 8));
    pgm.push_back(static_cast<char>(v & 0xff));
  }
  auto p = DecodeImage(pgm, "a.pgm");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->bit_depth, 16);
  EXPECT_EQ(p->at(2, 0), 256u);
  EXPECT_EQ(p->at(1, 1), 65535u);
  // ASCII P2 with maxval 15 scales to the full 8-bit range.
  auto a = DecodeImage("P2 2 1 15\n0 15\n", "a.pgm");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->bit_depth, 8);
  EXPECT_EQ(a->at(1, 0), 255u);
}

TEST(Images, PngEncodeRoundTrip) {
  Image img;
  img.width = 5;
  img.height = 3;
  img.channels = 3;
  for (int k = 0; k < 45; ++k) img.data.push_back(static_cast<uint8_t>(k * 5));
  auto png = EncodePng(img);
  ASSERT_TRUE(png.ok());
  auto back = DecodeImage(*png, "round trip");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->data, img.data);
  img.data.pop_back();
  EXPECT_FALSE(EncodePng(img).ok());
}

void ExpectRejected(const std::string& bytes, const std::string& fragment, const DecodeLimits& limits = {}) {
  auto r = DecodeImage(bytes, "part-17.img", limits);
  ASSERT_FALSE(r.ok()) << fragment;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("part-17.img"), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().ToString();
}

TEST(Images, BadInputIsRejectedWithWhereAndWhat) {
  ExpectRejected("", "the file is empty");
  ExpectRejected("timestamp,value\n1,2\n", "not an image");
  const std::string jpg = Fixture("rgb8.jpg");
  ExpectRejected(jpg.substr(0, jpg.size() / 2), "JPEG");
  ExpectRejected(jpg.substr(0, 40), "JPEG");
  const std::string png = Fixture("rgb8.png");
  ExpectRejected(png.substr(0, png.size() - 30), "PNG");
  std::string crc = png;
  crc[40] ^= 0x55;
  ExpectRejected(crc, "PNG");
  const std::string bmp = Fixture("rgb8.bmp");
  ExpectRejected(bmp.substr(0, 30), "truncated header");
  ExpectRejected(bmp.substr(0, bmp.size() - 10), "truncated pixel data");
  ExpectRejected("P5 4 4 255\n\x01\x02", "truncated");
  ExpectRejected("P2 2 1 15\n0 16\n", "above maxval");
  ExpectRejected("P5 -4 4 255\n", "width expected");
  DecodeLimits small;
  small.max_pixels = 800;
  ExpectRejected(png, "851 pixels, the limit is 800", small);
  ExpectRejected(jpg, "851 pixels, the limit is 800", small);
  ExpectRejected(bmp, "851 pixels, the limit is 800", small);
}

}  // namespace
}  // namespace pf::images
