#include "engine/npy.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <map>
#include <optional>
#include <sstream>

#include "core/file.h"

namespace pf::engine {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr const char* kAccepted = "'<f4', '<f8', '<i8', '<i4', '|u1', '|i1', '|b1'";

struct NpyType {
  DType dtype;
  size_t bytes;
  bool f64 = false;
};

std::optional<NpyType> TypeFromDescr(const std::string& d) {
  if (d == "<f4") return NpyType{DType::kFloat, 4};
  if (d == "<f8") return NpyType{DType::kFloat, 8, true};
  if (d == "<i8") return NpyType{DType::kInt64, 8};
  if (d == "<i4") return NpyType{DType::kInt32, 4};
  if (d == "|u1" || d == "<u1") return NpyType{DType::kUint8, 1};
  if (d == "|i1" || d == "<i1") return NpyType{DType::kInt8, 1};
  if (d == "|b1" || d == "<b1") return NpyType{DType::kBool, 1};
  return std::nullopt;
}

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// `base` is the byte offset of the header text in the file, so errors point into the file.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, size_t base, const std::string& what) : s_(text), base_(base), what_(what) {}

  Status Parse() {
    Skip();
    PF_RETURN_IF_ERROR(Expect('{'));
    for (;;) {
      Skip();
      if (Peek() == '}') break;
      const size_t key_at = pos_;
      PF_ASSIGN_OR_RETURN(std::string key, String());
      Skip();
      PF_RETURN_IF_ERROR(Expect(':'));
      Skip();
      value_at_[key] = pos_;
      if (key == "descr") {
        PF_ASSIGN_OR_RETURN(descr, String());
      } else if (key == "fortran_order") {
        PF_ASSIGN_OR_RETURN(fortran_order, Bool());
      } else if (key == "shape") {
        PF_ASSIGN_OR_RETURN(shape, Tuple());
      } else {
        return Err(key_at, fmt::format("header key '{}' is not one of 'descr', 'fortran_order', 'shape'", key));
      }
      seen_.push_back(key);
      Skip();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      Skip();
      if (Peek() != '}') return Err(pos_, "expected ',' or '}' in the header dict");
    }
    for (const char* k : {"descr", "fortran_order", "shape"}) {
      if (std::find(seen_.begin(), seen_.end(), k) == seen_.end()) {
        return Err(0, fmt::format("header has no '{}' key", k));
      }
    }
    return Status::Ok();
  }

  size_t At(const std::string& key) const { return base_ + value_at_.at(key); }

  std::string descr;
  bool fortran_order = false;
  Shape shape;

 private:
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void Skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  Status Err(size_t at, const std::string& msg) const {
    return InvalidArgument("{}: byte {}: {}", what_, base_ + at, msg);
  }
  Status Expect(char c) {
    if (Peek() != c) return Err(pos_, fmt::format("expected '{}' in the header", c));
    ++pos_;
    return Status::Ok();
  }
  Result<std::string> String() {
    const char q = Peek();
    if (q != '\'' && q != '"') return Err(pos_, "expected a quoted string in the header");
    const size_t start = ++pos_;
    while (pos_ < s_.size() && s_[pos_] != q) ++pos_;
    if (pos_ >= s_.size()) return Err(start - 1, "unterminated string in the header");
    return std::string(s_.substr(start, pos_++ - start));
  }
  Result<bool> Bool() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    return Err(pos_, "expected True or False for 'fortran_order'");
  }
  Result<Shape> Tuple() {
    PF_RETURN_IF_ERROR(Expect('('));
    Shape out;
    for (;;) {
      Skip();
      if (Peek() == ')') break;
      const size_t at = pos_;
      int64_t v = 0;
      int digits = 0;
      while (std::isdigit(static_cast<unsigned char>(Peek()))) {
        if (v > (int64_t{1} << 40)) return Err(at, "shape dimension is too large");
        v = v * 10 + (s_[pos_++] - '0');
        ++digits;
      }
      if (digits == 0) return Err(at, "expected a non-negative integer in 'shape'");
      out.push_back(v);
      Skip();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() != ')') return Err(pos_, "expected ',' or ')' in 'shape'");
    }
    ++pos_;
    return out;
  }

  std::string_view s_;
  size_t base_;
  const std::string& what_;
  size_t pos_ = 0;
  std::map<std::string, size_t> value_at_;
  std::vector<std::string> seen_;
};

}  // namespace

std::string_view NpyDescr(DType t) {
  switch (t) {
    case DType::kFloat: return "<f4";
    case DType::kInt64: return "<i8";
    case DType::kInt32: return "<i4";
    case DType::kUint8: return "|u1";
    case DType::kInt8: return "|i1";
    case DType::kBool: return "|b1";
  }
  return "?";
}

Result<Tensor> ReadNpy(std::string_view bytes, const std::string& what) {
  if (bytes.size() < kMagicLen + 2 || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0) {
    return InvalidArgument("{}: byte 0: not a .npy file (no \\x93NUMPY magic)", what);
  }
  const int major = static_cast<uint8_t>(bytes[6]);
  if (major < 1 || major > 3) {
    return InvalidArgument("{}: byte 6: .npy format version {}.{} is not supported (1.0, 2.0, 3.0)", what, major,
                           static_cast<uint8_t>(bytes[7]));
  }
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t header_at = 8 + len_bytes;
  if (bytes.size() < header_at) return InvalidArgument("{}: byte 8: file ends inside the header length", what);
  size_t header_len = 0;
  for (size_t k = 0; k < len_bytes; ++k) header_len |= size_t{static_cast<uint8_t>(bytes[8 + k])} << (8 * k);
  if (bytes.size() - header_at < header_len) {
    return InvalidArgument("{}: byte 8: header length {} runs past the end of the file ({} bytes)", what, header_len,
                           bytes.size());
  }
  HeaderParser h(bytes.substr(header_at, header_len), header_at, what);
  PF_RETURN_IF_ERROR(h.Parse());
  std::optional<NpyType> type = TypeFromDescr(h.descr);
  if (!type) {
    return InvalidArgument("{}: byte {}: header dtype '{}' is not supported, expected one of {}", what, h.At("descr"),
                           h.descr, kAccepted);
  }
  if (h.fortran_order) {
    return InvalidArgument("{}: byte {}: fortran_order True is not supported (write the array in C order)", what,
                           h.At("fortran_order"));
  }
  const int64_t n = CheckedNumElements(h.shape);
  if (n < 0) {
    return InvalidArgument("{}: byte {}: shape {} has more than {} elements", what, h.At("shape"),
                           ShapeToString(h.shape), kMaxElements);
  }
  const size_t data_at = header_at + header_len;
  const size_t have = bytes.size() - data_at;
  const size_t need = static_cast<size_t>(n) * type->bytes;
  if (have != need) {
    return InvalidArgument("{}: byte {}: shape {} of '{}' needs {} data bytes but the file holds {}", what, data_at,
                           ShapeToString(h.shape), h.descr, need, have);
  }
  Tensor t;
  t.dtype = type->dtype;
  t.shape = h.shape;
  const char* p = bytes.data() + data_at;
  if (t.is_float()) {
    t.f.resize(n);
    for (int64_t k = 0; k < n; ++k) {
      if (type->f64) {
        double v;
        std::memcpy(&v, p + 8 * k, 8);
        t.f[k] = static_cast<float>(v);
      } else {
        std::memcpy(&t.f[k], p + 4 * k, 4);
      }
    }
    return t;
  }
  t.i.resize(n);
  for (int64_t k = 0; k < n; ++k) {
    switch (t.dtype) {
      case DType::kInt64: std::memcpy(&t.i[k], p + 8 * k, 8); break;
      case DType::kInt32: { int32_t v; std::memcpy(&v, p + 4 * k, 4); t.i[k] = v; break; }
      case DType::kUint8: t.i[k] = static_cast<uint8_t>(p[k]); break;
      case DType::kInt8: t.i[k] = static_cast<int8_t>(p[k]); break;
      case DType::kBool: t.i[k] = p[k] != 0; break;
      case DType::kFloat: break;
    }
  }
  return t;
}

Result<Tensor> ReadNpyFile(const std::string& path) {
  PF_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  return ReadNpy(bytes, path);
}

std::string WriteNpy(const Tensor& t) {
  std::string shape = "(";
  for (size_t k = 0; k < t.shape.size(); ++k) shape += fmt::format("{}{}", k ? ", " : "", t.shape[k]);
  shape += t.shape.size() == 1 ? ",)" : ")";  // Python's 1-tuple "(4,)"
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", NpyDescr(t.dtype), shape);
  // Total header (magic + version + length + dict + '\n') padded with spaces to a multiple of 64.
  const bool v2 = dict.size() + 1 + 10 > 65535;
  const size_t prefix = v2 ? 12 : 10;
  size_t total = prefix + dict.size() + 1;
  total = (total + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  const size_t len = dict.size();
  for (size_t k = 0; k < (v2 ? 4u : 2u); ++k) out += static_cast<char>((len >> (8 * k)) & 0xff);
  out += dict;
  const int64_t n = t.size();
  if (t.is_float()) {
    out.append(reinterpret_cast<const char*>(t.f.data()), n * sizeof(float));
    return out;
  }
  for (int64_t k = 0; k < n; ++k) {
    const int64_t v = t.i[k];
    switch (t.dtype) {
      case DType::kInt64: out.append(reinterpret_cast<const char*>(&v), 8); break;
      case DType::kInt32: { int32_t w = static_cast<int32_t>(v); out.append(reinterpret_cast<const char*>(&w), 4); break; }
      default: out += static_cast<char>(v); break;
    }
  }
  return out;
}

Status WriteNpyFile(const std::string& path, const Tensor& t) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return NotFound("{}: cannot create", path);
  const std::string bytes = WriteNpy(t);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) return Unavailable("{}: write failed", path);
  return Status::Ok();
}

Status CheckTensorForInput(const Tensor& t, const ValueInfo& input, const std::string& what) {
  if (t.dtype != input.dtype) {
    return InvalidArgument("{}: dtype {} ('{}') does not match model input '{}' of dtype {} ('{}')", what,
                           DTypeName(t.dtype), NpyDescr(t.dtype), input.name, DTypeName(input.dtype),
                           NpyDescr(input.dtype));
  }
  bool same = t.shape.size() == input.shape.size();
  for (size_t k = 0; same && k < t.shape.size(); ++k) same = input.shape[k] < 0 || input.shape[k] == t.shape[k];
  if (!same) {
    return InvalidArgument("{}: shape {} does not match model input '{}' of shape {} (-1: any size)", what,
                           ShapeToString(t.shape), input.name, ShapeToString(input.shape));
  }
  return Status::Ok();
}

}  // namespace pf::engine
