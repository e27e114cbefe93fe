// `dmarc-report login`: signs a user in for a source with delegated OAuth2 ([graph] auth =
// "device_code") by the device authorization grant (RFC 8628, collect/device_code.h), and keeps
// the refresh token in the store, sealed under the source's token_key_file (made with mode 0600
// when missing). fetch and run then refresh access tokens from it without anyone present.
#include <fmt/format.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "app/cli.h"
#include "app/delegated_tokens.h"
#include "app/fetch_command.h"
#include "collect/device_code.h"
#include "config/config.h"
#include "http/request.h"

namespace dmarc::app {

namespace {

struct LoginOptions {
  std::string config;
  std::string source;  // "graph"; empty: the one source that signs in
};

LoginOptions& LoginState() {
  static LoginOptions state;
  return state;
}

// Who ran login, for the row's saved_by: the local account (the identity provider knows who
// signed in; the store only needs to tell one login from another).
std::string LocalUser() {
  const passwd* pw = ::getpwuid(::getuid());
  return std::string("login:") + (pw && pw->pw_name ? pw->pw_name : std::to_string(::getuid()));
}

void Show(const std::string& message) {
  fmt::print(stderr, "{}\n", message);
  std::fflush(stderr);
}

// The device-code flow of [graph] (Microsoft identity platform, v2.0 endpoints of the tenant).
int LoginGraph(const config::Config& c) {
  const collect::GraphOptions& g = *c.graph;
  const std::string base = g.login_url + "/" + http::Escape(g.tenant_id) + "/oauth2/v2.0/";
  collect::DeviceCodeGrant grant;
  grant.device_url = base + "devicecode";
  grant.token_url = base + "token";
  grant.client_id = g.client_id;
  grant.scope = g.scope;
  grant.table = "graph";
  grant.timeout = g.timeout;
  grant.ca_file = g.ca_file;
  grant.show = Show;
  auto tokens = collect::RunDeviceCodeFlow(grant);
  if (!tokens) {
    spdlog::error("{}", tokens.error());
    return 1;
  }
  if (tokens->refresh_token.empty()) {
    spdlog::error(
        "graph: the sign-in gave no refresh token (graph.scope must include "
        "offline_access)");
    return 1;
  }
  const TokenOwner owner = GraphTokenOwner(g);
  if (auto saved = SaveRefreshToken(c.store, g.token_key_file, owner, tokens->refresh_token,
                                    LocalUser(), /*create_key=*/true);
      !saved) {
    spdlog::error("{}", saved.error());
    return 1;
  }
  fmt::print(stderr, "signed in: the refresh token of {} is stored, encrypted with {}\n",
             owner.identity, g.token_key_file);
  return 0;
}

}  // namespace

void AddLoginOptions(CLI::App& cmd) {
  LoginOptions& login = LoginState();
  cmd.add_option("-c,--config", login.config,
                 "TOML configuration (default: $DMARC_REPORT_CONFIG, or "
                 "/etc/dmarc-report/dmarc-report.toml when it exists)");
  cmd.add_option("--source", login.source,
                 "The source to sign in for: graph (default: the one with auth = "
                 "\"device_code\")")
      ->check(CLI::IsMember({"graph"}));
}

int RunLoginCommand() {
  LoginOptions& login = LoginState();
  if (login.config.empty()) login.config = config::DefaultConfigPath(config::ProcessEnvironment());
  auto c = LoadConfigAndLogging(login.config, nullptr);
  if (!c) return 2;
  const bool graph = c->graph && c->graph->auth == "device_code";
  if (!graph || (!login.source.empty() && login.source != "graph")) {
    spdlog::error("{}: no source signs in with a device code (set [graph] auth = \"device_code\")",
                  c->file);
    return 2;
  }
  return LoginGraph(*c);
}

}  // namespace dmarc::app
