// Delegated OAuth2 for the Microsoft Graph and IMAP sources: the device authorization grant of
// RFC 8628 (a user signs in on another device with a short code; `dmarc-report login`), and the
// refresh token grant that turns its refresh token into access tokens at each fetch. The shapes
// are the Microsoft identity platform's
// (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code): a POST to
// {login_url}/{tenant}/oauth2/v2.0/devicecode, then polls of .../token. Google's device endpoint
// (https://oauth2.googleapis.com/device/code, which also wants the client_secret and calls the URL
// verification_url) is accepted as well. Tokens and secrets are never logged nor put in errors.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "base/result.h"
#include "collect/oauth_token.h"
#include "collect/source.h"

namespace dmarc::collect {

// What a token endpoint gave: the access token, its lifetime in seconds (0: unsaid), and a
// refresh token ("": none; with a refresh grant, the old one stays valid).
struct TokenSet {
  std::string access_token;
  std::int64_t expires_in = 0;
  std::string refresh_token;
};

struct DeviceCodeGrant {
  std::string device_url;  // the device authorization endpoint
  std::string token_url;   // the token endpoint
  std::string client_id;
  std::string client_secret;  // "": a public client (Microsoft); Google's needs it. Never logged
  std::string scope;          // with offline_access for Microsoft, or no refresh token comes
  std::string table;          // "graph", "imap": names the configuration keys in errors
  int timeout = 60;           // seconds of one request
  std::string ca_file;        // empty: the system's trusted certificates
  // Shows the user what to do (the endpoint's `message`, or the URL and the code).
  std::function<void(const std::string&)> show;
  // Waits this many seconds between polls; empty: sleeps. The wait is bounded by the sum of these
  // against the code's expires_in, so that a test can pass a clock of its own.
  std::function<void(std::int64_t)> sleep;
};

// Runs the flow to its end: asks for a device code, shows the user the code, polls the token
// endpoint every `interval` seconds (5 more after each slow_down) until the user signed in,
// declined, or the code expired. Errors name the URL and say what happened.
Result<TokenSet> RunDeviceCodeFlow(const DeviceCodeGrant& g);

// The refresh token grant of a public or confidential client (RFC 6749 §6).
struct DelegatedRefresh {
  std::string token_url;
  std::string client_id;
  std::string client_secret;  // "": none sent
  std::string refresh_token;  // never logged
  std::string scope;          // "": none sent
  std::string table;
  int timeout = 60;
  std::string ca_file;
};

// One refresh. An invalid_grant (revoked, expired, or signed out: the user must sign in again) is
// an error of kind kAuth saying to run `dmarc-report login`.
Result<TokenSet> RefreshDelegatedToken(const DelegatedRefresh& r);

// The grant of a source signed in with a device code: loads the refresh token from `keeper`,
// refreshes it at `base`'s token URL, and saves a rotated refresh token through `keeper` before
// the access token is used.
CachedToken::Grant DelegatedGrant(DelegatedRefresh base, RefreshTokenKeeper keeper);

}  // namespace dmarc::collect
