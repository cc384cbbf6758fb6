#pragma once
// Application instance certificates (OPC 10000-6 6.2) and the client's certificate store, laid out
// like node-opcua and the UA .NET stack so that operators find the folders they know:
//   <root>/own/certs/cert.der       this client's certificate (DER)
//   <root>/own/private/key.pem      its RSA private key (PKCS#8 PEM, mode 0600)
//   <root>/trusted/certs/           server (or CA) certificates the operator trusts, .der or .pem
//   <root>/issuers/certs/           CA certificates used only to build chains, not trusted by themselves
//   <root>/rejected/certs/          untrusted server certificates land here as <thumbprint>.der
// Trusting a rejected server = moving its file from rejected/certs to trusted/certs.
//
// What CheckServerCertificate returns (in this order; the first failure wins):
//   kInvalidArgument     the bytes are not a DER X.509 certificate
//   kPermissionDenied    the signature does not verify (forged or corrupt), or the certificate is not
//                        trusted (copied to rejected/certs; the message says which file to move where)
//   kFailedPrecondition  outside its validity period, the endpoint's host is not among its
//                        subjectAltName DNS names / IP addresses, or its URI is not the endpoint's
//                        applicationUri: trusting does not help, the server's certificate must change
// CRLs are not checked (no revocation lists are read).
//
// Thread-safety: a CertificateStore has no mutable state of its own but reads and writes files;
// concurrent checks of the same certificate may both write the same rejected file (same bytes).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connect/opcua/crypto.h"
#include "core/status.h"

namespace pf::opcua {

struct CertificateRequest {
  std::string application_uri;            // SAN URI; must equal the client's ApplicationDescription uri
  std::vector<std::string> dns_names;     // SAN DNS, e.g. the host name
  std::vector<std::string> ip_addresses;  // SAN IP, "192.168.1.5" or "::1"
  std::string common_name = "plantfloor";
  std::string organization = "plantfloor";
  int key_bits = 2048;
  std::chrono::seconds validity = std::chrono::hours(24 * 365 * 5);
  std::optional<int64_t> not_before_unix;  // default: now - 1 day (tolerates clocks a little behind)
};

struct CertificateAndKey {
  Bytes der;   // the certificate, DER
  RsaKey key;  // its key pair
};

// A self-signed application instance certificate: v3, random 20-byte serial, SHA-256 signature,
// basicConstraints CA:FALSE, keyUsage digitalSignature, nonRepudiation, keyEncipherment,
// dataEncipherment, keyCertSign; extendedKeyUsage serverAuth, clientAuth; subject/authority key ids.
Result<CertificateAndKey> CreateSelfSignedCertificate(const CertificateRequest& request);

// SHA-1 of the DER bytes: the thumbprint OPC UA puts in security headers and file names.
Bytes Thumbprint(ByteView der);
std::string ThumbprintHex(ByteView der);  // upper-case hex, 40 characters

struct CertificateInfo {
  std::string subject;          // "CN=plc7,O=Acme" (RFC 2253 escaping, in certificate order)
  std::string common_name;
  std::string issuer;
  std::string application_uri;  // first SAN URI, "" if none
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // printed, "127.0.0.1", "::1"
  int64_t not_before_unix = 0;
  int64_t not_after_unix = 0;
  int key_bits = 0;
  bool self_issued = false;     // issuer name == subject name
  std::string thumbprint;       // ThumbprintHex
};
Result<CertificateInfo> InspectCertificate(ByteView der);

// Reads PEM ("-----BEGIN CERTIFICATE-----") or DER bytes into DER.
Result<Bytes> CertificateToDer(ByteView pem_or_der);

class CertificateStore {
 public:
  explicit CertificateStore(std::filesystem::path root) : root_(std::move(root)) {}

  // Creates the folders above (mode 0700 for own/private); existing ones are kept.
  Status EnsureLayout() const;
  // The own certificate and key; kNotFound if either file is missing.
  Result<CertificateAndKey> LoadOwn() const;
  // LoadOwn, or when there is none yet, CreateSelfSignedCertificate + write both files. An own
  // certificate past its notAfter is kFailedPrecondition (servers would refuse it), naming the files
  // to delete so that a new one is made. now_unix: for tests.
  Result<CertificateAndKey> LoadOrCreateOwn(const CertificateRequest& request,
                                            std::optional<int64_t> now_unix = std::nullopt) const;
  // Writes the own certificate (DER) and key (PEM, mode 0600), replacing existing ones atomically.
  Status WriteOwn(const CertificateAndKey& own) const;
  // Adds a certificate to trusted/certs as <thumbprint>.der (the commissioning tool's "trust").
  Status Trust(ByteView der) const;

  // host: the host part of the endpoint URL the client connected to; application_uri: the server's
  // applicationUri from the endpoint description ("" skips that check). now_unix: for tests.
  Status CheckServerCertificate(ByteView der, std::string_view host, std::string_view application_uri,
                                std::optional<int64_t> now_unix = std::nullopt) const;

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path own_certificate_path() const { return root_ / "own" / "certs" / "cert.der"; }
  std::filesystem::path own_key_path() const { return root_ / "own" / "private" / "key.pem"; }
  std::filesystem::path trusted_dir() const { return root_ / "trusted" / "certs"; }
  std::filesystem::path issuers_dir() const { return root_ / "issuers" / "certs"; }
  std::filesystem::path rejected_dir() const { return root_ / "rejected" / "certs"; }

 private:
  Result<std::vector<Bytes>> ReadFolder(const std::filesystem::path& dir) const;
  Result<bool> IsTrusted(ByteView der, const CertificateInfo& info) const;
  Status CheckSignature(ByteView der, const CertificateInfo& info) const;

  std::filesystem::path root_;
};

}  // namespace pf::opcua
