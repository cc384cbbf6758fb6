#pragma once
// The binary waveform block that vibration and current sensors (or their gateways) publish over MQTT:
// "PFWB" version 1, every field little-endian, documented in docs/schema.md.
//
//   offset size  field
//   0      4     magic "PFWB"
//   4      1     version (1)
//   5      1     sample format: 1 = float32, 2 = int16, 3 = int32 (integers: value = raw x scale)
//   6      2     channels (1..64), samples interleaved frame by frame (ch0 ch1 .. ch0 ch1 ..)
//   8      4     samples per channel (1..1048576)
//   12     8     sample rate in Hz (float64, finite, > 0, <= 10 MHz)
//   20     8     time of the first sample: ns since 1970-01-01T00:00:00Z (int64, > 0)
//   28     8     sequence number (uint64), +1 per block from one sender; a skip is a gap
//   36     4     scale (float32, finite, != 0; 1 for float32 data)
//   40     n     samples: channels x samples per channel x the sample size
//   40+n   4     CRC-32 (IEEE 802.3, as zlib's crc32) of bytes 0 .. 40+n-1
//
// Decoding never trusts a length it has not checked against the message size; every refusal says
// which field at which byte offset is wrong. NaN/inf float samples are kept: they are a sensor fault
// for the sensor-health checks to report, not a transport error.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace pf::wave {

inline constexpr size_t kHeaderSize = 40;
inline constexpr size_t kTrailerSize = 4;
inline constexpr uint32_t kMaxChannels = 64;
inline constexpr uint32_t kMaxSamplesPerChannel = 1u << 20;

enum class SampleFormat : uint8_t { kFloat32 = 1, kInt16 = 2, kInt32 = 3 };

struct WaveformBlock {
  SampleFormat format = SampleFormat::kFloat32;
  uint16_t channels = 1;
  uint32_t samples_per_channel = 0;
  double sample_rate_hz = 0;
  Timestamp start_time;
  uint64_t seq = 0;
  float scale = 1;
  // Decoded values (raw x scale), one vector per channel.
  std::vector<std::vector<float>> data;
};

// CRC-32 (reflected polynomial 0xEDB88320, initial and final xor 0xFFFFFFFF).
uint32_t Crc32(std::span<const uint8_t> bytes);

// Decodes one message. `out` keeps its vectors' capacity between calls (no allocation per block once
// the sizes are stable).
Status Decode(std::span<const uint8_t> message, WaveformBlock& out);

// Encodes `block` (data: `channels` vectors of equal length; integers are rounded from value / scale and
// refused when out of range). For senders, tests and the benchmark.
Result<std::vector<uint8_t>> Encode(const WaveformBlock& block);

}  // namespace pf::wave
