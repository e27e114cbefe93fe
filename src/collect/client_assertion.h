// The client assertion of the Microsoft identity platform's certificate credentials: a JWT signed
// with the app's private key, sent instead of a client secret in a client credentials grant
// (client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer; see
// https://learn.microsoft.com/entra/identity-platform/certificate-credentials).
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace dmarc::collect {

// A JWT for `audience` (the token URL) from `client_id` (iss and sub), valid from `now` for
// 10 minutes, with a random jti; its header names the certificate by its SHA-1 thumbprint (x5t)
// and SHA-256 thumbprint (x5t#S256), and it is signed RS256 with the key. `cert_file`: PEM, the
// certificate uploaded to the app registration; `key_file`: PEM, its private key (RSA; may be
// the same file). Errors name the files, never the key.
Result<std::string> MakeClientAssertion(const std::string& cert_file, const std::string& key_file,
                                        const std::string& client_id, const std::string& audience,
                                        std::int64_t now);

}  // namespace dmarc::collect
