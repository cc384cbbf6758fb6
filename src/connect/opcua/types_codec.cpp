// UA Binary encodings of the built-in types (OPC 10000-6 §5.2.2).
#include "connect/opcua/types.h"

namespace pf::opcua {
namespace {

// NodeId encoding byte values (Part 6 Table 7) and ExpandedNodeId flags.
constexpr uint8_t kTwoByte = 0, kFourByte = 1, kNumeric = 2, kString = 3, kGuidId = 4, kByteString = 5;
constexpr uint8_t kNamespaceUriFlag = 0x80, kServerIndexFlag = 0x40;

void EncodeNodeIdWithFlags(Encoder& e, const NodeId& v, uint8_t flags) {
  switch (v.type) {
    case IdType::kNumeric:
      if (v.ns == 0 && v.numeric <= 0xff) {
        e.Byte(kTwoByte | flags);
        e.Byte(static_cast<uint8_t>(v.numeric));
      } else if (v.ns <= 0xff && v.numeric <= 0xffff) {
        e.Byte(kFourByte | flags);
        e.Byte(static_cast<uint8_t>(v.ns));
        e.UInt16(static_cast<uint16_t>(v.numeric));
      } else {
        e.Byte(kNumeric | flags);
        e.UInt16(v.ns);
        e.UInt32(v.numeric);
      }
      return;
    case IdType::kString:
      e.Byte(kString | flags);
      e.UInt16(v.ns);
      e.String(v.text);
      return;
    case IdType::kGuid:
      e.Byte(kGuidId | flags);
      e.UInt16(v.ns);
      EncodeGuid(e, v.guid);
      return;
    case IdType::kOpaque:
      e.Byte(kByteString | flags);
      e.UInt16(v.ns);
      e.ByteString(v.text);
      return;
  }
}

Status DecodeNodeIdBody(Decoder& d, uint8_t kind, size_t at, NodeId* v) {
  *v = NodeId{};
  switch (kind) {
    case kTwoByte: {
      uint8_t id = 0;
      PF_RETURN_IF_ERROR(d.Byte(&id));
      v->numeric = id;
      return Status::Ok();
    }
    case kFourByte: {
      uint8_t ns = 0;
      uint16_t id = 0;
      PF_RETURN_IF_ERROR(d.Byte(&ns));
      PF_RETURN_IF_ERROR(d.UInt16(&id));
      v->ns = ns;
      v->numeric = id;
      return Status::Ok();
    }
    case kNumeric:
      PF_RETURN_IF_ERROR(d.UInt16(&v->ns));
      return d.UInt32(&v->numeric);
    case kString:
      v->type = IdType::kString;
      PF_RETURN_IF_ERROR(d.UInt16(&v->ns));
      return d.String(&v->text);
    case kGuidId:
      v->type = IdType::kGuid;
      PF_RETURN_IF_ERROR(d.UInt16(&v->ns));
      return DecodeGuid(d, &v->guid);
    case kByteString:
      v->type = IdType::kOpaque;
      PF_RETURN_IF_ERROR(d.UInt16(&v->ns));
      return d.ByteString(&v->text);
    default:
      return d.FailAt(at, fmt::format("unknown NodeId encoding 0x{:02x}", kind));
  }
}

}  // namespace

void EncodeGuid(Encoder& e, const Guid& v) {
  e.UInt32(v.data1);
  e.UInt16(v.data2);
  e.UInt16(v.data3);
  for (uint8_t b : v.data4) e.Byte(b);
}

Status DecodeGuid(Decoder& d, Guid* v) {
  PF_RETURN_IF_ERROR(d.UInt32(&v->data1));
  PF_RETURN_IF_ERROR(d.UInt16(&v->data2));
  PF_RETURN_IF_ERROR(d.UInt16(&v->data3));
  for (uint8_t& b : v->data4) PF_RETURN_IF_ERROR(d.Byte(&b));
  return Status::Ok();
}

void EncodeNodeId(Encoder& e, const NodeId& v) { EncodeNodeIdWithFlags(e, v, 0); }

Status DecodeNodeId(Decoder& d, NodeId* v) {
  size_t at = d.offset();
  uint8_t kind = 0;
  PF_RETURN_IF_ERROR(d.Byte(&kind));
  if (kind & (kNamespaceUriFlag | kServerIndexFlag)) {
    return d.FailAt(at, fmt::format("NodeId encoding 0x{:02x} has ExpandedNodeId flags", kind));
  }
  return DecodeNodeIdBody(d, kind, at, v);
}

void EncodeExpandedNodeId(Encoder& e, const ExpandedNodeId& v) {
  uint8_t flags = (v.namespace_uri.empty() ? 0 : kNamespaceUriFlag) | (v.server_index ? kServerIndexFlag : 0);
  EncodeNodeIdWithFlags(e, v.node, flags);
  if (!v.namespace_uri.empty()) e.String(v.namespace_uri);
  if (v.server_index) e.UInt32(v.server_index);
}

Status DecodeExpandedNodeId(Decoder& d, ExpandedNodeId* v) {
  size_t at = d.offset();
  uint8_t kind = 0;
  PF_RETURN_IF_ERROR(d.Byte(&kind));
  PF_RETURN_IF_ERROR(DecodeNodeIdBody(d, kind & 0x3f, at, &v->node));
  v->namespace_uri.clear();
  v->server_index = 0;
  if (kind & kNamespaceUriFlag) PF_RETURN_IF_ERROR(d.String(&v->namespace_uri));
  if (kind & kServerIndexFlag) PF_RETURN_IF_ERROR(d.UInt32(&v->server_index));
  return Status::Ok();
}

void EncodeStatusCode(Encoder& e, StatusCode v) { e.UInt32(v.code); }
Status DecodeStatusCode(Decoder& d, StatusCode* v) { return d.UInt32(&v->code); }

void EncodeQualifiedName(Encoder& e, const QualifiedName& v) {
  e.UInt16(v.ns);
  e.String(v.name);
}

Status DecodeQualifiedName(Decoder& d, QualifiedName* v) {
  PF_RETURN_IF_ERROR(d.UInt16(&v->ns));
  return d.String(&v->name);
}

void EncodeLocalizedText(Encoder& e, const LocalizedText& v) {
  e.Byte((v.locale ? 0x01 : 0) | (v.text ? 0x02 : 0));
  if (v.locale) e.String(*v.locale);
  if (v.text) e.String(*v.text);
}

Status DecodeLocalizedText(Decoder& d, LocalizedText* v) {
  size_t at = d.offset();
  uint8_t mask = 0;
  PF_RETURN_IF_ERROR(d.Byte(&mask));
  if (mask & ~0x03) return d.FailAt(at, fmt::format("LocalizedText mask 0x{:02x} has unknown bits", mask));
  v->locale.reset();
  v->text.reset();
  if (mask & 0x01) PF_RETURN_IF_ERROR(d.String(&v->locale.emplace()));
  if (mask & 0x02) PF_RETURN_IF_ERROR(d.String(&v->text.emplace()));
  return Status::Ok();
}

void EncodeExtensionObject(Encoder& e, const ExtensionObject& v) {
  EncodeNodeId(e, v.type_id);
  e.Byte(static_cast<uint8_t>(v.encoding));
  if (v.encoding != ExtensionObject::Encoding::kNone) {
    // The body is always length-prefixed, even when empty (a null body would read as "no body").
    e.Int32(static_cast<int32_t>(v.body.size()));
    e.Raw(v.body);
  }
}

Status DecodeExtensionObject(Decoder& d, ExtensionObject* v) {
  PF_RETURN_IF_ERROR(DecodeNodeId(d, &v->type_id));
  size_t at = d.offset();
  uint8_t enc = 0;
  PF_RETURN_IF_ERROR(d.Byte(&enc));
  if (enc > 2) return d.FailAt(at, fmt::format("ExtensionObject encoding {} (expected 0, 1 or 2)", enc));
  v->encoding = static_cast<ExtensionObject::Encoding>(enc);
  v->body.clear();
  if (enc != 0) PF_RETURN_IF_ERROR(d.ByteString(&v->body));
  return Status::Ok();
}

void EncodeDiagnosticInfo(Encoder& e, const DiagnosticInfo& v) {
  uint8_t mask = (v.symbolic_id ? 0x01 : 0) | (v.namespace_uri ? 0x02 : 0) | (v.localized_text ? 0x04 : 0) |
                 (v.locale ? 0x08 : 0) | (v.additional_info ? 0x10 : 0) | (v.inner_status_code ? 0x20 : 0) |
                 (v.inner ? 0x40 : 0);
  e.Byte(mask);
  if (v.symbolic_id) e.Int32(*v.symbolic_id);
  if (v.namespace_uri) e.Int32(*v.namespace_uri);
  if (v.locale) e.Int32(*v.locale);
  if (v.localized_text) e.Int32(*v.localized_text);
  if (v.additional_info) e.String(*v.additional_info);
  if (v.inner_status_code) e.UInt32(v.inner_status_code->code);
  if (v.inner) EncodeDiagnosticInfo(e, *v.inner);
}

Status DecodeDiagnosticInfo(Decoder& d, DiagnosticInfo* v) {
  size_t at = d.offset();
  uint8_t mask = 0;
  PF_RETURN_IF_ERROR(d.Byte(&mask));
  if (mask & 0x80) return d.FailAt(at, fmt::format("DiagnosticInfo mask 0x{:02x} has unknown bits", mask));
  *v = DiagnosticInfo{};
  if (mask & 0x01) PF_RETURN_IF_ERROR(d.Int32(&v->symbolic_id.emplace()));
  if (mask & 0x02) PF_RETURN_IF_ERROR(d.Int32(&v->namespace_uri.emplace()));
  if (mask & 0x08) PF_RETURN_IF_ERROR(d.Int32(&v->locale.emplace()));
  if (mask & 0x04) PF_RETURN_IF_ERROR(d.Int32(&v->localized_text.emplace()));
  if (mask & 0x10) PF_RETURN_IF_ERROR(d.String(&v->additional_info.emplace()));
  if (mask & 0x20) PF_RETURN_IF_ERROR(d.UInt32(&v->inner_status_code.emplace().code));
  if (mask & 0x40) {
    PF_RETURN_IF_ERROR(d.EnterNested());
    v->inner = std::make_unique<DiagnosticInfo>();
    Status s = DecodeDiagnosticInfo(d, v->inner.get());
    d.LeaveNested();
    PF_RETURN_IF_ERROR(s);
  }
  return Status::Ok();
}

namespace {

void EncodeScalar(Encoder& e, BuiltinType t, const Scalar& s) {
  switch (t) {
    case BuiltinType::kNull: return;
    case BuiltinType::kBoolean: return e.Boolean(std::get<bool>(s));
    case BuiltinType::kSByte: return e.SByte(std::get<int8_t>(s));
    case BuiltinType::kByte: return e.Byte(std::get<uint8_t>(s));
    case BuiltinType::kInt16: return e.Int16(std::get<int16_t>(s));
    case BuiltinType::kUInt16: return e.UInt16(std::get<uint16_t>(s));
    case BuiltinType::kInt32: return e.Int32(std::get<int32_t>(s));
    case BuiltinType::kUInt32: return e.UInt32(std::get<uint32_t>(s));
    case BuiltinType::kInt64:
    case BuiltinType::kDateTime: return e.Int64(std::get<int64_t>(s));
    case BuiltinType::kUInt64: return e.UInt64(std::get<uint64_t>(s));
    case BuiltinType::kFloat: return e.Float(std::get<float>(s));
    case BuiltinType::kDouble: return e.Double(std::get<double>(s));
    case BuiltinType::kString:
    case BuiltinType::kByteString:
    case BuiltinType::kXmlElement: return e.String(std::get<std::string>(s));
    case BuiltinType::kGuid: return EncodeGuid(e, std::get<Guid>(s));
    case BuiltinType::kNodeId: return EncodeNodeId(e, std::get<NodeId>(s));
    case BuiltinType::kExpandedNodeId: return EncodeExpandedNodeId(e, std::get<ExpandedNodeId>(s));
    case BuiltinType::kStatusCode: return EncodeStatusCode(e, std::get<StatusCode>(s));
    case BuiltinType::kQualifiedName: return EncodeQualifiedName(e, std::get<QualifiedName>(s));
    case BuiltinType::kLocalizedText: return EncodeLocalizedText(e, std::get<LocalizedText>(s));
    case BuiltinType::kExtensionObject: return EncodeExtensionObject(e, std::get<ExtensionObject>(s));
    case BuiltinType::kDataValue: {
      const auto& p = std::get<std::shared_ptr<DataValue>>(s);
      return EncodeDataValue(e, p ? *p : DataValue{});
    }
    case BuiltinType::kVariant: {
      const auto& p = std::get<std::shared_ptr<Variant>>(s);
      return EncodeVariant(e, p ? *p : Variant{});
    }
    case BuiltinType::kDiagnosticInfo: return EncodeDiagnosticInfo(e, std::get<DiagnosticInfo>(s));
  }
}

template <typename T, typename F>
Status Read(Scalar* s, F&& f) {
  T v{};
  PF_RETURN_IF_ERROR(f(&v));
  *s = std::move(v);
  return Status::Ok();
}

Status DecodeScalar(Decoder& d, BuiltinType t, Scalar* s) {
  switch (t) {
    case BuiltinType::kNull: *s = std::monostate{}; return Status::Ok();
    case BuiltinType::kBoolean: return Read<bool>(s, [&](bool* v) { return d.Boolean(v); });
    case BuiltinType::kSByte: return Read<int8_t>(s, [&](int8_t* v) { return d.SByte(v); });
    case BuiltinType::kByte: return Read<uint8_t>(s, [&](uint8_t* v) { return d.Byte(v); });
    case BuiltinType::kInt16: return Read<int16_t>(s, [&](int16_t* v) { return d.Int16(v); });
    case BuiltinType::kUInt16: return Read<uint16_t>(s, [&](uint16_t* v) { return d.UInt16(v); });
    case BuiltinType::kInt32: return Read<int32_t>(s, [&](int32_t* v) { return d.Int32(v); });
    case BuiltinType::kUInt32: return Read<uint32_t>(s, [&](uint32_t* v) { return d.UInt32(v); });
    case BuiltinType::kInt64:
    case BuiltinType::kDateTime: return Read<int64_t>(s, [&](int64_t* v) { return d.Int64(v); });
    case BuiltinType::kUInt64: return Read<uint64_t>(s, [&](uint64_t* v) { return d.UInt64(v); });
    case BuiltinType::kFloat: return Read<float>(s, [&](float* v) { return d.Float(v); });
    case BuiltinType::kDouble: return Read<double>(s, [&](double* v) { return d.Double(v); });
    case BuiltinType::kString:
    case BuiltinType::kByteString:
    case BuiltinType::kXmlElement: return Read<std::string>(s, [&](std::string* v) { return d.String(v); });
    case BuiltinType::kGuid: return Read<Guid>(s, [&](Guid* v) { return DecodeGuid(d, v); });
    case BuiltinType::kNodeId: return Read<NodeId>(s, [&](NodeId* v) { return DecodeNodeId(d, v); });
    case BuiltinType::kExpandedNodeId:
      return Read<ExpandedNodeId>(s, [&](ExpandedNodeId* v) { return DecodeExpandedNodeId(d, v); });
    case BuiltinType::kStatusCode: return Read<StatusCode>(s, [&](StatusCode* v) { return DecodeStatusCode(d, v); });
    case BuiltinType::kQualifiedName:
      return Read<QualifiedName>(s, [&](QualifiedName* v) { return DecodeQualifiedName(d, v); });
    case BuiltinType::kLocalizedText:
      return Read<LocalizedText>(s, [&](LocalizedText* v) { return DecodeLocalizedText(d, v); });
    case BuiltinType::kExtensionObject:
      return Read<ExtensionObject>(s, [&](ExtensionObject* v) { return DecodeExtensionObject(d, v); });
    case BuiltinType::kDataValue: {
      auto p = std::make_shared<DataValue>();
      PF_RETURN_IF_ERROR(d.EnterNested());
      Status st = DecodeDataValue(d, p.get());
      d.LeaveNested();
      PF_RETURN_IF_ERROR(st);
      *s = std::move(p);
      return Status::Ok();
    }
    case BuiltinType::kVariant: {
      auto p = std::make_shared<Variant>();
      PF_RETURN_IF_ERROR(d.EnterNested());
      Status st = DecodeVariant(d, p.get());
      d.LeaveNested();
      PF_RETURN_IF_ERROR(st);
      *s = std::move(p);
      return Status::Ok();
    }
    case BuiltinType::kDiagnosticInfo:
      return Read<DiagnosticInfo>(s, [&](DiagnosticInfo* v) {
        PF_RETURN_IF_ERROR(d.EnterNested());
        Status st = DecodeDiagnosticInfo(d, v);
        d.LeaveNested();
        return st;
      });
  }
  return d.Fail("unknown built-in type");
}

}  // namespace

void EncodeVariant(Encoder& e, const Variant& v) {
  uint8_t mask = static_cast<uint8_t>(v.type);
  if (v.type == BuiltinType::kNull) {
    e.Byte(0);
    return;
  }
  if (v.is_array) mask |= 0x80;
  if (v.is_array && !v.dimensions.empty()) mask |= 0x40;
  e.Byte(mask);
  if (v.is_array) {
    e.Int32(static_cast<int32_t>(v.values.size()));
    for (const Scalar& s : v.values) EncodeScalar(e, v.type, s);
    if (!v.dimensions.empty()) {
      e.Int32(static_cast<int32_t>(v.dimensions.size()));
      for (int32_t n : v.dimensions) e.Int32(n);
    }
  } else if (!v.values.empty()) {
    EncodeScalar(e, v.type, v.values.front());
  }
}

Status DecodeVariant(Decoder& d, Variant* v) {
  size_t at = d.offset();
  uint8_t mask = 0;
  PF_RETURN_IF_ERROR(d.Byte(&mask));
  *v = Variant{};
  uint8_t type = mask & 0x3f;
  if (type > static_cast<uint8_t>(BuiltinType::kDiagnosticInfo)) {
    return d.FailAt(at, fmt::format("Variant of unknown built-in type {}", type));
  }
  v->type = static_cast<BuiltinType>(type);
  v->is_array = (mask & 0x80) != 0;
  if ((mask & 0x40) && !v->is_array) {
    return d.FailAt(at, fmt::format("Variant mask 0x{:02x}: array dimensions without the array flag", mask));
  }
  if (v->type == BuiltinType::kNull) {
    if (mask != 0) return d.FailAt(at, fmt::format("Variant mask 0x{:02x}: Null with flags", mask));
    return Status::Ok();
  }
  if (!v->is_array) {
    v->values.resize(1);
    return DecodeScalar(d, v->type, &v->values[0]);
  }
  PF_RETURN_IF_ERROR(DecodeArray(d, BuiltinTypeName(v->type), &v->values,
                                 [&](Decoder& dd, Scalar* s) { return DecodeScalar(dd, v->type, s); }));
  if (mask & 0x40) {
    size_t dims_at = d.offset();
    PF_RETURN_IF_ERROR(DecodeArray(d, "ArrayDimensions", &v->dimensions,
                                   [](Decoder& dd, int32_t* n) { return dd.Int32(n); }));
    int64_t product = 1;
    for (int32_t n : v->dimensions) {
      if (n < 0) return d.FailAt(dims_at, fmt::format("negative array dimension {}", n));
      product = std::min<int64_t>(product * n, int64_t{kMaxArrayLength} + 1);
    }
    if (product != static_cast<int64_t>(v->values.size())) {
      return d.FailAt(dims_at, fmt::format("array dimensions multiply to {} but the array has {} elements", product,
                                           v->values.size()));
    }
  }
  return Status::Ok();
}

void EncodeDataValue(Encoder& e, const DataValue& v) {
  uint8_t mask = (v.value ? 0x01 : 0) | (v.status ? 0x02 : 0) | (v.source_timestamp ? 0x04 : 0) |
                 (v.server_timestamp ? 0x08 : 0) | (v.source_picoseconds ? 0x10 : 0) |
                 (v.server_picoseconds ? 0x20 : 0);
  e.Byte(mask);
  if (v.value) EncodeVariant(e, *v.value);
  if (v.status) e.UInt32(v.status->code);
  if (v.source_timestamp) e.Int64(*v.source_timestamp);
  if (v.source_picoseconds) e.UInt16(*v.source_picoseconds);
  if (v.server_timestamp) e.Int64(*v.server_timestamp);
  if (v.server_picoseconds) e.UInt16(*v.server_picoseconds);
}

Status DecodeDataValue(Decoder& d, DataValue* v) {
  size_t at = d.offset();
  uint8_t mask = 0;
  PF_RETURN_IF_ERROR(d.Byte(&mask));
  if (mask & 0xC0) return d.FailAt(at, fmt::format("DataValue mask 0x{:02x} has unknown bits", mask));
  *v = DataValue{};
  if (mask & 0x01) {
    Decoder::Scope scope(d, "Value");
    PF_RETURN_IF_ERROR(DecodeVariant(d, &v->value.emplace()));
  }
  if (mask & 0x02) PF_RETURN_IF_ERROR(d.UInt32(&v->status.emplace().code));
  if (mask & 0x04) PF_RETURN_IF_ERROR(d.Int64(&v->source_timestamp.emplace()));
  if (mask & 0x10) PF_RETURN_IF_ERROR(d.UInt16(&v->source_picoseconds.emplace()));
  if (mask & 0x08) PF_RETURN_IF_ERROR(d.Int64(&v->server_timestamp.emplace()));
  if (mask & 0x20) PF_RETURN_IF_ERROR(d.UInt16(&v->server_picoseconds.emplace()));
  return Status::Ok();
}

}  // namespace pf::opcua
