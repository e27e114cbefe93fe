// OAuth2 for the IMAP and Microsoft Graph sources: where an access token comes from (a file or a
// command, read again for every connection so that an external refresher can replace it; or the
// client credentials grant) and the SASL client responses that carry it (XOAUTH2, and OAUTHBEARER
// of RFC 7628). A token is never logged, and neither is a command's output.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "collect/source.h"

namespace dmarc::collect {

// The access token of token_file (its first line) or of token_command (the first line of its
// standard output; the command runs without a shell, with stdin from /dev/null, its stderr
// inherited, and is killed after `timeout_seconds`). Errors name the source, never the token.
Result<std::string> ReadAccessToken(const std::string& token_file,
                                    const std::vector<std::string>& token_command,
                                    int timeout_seconds);

// What a client credentials grant (RFC 6749 §4.4) sends, and how its errors name the keys.
struct ClientCredentials {
  std::string token_url;
  std::string client_id;
  std::string client_secret;  // never logged
  std::string scope;          // empty: none sent
  int timeout = 60;           // seconds
  std::string url_key;        // "imap.oauth2_token_url": names the URL in errors
  std::string check_keys;     // "imap.client_id, imap.client_secret and imap.scope"
  std::string ca_file;        // empty: the system's trusted certificates
  // Instead of client_secret, a client assertion (collect/client_assertion.h) signed with the key
  // of this certificate (PEM files; key_file may be the certificate's file).
  std::string cert_file;
  std::string key_file;
};

// The client credentials of [imap] (oauth2_token_url, client_id, client_secret, scope).
ClientCredentials ImapClientCredentials(const ImapOptions& c);

// One client credentials grant: {access_token, expires_in seconds (0: unsaid)}. Errors name the
// URL and the endpoint's error and error_description, never the secret.
Result<std::pair<std::string, std::int64_t>> RequestClientCredentialsToken(
    const ClientCredentials& c);

// A token of a grant (client credentials, a service account's JWT) kept until 60 s before it
// expires.
class CachedToken {
 public:
  // One grant: {access_token, expires_in seconds (0: unsaid)}.
  using Grant = std::function<Result<std::pair<std::string, std::int64_t>>()>;
  explicit CachedToken(ClientCredentials c)
      : grant_([c = std::move(c)] { return RequestClientCredentialsToken(c); }) {}
  explicit CachedToken(Grant grant) : grant_(std::move(grant)) {}
  // The kept token, or a new one when there is none, it expires within 60 s, or `refused` (the
  // server refused the last one).
  Result<std::string> Get(bool refused);

 private:
  Grant grant_;
  std::string cached_;
  std::int64_t valid_until_ = 0;  // steady-clock seconds
};

// The access tokens of one IMAP source, kept across its connections.
class AccessTokens {
 public:
  explicit AccessTokens(const ImapOptions& c);
  // The token for the next connection. A file is read and a command run every time; a
  // client-credentials or service-account token as CachedToken::Get.
  Result<std::string> Get(bool refused);

 private:
  const ImapOptions& c_;
  CachedToken granted_;
};

// The scope a Google service account asks for when imap.scope is not set: IMAP access to Gmail.
inline constexpr const char* kGmailScope = "https://mail.google.com/";

// The JWT bearer grant (RFC 7523) of a Google service account with domain-wide delegation: an
// assertion for imap.user signed with the key of service_account_file, exchanged at the key's
// token_uri; as RequestClientCredentialsToken answers. `now`: Unix seconds.
Result<std::pair<std::string, std::int64_t>> RequestServiceAccountToken(const ImapOptions& c,
                                                                        std::int64_t now);

// The same grant for any source: the key file, the mailbox the JWT acts as (its subject) and the
// scope; `table` ("imap", "gmail") names the configuration keys in errors.
struct ServiceAccountGrant {
  std::string key_file;
  std::string subject;
  std::string scope;
  std::string table;
  int timeout = 60;
  std::string ca_file;  // for the key's token_uri; empty: the system's trusted certificates
};
Result<std::pair<std::string, std::int64_t>> RequestServiceAccountToken(
    const ServiceAccountGrant& g, std::int64_t now);

// The refresh token grant (RFC 6749 §6) of an installed app (Google's
// https://oauth2.googleapis.com/token): grant_type=refresh_token, client_id, client_secret and
// refresh_token; as RequestClientCredentialsToken answers. Errors name `table`.token_url.
struct RefreshTokenGrant {
  std::string token_url;
  std::string client_id;
  std::string client_secret;  // never logged
  std::string refresh_token;  // never logged
  std::string table;
  int timeout = 60;
  std::string ca_file;
};
Result<std::pair<std::string, std::int64_t>> RequestRefreshToken(const RefreshTokenGrant& g);

// "user=USER^Aauth=Bearer TOKEN^A^A" (before base64).
std::string XOAuth2Response(const std::string& user, const std::string& token);

// RFC 7628 §3.1: "n,a=USER,^Ahost=HOST^Aport=PORT^Aauth=Bearer TOKEN^A^A" (before base64); ','
// and '=' in the user name are escaped as =2C and =3D (RFC 5801 saslname).
std::string OAuthBearerResponse(const std::string& user, const std::string& host, int port,
                                const std::string& token);

}  // namespace dmarc::collect
