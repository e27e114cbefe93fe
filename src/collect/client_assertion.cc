#include "collect/client_assertion.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "collect/jwt.h"

namespace dmarc::collect {

namespace {

using FilePtr = std::unique_ptr<FILE, int (*)(FILE*)>;
using X509Ptr = std::unique_ptr<X509, void (*)(X509*)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)>;

constexpr std::int64_t kLifetimeSeconds = 600;

Result<X509Ptr> ReadCertificate(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) return MakeError(fmt::format("graph.certificate_file: cannot read {}", path));
  X509Ptr cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) {
    return MakeError(fmt::format("graph.certificate_file: {} holds no PEM certificate", path));
  }
  return cert;
}

Result<KeyPtr> ReadKey(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) return MakeError(fmt::format("graph.certificate_key_file: cannot read {}", path));
  KeyPtr key(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return MakeError(fmt::format(
        "graph.certificate_key_file: {} holds no unencrypted PEM RSA private key", path));
  }
  return key;
}

// The digest of the certificate's DER form.
std::string Thumbprint(X509* cert, const EVP_MD* md) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  X509_digest(cert, md, digest, &size);
  return {reinterpret_cast<const char*>(digest), size};
}

std::string RandomId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return "";
  std::string out;
  for (const unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

}  // namespace

Result<std::string> MakeClientAssertion(const std::string& cert_file, const std::string& key_file,
                                        const std::string& client_id, const std::string& audience,
                                        std::int64_t now) {
  auto cert = ReadCertificate(cert_file);
  if (!cert) return MakeError(cert.error());
  auto key = ReadKey(key_file);
  if (!key) return MakeError(key.error());
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    return MakeError(
        fmt::format("graph.certificate_key_file: {} is not the key of {}", key_file, cert_file));
  }
  const nlohmann::json header = {{"alg", "RS256"},
                                 {"typ", "JWT"},
                                 {"x5t", Base64Url(Thumbprint(cert->get(), EVP_sha1()))},
                                 {"x5t#S256", Base64Url(Thumbprint(cert->get(), EVP_sha256()))}};
  const nlohmann::json claims = {{"aud", audience},
                                 {"iss", client_id},
                                 {"sub", client_id},
                                 {"jti", RandomId()},
                                 {"nbf", now},
                                 {"iat", now},
                                 {"exp", now + kLifetimeSeconds}};
  auto jwt = SignJwtRs256(header.dump(), claims.dump(), key->get());
  if (!jwt) return MakeError("graph.certificate_key_file: " + jwt.error());
  return jwt;
}

}  // namespace dmarc::collect
