#pragma once
// OPC UA message security: the SecurityPolicies None and Basic256Sha256 (OPC 10000-7) over OpenSSL 3,
// plus the pieces of OPC 10000-6 6.7 the secure channel needs around them: key derivation from the
// OpenSecureChannel nonces (6.7.5/6.7.6) and the padding of an encrypted chunk (6.7.2).
//
// Basic256Sha256:
//   asymmetric signature  RSA PKCS#1 v1.5 with SHA-256; signature size = signer's key bytes
//   asymmetric encryption RSA-OAEP (SHA-1, MGF1-SHA-1), block-wise: each plaintext block holds at most
//                         key bytes - 42, each cipher block is key bytes long
//   symmetric signature   HMAC-SHA256, 32 bytes, signing key 32 bytes
//   symmetric encryption  AES-256-CBC, 16-byte blocks, no cipher padding (OPC UA pads the chunk itself)
//   key derivation        P_SHA256 (RFC 5246 5); nonces 32 bytes; RSA keys 2048..4096 bits
// None: every operation is the identity or empty (sizes 0); a transport may call it unconditionally.
//
// All functions are pure apart from nonce generation (OpenSSL's CSPRNG) and are thread-safe; an
// RsaKey may be shared between threads (OpenSSL keys are read-only once loaded).
// Errors: bad input sizes -> kInvalidArgument; a signature that does not verify or ciphertext that
// does not decrypt -> kPermissionDenied (the peer or the data is not who it claims: never retry the
// same bytes); an OpenSSL failure on valid input -> kInternal.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace pf::opcua {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// Lower-case hex, "0a1b..."; the inverse rejects odd lengths and non-hex characters.
std::string ToHex(ByteView bytes);
Result<Bytes> FromHex(std::string_view hex);
// Views between the std::string ByteStrings of the binary codec and the byte vectors used here.
inline ByteView AsBytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
inline std::string AsString(ByteView b) { return std::string(b.begin(), b.end()); }

Bytes Sha1(ByteView data);
Bytes Sha256(ByteView data);
Bytes HmacSha256(ByteView key, ByteView data);
// P_SHA256(secret, seed) truncated to `length` bytes (RFC 5246 section 5, the OPC UA PRF).
Bytes PSha256(ByteView secret, ByteView seed, size_t length);
// `n` bytes from OpenSSL's CSPRNG; kInternal if it is not seeded.
Result<Bytes> RandomBytes(size_t n);

// An RSA key: a key pair (own key, loaded from PEM or generated) or a public key alone (taken from a
// peer's certificate). Copies share the same OpenSSL key.
class RsaKey {
 public:
  RsaKey() = default;
  static Result<RsaKey> Generate(int bits);                 // 1024..8192
  static Result<RsaKey> FromPrivatePem(std::string_view pem);  // PKCS#8 or PKCS#1, unencrypted
  static Result<RsaKey> FromCertificateDer(ByteView der);   // the certificate's public key
  Result<std::string> ToPrivatePem() const;                 // PKCS#8 PEM; needs the private half

  bool valid() const { return key_ != nullptr; }
  bool has_private() const { return has_private_; }
  int bits() const;
  size_t bytes() const { return static_cast<size_t>(bits() + 7) / 8; }
  evp_pkey_st* get() const { return key_.get(); }

 private:
  std::shared_ptr<evp_pkey_st> key_;
  bool has_private_ = false;
};

// The keys one side uses for symmetric messages once the channel is open.
struct SymmetricKeys {
  Bytes signing_key;     // HMAC key
  Bytes encrypting_key;  // AES key
  Bytes iv;              // AES-CBC initialization vector
};
// client: what the client signs/encrypts with (and the server verifies/decrypts with); server: the reverse.
struct ChannelKeys {
  SymmetricKeys client;
  SymmetricKeys server;
};

// The padding of an encrypted chunk (OPC 10000-6 6.7.2): PaddingSize (1 byte, low byte of N), N bytes
// each equal to that low byte, then ExtraPaddingSize (high byte of N) when the encrypting key is longer
// than 2048 bits, so that header-after-security-header + body + padding + signature is a multiple of
// the plaintext block size.
struct Padding {
  size_t padding_size = 0;   // N
  bool extra_byte = false;
  size_t total() const { return 1 + padding_size + (extra_byte ? 1 : 0); }  // bytes added to the chunk
  Bytes Encode() const;
};
// plain_size: bytes from the sequence header to the end of the body; signature_size: bytes appended
// after the padding; block_size: the plaintext block size (16 for AES, key bytes - 42 for RSA-OAEP).
// extra_byte: the encrypting key is > 2048 bits (only ever true for asymmetric encryption).
Padding ComputePadding(size_t plain_size, size_t signature_size, size_t block_size, bool extra_byte);
// The receiver's side: `data` is the decrypted chunk up to (not including) the signature. Returns the
// number of padding bytes at its end (Padding::total()), or kDataLoss when they are inconsistent.
Result<size_t> ParsePadding(ByteView data, bool extra_byte);

class SecurityPolicy {
 public:
  virtual ~SecurityPolicy() = default;
  virtual std::string_view uri() const = 0;          // "http://opcfoundation.org/UA/SecurityPolicy#..."
  virtual bool is_none() const = 0;
  // Algorithm URIs for SignatureData (ActivateSession) and encrypted user tokens; "" for None.
  virtual std::string_view asymmetric_signature_uri() const = 0;
  virtual std::string_view asymmetric_encryption_uri() const = 0;
  virtual size_t nonce_length() const = 0;           // SecureChannelNonceLength

  // Asymmetric (OpenSecureChannel, session signatures, user token secrets).
  virtual size_t AsymmetricSignatureSize(const RsaKey& signer) const = 0;
  virtual size_t AsymmetricPlainBlockSize(const RsaKey& receiver) const = 0;
  virtual size_t AsymmetricCipherBlockSize(const RsaKey& receiver) const = 0;
  virtual Result<Bytes> AsymmetricSign(const RsaKey& private_key, ByteView data) const = 0;
  virtual Status AsymmetricVerify(const RsaKey& public_key, ByteView data, ByteView signature) const = 0;
  // Splits `plain` into blocks of AsymmetricPlainBlockSize (the last may be shorter) and encrypts each.
  virtual Result<Bytes> AsymmetricEncrypt(const RsaKey& public_key, ByteView plain) const = 0;
  // `cipher` must be a whole number of cipher blocks.
  virtual Result<Bytes> AsymmetricDecrypt(const RsaKey& private_key, ByteView cipher) const = 0;

  // Symmetric (every message after OpenSecureChannel).
  virtual size_t SymmetricSignatureSize() const = 0;
  virtual size_t SymmetricBlockSize() const = 0;     // plaintext = ciphertext block size
  virtual Result<Bytes> SymmetricSign(const SymmetricKeys& keys, ByteView data) const = 0;
  virtual Status SymmetricVerify(const SymmetricKeys& keys, ByteView data, ByteView signature) const = 0;
  // `data` must be a multiple of SymmetricBlockSize (the chunk's own padding makes it one).
  virtual Result<Bytes> SymmetricEncrypt(const SymmetricKeys& keys, ByteView data) const = 0;
  virtual Result<Bytes> SymmetricDecrypt(const SymmetricKeys& keys, ByteView data) const = 0;

  // Keys from the OpenSecureChannel nonces (6.7.5): client keys = PRF(server nonce, client nonce),
  // server keys = PRF(client nonce, server nonce), each laid out signing key | encrypting key | IV.
  virtual Result<ChannelKeys> DeriveKeys(ByteView client_nonce, ByteView server_nonce) const = 0;
  virtual Result<Bytes> GenerateNonce() const = 0;   // nonce_length() random bytes (None: empty)
};

inline constexpr std::string_view kSecurityPolicyNoneUri = "http://opcfoundation.org/UA/SecurityPolicy#None";
inline constexpr std::string_view kSecurityPolicyBasic256Sha256Uri =
    "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256";

// Shared, stateless instances.
const SecurityPolicy& SecurityPolicyNone();
const SecurityPolicy& SecurityPolicyBasic256Sha256();
// By URI, or by the short names "none" / "basic256sha256" (any case); kUnimplemented for the other
// policy URIs (Basic128Rsa15, Basic256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss), naming the URI;
// kInvalidArgument for anything else.
Result<const SecurityPolicy*> FindSecurityPolicy(std::string_view uri_or_name);

// A secret (password) for a UserNameIdentityToken (OPC 10000-4 7.41.2.3, legacy format): UInt32
// little-endian length of secret + server nonce, the secret, the server nonce, then asymmetric-encrypted
// with the server's public key. None returns the secret unchanged.
Result<Bytes> EncryptTokenSecret(const SecurityPolicy& policy, const RsaKey& server_key, ByteView secret,
                                 ByteView server_nonce);
// The inverse (a server's side; used by tests): checks the length and that the nonce matches.
Result<Bytes> DecryptTokenSecret(const SecurityPolicy& policy, const RsaKey& server_key, ByteView cipher,
                                 ByteView server_nonce);

}  // namespace pf::opcua
