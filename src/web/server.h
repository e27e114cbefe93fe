// The dashboard over HTTP(S) with cpp-httplib, for `dmarc-report serve` and `run`. Serves the
// embedded front end (assets.h) and the JSON API (api.h), with a strict Content-Security-Policy.
// Listens on loopback unless authentication (auth.h) is configured; see docs/api.md, README.md.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "web/auth.h"  // sign-in: Auth, HashPassword

namespace dmarc::web {

struct ServeOptions {
  std::string db;
  std::string listen = "127.0.0.1:8080";  // HOST:PORT, [IPv6]:PORT; port 0 picks a free one
  std::string token_file;                 // a bearer token (first line), at least 16 characters
  std::string users_file;                 // lines "name:$argon2id$..." (hash-password)
  std::string tls_cert;                   // PEM certificate chain and key: serve HTTPS
  std::string tls_key;
  bool show_failure_samples = false;  // failure reports' message samples (personal data)
  bool operator==(const ServeOptions&) const = default;
};

class Server {
 public:
  virtual ~Server() = default;
  virtual int port() const = 0;
  // "http://127.0.0.1:8080" (https with TLS) with the port actually bound.
  virtual std::string Url() const = 0;
  // Serves until Stop(); returns false when the server failed.
  virtual bool Run() = 0;
  virtual void Stop() = 0;
};

// Opens the store, checks the options and binds the socket; errors name what is wrong.
Result<std::unique_ptr<Server>> StartServer(const ServeOptions& options);

}  // namespace dmarc::web
