#include "collect/jwt.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "base/limits.h"

namespace dmarc::collect {

namespace {

constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using MdContext = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;

Result<std::string> SignRs256(std::string_view data, EVP_PKEY* key) {
  MdContext md(EVP_MD_CTX_new());
  std::size_t size = 0;
  if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return MakeError("OpenSSL could not sign with the private key");
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return MakeError("OpenSSL could not sign with the private key");
  }
  signature.resize(size);
  return signature;
}

}  // namespace

std::string Base64Url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

Result<std::string> SignJwtRs256(const std::string& header_json, const std::string& claims_json,
                                 EVP_PKEY* private_key) {
  std::string signed_part = Base64Url(header_json) + "." + Base64Url(claims_json);
  auto signature = SignRs256(signed_part, private_key);
  if (!signature) return MakeError(signature.error());
  return signed_part + "." + Base64Url(*signature);
}

Result<std::string> SignJwtRs256(const std::string& header_json, const std::string& claims_json,
                                 const std::string& private_key_pem) {
  Bio bio(BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  PKey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return MakeError("the private key is not a PEM RSA private key");
  }
  return SignJwtRs256(header_json, claims_json, key.get());
}

Result<ServiceAccountKey> ReadServiceAccountKey(const std::string& path, const std::string& key) {
  Limits limits;
  limits.max_input_bytes = kMaxKeyFileBytes;
  auto text = ReadInput(path, limits, PathOrigin::kNamedByUser);
  if (!text) return MakeError(fmt::format("{}: {}", key, text.error()));
  const nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
  const auto field = [&doc](const char* name) {
    return doc.is_object() && doc.contains(name) && doc[name].is_string()
               ? doc[name].get<std::string>()
               : std::string();
  };
  if (field("type") != "service_account") {
    return MakeError(
        fmt::format("{}: {} is not a service account's JSON key (no \"type\": \"service_account\")",
                    key, path));
  }
  ServiceAccountKey k{field("client_email"), field("private_key"), field("private_key_id"),
                      field("token_uri")};
  for (const auto& [name, value] : {std::pair{"client_email", &k.client_email},
                                    {"private_key", &k.private_key},
                                    {"token_uri", &k.token_uri}}) {
    if (value->empty()) return MakeError(fmt::format("{}: {} has no \"{}\"", key, path, name));
  }
  return k;
}

Result<std::string> ServiceAccountAssertion(const ServiceAccountKey& k, const std::string& subject,
                                            const std::string& scope, std::int64_t now) {
  nlohmann::json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (!k.private_key_id.empty()) header["kid"] = k.private_key_id;
  const nlohmann::json claims = {{"iss", k.client_email}, {"sub", subject}, {"scope", scope},
                                 {"aud", k.token_uri},    {"iat", now},     {"exp", now + 3600}};
  return SignJwtRs256(header.dump(), claims.dump(), k.private_key);
}

}  // namespace dmarc::collect
