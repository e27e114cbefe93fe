// Test helper: an RSA key made for a test, and the check a token endpoint makes of an RS256 JWT
// (RFC 7515 compact form): its signature by the public key, then its header and claims decoded.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace dmarc::testing {

// {PKCS#8 private key PEM, SubjectPublicKeyInfo PEM} of a new 2048-bit RSA key.
inline std::pair<std::string, std::string> MakeRsaKeyPem() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), EVP_PKEY_free);
  const auto pem = [&](bool priv) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    if (priv) {
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    } else {
      PEM_write_bio_PUBKEY(bio.get(), key.get());
    }
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
  };
  return {pem(true), pem(false)};
}

// RFC 4648 §5 base64url without padding, and back.
inline std::string Base64UrlEncode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

inline std::string Base64UrlDecode(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4) s += '=';
  std::string out(s.size(), '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return {};
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = s.size(); i > 0 && s[i - 1] == '='; --i) --size;
  out.resize(size);
  return out;
}

struct CheckedJwt {
  nlohmann::json header, claims;
};

// nullopt unless `jwt` is three parts whose signature RS256 verifies with `public_pem`.
inline std::optional<CheckedJwt> CheckRs256Jwt(const std::string& jwt,
                                               const std::string& public_pem) {
  const auto dot1 = jwt.find('.');
  const auto dot2 = jwt.find('.', dot1 == std::string::npos ? 0 : dot1 + 1);
  if (dot1 == std::string::npos || dot2 == std::string::npos) return std::nullopt;
  const std::string signed_part = jwt.substr(0, dot2);
  const std::string signature = Base64UrlDecode(jwt.substr(dot2 + 1));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!key || EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) != 1) {
    return std::nullopt;
  }
  CheckedJwt out{nlohmann::json::parse(Base64UrlDecode(jwt.substr(0, dot1)), nullptr, false),
                 nlohmann::json::parse(Base64UrlDecode(jwt.substr(dot1 + 1, dot2 - dot1 - 1)),
                                       nullptr, false)};
  if (!out.header.is_object() || !out.claims.is_object()) return std::nullopt;
  return out;
}

}  // namespace dmarc::testing
