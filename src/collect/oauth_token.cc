#include "collect/oauth_token.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/signals.h"
#include "collect/client_assertion.h"
#include "collect/device_code.h"
#include "collect/jwt.h"
#include "http/request.h"

extern char** environ;

namespace dmarc::collect {

namespace {

constexpr std::size_t kMaxTokenOutput = 64 * 1024;  // more is not a token

// The first line without its line end; empty when there is none.
std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError(
        fmt::format("imap.token_file: cannot read {}: {}", path, std::strerror(errno)));
  }
  std::string text(kMaxTokenOutput, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  std::string token = FirstLine(text);
  if (token.empty()) return MakeError(fmt::format("imap.token_file: {} holds no token", path));
  return token;
}

Result<std::string> RunTokenCommand(const std::vector<std::string>& argv, int timeout_seconds) {
  const std::string name = fmt::format("imap.token_command ({})", argv.front());
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return MakeError(fmt::format("{}: cannot make a pipe: {}", name, std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  ChildSignalDefaults(attr);
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (spawned != 0) {
    ::close(out[0]);
    return MakeError(fmt::format("{}: cannot run: {}", name, std::strerror(spawned)));
  }
  std::string output;
  bool timed_out = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;  // the deadline is checked above
    char buf[4096];
    const ssize_t got = ::read(out[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (output.size() < kMaxTokenOutput) output.append(buf, static_cast<std::size_t>(got));
  }
  ::close(out[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return MakeError(
        fmt::format("{}: no token after {} s (imap.timeout); killed", name, timeout_seconds));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return MakeError(fmt::format("{}: failed ({})", name,
                                 WIFEXITED(status)
                                     ? fmt::format("exit status {}", WEXITSTATUS(status))
                                     : fmt::format("signal {}", WTERMSIG(status))));
  }
  std::string token = FirstLine(output);
  if (token.empty()) return MakeError(fmt::format("{}: printed no token", name));
  return token;
}

std::int64_t SteadySeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

namespace {

// POSTs a token request (RFC 6749 §4.4.2, RFC 7523 §2.1) to `url`: {access_token, expires_in
// seconds (0: unsaid)}. Errors name `key` (the configuration key of the URL) and the endpoint's
// error and error_description, with `hint` (what to check), never a secret.
struct TokenRequest {
  std::string url;
  std::string form;
  int timeout = 60;
  std::string ca_file;
  std::string key;
  std::string hint;
};

Result<std::pair<std::string, std::int64_t>> PostTokenRequest(TokenRequest t) {
  http::Request request;
  request.url = t.url;
  request.body = std::move(t.form);
  request.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
  request.timeout_seconds = t.timeout;
  request.max_answer_bytes = kMaxTokenOutput;
  request.ca_file = t.ca_file;
  auto sent = http::Send(request);
  if (!sent) return MakeError(fmt::format("{}: POST {} failed: {}", t.key, t.url, sent.error()));
  const long status = sent->status;
  const nlohmann::json doc = nlohmann::json::parse(sent->body, nullptr, false);
  const auto text = [&doc](const char* name) {
    return doc.is_object() && doc.contains(name) && doc[name].is_string()
               ? doc[name].get<std::string>()
               : std::string();
  };
  if (status != 200 || text("access_token").empty()) {
    // error and error_description (RFC 6749 §5.2) say what was wrong; they hold no secret.
    const std::string said = text("error").empty()
                                 ? std::string("no access_token in the answer")
                                 : text("error") + (text("error_description").empty()
                                                        ? std::string()
                                                        : ": " + text("error_description"));
    return MakeError(fmt::format("{}: POST {} answered {}: {} (check {})", t.key, t.url, status,
                                 said.substr(0, 500), t.hint));
  }
  std::int64_t expires_in = 0;
  if (doc.contains("expires_in") && doc["expires_in"].is_number_integer()) {
    expires_in = doc["expires_in"].get<std::int64_t>();
  } else if (!text("expires_in").empty()) {
    expires_in = std::strtoll(text("expires_in").c_str(), nullptr, 10);
  }
  return std::pair{text("access_token"), expires_in};
}

std::int64_t UnixNow() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

ClientCredentials ImapClientCredentials(const ImapOptions& c) {
  return {c.oauth2_token_url,
          c.client_id,
          c.client_secret,
          c.scope,
          c.timeout,
          "imap.oauth2_token_url",
          "imap.client_id, imap.client_secret and imap.scope"};
}

Result<std::pair<std::string, std::int64_t>> RequestClientCredentialsToken(
    const ClientCredentials& c) {
  std::string form = "grant_type=client_credentials&client_id=" + http::Escape(c.client_id);
  if (c.cert_file.empty()) {
    form += "&client_secret=" + http::Escape(c.client_secret);
  } else {
    auto assertion =
        MakeClientAssertion(c.cert_file, c.key_file, c.client_id, c.token_url, UnixNow());
    if (!assertion) return MakeError(assertion.error());
    form += "&client_assertion_type=" +
            http::Escape("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
            "&client_assertion=" + *assertion;
  }
  if (!c.scope.empty()) form += "&scope=" + http::Escape(c.scope);
  return PostTokenRequest(
      {c.token_url, std::move(form), c.timeout, c.ca_file, c.url_key, c.check_keys});
}

Result<std::pair<std::string, std::int64_t>> RequestServiceAccountToken(
    const ServiceAccountGrant& g, std::int64_t now) {
  const std::string file_key = g.table + ".service_account_file";
  auto key = ReadServiceAccountKey(g.key_file, file_key);
  if (!key) return MakeError(key.error());
  auto assertion = ServiceAccountAssertion(*key, g.subject, g.scope, now);
  if (!assertion) {
    return MakeError(fmt::format("{}: {}: {}", file_key, g.key_file, assertion.error()));
  }
  return PostTokenRequest(
      {key->token_uri,
       "grant_type=" + http::Escape("urn:ietf:params:oauth:grant-type:jwt-bearer") +
           "&assertion=" + *assertion,
       g.timeout, g.ca_file, file_key + " (token_uri)",
       fmt::format("that {} is delegated the scope {} for the domain of {}.user", key->client_email,
                   g.scope, g.table)});
}

Result<std::pair<std::string, std::int64_t>> RequestServiceAccountToken(const ImapOptions& c,
                                                                        std::int64_t now) {
  return RequestServiceAccountToken(
      {c.service_account_file, c.user, c.scope.empty() ? std::string(kGmailScope) : c.scope, "imap",
       c.timeout, ""},
      now);
}

Result<std::pair<std::string, std::int64_t>> RequestRefreshToken(const RefreshTokenGrant& g) {
  return PostTokenRequest(
      {g.token_url,
       "grant_type=refresh_token&client_id=" + http::Escape(g.client_id) + "&client_secret=" +
           http::Escape(g.client_secret) + "&refresh_token=" + http::Escape(g.refresh_token),
       g.timeout, g.ca_file, g.table + ".token_url",
       fmt::format("{0}.client_id, {0}.client_secret and that {0}.refresh_token is not revoked",
                   g.table)});
}

namespace {

// The grant of an IMAP source's OAuth2 token: a service account's JWT, a delegated sign-in's
// refresh token, or the client credentials.
CachedToken ImapGrant(const ImapOptions& c) {
  if (!c.service_account_file.empty()) {
    return CachedToken(
        CachedToken::Grant([&c] { return RequestServiceAccountToken(c, UnixNow()); }));
  }
  if (!c.oauth2_device_url.empty()) {
    return CachedToken(
        DelegatedGrant(DelegatedRefresh{c.oauth2_token_url, c.client_id, c.client_secret, "",
                                        c.scope, "imap", c.timeout, c.ca_file},
                       c.keeper));
  }
  return CachedToken(ImapClientCredentials(c));
}

}  // namespace

AccessTokens::AccessTokens(const ImapOptions& c) : c_(c), granted_(ImapGrant(c)) {}

Result<std::string> AccessTokens::Get(bool refused) {
  if (c_.oauth2_token_url.empty() && c_.service_account_file.empty()) {
    return ReadAccessToken(c_.token_file, c_.token_command, c_.timeout);
  }
  return granted_.Get(refused);
}

Result<std::string> CachedToken::Get(bool refused) {
  if (!refused && !cached_.empty() && SteadySeconds() < valid_until_) return cached_;
  cached_.clear();
  auto got = grant_();
  if (!got) return MakeError(got.error_kind(), got.error());
  cached_ = std::move(got->first);
  // Without expires_in, the token is used for one connection.
  valid_until_ = got->second > 0 ? SteadySeconds() + got->second - 60 : 0;
  return cached_;
}

bool IsOAuth2(const std::string& auth) { return auth == "xoauth2" || auth == "oauthbearer"; }

Result<std::string> ReadAccessToken(const std::string& token_file,
                                    const std::vector<std::string>& token_command,
                                    int timeout_seconds) {
  if (!token_command.empty()) return RunTokenCommand(token_command, timeout_seconds);
  if (!token_file.empty()) return ReadTokenFile(token_file);
  return MakeError("no OAuth2 token source (set imap.token_file or imap.token_command)");
}

std::string XOAuth2Response(const std::string& user, const std::string& token) {
  return "user=" + user + "\x01" + "auth=Bearer " + token + "\x01\x01";
}

std::string OAuthBearerResponse(const std::string& user, const std::string& host, int port,
                                const std::string& token) {
  std::string name;
  for (const char c : user) {
    if (c == ',') {
      name += "=2C";
    } else if (c == '=') {
      name += "=3D";
    } else {
      name += c;
    }
  }
  return fmt::format(
      "n,a={},\x01host={}\x01port={}\x01"
      "auth=Bearer {}\x01\x01",
      name, host, port, token);
}

}  // namespace dmarc::collect
