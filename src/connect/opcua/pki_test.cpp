#include "connect/opcua/pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

namespace pf::opcua {
namespace {
namespace fs = std::filesystem;

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

void WriteFile(const fs::path& p, ByteView data) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}
Bytes ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}
bool Contains(const Status& s, std::string_view part) { return s.message().find(part) != std::string::npos; }

CertificateRequest ServerRequest() {
  CertificateRequest r;
  r.application_uri = "urn:test:EdgeServer";
  r.common_name = "EdgeServer";
  r.organization = "Test Plant";
  r.dns_names = {"localhost", "plc7.line1.example"};
  r.ip_addresses = {"127.0.0.1", "::1"};
  return r;
}

const CertificateAndKey& Server() {
  static const CertificateAndKey c = *CreateSelfSignedCertificate(ServerRequest());
  return c;
}

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            fmt::format("pf_pki_test_{}_{}", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    store_ = std::make_unique<CertificateStore>(root_);
    ASSERT_TRUE(store_->EnsureLayout().ok());
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
  std::unique_ptr<CertificateStore> store_;
};

TEST(OpcuaPki, SelfSignedCertificateFieldsReadBack) {
  const auto& s = Server();
  auto info = InspectCertificate(s.der);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->common_name, "EdgeServer");
  EXPECT_EQ(info->subject, "CN=EdgeServer,O=Test Plant");
  EXPECT_TRUE(info->self_issued);
  EXPECT_EQ(info->application_uri, "urn:test:EdgeServer");
  EXPECT_EQ(info->dns_names, (std::vector<std::string>{"localhost", "plc7.line1.example"}));
  EXPECT_EQ(info->ip_addresses, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(info->key_bits, 2048);
  const int64_t now = std::time(nullptr);
  EXPECT_NEAR(static_cast<double>(info->not_before_unix), static_cast<double>(now - 86400), 60);
  EXPECT_EQ(info->not_after_unix - info->not_before_unix, int64_t{5} * 365 * 86400);
  // The key in the pair is the certificate's key: a signature made with it verifies with the cert's public key.
  auto pub = RsaKey::FromCertificateDer(s.der);
  ASSERT_TRUE(pub.ok());
  Bytes d = {1, 2, 3};
  EXPECT_TRUE(SecurityPolicyBasic256Sha256().AsymmetricVerify(*pub, d, *SecurityPolicyBasic256Sha256().AsymmetricSign(s.key, d)).ok());
}

TEST(OpcuaPki, OpensslCliSeesTheOpcUaExtensions) {
  fs::path f = fs::temp_directory_path() / fmt::format("pf_pki_cli_{}.der", ::getpid());
  WriteFile(f, Server().der);
  std::string text = RunCommand("openssl x509 -inform DER -noout -text -in " + f.string() + " 2>&1");
  std::string fp = RunCommand("openssl x509 -inform DER -noout -fingerprint -sha1 -in " + f.string() + " 2>&1");
  fs::remove(f);
  if (text.empty()) GTEST_SKIP() << "openssl CLI not available";
  EXPECT_NE(text.find("URI:urn:test:EdgeServer"), std::string::npos) << text;
  EXPECT_NE(text.find("DNS:localhost"), std::string::npos);
  EXPECT_NE(text.find("IP Address:127.0.0.1"), std::string::npos);
  EXPECT_NE(text.find("sha256WithRSAEncryption"), std::string::npos);
  EXPECT_NE(text.find("Digital Signature, Non Repudiation, Key Encipherment, Data Encipherment, Certificate Sign"),
            std::string::npos) << text;
  EXPECT_NE(text.find("TLS Web Server Authentication, TLS Web Client Authentication"), std::string::npos);
  EXPECT_NE(text.find("CA:FALSE"), std::string::npos);
  // Thumbprint = SHA-1 of the DER, as the OpenSSL CLI computes it: "sha1 Fingerprint=AB:CD:..".
  std::string expected = fp.substr(fp.find('=') + 1);
  expected.erase(std::remove(expected.begin(), expected.end(), ':'), expected.end());
  EXPECT_EQ(ThumbprintHex(Server().der), expected);
}

TEST(OpcuaPki, BadRequestsAndBadBytes) {
  CertificateRequest r = ServerRequest();
  r.ip_addresses = {"300.1.1.1"};
  auto bad_ip = CreateSelfSignedCertificate(r);
  EXPECT_EQ(bad_ip.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(bad_ip.status(), "'300.1.1.1' is not an IP address")) << bad_ip.status().message();
  r = ServerRequest();
  r.application_uri = "";
  EXPECT_EQ(CreateSelfSignedCertificate(r).status().code(), StatusCode::kInvalidArgument);
  Bytes junk = {0x30, 0x03, 1, 2, 3};
  EXPECT_EQ(InspectCertificate(junk).status().code(), StatusCode::kInvalidArgument);
  Bytes trailing = Server().der;
  trailing.push_back(0);
  auto t = InspectCertificate(trailing);
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(t.status(), "1 trailing bytes")) << t.status().message();
}

TEST_F(PkiTest, OwnCertificateIsCreatedOnceWithAPrivateKeyFile) {
  CertificateRequest r;
  r.application_uri = "urn:plantfloor:edge01";
  r.dns_names = {"edge01"};
  EXPECT_EQ(store_->LoadOwn().status().code(), StatusCode::kNotFound);
  auto own = store_->LoadOrCreateOwn(r);
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  struct stat st{};
  ASSERT_EQ(::stat(store_->own_key_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadFile(store_->own_certificate_path()), own->der);
  // Second call loads the same certificate instead of making a new one.
  auto again = store_->LoadOrCreateOwn(r);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->der, own->der);
  EXPECT_EQ(*again->key.ToPrivatePem(), *own->key.ToPrivatePem());
  EXPECT_EQ(InspectCertificate(again->der)->application_uri, "urn:plantfloor:edge01");
  // Past its notAfter (5 years by default) the own certificate is refused with what to delete.
  auto expired = store_->LoadOrCreateOwn(r, std::time(nullptr) + int64_t{6} * 365 * 86400);
  EXPECT_EQ(expired.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(expired.status(), "own certificate CN=plantfloor,O=plantfloor expired on")) << expired.status().message();
  EXPECT_TRUE(Contains(expired.status(), "delete " + store_->own_certificate_path().string() + " and " +
                                             store_->own_key_path().string())) << expired.status().message();
  // A key that does not belong to the certificate is refused by name.
  CertificateAndKey mixed{own->der, Server().key};
  ASSERT_TRUE(store_->WriteOwn(mixed).ok());
  auto st2 = store_->LoadOwn();
  EXPECT_EQ(st2.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(st2.status(), "does not belong")) << st2.status().message();
}

TEST_F(PkiTest, UntrustedServerGoesToRejectedWithInstructions) {
  const Bytes& der = Server().der;
  const std::string thumb = ThumbprintHex(der);
  Status st = store_->CheckServerCertificate(der, "localhost", "urn:test:EdgeServer");
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  const fs::path rejected = store_->rejected_dir() / (thumb + ".der");
  EXPECT_EQ(st.message(), fmt::format("server certificate CN=EdgeServer,O=Test Plant, thumbprint {}, is not trusted: "
                                      "move {} to {}/ to trust it",
                                      thumb, rejected.string(), store_->trusted_dir().string()));
  EXPECT_EQ(ReadFile(rejected), der);
  // The operator follows the instruction.
  fs::rename(rejected, store_->trusted_dir() / (thumb + ".der"));
  EXPECT_TRUE(store_->CheckServerCertificate(der, "localhost", "urn:test:EdgeServer").ok());
}

TEST_F(PkiTest, TrustedAsPemFileByThumbprint) {
  // Same certificate stored as PEM (different bytes on disk, same DER and thumbprint).
  fs::path der_file = root_ / "s.der";
  WriteFile(der_file, Server().der);
  std::string pem = RunCommand(fmt::format("openssl x509 -inform DER -in {} -outform PEM 2>/dev/null", der_file.string()));
  if (pem.empty()) GTEST_SKIP() << "openssl CLI not available";
  WriteFile(store_->trusted_dir() / "edge.pem", AsBytes(pem + "\n"));
  EXPECT_TRUE(store_->CheckServerCertificate(Server().der, "127.0.0.1", "").ok());
  EXPECT_TRUE(fs::is_empty(store_->rejected_dir()));
  // A file in trusted/certs that is not a certificate is named, not skipped.
  WriteFile(store_->trusted_dir() / "broken.der", Bytes{1, 2, 3});
  Status st = store_->CheckServerCertificate(Server().der, "127.0.0.1", "");
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(st, "broken.der")) << st.message();
}

TEST_F(PkiTest, HostNameAndIpMustBeInSubjectAltName) {
  ASSERT_TRUE(store_->Trust(Server().der).ok());
  EXPECT_TRUE(store_->CheckServerCertificate(Server().der, "LOCALHOST", "").ok());
  EXPECT_TRUE(store_->CheckServerCertificate(Server().der, "plc7.line1.example", "").ok());
  EXPECT_TRUE(store_->CheckServerCertificate(Server().der, "::1", "").ok());
  EXPECT_TRUE(store_->CheckServerCertificate(Server().der, "[::1]", "").ok());
  EXPECT_TRUE(store_->CheckServerCertificate(Server().der, "0:0:0:0:0:0:0:1", "").ok());

  Status dns = store_->CheckServerCertificate(Server().der, "plc8.line1.example", "");
  EXPECT_EQ(dns.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(dns, "endpoint host 'plc8.line1.example' is not among its subjectAltName DNS names "
                            "(localhost, plc7.line1.example; IP addresses: 127.0.0.1, ::1)"))
      << dns.message();
  Status ip = store_->CheckServerCertificate(Server().der, "10.0.0.7", "");
  EXPECT_EQ(ip.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(ip, "endpoint host IP 10.0.0.7 is not among its subjectAltName IP addresses (127.0.0.1, ::1")) << ip.message();
}

TEST_F(PkiTest, ApplicationUriMustMatchEndpoint) {
  ASSERT_TRUE(store_->Trust(Server().der).ok());
  Status st = store_->CheckServerCertificate(Server().der, "localhost", "urn:other:Server");
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(st, "subjectAltName URI 'urn:test:EdgeServer' differs from the endpoint's applicationUri 'urn:other:Server'"))
      << st.message();
}

TEST_F(PkiTest, ValidityPeriodIsChecked) {
  CertificateRequest r = ServerRequest();
  r.not_before_unix = 1577836800;  // 2020-01-01T00:00:00Z
  r.validity = std::chrono::hours(24 * 366);
  auto old = CreateSelfSignedCertificate(r);
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(store_->Trust(old->der).ok());
  Status expired = store_->CheckServerCertificate(old->der, "localhost", "", 1700000000);
  EXPECT_EQ(expired.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(expired, "expired on 2021-01-01T00:00:00Z (now 2023-11-14T22:13:20Z)")) << expired.message();
  Status early = store_->CheckServerCertificate(old->der, "localhost", "", 1577836800 - 3600);
  EXPECT_EQ(early.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(early, "is not valid before 2020-01-01T00:00:00Z (now 2019-12-31T23:00:00Z)")) << early.message();
  EXPECT_TRUE(store_->CheckServerCertificate(old->der, "localhost", "", 1600000000).ok());
}

TEST_F(PkiTest, ForgedSignatureIsRefusedEvenIfThumbprintWouldBeNew) {
  Bytes forged = Server().der;
  forged[forged.size() - 10] ^= 0x01;  // inside the signature BIT STRING
  Status st = store_->CheckServerCertificate(forged, "localhost", "");
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Contains(st, "self-signature does not verify")) << st.message();
  // Trusting the forged bytes does not make the signature good.
  ASSERT_TRUE(store_->Trust(forged).ok());
  EXPECT_EQ(store_->CheckServerCertificate(forged, "localhost", "").code(), StatusCode::kPermissionDenied);
}

// A CA-issued server certificate, made with the OpenSSL CLI (independent of CreateSelfSignedCertificate).
TEST_F(PkiTest, CaIssuedServerIsTrustedThroughItsCa) {
  const fs::path d = root_ / "ca";
  fs::create_directories(d);
  auto make_ca = [&](const std::string& name) {
    return fmt::format("openssl req -x509 -newkey rsa:2048 -nodes -keyout {0}.key -out {0}.pem -days 30 "
                       "-subj '/CN=Plant CA/O=Test Plant' -addext basicConstraints=critical,CA:TRUE "
                       "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null", name);
  };
  std::string rc = RunCommand(fmt::format(
      "cd {} && {} && {} && "
      "openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj '/CN=Line1 Server/O=Test Plant' 2>/dev/null && "
      "printf 'subjectAltName=URI:urn:test:line1,DNS:localhost,IP:127.0.0.1\\n' > ext.cnf && "
      "openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile ext.cnf "
      "-outform DER -out leaf.der 2>/dev/null && "
      "openssl x509 -req -in leaf.csr -CA fake.pem -CAkey fake.key -CAcreateserial -days 30 -extfile ext.cnf "
      "-outform DER -out forged.der 2>/dev/null && echo done",
      d.string(), make_ca("ca"), make_ca("fake")));
  if (rc != "done") GTEST_SKIP() << "openssl CLI not available";
  const Bytes leaf = ReadFile(d / "leaf.der");
  auto info = InspectCertificate(leaf);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->self_issued);
  EXPECT_EQ(info->issuer, "CN=Plant CA,O=Test Plant");

  Status no_ca = store_->CheckServerCertificate(leaf, "localhost", "urn:test:line1");
  EXPECT_EQ(no_ca.code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Contains(no_ca, "is issued by CN=Plant CA,O=Test Plant, which is in neither")) << no_ca.message();
  EXPECT_TRUE(fs::exists(store_->rejected_dir() / (ThumbprintHex(leaf) + ".der")));

  // The CA only as an issuer: the chain verifies, but nobody trusted it.
  fs::copy_file(d / "ca.pem", store_->issuers_dir() / "ca.pem");
  Status issuer_only = store_->CheckServerCertificate(leaf, "localhost", "urn:test:line1");
  EXPECT_EQ(issuer_only.code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Contains(issuer_only, "is not trusted: move")) << issuer_only.message();

  // Trusting the CA trusts what it signed; a look-alike CA's signature does not verify.
  fs::rename(store_->issuers_dir() / "ca.pem", store_->trusted_dir() / "ca.pem");
  EXPECT_TRUE(store_->CheckServerCertificate(leaf, "127.0.0.1", "urn:test:line1").ok());
  Status forged = store_->CheckServerCertificate(ReadFile(d / "forged.der"), "127.0.0.1", "");
  EXPECT_EQ(forged.code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(Contains(forged, "signature does not verify with its issuer CN=Plant CA,O=Test Plant")) << forged.message();
}

}  // namespace
}  // namespace pf::opcua
