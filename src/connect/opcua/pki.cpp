#include "connect/opcua/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>

#include "core/time.h"

namespace pf::opcua {
namespace fs = std::filesystem;
namespace {

struct Free {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(ASN1_TIME* p) const { ASN1_TIME_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

std::string OpensslError() {
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

Result<Owned<X509>> ParseDer(ByteView der) {
  const unsigned char* p = der.data();
  Owned<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) return InvalidArgument("certificate: {} bytes are not a DER X.509 certificate: {}", der.size(), OpensslError());
  if (p != der.data() + der.size())
    return InvalidArgument("certificate: {} trailing bytes after the DER certificate", der.data() + der.size() - p);
  return cert;
}

Result<Bytes> ToDer(X509* cert) {
  int n = i2d_X509(cert, nullptr);
  if (n <= 0) return Internal("certificate DER encoding: {}", OpensslError());
  Bytes der(static_cast<size_t>(n));
  unsigned char* p = der.data();
  i2d_X509(cert, &p);
  return der;
}

std::string NameToString(const X509_NAME* name) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, (XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV) & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string CommonName(const X509_NAME* name) {
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return "";
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
  if (n < 0) return "";
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return cn;
}

int64_t ToUnix(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string FormatUnix(int64_t s) { return FormatRfc3339(Timestamp::FromNs(s * 1'000'000'000), 0); }

// A printed IP address in canonical form ("::1", "10.0.0.1"), or nullopt if `text` is not one.
std::optional<std::string> CanonicalIp(std::string_view text) {
  std::string s(text);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return std::string(inet_ntop(AF_INET, buf, out, sizeof out));
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return std::string(inet_ntop(AF_INET6, buf, out, sizeof out));
  return std::nullopt;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

// RFC 6125 style: exact (case-insensitive) or a leftmost "*" label covering exactly one label.
bool DnsMatches(std::string_view pattern, std::string_view host) {
  std::string p = Lower(pattern), h = Lower(host);
  if (p == h) return true;
  if (p.size() > 2 && p[0] == '*' && p[1] == '.') {
    size_t dot = h.find('.');
    return dot != std::string::npos && dot > 0 && h.substr(dot) == p.substr(1);
  }
  return false;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return Internal("certificate extension {} '{}': {}", OBJ_nid2sn(nid), value, OpensslError());
  return Status::Ok();
}

Status AddName(GENERAL_NAMES* names, int type, std::string_view value) {
  GENERAL_NAME* gen = GENERAL_NAME_new();
  if (type == GEN_IPADD) {
    ASN1_OCTET_STRING* ip = a2i_IPADDRESS(std::string(value).c_str());
    if (ip == nullptr) {
      GENERAL_NAME_free(gen);
      ERR_clear_error();
      return InvalidArgument("certificate request: '{}' is not an IP address", value);
    }
    GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
  } else {
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    ASN1_STRING_set(s, value.data(), static_cast<int>(value.size()));
    GENERAL_NAME_set0_value(gen, type, s);
  }
  sk_GENERAL_NAME_push(names, gen);
  return Status::Ok();
}

Result<Bytes> ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("{}: cannot open", path.string());
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// Writes via a temporary file and rename, so that a crash never leaves half a key or certificate.
Status WriteFileAtomic(const fs::path& path, ByteView data, mode_t mode) {
  const fs::path tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0) return Unavailable("{}: cannot create: {}", tmp.string(), std::strerror(errno));
  ::fchmod(fd, mode);  // the umask must not widen or narrow what the caller asked for
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Unavailable("{}: write failed: {}", tmp.string(), std::strerror(e));
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Unavailable("{}: rename failed: {}", path.string(), ec.message());
  return Status::Ok();
}

}  // namespace

Bytes Thumbprint(ByteView der) { return Sha1(der); }

std::string ThumbprintHex(ByteView der) {
  std::string hex = ToHex(Thumbprint(der));
  std::transform(hex.begin(), hex.end(), hex.begin(), [](unsigned char c) { return std::toupper(c); });
  return hex;
}

Result<CertificateAndKey> CreateSelfSignedCertificate(const CertificateRequest& req) {
  if (req.common_name.empty()) return InvalidArgument("certificate request: common name is empty");
  if (req.application_uri.empty()) return InvalidArgument("certificate request: application URI is empty");
  if (req.validity.count() <= 0) return InvalidArgument("certificate request: validity must be positive");
  PF_ASSIGN_OR_RETURN(RsaKey key, RsaKey::Generate(req.key_bits));

  Owned<X509> cert(X509_new());
  X509_set_version(cert.get(), 2);  // v3
  PF_ASSIGN_OR_RETURN(Bytes serial, RandomBytes(20));
  serial[0] &= 0x7f;  // positive
  serial[0] |= 0x40;  // and 20 bytes long
  Owned<BIGNUM> bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));

  const int64_t from = req.not_before_unix.value_or(static_cast<int64_t>(std::time(nullptr)) - 86400);
  Owned<ASN1_TIME> nb(ASN1_TIME_set(nullptr, static_cast<time_t>(from)));
  Owned<ASN1_TIME> na(ASN1_TIME_set(nullptr, static_cast<time_t>(from + req.validity.count())));
  if (!nb || !na) return InvalidArgument("certificate request: validity dates out of range");
  X509_set1_notBefore(cert.get(), nb.get());
  X509_set1_notAfter(cert.get(), na.get());

  X509_NAME* name = X509_get_subject_name(cert.get());
  auto add = [&](const char* field, const std::string& v) {
    return v.empty() || X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                                   reinterpret_cast<const unsigned char*>(v.data()),
                                                   static_cast<int>(v.size()), -1, 0) == 1;
  };
  if (!add("CN", req.common_name) || !add("O", req.organization))
    return InvalidArgument("certificate request: subject name: {}", OpensslError());
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  PF_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  PF_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage,
      "critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment,keyCertSign"));
  PF_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth"));
  PF_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  PF_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));

  Owned<GENERAL_NAMES> names(sk_GENERAL_NAME_new_null());
  PF_RETURN_IF_ERROR(AddName(names.get(), GEN_URI, req.application_uri));
  for (const auto& d : req.dns_names) PF_RETURN_IF_ERROR(AddName(names.get(), GEN_DNS, d));
  for (const auto& ip : req.ip_addresses) PF_RETURN_IF_ERROR(AddName(names.get(), GEN_IPADD, ip));
  if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1)
    return Internal("certificate subjectAltName: {}", OpensslError());

  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return Internal("certificate signing: {}", OpensslError());
  PF_ASSIGN_OR_RETURN(Bytes der, ToDer(cert.get()));
  return CertificateAndKey{std::move(der), std::move(key)};
}

Result<CertificateInfo> InspectCertificate(ByteView der) {
  PF_ASSIGN_OR_RETURN(Owned<X509> cert, ParseDer(der));
  CertificateInfo info;
  info.subject = NameToString(X509_get_subject_name(cert.get()));
  info.issuer = NameToString(X509_get_issuer_name(cert.get()));
  info.common_name = CommonName(X509_get_subject_name(cert.get()));
  info.self_issued = X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())) == 0;
  info.not_before_unix = ToUnix(X509_get0_notBefore(cert.get()));
  info.not_after_unix = ToUnix(X509_get0_notAfter(cert.get()));
  if (EVP_PKEY* k = X509_get0_pubkey(cert.get())) info.key_bits = EVP_PKEY_get_bits(k);
  info.thumbprint = ThumbprintHex(der);
  Owned<GENERAL_NAMES> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
    if (g->type == GEN_URI || g->type == GEN_DNS) {
      const ASN1_IA5STRING* s = g->type == GEN_URI ? g->d.uniformResourceIdentifier : g->d.dNSName;
      std::string v(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<size_t>(ASN1_STRING_length(s)));
      if (g->type == GEN_DNS) info.dns_names.push_back(std::move(v));
      else if (info.application_uri.empty()) info.application_uri = std::move(v);
    } else if (g->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = g->d.iPAddress;
      char out[INET6_ADDRSTRLEN];
      int len = ASN1_STRING_length(ip);
      if (len == 4 || len == 16) {
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), out, sizeof out);
        info.ip_addresses.emplace_back(out);
      }
    }
  }
  ERR_clear_error();  // X509_get_ext_d2i leaves an entry when the extension is absent
  return info;
}

Result<Bytes> CertificateToDer(ByteView pem_or_der) {
  static constexpr std::string_view kBegin = "-----BEGIN";
  std::string_view text(reinterpret_cast<const char*>(pem_or_der.data()), pem_or_der.size());
  if (text.find(kBegin) == std::string_view::npos) {
    PF_RETURN_IF_ERROR(ParseDer(pem_or_der).status());
    return Bytes(pem_or_der.begin(), pem_or_der.end());
  }
  Owned<BIO> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return InvalidArgument("certificate PEM: {}", OpensslError());
  return ToDer(cert.get());
}

// ---- CertificateStore ----

Status CertificateStore::EnsureLayout() const {
  std::error_code ec;
  for (const fs::path& dir : {own_certificate_path().parent_path(), own_key_path().parent_path(), trusted_dir(),
                              issuers_dir(), rejected_dir()}) {
    fs::create_directories(dir, ec);
    if (ec) return Unavailable("certificate store: cannot create {}: {}", dir.string(), ec.message());
  }
  fs::permissions(own_key_path().parent_path(), fs::perms::owner_all, ec);
  return Status::Ok();
}

Result<CertificateAndKey> CertificateStore::LoadOwn() const {
  if (!fs::exists(own_certificate_path()) || !fs::exists(own_key_path()))
    return NotFound("certificate store {}: no own certificate ({}) or key ({})", root_.string(),
                    own_certificate_path().string(), own_key_path().string());
  PF_ASSIGN_OR_RETURN(Bytes raw, ReadWholeFile(own_certificate_path()));
  auto der = CertificateToDer(raw);
  if (!der.ok()) return der.status().WithContext(own_certificate_path().string());
  PF_ASSIGN_OR_RETURN(Bytes pem, ReadWholeFile(own_key_path()));
  auto key = RsaKey::FromPrivatePem(std::string_view(reinterpret_cast<const char*>(pem.data()), pem.size()));
  if (!key.ok()) return key.status().WithContext(own_key_path().string());
  PF_ASSIGN_OR_RETURN(Owned<X509> cert, ParseDer(*der));
  if (X509_check_private_key(cert.get(), key->get()) != 1) {
    ERR_clear_error();
    return FailedPrecondition("certificate store {}: the key {} does not belong to the certificate {}", root_.string(),
                              own_key_path().string(), own_certificate_path().string());
  }
  return CertificateAndKey{std::move(der).value(), std::move(key).value()};
}

Result<CertificateAndKey> CertificateStore::LoadOrCreateOwn(const CertificateRequest& request,
                                                            std::optional<int64_t> now_unix) const {
  auto own = LoadOwn();
  if (own.ok()) {
    PF_ASSIGN_OR_RETURN(CertificateInfo info, InspectCertificate(own->der));
    const int64_t now = now_unix.value_or(static_cast<int64_t>(std::time(nullptr)));
    if (now > info.not_after_unix)
      return FailedPrecondition("own certificate {} expired on {}: delete {} and {} to have a new one created "
                                "(then trust the new one on each server)",
                                info.subject, FormatUnix(info.not_after_unix), own_certificate_path().string(),
                                own_key_path().string());
    return own;
  }
  if (own.status().code() != StatusCode::kNotFound) return own;
  PF_RETURN_IF_ERROR(EnsureLayout());
  PF_ASSIGN_OR_RETURN(CertificateAndKey created, CreateSelfSignedCertificate(request));
  PF_RETURN_IF_ERROR(WriteOwn(created));
  return created;
}

Status CertificateStore::WriteOwn(const CertificateAndKey& own) const {
  PF_RETURN_IF_ERROR(EnsureLayout());
  PF_ASSIGN_OR_RETURN(std::string pem, own.key.ToPrivatePem());
  PF_RETURN_IF_ERROR(WriteFileAtomic(own_key_path(), AsBytes(pem), 0600));
  return WriteFileAtomic(own_certificate_path(), own.der, 0644);
}

Status CertificateStore::Trust(ByteView der) const {
  PF_RETURN_IF_ERROR(ParseDer(der).status());
  PF_RETURN_IF_ERROR(EnsureLayout());
  return WriteFileAtomic(trusted_dir() / (ThumbprintHex(der) + ".der"), der, 0644);
}

Result<std::vector<Bytes>> CertificateStore::ReadFolder(const fs::path& dir) const {
  std::vector<Bytes> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string ext = Lower(entry.path().extension().string());
    if (!entry.is_regular_file() || (ext != ".der" && ext != ".pem" && ext != ".crt" && ext != ".cer")) continue;
    PF_ASSIGN_OR_RETURN(Bytes raw, ReadWholeFile(entry.path()));
    auto der = CertificateToDer(raw);
    if (!der.ok())
      return FailedPrecondition("{}: {} (remove or replace the file)", entry.path().string(), der.status().message());
    out.push_back(std::move(der).value());
  }
  if (ec) return Unavailable("certificate store: cannot list {}: {}", dir.string(), ec.message());
  return out;
}

Status CertificateStore::CheckSignature(ByteView der, const CertificateInfo& info) const {
  PF_ASSIGN_OR_RETURN(Owned<X509> cert, ParseDer(der));
  if (info.self_issued) {
    if (X509_verify(cert.get(), X509_get0_pubkey(cert.get())) == 1) return Status::Ok();
    ERR_clear_error();
    return PermissionDenied("server certificate {} (thumbprint {}): its self-signature does not verify (corrupt or forged)",
                            info.subject, info.thumbprint);
  }
  std::vector<Bytes> candidates;
  for (const fs::path& dir : {trusted_dir(), issuers_dir()}) {
    PF_ASSIGN_OR_RETURN(std::vector<Bytes> found, ReadFolder(dir));
    for (auto& c : found) candidates.push_back(std::move(c));
  }
  for (const Bytes& c : candidates) {
    PF_ASSIGN_OR_RETURN(Owned<X509> issuer, ParseDer(c));
    if (X509_NAME_cmp(X509_get_subject_name(issuer.get()), X509_get_issuer_name(cert.get())) != 0) continue;
    if (X509_verify(cert.get(), X509_get0_pubkey(issuer.get())) == 1) return Status::Ok();
    ERR_clear_error();
    return PermissionDenied("server certificate {} (thumbprint {}): signature does not verify with its issuer {}",
                            info.subject, info.thumbprint, info.issuer);
  }
  return PermissionDenied("server certificate {} (thumbprint {}) is issued by {}, which is in neither {} nor {}: "
                          "copy the issuer's certificate into {}",
                          info.subject, info.thumbprint, info.issuer, trusted_dir().string(), issuers_dir().string(),
                          issuers_dir().string());
}

Result<bool> CertificateStore::IsTrusted(ByteView der, const CertificateInfo& info) const {
  PF_ASSIGN_OR_RETURN(std::vector<Bytes> trusted, ReadFolder(trusted_dir()));
  const Bytes thumb = Thumbprint(der);
  for (const Bytes& t : trusted) {
    if (std::equal(t.begin(), t.end(), der.begin(), der.end()) || Thumbprint(t) == thumb) return true;
    // A trusted CA trusts what it signs (the signature was checked already).
    if (!info.self_issued) {
      PF_ASSIGN_OR_RETURN(CertificateInfo ti, InspectCertificate(t));
      if (ti.subject == info.issuer) return true;
    }
  }
  return false;
}

Status CertificateStore::CheckServerCertificate(ByteView der, std::string_view host, std::string_view application_uri,
                                                std::optional<int64_t> now_unix) const {
  PF_ASSIGN_OR_RETURN(CertificateInfo info, InspectCertificate(der));
  const std::string who = fmt::format("server certificate {} (thumbprint {})", info.subject, info.thumbprint);
  Status signature = CheckSignature(der, info);
  PF_ASSIGN_OR_RETURN(bool trusted, IsTrusted(der, info));
  if (!trusted) {
    PF_RETURN_IF_ERROR(EnsureLayout());
    const fs::path rejected = rejected_dir() / (info.thumbprint + ".der");
    PF_RETURN_IF_ERROR(WriteFileAtomic(rejected, der, 0644));
    if (!signature.ok()) return signature;
    return PermissionDenied("server certificate {}, thumbprint {}, is not trusted: move {} to {}/ to trust it",
                            info.subject, info.thumbprint, rejected.string(), trusted_dir().string());
  }
  PF_RETURN_IF_ERROR(signature);

  const int64_t now = now_unix.value_or(static_cast<int64_t>(std::time(nullptr)));
  if (now < info.not_before_unix)
    return FailedPrecondition("{} is not valid before {} (now {}): check this machine's and the server's clocks", who,
                              FormatUnix(info.not_before_unix), FormatUnix(now));
  if (now > info.not_after_unix)
    return FailedPrecondition("{} expired on {} (now {}): the server needs a new certificate", who,
                              FormatUnix(info.not_after_unix), FormatUnix(now));

  if (auto ip = CanonicalIp(host)) {
    bool match = std::any_of(info.ip_addresses.begin(), info.ip_addresses.end(),
                             [&](const std::string& a) { return CanonicalIp(a) == ip; });
    if (!match)
      return FailedPrecondition("{}: endpoint host IP {} is not among its subjectAltName IP addresses ({}; DNS names: {}): "
                                "connect by one of those, or reissue the server certificate with IP {}",
                                who, *ip, Join(info.ip_addresses), Join(info.dns_names), *ip);
  } else {
    bool match = std::any_of(info.dns_names.begin(), info.dns_names.end(),
                             [&](const std::string& d) { return DnsMatches(d, host); });
    if (!match)
      return FailedPrecondition("{}: endpoint host '{}' is not among its subjectAltName DNS names ({}; IP addresses: {}): "
                                "connect by one of those, or reissue the server certificate with DNS name '{}'",
                                who, host, Join(info.dns_names), Join(info.ip_addresses), host);
  }
  if (!application_uri.empty() && info.application_uri != application_uri)
    return FailedPrecondition("{}: its subjectAltName URI '{}' differs from the endpoint's applicationUri '{}'", who,
                              info.application_uri, application_uri);
  return Status::Ok();
}

}  // namespace pf::opcua
