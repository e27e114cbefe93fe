#include "collect/device_code.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "http/request.h"

namespace dmarc::collect {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxAnswerBytes = 64 * 1024;  // more is not a token endpoint's answer
constexpr std::int64_t kSlowDownSeconds = 5;        // RFC 8628 §3.5
constexpr std::int64_t kMaxWaitSeconds = 3600;      // an expires_in beyond is not believed

struct FormAnswer {
  long status = 0;
  json doc;
};

// POSTs a form; the answer's JSON (null when it is none).
Result<FormAnswer> PostForm(const std::string& url, std::string form, int timeout,
                            const std::string& ca_file, const std::string& key) {
  http::Request request;
  request.url = url;
  request.body = std::move(form);
  request.headers = {"Content-Type: application/x-www-form-urlencoded", "Accept: application/json"};
  request.timeout_seconds = timeout;
  request.max_answer_bytes = kMaxAnswerBytes;
  request.ca_file = ca_file;
  auto sent = http::Send(request);
  if (!sent) return MakeError(fmt::format("{}: POST {} failed: {}", key, url, sent.error()));
  return FormAnswer{sent->status, json::parse(sent->body, nullptr, false)};
}

std::string Text(const json& doc, const char* name) {
  return doc.is_object() && doc.contains(name) && doc[name].is_string()
             ? doc[name].get<std::string>()
             : std::string();
}

std::int64_t Number(const json& doc, const char* name, std::int64_t fallback) {
  if (!doc.is_object() || !doc.contains(name)) return fallback;
  if (doc[name].is_number_integer()) return doc[name].get<std::int64_t>();
  const std::string text = Text(doc, name);
  // Some endpoints send numbers as strings; anything else is not believed.
  if (text.empty() || text.size() > 9 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return fallback;
  }
  return std::stoll(text);
}

// "error: error_description" of an OAuth2 error answer (RFC 6749 §5.2), cut short: they name
// what went wrong and hold no secret.
std::string Said(const json& doc) {
  const std::string error = Text(doc, "error");
  if (error.empty()) return "no access_token in the answer";
  const std::string description = Text(doc, "error_description");
  return (description.empty() ? error : error + ": " + description).substr(0, 500);
}

Result<TokenSet> Tokens(const json& doc) {
  TokenSet t{Text(doc, "access_token"), Number(doc, "expires_in", 0), Text(doc, "refresh_token")};
  if (t.access_token.empty()) return MakeError("no access_token in the answer");
  return t;
}

struct DeviceCode {
  std::string device_code;  // a secret of the flow: never shown
  std::int64_t expires_in = 0;
  std::int64_t interval = 5;
};

Result<DeviceCode> AskForDeviceCode(const DeviceCodeGrant& g) {
  const std::string key = g.table + ".login_url (device code)";
  std::string form = "client_id=" + http::Escape(g.client_id) + "&scope=" + http::Escape(g.scope);
  if (!g.client_secret.empty()) form += "&client_secret=" + http::Escape(g.client_secret);
  auto a = PostForm(g.device_url, std::move(form), g.timeout, g.ca_file, key);
  if (!a) return MakeError(a.error());
  const std::string uri = Text(a->doc, "verification_uri").empty()
                              ? Text(a->doc, "verification_url")
                              : Text(a->doc, "verification_uri");
  DeviceCode code{Text(a->doc, "device_code"), Number(a->doc, "expires_in", 900),
                  Number(a->doc, "interval", 5)};
  if (a->status != 200 || code.device_code.empty() || uri.empty() ||
      Text(a->doc, "user_code").empty()) {
    return MakeError(
        fmt::format("{}: POST {} answered {}: {} (check {}.client_id, {}.scope, and "
                    "that the app registration allows public client flows)",
                    key, g.device_url, a->status,
                    a->doc.is_object() && a->doc.contains("error")
                        ? Said(a->doc)
                        : std::string("no device_code, user_code and verification_uri"),
                    g.table, g.table));
  }
  code.expires_in = std::clamp<std::int64_t>(code.expires_in, 1, kMaxWaitSeconds);
  code.interval = std::clamp<std::int64_t>(code.interval, 1, 60);
  std::string message = Text(a->doc, "message");
  if (message.empty()) {
    message = fmt::format("To sign in, open {} and enter the code {}", uri.substr(0, 500),
                          Text(a->doc, "user_code").substr(0, 100));
  }
  if (g.show) g.show(message.substr(0, 1000));
  return code;
}

void SleepSeconds(std::int64_t seconds) {
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
}

}  // namespace

Result<TokenSet> RunDeviceCodeFlow(const DeviceCodeGrant& g) {
  auto code = AskForDeviceCode(g);
  if (!code) return MakeError(code.error());
  const std::string key = g.table + ".login_url (token)";
  std::string form = "grant_type=" + http::Escape("urn:ietf:params:oauth:grant-type:device_code") +
                     "&client_id=" + http::Escape(g.client_id) +
                     "&device_code=" + http::Escape(code->device_code);
  if (!g.client_secret.empty()) form += "&client_secret=" + http::Escape(g.client_secret);
  std::int64_t interval = code->interval, waited = 0;
  for (;;) {
    if (waited + interval > code->expires_in) {
      return MakeError(ErrorKind::kAuth,
                       fmt::format("{}: nobody signed in within {} s; run dmarc-report login again",
                                   key, code->expires_in));
    }
    (g.sleep ? g.sleep : SleepSeconds)(interval);
    waited += interval;
    auto a = PostForm(g.token_url, form, g.timeout, g.ca_file, key);
    if (!a) return MakeError(a.error());
    if (a->status == 200) {
      auto tokens = Tokens(a->doc);
      if (!tokens) {
        return MakeError(fmt::format("{}: POST {}: {}", key, g.token_url, tokens.error()));
      }
      return tokens;
    }
    const std::string error = Text(a->doc, "error");
    if (error == "authorization_pending") continue;
    if (error == "slow_down") {
      interval += kSlowDownSeconds;
      continue;
    }
    std::string why;
    if (error == "expired_token") {
      why = "the code expired before anyone signed in; run dmarc-report login again";
    } else if (error == "access_denied" || error == "authorization_declined") {
      why = "the user declined the sign-in";
    } else if (error == "bad_verification_code") {
      why = "the endpoint does not know the device code (a device_code of another flow?)";
    } else {
      why = fmt::format("answered {}: {}", a->status, Said(a->doc));
    }
    return MakeError(ErrorKind::kAuth, fmt::format("{}: POST {}: {}", key, g.token_url, why));
  }
}

Result<TokenSet> RefreshDelegatedToken(const DelegatedRefresh& r) {
  const std::string key = r.table + ".login_url (token)";
  std::string form = "grant_type=refresh_token&client_id=" + http::Escape(r.client_id) +
                     "&refresh_token=" + http::Escape(r.refresh_token);
  if (!r.client_secret.empty()) form += "&client_secret=" + http::Escape(r.client_secret);
  if (!r.scope.empty()) form += "&scope=" + http::Escape(r.scope);
  auto a = PostForm(r.token_url, std::move(form), r.timeout, r.ca_file, key);
  if (!a) return MakeError(a.error());
  if (a->status == 200) {
    auto tokens = Tokens(a->doc);
    if (tokens) return tokens;
    return MakeError(fmt::format("{}: POST {}: {}", key, r.token_url, tokens.error()));
  }
  if (Text(a->doc, "error") == "invalid_grant") {
    return MakeError(ErrorKind::kAuth,
                     fmt::format("{}: POST {}: the stored refresh token was refused ({}); sign in "
                                 "again with dmarc-report login",
                                 key, r.token_url, Said(a->doc)));
  }
  return MakeError(fmt::format("{}: POST {} answered {}: {} (check {}.client_id and {}.scope)", key,
                               r.token_url, a->status, Said(a->doc), r.table, r.table));
}

CachedToken::Grant DelegatedGrant(DelegatedRefresh base, RefreshTokenKeeper keeper) {
  return [base = std::move(base),
          keeper = std::move(keeper)]() -> Result<std::pair<std::string, std::int64_t>> {
    if (!keeper.load) return MakeError(base.table + ": no place to read the refresh token from");
    auto refresh = keeper.load();
    if (!refresh) return MakeError(refresh.error_kind(), refresh.error());
    DelegatedRefresh r = base;
    r.refresh_token = std::move(refresh).value();
    auto tokens = RefreshDelegatedToken(r);
    if (!tokens) return MakeError(tokens.error_kind(), tokens.error());
    // A rotated refresh token replaces the old one, which the endpoint may stop taking.
    if (!tokens->refresh_token.empty() && tokens->refresh_token != r.refresh_token && keeper.save) {
      if (auto saved = keeper.save(tokens->refresh_token); !saved) {
        return MakeError(fmt::format("{}: the rotated refresh token could not be kept: {}",
                                     base.table, saved.error()));
      }
    }
    return std::pair{std::move(tokens->access_token), tokens->expires_in};
  };
}

}  // namespace dmarc::collect
