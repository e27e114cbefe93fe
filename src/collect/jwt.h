// JSON Web Tokens signed with RS256 (RFC 7519, RFC 7518 §3.3), as OAuth2 token endpoints take
// them in place of a client secret: Google's service accounts (the JWT bearer grant of RFC 7523)
// and Microsoft's certificate credentials (collect/client_assertion.h). OpenSSL signs; the private
// key never leaves this file's functions and is never in an error message.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace dmarc::collect {

// Base64url without padding (RFC 4648 §5), as JWTs encode their parts.
std::string Base64Url(std::string_view bytes);

// "BASE64URL(header).BASE64URL(claims).BASE64URL(RS256 signature)" of the two JSON texts, signed
// with a PEM private key (PKCS#8 "BEGIN PRIVATE KEY" or PKCS#1 "BEGIN RSA PRIVATE KEY"). An error
// when the key is not an RSA private key.
Result<std::string> SignJwtRs256(const std::string& header_json, const std::string& claims_json,
                                 const std::string& private_key_pem);
// The same with a key already read (an RSA key; the caller keeps it).
Result<std::string> SignJwtRs256(const std::string& header_json, const std::string& claims_json,
                                 EVP_PKEY* private_key);

// A Google service account's JSON key file (the one the Cloud console downloads): what the JWT
// bearer grant needs of it.
struct ServiceAccountKey {
  std::string client_email;    // the JWT's issuer
  std::string private_key;     // PEM
  std::string private_key_id;  // the JWT header's kid
  std::string token_uri;       // where the JWT is exchanged (https://oauth2.googleapis.com/token)
};

// Reads and checks the key file (at most 64 KiB; "type": "service_account"; the fields above
// present). Errors name `key` (the configuration key) and the path, never the key's content.
Result<ServiceAccountKey> ReadServiceAccountKey(const std::string& path, const std::string& key);

// The assertion of the JWT bearer grant for `subject` (the mailbox to act as, by domain-wide
// delegation) and `scope`, issued at `now` (Unix seconds), valid for an hour.
Result<std::string> ServiceAccountAssertion(const ServiceAccountKey& k, const std::string& subject,
                                            const std::string& scope, std::int64_t now);

}  // namespace dmarc::collect
