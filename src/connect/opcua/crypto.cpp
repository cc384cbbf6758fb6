#include "connect/opcua/crypto.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>

namespace pf::opcua {
namespace {

// The newest OpenSSL error as text, with the queue cleared so that it never leaks into a later call.
std::string TakeOpensslError() {
  unsigned long code = ERR_get_error();
  std::string text = "unknown OpenSSL error";
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    text = buf;
  }
  ERR_clear_error();
  return text;
}

struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  void operator()(BIO* b) const { BIO_free(b); }
  void operator()(X509* x) const { X509_free(x); }
};
template <typename T>
using Owned = std::unique_ptr<T, CtxFree>;

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* k) { return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free); }

Bytes Digest(const EVP_MD* md, ByteView data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr);
  out.resize(len);
  return out;
}

Status RequireRsa(const RsaKey& key, bool need_private, std::string_view what) {
  if (!key.valid()) return InvalidArgument("{}: no key", what);
  if (need_private && !key.has_private()) return InvalidArgument("{}: needs a private key, got a public key", what);
  return Status::Ok();
}

// Symmetric AES-256-CBC without cipher padding, one direction.
Result<Bytes> AesCbc(const SymmetricKeys& keys, ByteView data, bool encrypt) {
  const char* what = encrypt ? "symmetric encrypt" : "symmetric decrypt";
  if (keys.encrypting_key.size() != 32 || keys.iv.size() != 16)
    return InvalidArgument("{}: AES-256-CBC needs a 32-byte key and a 16-byte IV, got {} and {}", what,
                           keys.encrypting_key.size(), keys.iv.size());
  if (data.size() % 16 != 0)
    return InvalidArgument("{}: {} bytes is not a multiple of the 16-byte AES block", what, data.size());
  Owned<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, keys.encrypting_key.data(),
                                keys.iv.data(), encrypt ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1)
    return Internal("{}: {}", what, TakeOpensslError());
  Bytes out(data.size() + 16);
  int n = 0, tail = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &n, data.data(), static_cast<int>(data.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + n, &tail) != 1)
    return Internal("{}: {}", what, TakeOpensslError());
  out.resize(static_cast<size_t>(n + tail));
  return out;
}

Owned<EVP_PKEY_CTX> OaepContext(const RsaKey& key, bool encrypt) {
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  if (!ctx) return ctx;
  int init = encrypt ? EVP_PKEY_encrypt_init(ctx.get()) : EVP_PKEY_decrypt_init(ctx.get());
  if (init != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) != 1)
    ctx.reset();
  return ctx;
}

class NonePolicy final : public SecurityPolicy {
 public:
  std::string_view uri() const override { return kSecurityPolicyNoneUri; }
  bool is_none() const override { return true; }
  std::string_view asymmetric_signature_uri() const override { return ""; }
  std::string_view asymmetric_encryption_uri() const override { return ""; }
  size_t nonce_length() const override { return 0; }
  size_t AsymmetricSignatureSize(const RsaKey&) const override { return 0; }
  size_t AsymmetricPlainBlockSize(const RsaKey&) const override { return 1; }
  size_t AsymmetricCipherBlockSize(const RsaKey&) const override { return 1; }
  Result<Bytes> AsymmetricSign(const RsaKey&, ByteView) const override { return Bytes{}; }
  Status AsymmetricVerify(const RsaKey&, ByteView, ByteView signature) const override {
    if (!signature.empty()) return PermissionDenied("SecurityPolicy None: expected no signature, got {} bytes", signature.size());
    return Status::Ok();
  }
  Result<Bytes> AsymmetricEncrypt(const RsaKey&, ByteView plain) const override { return Bytes(plain.begin(), plain.end()); }
  Result<Bytes> AsymmetricDecrypt(const RsaKey&, ByteView cipher) const override { return Bytes(cipher.begin(), cipher.end()); }
  size_t SymmetricSignatureSize() const override { return 0; }
  size_t SymmetricBlockSize() const override { return 1; }
  Result<Bytes> SymmetricSign(const SymmetricKeys&, ByteView) const override { return Bytes{}; }
  Status SymmetricVerify(const SymmetricKeys&, ByteView, ByteView signature) const override {
    if (!signature.empty()) return PermissionDenied("SecurityPolicy None: expected no signature, got {} bytes", signature.size());
    return Status::Ok();
  }
  Result<Bytes> SymmetricEncrypt(const SymmetricKeys&, ByteView data) const override { return Bytes(data.begin(), data.end()); }
  Result<Bytes> SymmetricDecrypt(const SymmetricKeys&, ByteView data) const override { return Bytes(data.begin(), data.end()); }
  Result<ChannelKeys> DeriveKeys(ByteView, ByteView) const override { return ChannelKeys{}; }
  Result<Bytes> GenerateNonce() const override { return Bytes{}; }
};

class Basic256Sha256Policy final : public SecurityPolicy {
 public:
  static constexpr size_t kSigningKeyLength = 32;
  static constexpr size_t kEncryptingKeyLength = 32;
  static constexpr size_t kIvLength = 16;
  static constexpr size_t kNonceLength = 32;
  static constexpr size_t kOaepSha1Overhead = 42;  // 2 * SHA-1 length + 2
  static constexpr int kMinKeyBits = 2048, kMaxKeyBits = 4096;

  std::string_view uri() const override { return kSecurityPolicyBasic256Sha256Uri; }
  bool is_none() const override { return false; }
  std::string_view asymmetric_signature_uri() const override {
    return "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
  }
  std::string_view asymmetric_encryption_uri() const override { return "http://www.w3.org/2001/04/xmlenc#rsa-oaep"; }
  size_t nonce_length() const override { return kNonceLength; }

  size_t AsymmetricSignatureSize(const RsaKey& signer) const override { return signer.bytes(); }
  size_t AsymmetricPlainBlockSize(const RsaKey& receiver) const override {
    return receiver.bytes() > kOaepSha1Overhead ? receiver.bytes() - kOaepSha1Overhead : 0;
  }
  size_t AsymmetricCipherBlockSize(const RsaKey& receiver) const override { return receiver.bytes(); }

  Result<Bytes> AsymmetricSign(const RsaKey& key, ByteView data) const override {
    PF_RETURN_IF_ERROR(RequireRsa(key, true, "asymmetric sign"));
    PF_RETURN_IF_ERROR(CheckKeySize(key, "asymmetric sign"));
    Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    size_t len = key.bytes();
    Bytes sig(len);
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1)
      return Internal("asymmetric sign: {}", TakeOpensslError());
    sig.resize(len);
    return sig;
  }

  Status AsymmetricVerify(const RsaKey& key, ByteView data, ByteView signature) const override {
    PF_RETURN_IF_ERROR(RequireRsa(key, false, "asymmetric verify"));
    if (signature.size() != key.bytes())
      return PermissionDenied("asymmetric verify: signature is {} bytes, the {}-bit key signs {} bytes",
                              signature.size(), key.bits(), key.bytes());
    Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
      return Internal("asymmetric verify: {}", TakeOpensslError());
    int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(), data.size());
    if (rc != 1) {
      ERR_clear_error();
      return PermissionDenied("asymmetric verify: RSA-SHA256 signature over {} bytes does not match", data.size());
    }
    return Status::Ok();
  }

  Result<Bytes> AsymmetricEncrypt(const RsaKey& key, ByteView plain) const override {
    PF_RETURN_IF_ERROR(RequireRsa(key, false, "asymmetric encrypt"));
    PF_RETURN_IF_ERROR(CheckKeySize(key, "asymmetric encrypt"));
    auto ctx = OaepContext(key, true);
    if (!ctx) return Internal("asymmetric encrypt: {}", TakeOpensslError());
    const size_t block = AsymmetricPlainBlockSize(key), out_block = key.bytes();
    Bytes out;
    out.reserve((plain.size() / block + 1) * out_block);
    for (size_t at = 0; at < plain.size(); at += block) {
      size_t n = std::min(block, plain.size() - at);
      size_t len = out_block;
      out.resize(out.size() + out_block);
      if (EVP_PKEY_encrypt(ctx.get(), out.data() + out.size() - out_block, &len, plain.data() + at, n) != 1 ||
          len != out_block)
        return Internal("asymmetric encrypt: block at byte {}: {}", at, TakeOpensslError());
    }
    return out;
  }

  Result<Bytes> AsymmetricDecrypt(const RsaKey& key, ByteView cipher) const override {
    PF_RETURN_IF_ERROR(RequireRsa(key, true, "asymmetric decrypt"));
    const size_t block = key.bytes();
    if (cipher.size() % block != 0)
      return InvalidArgument("asymmetric decrypt: {} bytes is not a multiple of the {}-byte RSA block",
                             cipher.size(), block);
    auto ctx = OaepContext(key, false);
    if (!ctx) return Internal("asymmetric decrypt: {}", TakeOpensslError());
    Bytes out;
    Bytes buf(block);
    const size_t blocks = cipher.size() / block;
    for (size_t i = 0; i < blocks; ++i) {
      size_t len = buf.size();
      if (EVP_PKEY_decrypt(ctx.get(), buf.data(), &len, cipher.data() + i * block, block) != 1) {
        ERR_clear_error();
        return PermissionDenied("asymmetric decrypt: block {} of {}: RSA-OAEP decoding failed (wrong key or corrupt data)",
                                i + 1, blocks);
      }
      out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(len));
    }
    return out;
  }

  size_t SymmetricSignatureSize() const override { return 32; }
  size_t SymmetricBlockSize() const override { return 16; }
  Result<Bytes> SymmetricSign(const SymmetricKeys& keys, ByteView data) const override {
    if (keys.signing_key.size() != kSigningKeyLength)
      return InvalidArgument("symmetric sign: signing key is {} bytes, Basic256Sha256 uses {}", keys.signing_key.size(),
                             kSigningKeyLength);
    return HmacSha256(keys.signing_key, data);
  }
  Status SymmetricVerify(const SymmetricKeys& keys, ByteView data, ByteView signature) const override {
    PF_ASSIGN_OR_RETURN(Bytes expected, SymmetricSign(keys, data));
    if (signature.size() != expected.size())
      return PermissionDenied("symmetric verify: signature is {} bytes, HMAC-SHA256 gives {}", signature.size(),
                              expected.size());
    if (CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) != 0)
      return PermissionDenied("symmetric verify: HMAC-SHA256 over {} bytes does not match", data.size());
    return Status::Ok();
  }
  Result<Bytes> SymmetricEncrypt(const SymmetricKeys& keys, ByteView data) const override {
    return AesCbc(keys, data, true);
  }
  Result<Bytes> SymmetricDecrypt(const SymmetricKeys& keys, ByteView data) const override {
    return AesCbc(keys, data, false);
  }

  Result<ChannelKeys> DeriveKeys(ByteView client_nonce, ByteView server_nonce) const override {
    if (client_nonce.size() != kNonceLength || server_nonce.size() != kNonceLength)
      return InvalidArgument("derive keys: Basic256Sha256 needs {}-byte nonces, got client {} and server {} bytes",
                             kNonceLength, client_nonce.size(), server_nonce.size());
    ChannelKeys keys;
    keys.client = Split(PSha256(server_nonce, client_nonce, kSigningKeyLength + kEncryptingKeyLength + kIvLength));
    keys.server = Split(PSha256(client_nonce, server_nonce, kSigningKeyLength + kEncryptingKeyLength + kIvLength));
    return keys;
  }
  Result<Bytes> GenerateNonce() const override { return RandomBytes(kNonceLength); }

 private:
  static SymmetricKeys Split(const Bytes& material) {
    auto at = material.begin();
    SymmetricKeys k;
    k.signing_key.assign(at, at + kSigningKeyLength);
    at += kSigningKeyLength;
    k.encrypting_key.assign(at, at + kEncryptingKeyLength);
    at += kEncryptingKeyLength;
    k.iv.assign(at, at + kIvLength);
    return k;
  }
  static Status CheckKeySize(const RsaKey& key, std::string_view what) {
    if (key.bits() < kMinKeyBits || key.bits() > kMaxKeyBits)
      return InvalidArgument("{}: Basic256Sha256 needs an RSA key of {}..{} bits, got {}", what, kMinKeyBits,
                             kMaxKeyBits, key.bits());
    return Status::Ok();
  }
};

}  // namespace

std::string ToHex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

Result<Bytes> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidArgument("hex: odd length {}", hex.size());
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("hex: position {}: not a hex digit in '{}'", 2 * i, hex.substr(2 * i, 2));
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

Bytes Sha1(ByteView data) { return Digest(EVP_sha1(), data); }
Bytes Sha256(ByteView data) { return Digest(EVP_sha256(), data); }

Bytes HmacSha256(ByteView key, ByteView data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  static const uint8_t kEmpty = 0;
  HMAC(EVP_sha256(), key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()),
       data.empty() ? &kEmpty : data.data(), data.size(), out.data(), &len);
  out.resize(len);
  return out;
}

Bytes PSha256(ByteView secret, ByteView seed, size_t length) {
  // A(0) = seed, A(i) = HMAC(secret, A(i-1)); output = HMAC(secret, A(1) + seed) | HMAC(secret, A(2) + seed) | ...
  Bytes out;
  out.reserve(length + 32);
  Bytes a(seed.begin(), seed.end());
  Bytes input;
  while (out.size() < length) {
    a = HmacSha256(secret, a);
    input.assign(a.begin(), a.end());
    input.insert(input.end(), seed.begin(), seed.end());
    Bytes block = HmacSha256(secret, input);
    out.insert(out.end(), block.begin(), block.end());
  }
  out.resize(length);
  return out;
}

Result<Bytes> RandomBytes(size_t n) {
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1)
    return Internal("random bytes: {}", TakeOpensslError());
  return out;
}

// ---- RsaKey ----

Result<RsaKey> RsaKey::Generate(int bits) {
  if (bits < 1024 || bits > 8192) return InvalidArgument("RSA key: {} bits is outside 1024..8192", bits);
  EVP_PKEY* k = EVP_RSA_gen(static_cast<unsigned int>(bits));
  if (k == nullptr) return Internal("RSA key generation ({} bits): {}", bits, TakeOpensslError());
  RsaKey key;
  key.key_ = Share(k);
  key.has_private_ = true;
  return key;
}

Result<RsaKey> RsaKey::FromPrivatePem(std::string_view pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (k == nullptr) return InvalidArgument("private key PEM: {}", TakeOpensslError());
  RsaKey key;
  key.key_ = Share(k);
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) return InvalidArgument("private key PEM: not an RSA key");
  key.has_private_ = true;
  return key;
}

Result<RsaKey> RsaKey::FromCertificateDer(ByteView der) {
  const unsigned char* p = der.data();
  Owned<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return InvalidArgument("certificate: not DER X.509 ({} bytes): {}", der.size(), TakeOpensslError());
  EVP_PKEY* k = X509_get_pubkey(cert.get());
  if (k == nullptr) return InvalidArgument("certificate: public key unreadable: {}", TakeOpensslError());
  RsaKey key;
  key.key_ = Share(k);
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) return InvalidArgument("certificate: public key is not RSA");
  return key;
}

Result<std::string> RsaKey::ToPrivatePem() const {
  if (!valid() || !has_private_) return FailedPrecondition("RSA key: no private key to write");
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return Internal("RSA key PEM: {}", TakeOpensslError());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

int RsaKey::bits() const { return key_ ? EVP_PKEY_get_bits(key_.get()) : 0; }

// ---- padding ----

Bytes Padding::Encode() const {
  const auto lo = static_cast<uint8_t>(padding_size & 0xff);
  Bytes out(1 + padding_size, lo);
  if (extra_byte) out.push_back(static_cast<uint8_t>(padding_size >> 8));
  return out;
}

Padding ComputePadding(size_t plain_size, size_t signature_size, size_t block_size, bool extra_byte) {
  Padding p;
  p.extra_byte = extra_byte;
  if (block_size == 0) return p;
  const size_t base = plain_size + signature_size + 1 + (extra_byte ? 1 : 0);
  const size_t rem = base % block_size;
  p.padding_size = rem == 0 ? 0 : block_size - rem;
  return p;
}

Result<size_t> ParsePadding(ByteView data, bool extra_byte) {
  const size_t tail = extra_byte ? 2 : 1;
  if (data.size() < tail)
    return DataLoss("padding: chunk has {} bytes before the signature, too short for the padding size", data.size());
  const uint8_t lo = data[data.size() - tail];
  const size_t n = lo | (extra_byte ? static_cast<size_t>(data.back()) << 8 : 0);
  const size_t total = n + tail;
  if (total > data.size())
    return DataLoss("padding: padding size {} exceeds the {} bytes before the signature", n, data.size());
  const size_t first = data.size() - total;  // the PaddingSize byte
  for (size_t i = first; i < data.size() - (extra_byte ? 1 : 0); ++i)
    if (data[i] != lo)
      return DataLoss("padding: byte {} is 0x{:02x}, every padding byte must be 0x{:02x}", i, data[i], lo);
  return total;
}

// ---- policies ----

const SecurityPolicy& SecurityPolicyNone() {
  static const NonePolicy kPolicy;
  return kPolicy;
}

const SecurityPolicy& SecurityPolicyBasic256Sha256() {
  static const Basic256Sha256Policy kPolicy;
  return kPolicy;
}

Result<const SecurityPolicy*> FindSecurityPolicy(std::string_view uri_or_name) {
  std::string lower(uri_or_name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (uri_or_name == kSecurityPolicyNoneUri || lower == "none") return &SecurityPolicyNone();
  if (uri_or_name == kSecurityPolicyBasic256Sha256Uri || lower == "basic256sha256")
    return &SecurityPolicyBasic256Sha256();
  if (uri_or_name.starts_with("http://opcfoundation.org/UA/SecurityPolicy#"))
    return Unimplemented("security policy '{}' is not supported (supported: None, Basic256Sha256)", uri_or_name);
  return InvalidArgument("security policy '{}': not a policy URI or one of none, basic256sha256", uri_or_name);
}

Result<Bytes> EncryptTokenSecret(const SecurityPolicy& policy, const RsaKey& server_key, ByteView secret,
                                 ByteView server_nonce) {
  if (policy.is_none()) return Bytes(secret.begin(), secret.end());
  const auto len = static_cast<uint32_t>(secret.size() + server_nonce.size());
  Bytes plain = {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len >> 16),
                 static_cast<uint8_t>(len >> 24)};
  plain.insert(plain.end(), secret.begin(), secret.end());
  plain.insert(plain.end(), server_nonce.begin(), server_nonce.end());
  return policy.AsymmetricEncrypt(server_key, plain);
}

Result<Bytes> DecryptTokenSecret(const SecurityPolicy& policy, const RsaKey& server_key, ByteView cipher,
                                 ByteView server_nonce) {
  if (policy.is_none()) return Bytes(cipher.begin(), cipher.end());
  PF_ASSIGN_OR_RETURN(Bytes plain, policy.AsymmetricDecrypt(server_key, cipher));
  if (plain.size() < 4) return InvalidArgument("token secret: {} bytes, too short for the length prefix", plain.size());
  const size_t len = plain[0] | plain[1] << 8 | plain[2] << 16 | static_cast<size_t>(plain[3]) << 24;
  if (len != plain.size() - 4 || len < server_nonce.size())
    return InvalidArgument("token secret: length prefix {} does not match the {} bytes that follow", len, plain.size() - 4);
  const size_t secret_len = len - server_nonce.size();
  if (!std::equal(server_nonce.begin(), server_nonce.end(), plain.begin() + 4 + static_cast<std::ptrdiff_t>(secret_len)))
    return PermissionDenied("token secret: the server nonce at its end does not match");
  return Bytes(plain.begin() + 4, plain.begin() + 4 + static_cast<std::ptrdiff_t>(secret_len));
}

}  // namespace pf::opcua
