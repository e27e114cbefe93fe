// `dmarc-report serve`: the dashboard and its JSON API (web/server.h) until stopped.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <utility>

#include "app/cli.h"
#include "app/store_target.h"
#include "base/files.h"
#include "web/server.h"

namespace dmarc::app {

namespace {

web::ServeOptions& ServeState() {
  static web::ServeOptions state;
  return state;
}

StoreArgs& ServeStore() {
  static StoreArgs state;
  return state;
}

}  // namespace

void AddServeOptions(CLI::App& cmd) {
  web::ServeOptions& serve = ServeState();
  AddStoreOptions(cmd, ServeStore(), /*read_db=*/true);
  cmd.add_option("--listen", serve.listen,
                 "HOST:PORT to listen on; beyond loopback only with authentication")
      ->capture_default_str();
  cmd.add_option("--token-file", serve.token_file,
                 "File whose first line is a bearer token (16+ characters, not guessable: `openssl "
                 "rand -hex 32`)");
  cmd.add_option("--users", serve.users_file,
                 "File of NAME:HASH lines (hashes from `dmarc-report hash-password`)");
  cmd.add_option("--editor", serve.editors,
                 "A user of --users who may change sender statuses (repeatable; none: every "
                 "signed-in user may; the token always may)")
      ->type_name("NAME");
  cmd.add_option("--tls-cert", serve.tls_cert, "PEM certificate (chain): serve HTTPS");
  cmd.add_option("--tls-key", serve.tls_key, "PEM private key of --tls-cert");
  cmd.add_flag("--show-failure-samples", serve.show_failure_samples,
               "Show the message samples of failure reports (personal data)");
  AddForwardersFileOption(cmd, serve.forwarders_files);
  cmd.add_option("--allowed-host", serve.allowed_hosts,
                 "A Host name the dashboard answers without sign-in, besides the loopback ones "
                 "(repeatable)");
  // The limits against hostile clients (docs/security.md, "The web server").
  auto limit = [&cmd](const char* name, auto& value, const char* help, int min, int max) {
    cmd.add_option(name, value, help)->capture_default_str()->check(CLI::Range(min, max));
  };
  limit("--max-connections", serve.max_connections, "Open connections in all", 1, 100'000);
  limit("--max-connections-per-client", serve.max_connections_per_client,
        "Open connections per client address", 1, 100'000);
  limit("--idle-timeout", serve.idle_timeout,
        "Seconds without a byte from a client before its connection closes", 1, 3600);
  limit("--max-header-bytes", serve.max_header_bytes,
        "Request line and headers, in bytes (beyond: 431)", 4096, 1 << 20);
  limit("--max-headers", serve.max_headers, "Header fields per request (beyond: 431)", 8, 10'000);
  limit("--max-body-bytes", serve.max_body_bytes, "Request body in bytes (beyond: 413)", 1024,
        16 << 20);
  limit("--sign-in-threads", serve.sign_in_threads,
        "Password checks at once (Argon2id: ~64 MiB and ~95 ms each)", 1, 64);
  limit("--sign-in-queue", serve.sign_in_queue,
        "Sign-ins waiting for a check (beyond: 503 with Retry-After)", 1, 10'000);
}

// StartServer, print the address, Run. Exit status 0, or 2 on a setup error.
int RunServeCommand() {
  web::ServeOptions& options = ServeState();
  auto target = ResolveStore(ServeStore());
  if (!target) {
    spdlog::error("{}", target.error());
    return 2;
  }
  // A dashboard of a store that does not exist would show an empty one (and create it): refused.
  // Other errors (a primary out of reach while its standby serves) are StartServer's to judge.
  {
    StoreTarget primary = *target;
    primary.options.must_exist = true;
    if (auto st = primary.Open(); !st && st.error_kind() == ErrorKind::kNotFound) {
      spdlog::error("{}", st.error());
      return 2;
    }
  }
  options.db = target->url;
  options.read_db = target->read_url;
  options.db_password = target->options.password;
  // A token or password hashes in a file others can read are only as secret as that file.
  for (const auto& [flag, file] : {std::pair{"--token-file", &options.token_file},
                                   std::pair{"--users", &options.users_file}}) {
    if (!file->empty() && ReadableByOthers(*file)) {
      spdlog::warn("{} {}: readable by other users; chmod 600 {}", flag, *file, *file);
    }
  }
  auto server = web::StartServer(options);
  if (!server) {
    spdlog::error("{}", server.error());
    return 2;
  }
  fmt::print(stderr, "dmarc-report: serving {} on {}/\n", target->ReadUrl(), (*server)->Url());
  std::fflush(stderr);
  return (*server)->Run() ? 0 : 2;
}

}  // namespace dmarc::app
