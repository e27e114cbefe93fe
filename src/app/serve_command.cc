// `dmarc-report serve`: the dashboard and its JSON API (web/server.h) until stopped.
#include <fmt/format.h>

#include <cstdio>

#include "app/cli.h"
#include "web/server.h"

namespace dmarc::app {

namespace {

web::ServeOptions& ServeState() {
  static web::ServeOptions state;
  return state;
}

}  // namespace

void AddServeOptions(CLI::App& cmd) {
  web::ServeOptions& serve = ServeState();
  cmd.add_option("--db", serve.db, kDbHelp)->required();
  cmd.add_option("--listen", serve.listen,
                 "HOST:PORT to listen on; beyond loopback only with authentication")
      ->capture_default_str();
  cmd.add_option("--token-file", serve.token_file,
                 "File whose first line is a bearer token (16+ characters, not guessable: `openssl "
                 "rand -hex 32`)");
  cmd.add_option("--users", serve.users_file,
                 "File of NAME:HASH lines (hashes from `dmarc-report hash-password`)");
  cmd.add_option("--tls-cert", serve.tls_cert, "PEM certificate (chain): serve HTTPS");
  cmd.add_option("--tls-key", serve.tls_key, "PEM private key of --tls-cert");
  cmd.add_flag("--show-failure-samples", serve.show_failure_samples,
               "Show the message samples of failure reports (personal data)");
}

// StartServer, print the address, Run. Exit status 0, or 2 on a setup error.
int RunServeCommand() {
  const web::ServeOptions& options = ServeState();
  auto server = web::StartServer(options);
  if (!server) {
    fmt::print(stderr, "{}\n", server.error());
    return 2;
  }
  fmt::print(stderr, "dmarc-report: serving {} on {}/\n", options.db, (*server)->Url());
  std::fflush(stderr);
  return (*server)->Run() ? 0 : 2;
}

}  // namespace dmarc::app
