#include "connect/mqtt/waveform_block.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace pf::wave {
namespace {

WaveformBlock TwoChannels(SampleFormat f, float scale) {
  WaveformBlock b;
  b.format = f;
  b.channels = 2;
  b.sample_rate_hz = 25600;
  b.start_time = Timestamp::FromMs(1764072000000);  // 2025-11-25T12:00:00Z
  b.seq = 41;
  b.scale = scale;
  b.data.assign(2, std::vector<float>(256));
  for (int i = 0; i < 256; ++i) {
    b.data[0][i] = 0.5f * std::sin(2 * M_PI * 100 * i / 25600.0);
    b.data[1][i] = -1.0f + i * 0.01f;
  }
  return b;
}

TEST(WaveformBlock, Crc32MatchesTheStandardCheckValue) {
  const std::string s = "123456789";  // the CRC-32/ISO-HDLC check value is 0xCBF43926
  EXPECT_EQ(Crc32({reinterpret_cast<const uint8_t*>(s.data()), s.size()}), 0xCBF43926u);
}

TEST(WaveformBlock, Float32RoundTripIsExact) {
  WaveformBlock in = TwoChannels(SampleFormat::kFloat32, 1);
  auto bytes = Encode(in);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  EXPECT_EQ(bytes->size(), kHeaderSize + 2 * 256 * 4 + kTrailerSize);
  // Interleaved: the first two samples after the header are ch0[0], ch1[0].
  float ch1_0;
  std::memcpy(&ch1_0, bytes->data() + kHeaderSize + 4, 4);
  EXPECT_EQ(ch1_0, -1.0f);
  WaveformBlock out;
  ASSERT_TRUE(Decode(*bytes, out).ok());
  EXPECT_EQ(out.channels, 2);
  EXPECT_EQ(out.samples_per_channel, 256u);
  EXPECT_EQ(out.sample_rate_hz, 25600);
  EXPECT_EQ(out.start_time, in.start_time);
  EXPECT_EQ(out.seq, 41u);
  EXPECT_EQ(out.data, in.data);
}

TEST(WaveformBlock, Int16IsScaled) {
  WaveformBlock in = TwoChannels(SampleFormat::kInt16, 1.0f / 16384);
  auto bytes = Encode(in);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  EXPECT_EQ(bytes->size(), kHeaderSize + 2 * 256 * 2 + kTrailerSize);
  int16_t raw;
  std::memcpy(&raw, bytes->data() + kHeaderSize + 2, 2);
  EXPECT_EQ(raw, -16384);  // ch1[0] = -1.0 at scale 1/16384
  WaveformBlock out;
  ASSERT_TRUE(Decode(*bytes, out).ok());
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 256; ++i) EXPECT_NEAR(out.data[c][i], in.data[c][i], 0.5 / 16384 + 1e-7);
  // Out of range for int16.
  in.data[0][3] = 3.0f;
  EXPECT_EQ(Encode(in).status().code(), StatusCode::kOutOfRange);
}

TEST(WaveformBlock, DecodeReusesCapacity) {
  auto bytes = Encode(TwoChannels(SampleFormat::kFloat32, 1));
  WaveformBlock out;
  ASSERT_TRUE(Decode(*bytes, out).ok());
  const float* p0 = out.data[0].data();
  ASSERT_TRUE(Decode(*bytes, out).ok());
  EXPECT_EQ(out.data[0].data(), p0);
}

// Each refusal names the byte offset of the field that is wrong.
TEST(WaveformBlock, PreciseRefusals) {
  auto good = *Encode(TwoChannels(SampleFormat::kFloat32, 1));
  auto fix_crc = [](std::vector<uint8_t>& b) {
    uint32_t c = Crc32(std::span<const uint8_t>(b).first(b.size() - 4));
    std::memcpy(b.data() + b.size() - 4, &c, 4);
  };
  WaveformBlock out;
  auto expect = [&](std::vector<uint8_t> b, bool recrc, const std::string& needle) {
    if (recrc) fix_crc(b);
    Status s = Decode(b, out);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
  };
  expect(std::vector<uint8_t>(good.begin(), good.begin() + 10), false, "shorter than the 40-byte header");
  auto b = good; b[0] = 'X'; expect(b, true, "byte 0: magic");
  b = good; b[4] = 2; expect(b, true, "byte 4: version 2");
  b = good; b[5] = 9; expect(b, true, "byte 5: sample format 9");
  b = good; b[6] = 0; b[7] = 0; expect(b, true, "byte 6: 0 channels");
  b = good; uint32_t n = 5; std::memcpy(b.data() + 8, &n, 4); expect(b, true, "needs exactly");
  b = good; double r = -1; std::memcpy(b.data() + 12, &r, 8); expect(b, true, "byte 12: sample rate -1");
  b = good; r = NAN; std::memcpy(b.data() + 12, &r, 8); expect(b, true, "byte 12: sample rate");
  b = good; int64_t t = 0; std::memcpy(b.data() + 20, &t, 8); expect(b, true, "byte 20: start time");
  b = good; float sc = 0; std::memcpy(b.data() + 36, &sc, 4); expect(b, true, "byte 36: scale 0");
  b = good; b[100] ^= 0x40; expect(b, false, "CRC-32");
  b = good; b.push_back(0); expect(b, false, "needs exactly");
  EXPECT_EQ(Decode(b, out).code(), StatusCode::kInvalidArgument);
  b = good; b[100] ^= 0x40;
  EXPECT_EQ(Decode(b, out).code(), StatusCode::kDataLoss);
}

// fuzz/corpus/fuzz_waveform_block/*.bin were written by Python's struct and zlib.crc32 (an encoder
// independent of this one): the decoder must accept them and read the values Python packed.
TEST(WaveformBlock, DecodesBlocksWrittenByAnIndependentEncoder) {
  const char* src = std::getenv("PF_SOURCE_DIR");
  std::string dir = std::string(src ? src : PF_SOURCE_DIR_DEFAULT) + "/fuzz/corpus/fuzz_waveform_block/";
  auto read = [&](const std::string& name) {
    std::ifstream f(dir + name, std::ios::binary);
    EXPECT_TRUE(f.good()) << dir + name;
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
  };
  WaveformBlock b;
  auto i16 = read("int16_1ch.bin");  // 16 samples (i*100-800) x 0.001 at 12 kHz, seq 1
  ASSERT_TRUE(Decode(i16, b).ok()) << Decode(i16, b).message();
  EXPECT_EQ(b.format, SampleFormat::kInt16);
  EXPECT_EQ(b.sample_rate_hz, 12000);
  EXPECT_EQ(b.seq, 1u);
  EXPECT_EQ(b.start_time.ns, 1764072000000000000);
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(b.data[0][i], (i * 100 - 800) * 0.001, 1e-6);
  auto i32 = read("int32_3ch.bin");  // 3 channels x 4, values i*1000 interleaved, scale 0.5
  ASSERT_TRUE(Decode(i32, b).ok());
  EXPECT_EQ(b.channels, 3);
  for (int f = 0; f < 4; ++f)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(b.data[c][f], (f * 3 + c) * 1000 * 0.5f);
  auto fl = read("float_2ch.bin");  // sin(k), k = frame*2 + channel
  ASSERT_TRUE(Decode(fl, b).ok());
  EXPECT_EQ(b.seq, 7u);
  for (int f = 0; f < 8; ++f)
    for (int c = 0; c < 2; ++c) EXPECT_FLOAT_EQ(b.data[c][f], static_cast<float>(std::sin(f * 2 + c)));
}

}  // namespace
}  // namespace pf::wave
