// Modbus addresses (config, CLI) and register contents (from the PLC) are outside input.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "connect/modbus/modbus_address.h"
#include "connect/modbus/modbus_codec.h"

using namespace pf::modbus;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto a = ParseAddress(text);
  if (a.ok()) (void)FormatAddress(*a);
  if (size < 3) return 0;
  // Decode arbitrary registers as every type and order; encode round trip must be exact.
  auto type = static_cast<DataType>(data[0] % 10);
  auto order = static_cast<ByteOrder>(data[1] % 4);
  std::vector<uint16_t> regs((size - 2) / 2);
  std::memcpy(regs.data(), data + 2, regs.size() * 2);
  int want = RegisterCount(type, static_cast<int>(regs.size()));
  if (static_cast<int>(regs.size()) < want || want <= 0) return 0;
  std::span<const uint16_t> span(regs.data(), static_cast<size_t>(want));
  std::optional<int> bit;
  if (type == DataType::kBool) bit = data[1] % 16;
  auto v = Decode(span, type, order, bit);
  if (!v.ok() || type == DataType::kString || type == DataType::kBool) return 0;
  auto back = Encode(*v, type, order, 0, bit);
  if (!back.ok()) __builtin_trap();
  // NaN payloads may canonicalise; compare only non-float types exactly.
  if (type != DataType::kFloat32 && type != DataType::kFloat64 &&
      !std::equal(back->begin(), back->end(), span.begin()))
    __builtin_trap();
  return 0;
}
