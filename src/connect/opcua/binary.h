#pragma once
// UA Binary primitives (OPC 10000-6 §5.2): little-endian scalars, length-prefixed strings and
// arrays. Encoder appends to a byte string; Decoder reads from a view it does not own.
//
// Decoder contract: every read checks the bytes left first, so a truncated or malformed input
// yields a Status "offset N: <path>: <what>" (N = byte offset where the bad item starts) and never
// reads out of bounds. Array and string lengths are capped by the bytes left (every UA element takes
// at least one byte) and by kMaxArrayLength / kMaxStringLength, so a decode never allocates more
// than a fixed multiple of its input: the worst case is an array of 1-byte DataValues, about 250
// bytes of memory per input byte (sizeof Scalar 104 + a DataValue 112 + its control block), so the
// transport's MaxMessageSize bounds the memory. Nesting (Variant in DataValue in Variant,
// DiagnosticInfo) is capped at kMaxDepth. Not thread-safe; one Decoder per message.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace pf::opcua {

constexpr int32_t kMaxArrayLength = 1 << 20;
constexpr int32_t kMaxStringLength = 16 << 20;
constexpr int kMaxDepth = 64;

class Encoder {
 public:
  void Boolean(bool v) { Byte(v ? 1 : 0); }
  void Byte(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void SByte(int8_t v) { Byte(static_cast<uint8_t>(v)); }
  void UInt16(uint16_t v) { Le(v, 2); }
  void Int16(int16_t v) { Le(static_cast<uint16_t>(v), 2); }
  void UInt32(uint32_t v) { Le(v, 4); }
  void Int32(int32_t v) { Le(static_cast<uint32_t>(v), 4); }
  void UInt64(uint64_t v) { Le(v, 8); }
  void Int64(int64_t v) { Le(static_cast<uint64_t>(v), 8); }
  void Float(float v);
  void Double(double v);
  // An empty string is written as the null string (length -1), as most stacks do.
  void String(std::string_view v);
  void ByteString(std::string_view v) { String(v); }
  void Raw(std::string_view bytes) { out_.append(bytes); }
  // Writes v at an earlier position (a length or size filled in after the body).
  void PatchUInt32(size_t pos, uint32_t v);
  // Array length prefix; -1 for a null array.
  void ArrayLength(int32_t n) { Int32(n); }

  size_t size() const { return out_.size(); }
  const std::string& bytes() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view data, size_t base_offset = 0) : data_(data), base_(base_offset) {}
  // The bytes must outlive the Decoder: a temporary string would dangle.
  explicit Decoder(std::string&& data, size_t base_offset = 0) = delete;

  Status Boolean(bool* v);
  Status Byte(uint8_t* v);
  Status SByte(int8_t* v);
  Status UInt16(uint16_t* v);
  Status Int16(int16_t* v);
  Status UInt32(uint32_t* v);
  Status Int32(int32_t* v);
  Status UInt64(uint64_t* v);
  Status Int64(int64_t* v);
  Status Float(float* v);
  Status Double(double* v);
  // Null (-1) and empty both decode to "".
  Status String(std::string* v);
  Status ByteString(std::string* v) { return String(v); }
  Status Raw(size_t n, std::string_view* v);
  // Reads an Int32 array length; -1 (null) gives 0. Fails beyond kMaxArrayLength or bytes left.
  Status ArrayLength(int32_t* n);

  size_t offset() const { return base_ + pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool AtEnd() const { return pos_ == data_.size(); }
  std::string_view Rest() const { return data_.substr(pos_); }
  void Skip(size_t n) { pos_ += n <= remaining() ? n : remaining(); }

  // "offset N: <path>: what" at the current offset (or at `at`).
  Status Fail(std::string_view what) const { return FailAt(offset(), what); }
  Status FailAt(size_t at, std::string_view what) const;

  // Field path for error messages: Scope guard pushes "Results[3]" style segments.
  class Scope {
   public:
    Scope(Decoder& d, std::string_view name, int32_t index = -1) : d_(d) { d_.path_.push_back({name, index}); }
    ~Scope() { d_.path_.pop_back(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
   private:
    Decoder& d_;
  };
  // Recursion guard for nested Variant/DataValue/DiagnosticInfo.
  Status EnterNested();
  void LeaveNested() { --depth_; }

 private:
  Status Need(size_t n, const char* type);
  struct Segment {
    std::string_view name;
    int32_t index;
  };
  std::string_view data_;
  size_t pos_ = 0;
  size_t base_ = 0;
  int depth_ = 0;
  std::vector<Segment> path_;
};

// Decodes an array of T with f(decoder, T*) per element.
template <typename T, typename F>
Status DecodeArray(Decoder& d, std::string_view name, std::vector<T>* out, F&& f) {
  Decoder::Scope scope(d, name);
  int32_t n = 0;
  PF_RETURN_IF_ERROR(d.ArrayLength(&n));
  out->clear();
  out->resize(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    Decoder::Scope item(d, "", i);
    PF_RETURN_IF_ERROR(f(d, &(*out)[static_cast<size_t>(i)]));
  }
  return Status::Ok();
}

template <typename T, typename F>
void EncodeArray(Encoder& e, const std::vector<T>& v, F&& f) {
  e.ArrayLength(static_cast<int32_t>(v.size()));
  for (const T& x : v) f(e, x);
}

}  // namespace pf::opcua
