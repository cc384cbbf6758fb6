#include "connect/opcua/crypto.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "connect/opcua/pki.h"
#include "testing.h"

namespace pf::opcua {
namespace {

Bytes H(std::string_view hex) {
  auto r = FromHex(hex);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Bytes{};
}

// Runs a command and returns its stdout without the trailing newline ("" if it could not run).
std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// P_SHA256 computed independently with Python's hmac module (RFC 5246 section 5).
std::string PythonPSha256(ByteView secret, ByteView seed, size_t n) {
  return RunCommand(fmt::format(
      "/usr/bin/python3 -c \"import hmac,hashlib\n"
      "s=bytes.fromhex('{}'); seed=bytes.fromhex('{}'); a=seed; out=b''\n"
      "while len(out)<{}:\n"
      "  a=hmac.new(s,a,hashlib.sha256).digest(); out+=hmac.new(s,a+seed,hashlib.sha256).digest()\n"
      "print(out[:{}].hex())\"",
      ToHex(secret), ToHex(seed), n, n));
}

const RsaKey& Key2048() {
  static const RsaKey key = *RsaKey::Generate(2048);
  return key;
}
const RsaKey& Key3072() {
  static const RsaKey key = *RsaKey::Generate(3072);
  return key;
}

std::filesystem::path TempDir() {
  auto dir = std::filesystem::temp_directory_path() / fmt::format("pf_crypto_test_{}", ::getpid());
  std::filesystem::create_directories(dir);
  return dir;
}
void WriteFile(const std::filesystem::path& p, ByteView data) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}
Bytes ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

const SecurityPolicy& B() { return SecurityPolicyBasic256Sha256(); }

TEST(OpcuaCrypto, HexRoundTripAndErrors) {
  EXPECT_EQ(ToHex(H("00ff10Ab")), "00ff10ab");
  EXPECT_EQ(FromHex("abc").status().code(), StatusCode::kInvalidArgument);
  auto bad = FromHex("12zz");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("position 2"), std::string::npos) << bad.status().message();
}

TEST(OpcuaCrypto, HmacSha256Rfc4231) {
  // RFC 4231 test cases 1, 2 and 6 (a 131-byte key, longer than the SHA-256 block).
  EXPECT_EQ(ToHex(HmacSha256(Bytes(20, 0x0b), AsBytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(ToHex(HmacSha256(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(ToHex(HmacSha256(Bytes(131, 0xaa), AsBytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(OpcuaCrypto, DigestsKnownAnswers) {
  // FIPS 180 "abc" examples.
  EXPECT_EQ(ToHex(Sha1(AsBytes("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(ToHex(Sha256(AsBytes("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(OpcuaCrypto, PSha256MatchesTls12PrfVector) {
  // The widely published TLS 1.2 PRF (SHA-256) test vector: PRF = P_SHA256(secret, label + seed).
  Bytes seed(std::string_view("test label").begin(), std::string_view("test label").end());
  Bytes s2 = H("a0ba9f936cda311827a6f796ffd5198c");
  seed.insert(seed.end(), s2.begin(), s2.end());
  EXPECT_EQ(ToHex(PSha256(H("9bbe436ba940f017b17652849a71db35"), seed, 100)),
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af"
            "0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187"
            "347b66");
}

TEST(OpcuaCrypto, PSha256MatchesPythonHmacForSeveralLengths) {
  Bytes secret = *RandomBytes(32), seed = *RandomBytes(32);
  for (size_t n : {1u, 31u, 32u, 33u, 80u, 200u}) {
    std::string expected = PythonPSha256(secret, seed, n);
    if (expected.empty()) GTEST_SKIP() << "python3 not available";
    EXPECT_EQ(ToHex(PSha256(secret, seed, n)), expected) << "length " << n;
  }
}

TEST(OpcuaCrypto, DeriveKeysFollowsPart6Layout) {
  Bytes client_nonce = *B().GenerateNonce(), server_nonce = *B().GenerateNonce();
  ASSERT_EQ(client_nonce.size(), 32u);
  EXPECT_NE(client_nonce, server_nonce);
  auto keys = B().DeriveKeys(client_nonce, server_nonce);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  // Client keys: secret = ServerNonce, seed = ClientNonce; server keys the other way round. Each: sign 32 | enc 32 | iv 16.
  std::string client = PythonPSha256(server_nonce, client_nonce, 80);
  std::string server = PythonPSha256(client_nonce, server_nonce, 80);
  if (client.empty()) GTEST_SKIP() << "python3 not available";
  EXPECT_EQ(ToHex(keys->client.signing_key), client.substr(0, 64));
  EXPECT_EQ(ToHex(keys->client.encrypting_key), client.substr(64, 64));
  EXPECT_EQ(ToHex(keys->client.iv), client.substr(128, 32));
  EXPECT_EQ(ToHex(keys->server.signing_key), server.substr(0, 64));
  EXPECT_EQ(ToHex(keys->server.encrypting_key), server.substr(64, 64));
  EXPECT_EQ(ToHex(keys->server.iv), server.substr(128, 32));

  auto bad = B().DeriveKeys(Bytes(16, 1), server_nonce);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("client 16"), std::string::npos) << bad.status().message();
}

TEST(OpcuaCrypto, AesCbcNistSp80038aF25) {
  // NIST SP 800-38A F.2.5 CBC-AES256.Encrypt (and F.2.6 decrypt is the inverse).
  SymmetricKeys k;
  k.encrypting_key = H("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
  k.iv = H("000102030405060708090a0b0c0d0e0f");
  k.signing_key = Bytes(32, 0);
  Bytes plain = H("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
                  "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
  const std::string cipher =
      "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
      "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b";
  auto enc = B().SymmetricEncrypt(k, plain);
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  EXPECT_EQ(ToHex(*enc), cipher);  // same length: no cipher padding added
  auto dec = B().SymmetricDecrypt(k, H(cipher));
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*dec, plain);

  auto odd = B().SymmetricEncrypt(k, Bytes(17, 0));
  EXPECT_EQ(odd.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(odd.status().message().find("17 bytes"), std::string::npos);
  k.iv.resize(8);
  EXPECT_EQ(B().SymmetricEncrypt(k, plain).status().code(), StatusCode::kInvalidArgument);
}

TEST(OpcuaCrypto, SymmetricSignIsHmacAndVerifyRejectsTampering) {
  SymmetricKeys k;
  k.signing_key = Bytes(32, 0x0b);
  Bytes data(AsBytes("chunk bytes").begin(), AsBytes("chunk bytes").end());
  auto sig = B().SymmetricSign(k, data);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(*sig, HmacSha256(k.signing_key, data));
  EXPECT_EQ(sig->size(), B().SymmetricSignatureSize());
  EXPECT_TRUE(B().SymmetricVerify(k, data, *sig).ok());
  Bytes bad = *sig;
  bad[5] ^= 1;
  EXPECT_EQ(B().SymmetricVerify(k, data, bad).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(B().SymmetricVerify(k, data, Bytes(20, 0)).code(), StatusCode::kPermissionDenied);
  k.signing_key.resize(16);
  EXPECT_EQ(B().SymmetricSign(k, data).status().code(), StatusCode::kInvalidArgument);
}

TEST(OpcuaCrypto, AsymmetricSignVerifyRsaSha256) {
  const RsaKey& key = Key2048();
  Bytes data = *RandomBytes(1000);
  auto sig = B().AsymmetricSign(key, data);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(sig->size(), 256u);
  EXPECT_EQ(B().AsymmetricSignatureSize(key), 256u);
  EXPECT_TRUE(B().AsymmetricVerify(key, data, *sig).ok());
  data[0] ^= 1;
  auto st = B().AsymmetricVerify(key, data, *sig);
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(st.message().find("does not match"), std::string::npos);
  // Deterministic PKCS#1 v1.5: the same data signs to the same bytes.
  data[0] ^= 1;
  EXPECT_EQ(*B().AsymmetricSign(key, data), *sig);
}

TEST(OpcuaCrypto, AsymmetricSignatureVerifiesWithOpensslCli) {
  // Independent check of the signature scheme: `openssl dgst -sha256 -verify` (PKCS#1 v1.5 by default).
  const RsaKey& key = Key2048();
  auto dir = TempDir();
  Bytes data = *RandomBytes(300);
  WriteFile(dir / "data", data);
  WriteFile(dir / "sig", *B().AsymmetricSign(key, data));
  std::string pem = *key.ToPrivatePem();
  WriteFile(dir / "key.pem", AsBytes(pem));
  std::string out = RunCommand(fmt::format("cd {} && openssl dgst -sha256 -sign key.pem -out sig.cli data 2>&1 && "
                                    "openssl dgst -sha256 -prverify key.pem -signature sig data 2>&1",
                                    dir.string()));
  if (out.empty()) GTEST_SKIP() << "openssl CLI not available";
  EXPECT_EQ(out, "Verified OK");
  EXPECT_EQ(ReadFile(dir / "sig.cli"), ReadFile(dir / "sig"));
  std::filesystem::remove_all(dir);
}

TEST(OpcuaCrypto, OaepRoundTripBlockWise) {
  const RsaKey& key = Key2048();
  EXPECT_EQ(B().AsymmetricPlainBlockSize(key), 256u - 42u);
  EXPECT_EQ(B().AsymmetricCipherBlockSize(key), 256u);
  for (size_t n : {1u, 214u, 215u, 500u, 642u}) {
    Bytes plain = *RandomBytes(n);
    auto enc = B().AsymmetricEncrypt(key, plain);
    ASSERT_TRUE(enc.ok()) << enc.status().ToString();
    EXPECT_EQ(enc->size(), 256u * ((n + 213) / 214)) << n;
    auto dec = B().AsymmetricDecrypt(key, *enc);
    ASSERT_TRUE(dec.ok()) << dec.status().ToString();
    EXPECT_EQ(*dec, plain);
  }
  // OAEP is randomized: two encryptions of the same block differ.
  Bytes p(10, 7);
  EXPECT_NE(*B().AsymmetricEncrypt(key, p), *B().AsymmetricEncrypt(key, p));
}

TEST(OpcuaCrypto, OaepDecryptsWithOpensslCliAndRejectsWrongKey) {
  const RsaKey& key = Key2048();
  auto dir = TempDir();
  Bytes plain = *RandomBytes(200);
  WriteFile(dir / "c", *B().AsymmetricEncrypt(key, plain));
  WriteFile(dir / "key.pem", AsBytes(*key.ToPrivatePem()));
  // OpenSSL's OAEP default digest and MGF1 are SHA-1, as Basic256Sha256 asks.
  RunCommand(fmt::format("cd {} && openssl pkeyutl -decrypt -inkey key.pem -pkeyopt rsa_padding_mode:oaep -in c -out p 2>&1",
                  dir.string()));
  if (!std::filesystem::exists(dir / "p")) GTEST_SKIP() << "openssl CLI not available";
  EXPECT_EQ(ReadFile(dir / "p"), plain);
  std::filesystem::remove_all(dir);

  RsaKey other = *RsaKey::Generate(2048);
  auto wrong = B().AsymmetricDecrypt(other, *B().AsymmetricEncrypt(key, plain));
  EXPECT_EQ(wrong.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(wrong.status().message().find("block 1 of 1"), std::string::npos) << wrong.status().message();
  EXPECT_EQ(B().AsymmetricDecrypt(key, Bytes(255, 0)).status().code(), StatusCode::kInvalidArgument);
}

TEST(OpcuaCrypto, KeySizeLimitsAndPublicOnlyKeys) {
  RsaKey small = *RsaKey::Generate(1024);
  auto st = B().AsymmetricSign(small, Bytes(4, 0));
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.status().message().find("2048..4096 bits, got 1024"), std::string::npos);
  EXPECT_EQ(RsaKey::Generate(100).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(RsaKey::FromPrivatePem("not a pem").status().code(), StatusCode::kInvalidArgument);
  auto round = RsaKey::FromPrivatePem(*Key2048().ToPrivatePem());
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(round->bits(), 2048);
  EXPECT_TRUE(round->has_private());
  // A signature from the reloaded key verifies with the original.
  Bytes d(AsBytes("x").begin(), AsBytes("x").end());
  EXPECT_TRUE(B().AsymmetricVerify(Key2048(), d, *B().AsymmetricSign(*round, d)).ok());
}

TEST(OpcuaCrypto, PaddingClosedForms) {
  // AES: 100 plain + 32 signature: 133 with the size byte; next multiple of 16 is 144 -> 11 padding bytes.
  Padding p = ComputePadding(100, 32, 16, false);
  EXPECT_EQ(p.padding_size, 11u);
  EXPECT_EQ(p.total(), 12u);
  EXPECT_EQ((100 + p.total() + 32) % 16, 0u);
  EXPECT_EQ(p.Encode(), Bytes(12, 11));
  // Exactly fitting: 111 + 1 + 32 = 144 -> no padding bytes, only the size byte 0.
  EXPECT_EQ(ComputePadding(111, 32, 16, false).padding_size, 0u);
  EXPECT_EQ(ComputePadding(111, 32, 16, false).Encode(), Bytes{0});
  // RSA-2048 OAEP (block 214), signature 256 (own 2048-bit key): 1000 + 256 + 1 = 1257, 6*214 = 1284 -> 27.
  EXPECT_EQ(ComputePadding(1000, 256, 214, false).padding_size, 27u);
  // RSA-4096 (block 470), extra byte: 100 + 512 + 2 = 614, 2*470 = 940 -> 326 = 0x146: size byte 0x46, high 0x01.
  Padding big = ComputePadding(100, 512, 470, true);
  EXPECT_EQ(big.padding_size, 326u);
  Bytes enc = big.Encode();
  ASSERT_EQ(enc.size(), 328u);
  EXPECT_EQ(enc.front(), 0x46);
  EXPECT_EQ(enc[326], 0x46);
  EXPECT_EQ(enc.back(), 0x01);
  EXPECT_EQ((100 + enc.size() + 512) % 470, 0u);
}

TEST(OpcuaCrypto, ParsePaddingInvertsComputeAndRejectsCorruption) {
  for (bool extra : {false, true}) {
    for (size_t plain : {0u, 5u, 100u, 469u, 1000u}) {
      const size_t block = extra ? 470 : 16;
      Padding p = ComputePadding(plain, 32, block, extra);
      Bytes chunk(plain, 0xee);
      Bytes pad = p.Encode();
      chunk.insert(chunk.end(), pad.begin(), pad.end());
      auto n = ParsePadding(chunk, extra);
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      EXPECT_EQ(*n, p.total()) << plain << " extra " << extra;
    }
  }
  Bytes bad = {1, 2, 3, 3, 3, 2, 3};  // size 3, but one padding byte is 2
  auto r = ParsePadding(bad, false);
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("byte 5 is 0x02"), std::string::npos) << r.status().message();
  EXPECT_EQ(ParsePadding(Bytes{9, 9}, false).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ParsePadding(Bytes{}, false).status().code(), StatusCode::kDataLoss);
}

TEST(OpcuaCrypto, LargerKeyUsesLargerBlocks) {
  const RsaKey& key = Key3072();  // > 2048 bits: chunks to this key carry the ExtraPaddingSize byte
  EXPECT_EQ(B().AsymmetricPlainBlockSize(key), 384u - 42u);
  EXPECT_EQ(B().AsymmetricSignatureSize(key), 384u);
  Bytes plain = *RandomBytes(2 * 342 + 1);
  auto enc = B().AsymmetricEncrypt(key, plain);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(enc->size(), 3u * 384u);
  EXPECT_EQ(*B().AsymmetricDecrypt(key, *enc), plain);
}

TEST(OpcuaCrypto, NonePolicyIsIdentity) {
  const SecurityPolicy& none = SecurityPolicyNone();
  EXPECT_TRUE(none.is_none());
  Bytes d = {1, 2, 3};
  EXPECT_EQ(*none.SymmetricEncrypt({}, d), d);
  EXPECT_TRUE(none.SymmetricSign({}, d)->empty());
  EXPECT_TRUE(none.SymmetricVerify({}, d, {}).ok());
  EXPECT_EQ(none.SymmetricVerify({}, d, d).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(none.GenerateNonce()->empty());
  EXPECT_EQ(none.SymmetricSignatureSize(), 0u);
}

TEST(OpcuaCrypto, FindSecurityPolicyByUriAndName) {
  EXPECT_EQ(*FindSecurityPolicy("http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"), &B());
  EXPECT_EQ(*FindSecurityPolicy("Basic256Sha256"), &B());
  EXPECT_EQ(*FindSecurityPolicy("none"), &SecurityPolicyNone());
  EXPECT_EQ(FindSecurityPolicy("http://opcfoundation.org/UA/SecurityPolicy#Basic128Rsa15").status().code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(FindSecurityPolicy("sign").status().code(), StatusCode::kInvalidArgument);
}

TEST(OpcuaCrypto, TokenSecretLayoutAndRoundTrip) {
  const RsaKey& key = Key2048();
  Bytes nonce = *RandomBytes(32);
  auto enc = EncryptTokenSecret(B(), key, AsBytes("s3cret"), nonce);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(enc->size(), 256u);
  // Layout check on the raw plaintext: UInt32 LE (6 + 32 = 38), secret, nonce.
  Bytes raw = *B().AsymmetricDecrypt(key, *enc);
  ASSERT_EQ(raw.size(), 4u + 6u + 32u);
  EXPECT_EQ(Bytes(raw.begin(), raw.begin() + 4), (Bytes{38, 0, 0, 0}));
  EXPECT_EQ(std::string(raw.begin() + 4, raw.begin() + 10), "s3cret");
  EXPECT_EQ(Bytes(raw.begin() + 10, raw.end()), nonce);
  auto dec = DecryptTokenSecret(B(), key, *enc, nonce);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(std::string(dec->begin(), dec->end()), "s3cret");
  Bytes other_nonce = nonce;
  other_nonce[0] ^= 1;
  EXPECT_EQ(DecryptTokenSecret(B(), key, *enc, other_nonce).status().code(), StatusCode::kPermissionDenied);
}


// ---- Interop with node-opcua: a hand-built Basic256Sha256 SignAndEncrypt handshake ----
// The messages are written byte by byte here (OPC 10000-6 6.7.2 / 7.1) so that this test depends
// on nothing but the primitives above: if node-opcua accepts our OpenSecureChannel and answers a
// symmetric GetEndpoints that we can verify and decrypt, then signatures, OAEP, padding, P_SHA256 key
// derivation, HMAC and AES-CBC all agree with an independent implementation.

namespace fs = std::filesystem;

struct Writer {
  Bytes b;
  void U8(uint8_t v) { b.push_back(v); }
  void U16(uint16_t v) { U8(v & 0xff); U8(v >> 8); }
  void U32(uint32_t v) { for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i))); }
  void I64(int64_t v) { for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i))); }
  void Raw(ByteView v) { b.insert(b.end(), v.begin(), v.end()); }
  void Str(ByteView v) { U32(static_cast<uint32_t>(v.size())); Raw(v); }
  void Null() { U32(0xffffffff); }
  void TypeId(uint16_t id) { U8(0x01); U8(0); U16(id); }  // four-byte NodeId, namespace 0
  void RequestHeader(uint32_t handle) {
    U8(0); U8(0);          // authenticationToken: null NodeId
    I64(0);                // timestamp
    U32(handle);           // requestHandle
    U32(0);                // returnDiagnostics
    Null();                // auditEntryId
    U32(10000);            // timeoutHint ms
    U8(0); U8(0); U8(0);   // additionalHeader: null ExtensionObject
  }
};

struct Reader {
  ByteView b;
  size_t at = 0;
  bool fail = false;
  bool Need(size_t n) { if (at + n > b.size()) fail = true; return !fail; }
  uint8_t U8() { return Need(1) ? b[at++] : 0; }
  uint16_t U16() { uint16_t lo = U8(); return static_cast<uint16_t>(lo | U8() << 8); }
  uint32_t U32() { uint32_t v = 0; for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(U8()) << (8 * i); return v; }
  int64_t I64() { uint64_t v = 0; for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(U8()) << (8 * i); return static_cast<int64_t>(v); }
  Bytes Str() {
    uint32_t n = U32();
    if (n == 0xffffffff || !Need(n)) return {};
    Bytes v(b.begin() + at, b.begin() + at + n);
    at += n;
    return v;
  }
  uint16_t TypeId() { EXPECT_EQ(U8(), 0x01); EXPECT_EQ(U8(), 0); return U16(); }
  uint32_t ResponseHeader() {  // returns serviceResult
    I64(); U32();
    uint32_t result = U32();
    EXPECT_EQ(U8(), 0) << "diagnostics present";
    uint32_t strings = U32();
    for (uint32_t i = 0; strings != 0xffffffff && i < strings; ++i) Str();
    EXPECT_EQ(U8(), 0); EXPECT_EQ(U8(), 0); EXPECT_EQ(U8(), 0);  // null additionalHeader
    return result;
  }
};

class Tcp {
 public:
  explicit Tcp(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Tcp() { ::close(fd_); }
  bool ok() const { return ok_; }
  void Send(ByteView d) { ASSERT_EQ(::send(fd_, d.data(), d.size(), MSG_NOSIGNAL), static_cast<ssize_t>(d.size())); }
  // One whole UA TCP message (header included); empty on error.
  Bytes Receive() {
    Bytes m(8);
    if (!ReadExactly(m.data(), 8)) return {};
    uint32_t size = m[4] | m[5] << 8 | m[6] << 16 | static_cast<uint32_t>(m[7]) << 24;
    if (size < 8 || size > (1u << 24)) return {};
    m.resize(size);
    if (!ReadExactly(m.data() + 8, size - 8)) return {};
    return m;
  }

 private:
  bool ReadExactly(uint8_t* p, size_t n) {
    while (n > 0) {
      ssize_t r = ::recv(fd_, p, n, 0);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }
  int fd_ = -1;
  bool ok_ = false;
};

std::string Describe(const Bytes& msg) {
  if (msg.size() >= 16 && std::string(msg.begin(), msg.begin() + 3) == "ERR") {
    Reader r{msg, 8};
    uint32_t code = r.U32();
    Bytes reason = r.Str();
    return fmt::format("ERR 0x{:08x} {}", code, std::string(reason.begin(), reason.end()));
  }
  return msg.size() >= 3 ? std::string(msg.begin(), msg.begin() + 3) : "(nothing)";
}

struct PeerSetup {
  std::string url;
  fs::path server_pki;  // node-opcua's own PKI folder for this instance
  Bytes server_der;
  RsaKey server_key;
};

PeerSetup DescribePeer(const pf::testing::Peer& peer) {
  PeerSetup s;
  const char* home = std::getenv("PEERS_HOME");
  s.server_pki = fs::path(home ? home : "/tmp/plantfloor-peers") / "pki" / fmt::format("opcua-{}", peer.port()) / "server";
  auto der = CertificateToDer(ReadFile(s.server_pki / "own" / "certs" / "certificate.pem"));
  EXPECT_TRUE(der.ok()) << der.status().ToString();
  if (der.ok()) {
    s.server_der = *der;
    s.server_key = *RsaKey::FromCertificateDer(s.server_der);
  }
  s.url = fmt::format("opc.tcp://127.0.0.1:{}/UA/EdgeTestPeer", peer.port());
  return s;
}

struct OpenChannel {
  std::string refused;  // "" when open, else what the server answered
  uint32_t channel_id = 0, token_id = 0;
  ChannelKeys keys;
};

OpenChannel Refused(std::string why) {
  OpenChannel ch;
  ch.refused = std::move(why);
  return ch;
}

// HEL/ACK, then OpenSecureChannel SignAndEncrypt: signed with our key over the whole chunk, encrypted
// for the server; the response is decrypted, its signature and padding checked, and the keys derived.
OpenChannel Open(Tcp& tcp, const PeerSetup& peer, const CertificateAndKey& own) {
  const SecurityPolicy& p = B();
  OpenChannel out;
  Writer hello;
  for (uint32_t v : {0u, 65536u, 65536u, 0u, 0u}) hello.U32(v);
  hello.Str(AsBytes(peer.url));
  Writer hel;
  hel.Raw(AsBytes("HELF"));
  hel.U32(static_cast<uint32_t>(8 + hello.b.size()));
  hel.Raw(hello.b);
  tcp.Send(hel.b);
  Bytes ack = tcp.Receive();
  if (Describe(ack) != "ACK") return Refused("hello: " + Describe(ack));

  Bytes client_nonce = *p.GenerateNonce();
  Writer sec;
  sec.Str(AsBytes(p.uri()));
  sec.Str(own.der);
  sec.Str(Thumbprint(peer.server_der));
  Writer plain;
  plain.U32(1);  // sequence number
  plain.U32(1);  // request id
  plain.TypeId(446);  // OpenSecureChannelRequest_Encoding_DefaultBinary
  plain.RequestHeader(1);
  plain.U32(0);  // clientProtocolVersion
  plain.U32(0);  // Issue
  plain.U32(3);  // SignAndEncrypt
  plain.Str(client_nonce);
  plain.U32(600000);
  const size_t sig_size = p.AsymmetricSignatureSize(own.key);
  const size_t block = p.AsymmetricPlainBlockSize(peer.server_key);
  Padding pad = ComputePadding(plain.b.size(), sig_size, block, peer.server_key.bits() > 2048);
  plain.Raw(pad.Encode());
  const size_t cipher_size = (plain.b.size() + sig_size) / block * p.AsymmetricCipherBlockSize(peer.server_key);
  Writer opn;
  opn.Raw(AsBytes("OPNF"));
  opn.U32(static_cast<uint32_t>(12 + sec.b.size() + cipher_size));  // the encrypted size is what gets signed
  opn.U32(0);  // SecureChannelId
  opn.Raw(sec.b);
  Bytes to_sign = opn.b;
  to_sign.insert(to_sign.end(), plain.b.begin(), plain.b.end());
  plain.Raw(*p.AsymmetricSign(own.key, to_sign));
  auto cipher = p.AsymmetricEncrypt(peer.server_key, plain.b);
  EXPECT_TRUE(cipher.ok());
  EXPECT_EQ(cipher->size(), cipher_size);
  opn.Raw(*cipher);
  tcp.Send(opn.b);

  Bytes resp = tcp.Receive();
  if (Describe(resp) != "OPN") return Refused("open: " + Describe(resp));
  Reader r{resp, 8};
  out.channel_id = r.U32();
  EXPECT_EQ(AsString(r.Str()), p.uri());
  EXPECT_EQ(r.Str(), peer.server_der);       // sender certificate
  EXPECT_EQ(r.Str(), Thumbprint(own.der));   // encrypted for our certificate
  EXPECT_FALSE(r.fail);
  const size_t header_end = r.at;
  auto dec = p.AsymmetricDecrypt(own.key, ByteView(resp).subspan(header_end));
  EXPECT_TRUE(dec.ok()) << dec.status().ToString();
  const size_t server_sig = p.AsymmetricSignatureSize(peer.server_key);
  if (!dec.ok() || dec->size() <= server_sig) return Refused("open: undecryptable response");
  Bytes signed_part(resp.begin(), resp.begin() + static_cast<std::ptrdiff_t>(header_end));
  signed_part.insert(signed_part.end(), dec->begin(), dec->end() - static_cast<std::ptrdiff_t>(server_sig));
  EXPECT_TRUE(p.AsymmetricVerify(peer.server_key, signed_part, ByteView(*dec).last(server_sig)).ok());
  auto pad_len = ParsePadding(ByteView(*dec).first(dec->size() - server_sig), own.key.bits() > 2048);
  EXPECT_TRUE(pad_len.ok()) << pad_len.status().ToString();
  if (!pad_len.ok()) return Refused("open: bad padding");
  Reader body{ByteView(*dec).first(dec->size() - server_sig - *pad_len)};
  body.U32();  // sequence number
  EXPECT_EQ(body.U32(), 1u);  // request id
  const uint16_t type = body.TypeId();
  const uint32_t result = body.ResponseHeader();
  if (type == 397) return Refused(fmt::format("ServiceFault 0x{:08x}", result));  // signed and encrypted, too
  EXPECT_EQ(type, 449);  // OpenSecureChannelResponse
  EXPECT_EQ(result, 0u);
  body.U32();  // serverProtocolVersion
  EXPECT_EQ(body.U32(), out.channel_id);
  out.token_id = body.U32();
  body.I64();
  EXPECT_GT(body.U32(), 0u);  // revisedLifetime
  Bytes server_nonce = body.Str();
  EXPECT_FALSE(body.fail);
  EXPECT_EQ(body.at, body.b.size());
  EXPECT_EQ(server_nonce.size(), 32u);
  auto keys = p.DeriveKeys(client_nonce, server_nonce);
  if (!keys.ok()) return Refused("open: " + keys.status().ToString());
  out.keys = *keys;
  return out;
}

// GetEndpoints as a symmetric SignAndEncrypt MSG; returns the number of endpoints in the verified,
// decrypted answer (-1 on any failure).
int GetEndpoints(Tcp& tcp, const PeerSetup& peer, const OpenChannel& ch) {
  const SecurityPolicy& p = B();
  Writer sym;
  sym.U32(2);
  sym.U32(2);
  sym.TypeId(428);  // GetEndpointsRequest
  sym.RequestHeader(2);
  sym.Str(AsBytes(peer.url));
  sym.Null();  // localeIds
  sym.Null();  // profileUris
  Padding pad = ComputePadding(sym.b.size(), p.SymmetricSignatureSize(), p.SymmetricBlockSize(), false);
  sym.Raw(pad.Encode());
  Writer msg;
  msg.Raw(AsBytes("MSGF"));
  msg.U32(static_cast<uint32_t>(16 + sym.b.size() + p.SymmetricSignatureSize()));
  msg.U32(ch.channel_id);
  msg.U32(ch.token_id);
  Bytes to_sign = msg.b;
  to_sign.insert(to_sign.end(), sym.b.begin(), sym.b.end());
  sym.Raw(*p.SymmetricSign(ch.keys.client, to_sign));
  auto cipher = p.SymmetricEncrypt(ch.keys.client, sym.b);
  EXPECT_TRUE(cipher.ok()) << cipher.status().ToString();
  msg.Raw(*cipher);
  tcp.Send(msg.b);

  Bytes reply = tcp.Receive();
  EXPECT_EQ(Describe(reply), "MSG");
  if (Describe(reply) != "MSG" || reply[3] != 'F') return -1;
  auto plain = p.SymmetricDecrypt(ch.keys.server, ByteView(reply).subspan(16));
  EXPECT_TRUE(plain.ok()) << plain.status().ToString();
  const size_t hmac = p.SymmetricSignatureSize();
  if (!plain.ok() || plain->size() <= hmac) return -1;
  Bytes reply_signed(reply.begin(), reply.begin() + 16);
  reply_signed.insert(reply_signed.end(), plain->begin(), plain->end() - static_cast<std::ptrdiff_t>(hmac));
  EXPECT_TRUE(p.SymmetricVerify(ch.keys.server, reply_signed, ByteView(*plain).last(hmac)).ok());
  auto rpad = ParsePadding(ByteView(*plain).first(plain->size() - hmac), false);
  EXPECT_TRUE(rpad.ok()) << rpad.status().ToString();
  if (!rpad.ok()) return -1;
  Reader rb{ByteView(*plain).first(plain->size() - hmac - *rpad)};
  rb.U32();
  EXPECT_EQ(rb.U32(), 2u);
  EXPECT_EQ(rb.TypeId(), 431);  // GetEndpointsResponse
  EXPECT_EQ(rb.ResponseHeader(), 0u);
  uint32_t endpoints = rb.U32();
  return rb.fail ? -1 : static_cast<int>(endpoints);
}

CertificateAndKey ClientCertificate(CertificateStore& store) {
  CertificateRequest req;
  req.application_uri = "urn:plantfloor:crypto-test";
  req.dns_names = {"localhost"};
  auto own = store.LoadOrCreateOwn(req);
  EXPECT_TRUE(own.ok()) << own.status().ToString();
  return own.ok() ? *own : CertificateAndKey{};
}

TEST(OpcuaCryptoPeer, Basic256Sha256SignAndEncryptHandshakeWithNodeOpcua) {
  if (pf::testing::PeersScript().empty()) GTEST_SKIP() << "../shared/peers not found";
  pf::testing::Peer peer("opcua", 0, "secure");
  ASSERT_TRUE(peer.ok()) << peer.log();
  PeerSetup setup = DescribePeer(peer);
  ASSERT_TRUE(setup.server_key.valid());

  // Our side: a fresh client store; the server certificate is refused, then trusted.
  fs::path root = TempDir() / "handshake";
  CertificateStore store(root);
  CertificateAndKey own = ClientCertificate(store);
  EXPECT_EQ(store.CheckServerCertificate(setup.server_der, "127.0.0.1", "urn:localhost:EdgeTestPeer").code(),
            StatusCode::kPermissionDenied);
  ASSERT_TRUE(store.Trust(setup.server_der).ok());
  ASSERT_TRUE(store.CheckServerCertificate(setup.server_der, "127.0.0.1", "urn:localhost:EdgeTestPeer").ok());
  EXPECT_TRUE(store.CheckServerCertificate(setup.server_der, "localhost", "urn:localhost:EdgeTestPeer").ok());
  EXPECT_EQ(store.CheckServerCertificate(setup.server_der, "10.9.9.9", "").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(setup.server_key.bits(), 2048);

  Tcp tcp(peer.port());
  ASSERT_TRUE(tcp.ok());
  OpenChannel ch = Open(tcp, setup, own);
  ASSERT_EQ(ch.refused, "") << peer.log();
  int endpoints = GetEndpoints(tcp, setup, ch);
  EXPECT_GE(endpoints, 1);
  EXPECT_LT(endpoints, 100);
  fs::remove_all(root);
}

TEST(OpcuaCryptoPeer, UntrustedClientRefusedUntilMovedToTrusted) {
  if (pf::testing::PeersScript().empty()) GTEST_SKIP() << "../shared/peers not found";
  ::setenv("OPCUA_TRUST_ALL", "0", 1);
  pf::testing::Peer peer("opcua", 0, "secure");
  ::unsetenv("OPCUA_TRUST_ALL");
  ASSERT_TRUE(peer.ok()) << peer.log();
  PeerSetup setup = DescribePeer(peer);
  ASSERT_TRUE(setup.server_key.valid());
  fs::path root = TempDir() / "untrusted";
  CertificateStore store(root);
  CertificateAndKey own = ClientCertificate(store);

  {
    Tcp tcp(peer.port());
    ASSERT_TRUE(tcp.ok());
    OpenChannel ch = Open(tcp, setup, own);
    // node-opcua answers an untrusted client certificate with a ServiceFault BadSecurityChecksFailed.
    EXPECT_EQ(ch.refused, "ServiceFault 0x80130000");
  }
  // The operator's step on the server: move our certificate from its rejected folder to trusted/certs.
  const Bytes own_thumb = Thumbprint(own.der);
  fs::path moved;
  for (int i = 0; i < 50 && moved.empty(); ++i) {
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(setup.server_pki / "rejected", ec)) {
      if (!e.is_regular_file()) continue;
      auto der = CertificateToDer(ReadFile(e.path()));
      if (der.ok() && Thumbprint(*der) == own_thumb) {
        moved = setup.server_pki / "trusted" / "certs" / e.path().filename();
        fs::rename(e.path(), moved);
        break;
      }
    }
    if (moved.empty()) ::usleep(100'000);
  }
  ASSERT_FALSE(moved.empty()) << "our certificate never appeared under " << setup.server_pki / "rejected";

  std::string last;
  for (int attempt = 0; attempt < 20; ++attempt) {  // the server may pick up its folder change a little later
    Tcp tcp(peer.port());
    ASSERT_TRUE(tcp.ok());
    OpenChannel ch = Open(tcp, setup, own);
    last = ch.refused;
    if (ch.refused.empty()) {
      EXPECT_GE(GetEndpoints(tcp, setup, ch), 1);
      break;
    }
    ::usleep(250'000);
  }
  EXPECT_EQ(last, "") << "still refused after moving the certificate to trusted/certs";
  fs::remove_all(root);
}

}  // namespace
}  // namespace pf::opcua
