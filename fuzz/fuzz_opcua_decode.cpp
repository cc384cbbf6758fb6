// libFuzzer target for the OPC UA binary decoder (src/connect/opcua). The input is read three ways:
// as a whole UA TCP message (Hello/Acknowledge/Error, or an OPN/MSG/CLO chunk with security None
// whose body is decoded as the service it names), as a bare service body, and as a Variant and a
// DataValue. Invariants beyond "no crash, no leak, no UB": every failure is an "offset N: ..." or
// a service-fault Status, and whatever decodes re-encodes to bytes that decode to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "connect/opcua/messages.h"

namespace {

using namespace pf::opcua;

void Check(bool ok) {
  if (!ok) std::abort();
}

// encode(decode(x)) is a fixed point of decode-then-encode.
template <typename T>
void TypedRoundTrip(std::string_view body) {
  auto a = DecodeServiceBody<T>(body);
  if (!a.ok()) return;
  std::string e1 = EncodeServiceBody(*a);
  auto b = DecodeServiceBody<T>(e1);
  Check(b.ok());
  Check(EncodeServiceBody(*b) == e1);
}

void ServiceBody(std::string_view body) {
  auto any = DecodeAnyServiceBody(body);
  if (!any.ok()) {
    const std::string& m = any.status().message();
    Check(m.rfind("offset ", 0) == 0 || m.find("service fault") != std::string::npos);
  }
  auto id = PeekServiceTypeId(body);
  if (!id.ok()) return;
  switch (*id) {
    case ReadResponse::kBinaryEncodingId: TypedRoundTrip<ReadResponse>(body); break;
    case PublishResponse::kBinaryEncodingId: TypedRoundTrip<PublishResponse>(body); break;
    case GetEndpointsResponse::kBinaryEncodingId: TypedRoundTrip<GetEndpointsResponse>(body); break;
    case CreateSessionResponse::kBinaryEncodingId: TypedRoundTrip<CreateSessionResponse>(body); break;
    case BrowseResponse::kBinaryEncodingId: TypedRoundTrip<BrowseResponse>(body); break;
    case DataChangeNotification::kBinaryEncodingId: TypedRoundTrip<DataChangeNotification>(body); break;
    case OpenSecureChannelResponse::kBinaryEncodingId: TypedRoundTrip<OpenSecureChannelResponse>(body); break;
    default: break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  auto header = DecodeTransportHeader(in);
  if (header.ok()) {
    if (header->type == "HEL") (void)DecodeHello(in).ok();
    if (header->type == "ACK") (void)DecodeAcknowledge(in).ok();
    if (header->type == "ERR") (void)DecodeTransportError(in).ok();
    auto chunk = DecodeSecureChunk(in);
    if (chunk.ok()) {
      SequenceHeader seq;
      std::string_view body;
      if (SplitPlainChunk(*chunk, &seq, &body).ok()) ServiceBody(body);
    }
  }
  ServiceBody(in);

  Decoder d(in);
  Variant v;
  if (DecodeVariant(d, &v).ok()) {
    Encoder e;
    EncodeVariant(e, v);
    Decoder d2(e.bytes());
    Variant w;
    Check(DecodeVariant(d2, &w).ok());
    Encoder e2;
    EncodeVariant(e2, w);
    Check(e2.bytes() == e.bytes());
  }
  Decoder d3(in);
  DataValue dv;
  (void)DecodeDataValue(d3, &dv).ok();
  return 0;
}
