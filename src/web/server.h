// The dashboard over HTTP(S) with cpp-httplib, for `dmarc-report serve` and `run`. Serves the
// embedded front end (assets.h) and the JSON API (api.h), with a strict Content-Security-Policy.
// Listens on loopback unless authentication (auth.h) is configured; see docs/api.md, README.md.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "web/auth.h"  // sign-in: Auth, HashPassword

namespace dmarc::web {

struct ServeOptions {
  std::string db;
  // Where the dashboard reads (a hot standby of the PostgreSQL primary `db`); empty: db. Then
  // `db` is opened only at start, to bring its schema up to date, and /healthz checks read_db.
  std::string read_db;
  std::string db_password;  // PostgreSQL: the password of both URLs' user ([store] password_file)
  std::string listen = "127.0.0.1:8080";  // HOST:PORT, [IPv6]:PORT; port 0 picks a free one
  std::string token_file;                 // a bearer token (first line), at least 16 characters
  std::string users_file;                 // lines "name:$argon2id$..." (hash-password)
  // The users of users_file who may change what the dashboard changes (sender statuses); the
  // bearer token may always. Empty: every signed-in user may.
  std::vector<std::string> editors;
  std::string tls_cert;  // PEM certificate chain and key: serve HTTPS
  std::string tls_key;
  bool show_failure_samples = false;  // failure reports' message samples (personal data)
  // How this program fills in the sources' DNS names, for the dashboard to say why names are
  // missing (GET /api/enrichment): "on", "offline", "off"; empty (`serve`): it does not enrich.
  std::string enrichment;
  // The user's files of known forwarders, read after the bundled list (store/forwarders.h):
  // the Enforcement page's forwarded mail.
  std::vector<std::string> forwarders_files;
  // Without sign-in, the Host names (besides the loopback names of the listen address) a request
  // may carry: a page of another site that resolves its name to 127.0.0.1 (DNS rebinding) sends
  // its own name and gets 421.
  std::vector<std::string> allowed_hosts;
  // Limits against hostile clients (docs/security.md, "The web server"). Beyond them: 431
  // (headers), 413 (body), a refused connection (connections), a closed connection (idle).
  unsigned max_connections = 256;            // open connections in all
  unsigned max_connections_per_client = 32;  // open connections per client address
  unsigned idle_timeout = 15;                // seconds without a byte from the client: closed
  std::size_t max_header_bytes = 32 * 1024;  // request line and headers (per connection buffer)
  unsigned max_headers = 100;                // header fields per request
  std::size_t max_body_bytes = 64 * 1024;    // request body, whatever its transfer encoding
  unsigned sign_in_threads = 2;              // Argon2id checks at once (~64 MiB, ~95 ms each)
  unsigned sign_in_queue = 32;               // sign-ins waiting for those; beyond: 503
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

// What StartServer checks of the options before it opens anything (the sign-in files, the listen
// address, no data beyond loopback without sign-in, the TLS files): `check-config` runs it too.
// Errors name the command-line options (`--listen`, `--token-file`, ...).
Result<bool> CheckServeOptions(const ServeOptions& options);

// Opens the store, checks the options and binds the socket; errors name what is wrong.
Result<std::unique_ptr<Server>> StartServer(const ServeOptions& options);

}  // namespace dmarc::web
