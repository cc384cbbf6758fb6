#include "connect/opcua/binary.h"

#include <cstring>

namespace pf::opcua {

void Encoder::Float(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  UInt32(bits);
}

void Encoder::Double(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  UInt64(bits);
}

void Encoder::String(std::string_view v) {
  if (v.empty()) {
    Int32(-1);
    return;
  }
  Int32(static_cast<int32_t>(v.size()));
  out_.append(v);
}

void Encoder::PatchUInt32(size_t pos, uint32_t v) {
  for (int i = 0; i < 4; ++i) out_[pos + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

Status Decoder::FailAt(size_t at, std::string_view what) const {
  std::string path;
  for (const Segment& s : path_) {
    if (s.index >= 0) {
      path += fmt::format("[{}]", s.index);
    } else {
      if (!path.empty()) path += '.';
      path += s.name;
    }
  }
  if (path.empty()) return InvalidArgument("offset {}: {}", at, what);
  return InvalidArgument("offset {}: {}: {}", at, path, what);
}

Status Decoder::Need(size_t n, const char* type) {
  if (remaining() >= n) return Status::Ok();
  return Fail(fmt::format("truncated {} (need {} bytes, {} left)", type, n, remaining()));
}

namespace {
template <typename T>
T LoadLe(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return static_cast<T>(v);
}
}  // namespace

#define PF_UA_READ(Name, T, N)                        \
  Status Decoder::Name(T* v) {                        \
    PF_RETURN_IF_ERROR(Need(N, #Name));               \
    *v = LoadLe<T>(data_.data() + pos_, N);           \
    pos_ += N;                                        \
    return Status::Ok();                              \
  }
PF_UA_READ(Byte, uint8_t, 1)
PF_UA_READ(SByte, int8_t, 1)
PF_UA_READ(UInt16, uint16_t, 2)
PF_UA_READ(Int16, int16_t, 2)
PF_UA_READ(UInt32, uint32_t, 4)
PF_UA_READ(Int32, int32_t, 4)
PF_UA_READ(UInt64, uint64_t, 8)
PF_UA_READ(Int64, int64_t, 8)
#undef PF_UA_READ

Status Decoder::Boolean(bool* v) {
  uint8_t b = 0;
  PF_RETURN_IF_ERROR(Byte(&b));
  *v = b != 0;  // Part 6: any non-zero value is true
  return Status::Ok();
}

Status Decoder::Float(float* v) {
  uint32_t bits = 0;
  PF_RETURN_IF_ERROR(UInt32(&bits));
  std::memcpy(v, &bits, 4);
  return Status::Ok();
}

Status Decoder::Double(double* v) {
  uint64_t bits = 0;
  PF_RETURN_IF_ERROR(UInt64(&bits));
  std::memcpy(v, &bits, 8);
  return Status::Ok();
}

Status Decoder::String(std::string* v) {
  size_t at = offset();
  int32_t n = 0;
  PF_RETURN_IF_ERROR(Int32(&n));
  if (n == -1 || n == 0) {
    v->clear();
    return Status::Ok();
  }
  if (n < -1) return FailAt(at, fmt::format("negative string length {}", n));
  if (n > kMaxStringLength) return FailAt(at, fmt::format("string length {} exceeds limit {}", n, kMaxStringLength));
  if (static_cast<size_t>(n) > remaining()) {
    return FailAt(at, fmt::format("string length {} exceeds the {} bytes left", n, remaining()));
  }
  v->assign(data_.data() + pos_, static_cast<size_t>(n));
  pos_ += static_cast<size_t>(n);
  return Status::Ok();
}

Status Decoder::Raw(size_t n, std::string_view* v) {
  PF_RETURN_IF_ERROR(Need(n, "bytes"));
  *v = data_.substr(pos_, n);
  pos_ += n;
  return Status::Ok();
}

Status Decoder::ArrayLength(int32_t* n) {
  size_t at = offset();
  PF_RETURN_IF_ERROR(Int32(n));
  if (*n == -1) {
    *n = 0;
    return Status::Ok();
  }
  if (*n < -1) return FailAt(at, fmt::format("negative array length {}", *n));
  if (*n > kMaxArrayLength) return FailAt(at, fmt::format("array length {} exceeds limit {}", *n, kMaxArrayLength));
  if (static_cast<size_t>(*n) > remaining()) {
    return FailAt(at, fmt::format("array length {} exceeds the {} bytes left", *n, remaining()));
  }
  return Status::Ok();
}

Status Decoder::EnterNested() {
  if (depth_ >= kMaxDepth) return Fail(fmt::format("nesting deeper than {}", kMaxDepth));
  ++depth_;
  return Status::Ok();
}

}  // namespace pf::opcua
