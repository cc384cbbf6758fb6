#include "connect/mqtt/waveform_block.h"

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace pf::wave {

namespace {

static_assert(std::endian::native == std::endian::little, "PFWB decoding assumes a little-endian host");

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kCrcTable = MakeCrcTable();

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
void Store(std::vector<uint8_t>& out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}

size_t SampleSize(SampleFormat f) {
  switch (f) {
    case SampleFormat::kFloat32: return 4;
    case SampleFormat::kInt16: return 2;
    case SampleFormat::kInt32: return 4;
  }
  return 0;
}

}  // namespace

uint32_t Crc32(std::span<const uint8_t> bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t b : bytes) c = kCrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

Status Decode(std::span<const uint8_t> m, WaveformBlock& out) {
  if (m.size() < kHeaderSize + kTrailerSize)
    return InvalidArgument("waveform block: {} bytes, shorter than the {}-byte header and {}-byte CRC", m.size(),
                           kHeaderSize, kTrailerSize);
  const uint8_t* p = m.data();
  if (std::memcmp(p, "PFWB", 4) != 0)
    return InvalidArgument("waveform block: byte 0: magic is not \"PFWB\" (got {:02x} {:02x} {:02x} {:02x})", p[0],
                           p[1], p[2], p[3]);
  if (p[4] != 1) return InvalidArgument("waveform block: byte 4: version {} is not supported (only 1)", p[4]);
  uint8_t fmt_byte = p[5];
  if (fmt_byte < 1 || fmt_byte > 3)
    return InvalidArgument("waveform block: byte 5: sample format {} unknown (1 float32, 2 int16, 3 int32)", fmt_byte);
  auto format = static_cast<SampleFormat>(fmt_byte);
  uint16_t channels = Load<uint16_t>(p + 6);
  if (channels < 1 || channels > kMaxChannels)
    return InvalidArgument("waveform block: byte 6: {} channels, expected 1..{}", channels, kMaxChannels);
  uint32_t n = Load<uint32_t>(p + 8);
  if (n < 1 || n > kMaxSamplesPerChannel)
    return InvalidArgument("waveform block: byte 8: {} samples per channel, expected 1..{}", n, kMaxSamplesPerChannel);
  double rate = Load<double>(p + 12);
  if (!std::isfinite(rate) || rate <= 0 || rate > 1e7)
    return InvalidArgument("waveform block: byte 12: sample rate {} Hz, expected a finite value in (0, 1e7]", rate);
  int64_t start = Load<int64_t>(p + 20);
  if (start <= 0) return InvalidArgument("waveform block: byte 20: start time {} ns is not after 1970", start);
  uint64_t seq = Load<uint64_t>(p + 28);
  float scale = Load<float>(p + 36);
  if (!std::isfinite(scale) || scale == 0)
    return InvalidArgument("waveform block: byte 36: scale {} must be finite and non-zero", scale);
  const size_t payload = static_cast<size_t>(channels) * n * SampleSize(format);
  const size_t expected = kHeaderSize + payload + kTrailerSize;
  if (m.size() != expected)
    return InvalidArgument(
        "waveform block: {} bytes, but the header ({} channels x {} samples of {} bytes) needs exactly {}", m.size(),
        channels, n, SampleSize(format), expected);
  uint32_t stored_crc = Load<uint32_t>(p + kHeaderSize + payload);
  uint32_t crc = Crc32(m.first(kHeaderSize + payload));
  if (crc != stored_crc)
    return DataLoss("waveform block: byte {}: CRC-32 {:08x} does not match the content ({:08x})",
                    kHeaderSize + payload, stored_crc, crc);

  out.format = format;
  out.channels = channels;
  out.samples_per_channel = n;
  out.sample_rate_hz = rate;
  out.start_time = Timestamp::FromNs(start);
  out.seq = seq;
  out.scale = scale;
  out.data.resize(channels);
  for (auto& ch : out.data) ch.resize(n);
  const uint8_t* d = p + kHeaderSize;
  for (uint32_t i = 0; i < n; ++i) {
    for (uint16_t c = 0; c < channels; ++c) {
      float v = 0;
      switch (format) {
        case SampleFormat::kFloat32: v = Load<float>(d) * scale; d += 4; break;
        case SampleFormat::kInt16: v = static_cast<float>(Load<int16_t>(d)) * scale; d += 2; break;
        case SampleFormat::kInt32: v = static_cast<float>(static_cast<double>(Load<int32_t>(d)) * scale); d += 4; break;
      }
      out.data[c][i] = v;
    }
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> Encode(const WaveformBlock& b) {
  if (b.channels < 1 || b.channels > kMaxChannels || b.data.size() != b.channels)
    return InvalidArgument("waveform block: {} channels with {} data vectors", b.channels, b.data.size());
  const size_t n = b.data[0].size();
  if (n < 1 || n > kMaxSamplesPerChannel) return InvalidArgument("waveform block: {} samples per channel", n);
  for (size_t c = 0; c < b.data.size(); ++c)
    if (b.data[c].size() != n)
      return InvalidArgument("waveform block: channel {} has {} samples, channel 0 has {}", c, b.data[c].size(), n);
  if (!std::isfinite(b.sample_rate_hz) || b.sample_rate_hz <= 0 || b.sample_rate_hz > 1e7)
    return InvalidArgument("waveform block: sample rate {} Hz", b.sample_rate_hz);
  if (b.start_time.ns <= 0) return InvalidArgument("waveform block: start time {} ns", b.start_time.ns);
  if (!std::isfinite(b.scale) || b.scale == 0) return InvalidArgument("waveform block: scale {}", b.scale);
  std::vector<uint8_t> out;
  out.reserve(kHeaderSize + b.channels * n * SampleSize(b.format) + kTrailerSize);
  out.insert(out.end(), {'P', 'F', 'W', 'B', 1, static_cast<uint8_t>(b.format)});
  Store<uint16_t>(out, b.channels);
  Store<uint32_t>(out, static_cast<uint32_t>(n));
  Store<double>(out, b.sample_rate_hz);
  Store<int64_t>(out, b.start_time.ns);
  Store<uint64_t>(out, b.seq);
  Store<float>(out, b.format == SampleFormat::kFloat32 ? 1.0f : b.scale);
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < b.channels; ++c) {
      float v = b.data[c][i];
      if (b.format == SampleFormat::kFloat32) {
        Store<float>(out, v);
        continue;
      }
      double raw = std::round(static_cast<double>(v) / b.scale);
      double lo = b.format == SampleFormat::kInt16 ? std::numeric_limits<int16_t>::min()
                                                   : std::numeric_limits<int32_t>::min();
      double hi = b.format == SampleFormat::kInt16 ? std::numeric_limits<int16_t>::max()
                                                   : std::numeric_limits<int32_t>::max();
      if (!std::isfinite(raw) || raw < lo || raw > hi)
        return OutOfRange("waveform block: channel {} sample {}: {} / scale {} does not fit the integer format", c, i,
                          v, b.scale);
      if (b.format == SampleFormat::kInt16) Store<int16_t>(out, static_cast<int16_t>(raw));
      else Store<int32_t>(out, static_cast<int32_t>(raw));
    }
  }
  Store<uint32_t>(out, Crc32(out));
  return out;
}

}  // namespace pf::wave
