// `dmarc-report login`: signs a user in for a source with delegated OAuth2 ([graph] auth =
// "device_code", [imap] oauth2_device_url) by the device authorization grant (RFC 8628,
// collect/device_code.h), and keeps the refresh token in the store, sealed under the source's
// token_key_file (made with mode 0600 when missing). fetch and run then refresh access tokens from
// it without anyone present.
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

// Runs the flow of `grant` and keeps the refresh token of `owner` sealed with `key_file`.
int SignIn(const config::Config& c, collect::DeviceCodeGrant grant, const TokenOwner& owner,
           const std::string& key_file) {
  grant.show = Show;
  auto tokens = collect::RunDeviceCodeFlow(grant);
  if (!tokens) {
    spdlog::error("{}", tokens.error());
    return 1;
  }
  if (tokens->refresh_token.empty()) {
    spdlog::error("{0}: the sign-in gave no refresh token ({0}.scope must include offline_access)",
                  grant.table);
    return 1;
  }
  if (auto saved = SaveRefreshToken(c.store, key_file, owner, tokens->refresh_token, LocalUser(),
                                    /*create_key=*/true);
      !saved) {
    spdlog::error("{}", saved.error());
    return 1;
  }
  fmt::print(stderr, "signed in: the refresh token of {} is stored, encrypted with {}\n",
             owner.identity, key_file);
  return 0;
}

// The device-code flow of [graph] (Microsoft identity platform, v2.0 endpoints of the tenant).
int LoginGraph(const config::Config& c) {
  const collect::GraphOptions& g = *c.graph;
  const std::string base = g.login_url + "/" + http::Escape(g.tenant_id) + "/oauth2/v2.0/";
  return SignIn(c,
                {base + "devicecode", base + "token", g.client_id, "", g.scope, "graph", g.timeout,
                 g.ca_file, nullptr, nullptr},
                GraphTokenOwner(g), g.token_key_file);
}

// The device-code flow of [imap] at its oauth2_device_url and oauth2_token_url (client_secret
// only when the endpoint wants one).
int LoginImap(const config::Config& c) {
  const collect::ImapOptions& m = *c.imap;
  return SignIn(c,
                {m.oauth2_device_url, m.oauth2_token_url, m.client_id, m.client_secret, m.scope,
                 "imap", m.timeout, m.ca_file, nullptr, nullptr},
                ImapTokenOwner(m), m.token_key_file);
}

}  // namespace

void AddLoginOptions(CLI::App& cmd) {
  LoginOptions& login = LoginState();
  cmd.add_option("-c,--config", login.config,
                 "TOML configuration (default: $DMARC_REPORT_CONFIG, or "
                 "/etc/dmarc-report/dmarc-report.toml when it exists)");
  cmd.add_option("--source", login.source,
                 "The source to sign in for: graph or imap (default: the one that signs in "
                 "with a device code)")
      ->check(CLI::IsMember({"graph", "imap"}));
}

int RunLoginCommand() {
  LoginOptions& login = LoginState();
  if (login.config.empty()) login.config = config::DefaultConfigPath(config::ProcessEnvironment());
  auto c = LoadConfigAndLogging(login.config, nullptr);
  if (!c) return 2;
  const bool graph = c->graph && c->graph->auth == "device_code";
  const bool imap = c->imap && !c->imap->oauth2_device_url.empty();
  if (login.source.empty() && graph && imap) {
    spdlog::error("{}: [graph] and [imap] both sign in with a device code: say which (--source)",
                  c->file);
    return 2;
  }
  if (login.source == "imap" || (login.source.empty() && imap)) {
    if (!imap) {
      spdlog::error("{}: [imap] does not sign in with a device code (set imap.oauth2_device_url)",
                    c->file);
      return 2;
    }
    return LoginImap(*c);
  }
  if (!graph) {
    spdlog::error(
        "{}: no source signs in with a device code (set [graph] auth = \"device_code\" "
        "or [imap] oauth2_device_url)",
        c->file);
    return 2;
  }
  return LoginGraph(*c);
}

}  // namespace dmarc::app
