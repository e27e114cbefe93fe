#include "web/auth.h"

#include <fmt/format.h>
#include <sodium.h>

#include <fstream>

#include "web/api.h"
#include "web/server.h"

namespace dmarc::web {

namespace {

constexpr auto kSessionLifetime = std::chrono::hours(12);
constexpr std::size_t kMaxSessions = 10'000;
// Sign-in attempts: at most 5 failures per client address in 15 minutes; at most 10,000
// addresses remembered.
constexpr std::size_t kMaxFailedSignIns = 5;
constexpr auto kSignInWindow = std::chrono::minutes(15);
constexpr std::size_t kMaxTrackedAddresses = 10'000;

Result<std::string> ReadFirstLine(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) return MakeError(fmt::format("{} {}: cannot read", what, path));
  std::string line;
  std::getline(in, line);
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line;
}

std::string SessionCookie(const http::Request& req) {
  const std::string cookies = req.get_header_value("Cookie");
  std::size_t pos = 0;
  while (pos < cookies.size()) {
    auto end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    std::string item = cookies.substr(pos, end - pos);
    const auto first = item.find_first_not_of(' ');
    if (first != std::string::npos) item = item.substr(first);
    if (item.starts_with("session=")) return item.substr(8);
    pos = end + 1;
  }
  return "";
}

// Requests that change state must come from our own pages (SameSite=Strict covers the
// cookie; this covers signing in from a hostile page).
bool SameOrigin(const http::Request& req) {
  const std::string origin = req.get_header_value("Origin");
  if (origin.empty()) return true;
  const std::string host = req.get_header_value("Host");
  return origin == "http://" + host || origin == "https://" + host;
}

}  // namespace

Result<bool> Auth::Load(const ServeOptions& o) {
  if (!o.token_file.empty()) {
    auto t = ReadFirstLine(o.token_file, "--token-file");
    if (!t) return MakeError(t.error());
    if (t->size() < 16) {
      return MakeError(
          fmt::format("--token-file {}: the token needs at least 16 characters", o.token_file));
    }
    token_ = *t;
  }
  if (!o.users_file.empty()) {
    std::ifstream in(o.users_file);
    if (!in) return MakeError(fmt::format("--users {}: cannot read", o.users_file));
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.empty() || line[0] == '#') continue;
      const auto colon = line.find(':');
      if (colon == 0 || colon == std::string::npos || line.compare(colon + 1, 7, "$argon2") != 0) {
        return MakeError(
            fmt::format("--users {} line {}: expected NAME:HASH (from dmarc-report hash-password)",
                        o.users_file, n));
      }
      users_[line.substr(0, colon)] = line.substr(colon + 1);
    }
    if (users_.empty()) return MakeError(fmt::format("--users {}: no users", o.users_file));
  }
  return true;
}

bool Auth::Authorized(const http::Request& req) {
  if (!enabled()) return true;
  const std::string header = req.get_header_value("Authorization");
  if (header.starts_with("Bearer ") && TokenMatches(header.substr(7))) return true;
  const std::string session = SessionCookie(req);
  return !session.empty() && SessionValid(session);
}

void Auth::Login(const http::Request& req, http::Response& res) {
  if (!SameOrigin(req)) return SendJson(res, 403, {{"error", "cross-origin request"}});
  if (!enabled()) return SendJson(res, 200, {{"signed_in", true}});
  // Guessing is slowed per client address (behind a reverse proxy: for everyone at once).
  if (const long wait = SignInWait(req.remote_addr); wait > 0) {
    res.set_header("Retry-After", std::to_string(wait));
    return SendJson(res, 429,
                    {{"error", fmt::format("too many failed sign-ins from this address; try "
                                           "again in {} s",
                                           wait)}});
  }
  const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  auto text = [&](const char* key) {
    return body.is_object() && body.contains(key) && body[key].is_string()
               ? body[key].get<std::string>()
               : std::string();
  };
  const bool ok = TokenMatches(text("token")) ||
                  (!text("user").empty() && PasswordMatches(text("user"), text("password")));
  if (!ok) {
    SignInFailed(req.remote_addr);
    return SendJson(res, 401, {{"error", "wrong name, password or token"}});
  }
  SignedIn(req.remote_addr);
  const long max_age = std::chrono::duration_cast<std::chrono::seconds>(kSessionLifetime).count();
  res.set_header("Set-Cookie", Cookie(NewSession(), max_age));
  SendJson(res, 200, {{"signed_in", true}});
}

void Auth::Logout(const http::Request& req, http::Response& res) {
  if (!SameOrigin(req)) return SendJson(res, 403, {{"error", "cross-origin request"}});
  EndSession(SessionCookie(req));
  res.set_header("Set-Cookie", Cookie("", 0));
  SendJson(res, 200, {{"signed_in", false}});
}

std::string Auth::Cookie(const std::string& value, long max_age) const {
  return fmt::format("session={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}", value, max_age,
                     secure_cookie_ ? "; Secure" : "");
}

bool Auth::TokenMatches(const std::string& candidate) const {
  return !token_.empty() && candidate.size() == token_.size() &&
         sodium_memcmp(candidate.data(), token_.data(), token_.size()) == 0;
}

bool Auth::PasswordMatches(const std::string& user, const std::string& password) const {
  auto it = users_.find(user);
  if (it == users_.end()) return false;
  return crypto_pwhash_str_verify(it->second.c_str(), password.data(), password.size()) == 0;
}

std::string Auth::NewSession() {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  std::lock_guard lock(mu_);
  Expire();
  if (sessions_.size() >= kMaxSessions) sessions_.erase(sessions_.begin());
  sessions_[hex] = std::chrono::steady_clock::now() + kSessionLifetime;
  return hex;
}

bool Auth::SessionValid(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(id);
  return it != sessions_.end() && it->second > std::chrono::steady_clock::now();
}

void Auth::EndSession(const std::string& id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

// Failed sign-ins per client address: after kMaxFailedSignIns within kSignInWindow, the address
// may not try again until the oldest of them is that old. Returns the seconds to wait (0: may
// try now).
long Auth::SignInWait(const std::string& address) {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  auto it = failures_.find(address);
  if (it == failures_.end()) return 0;
  std::erase_if(it->second, [&](auto t) { return t + kSignInWindow <= now; });
  if (it->second.size() < kMaxFailedSignIns) return 0;
  const auto wait = it->second.front() + kSignInWindow - now;
  return std::chrono::duration_cast<std::chrono::seconds>(wait).count() + 1;
}

void Auth::SignInFailed(const std::string& address) {
  std::lock_guard lock(mu_);
  if (failures_.size() >= kMaxTrackedAddresses && !failures_.contains(address)) {
    // Many addresses at once: forget those whose failures are all old first, then any.
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(failures_, [&](const auto& kv) {
      return kv.second.empty() || kv.second.back() + kSignInWindow <= now;
    });
    if (failures_.size() >= kMaxTrackedAddresses) failures_.erase(failures_.begin());
  }
  auto& times = failures_[address];
  times.push_back(std::chrono::steady_clock::now());
  if (times.size() > kMaxFailedSignIns) times.erase(times.begin());
}

void Auth::SignedIn(const std::string& address) {
  std::lock_guard lock(mu_);
  failures_.erase(address);
}

void Auth::Expire() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second <= now; });
}

void SendJson(http::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(DumpJson(j), "application/json");
}

Result<std::string> HashPassword(const std::string& password) {
  if (sodium_init() < 0) return MakeError("libsodium failed to initialise");
  if (password.empty()) return MakeError("empty password");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return MakeError("out of memory while hashing");
  }
  return std::string(out);
}

}  // namespace dmarc::web
