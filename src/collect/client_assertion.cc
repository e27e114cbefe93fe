#include "collect/client_assertion.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

namespace dmarc::collect {

namespace {

using FilePtr = std::unique_ptr<FILE, int (*)(FILE*)>;
using X509Ptr = std::unique_ptr<X509, void (*)(X509*)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)>;

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

Result<std::string> SignRs256(EVP_PKEY* key, const std::string& data) {
  MdCtxPtr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return MakeError("graph.certificate_key_file: cannot sign with the key");
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return MakeError("graph.certificate_key_file: cannot sign with the key");
  }
  signature.resize(size);
  return signature;
}

std::string RandomId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return "";
  std::string out;
  for (const unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

}  // namespace

std::string Base64Url(const std::string& data) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : data) {
    bits = (bits << 8) | static_cast<unsigned char>(c);
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += kAlphabet[(bits >> count) & 0x3f];
    }
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 0x3f];
  return out;
}

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
  const std::string signed_part = Base64Url(header.dump()) + "." + Base64Url(claims.dump());
  auto signature = SignRs256(key->get(), signed_part);
  if (!signature) return MakeError(signature.error());
  return signed_part + "." + Base64Url(*signature);
}

}  // namespace dmarc::collect
