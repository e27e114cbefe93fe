#include "web/auth.h"

#include <fmt/format.h>
#include <sodium.h>
#include <zxcvbn.h>

#include <array>
#include <cstdio>
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
// A bearer token: at least this long, and at least this strong by zxcvbn's estimate (which sees
// repeats, sequences, keyboard patterns and dictionary words: "aaaa...", "0123...", "password").
constexpr std::size_t kMinTokenChars = 16;
constexpr double kMinTokenBits = 64;

// An Argon2 hash string of password with these parameters (libsodium's format).
Result<std::string> HashWith(const std::string& password, unsigned long long ops, std::size_t mem,
                             int alg) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), ops, mem, alg) != 0) {
    return MakeError("out of memory while hashing");
  }
  return std::string(out);
}

// A hash of a random password that costs what verifying the dearest of these hashes costs
// ("$argon2id$v=19$m=KiB,t=OPS,p=1$..."); hash-password's parameters when none can be read.
Result<std::string> DummyHash(const std::map<std::string, std::string>& users) {
  unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  std::size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  int alg = crypto_pwhash_ALG_ARGON2ID13;
  bool first = true;
  for (const auto& [name, hash] : users) {
    unsigned long long kib = 0, t = 0;
    const bool id = hash.starts_with("$argon2id$");
    if (std::sscanf(hash.c_str(),
                    id ? "$argon2id$v=%*u$m=%llu,t=%llu" : "$argon2i$v=%*u$m=%llu,t=%llu", &kib,
                    &t) != 2) {
      continue;
    }
    if (first || kib * 1024 * t > mem * ops) {
      ops = t, mem = static_cast<std::size_t>(kib * 1024);
      alg = id ? crypto_pwhash_ALG_ARGON2ID13 : crypto_pwhash_ALG_ARGON2I13;
    }
    first = false;
  }
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  const std::string password(reinterpret_cast<char*>(raw), sizeof raw);
  // Parameters libsodium cannot hash with (another tool's hashes): its own, as hash-password.
  if (auto dummy = HashWith(password, ops, mem, alg)) return dummy;
  return HashWith(password, crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                  crypto_pwhash_ALG_ARGON2ID13);
}

// Why a bearer token is too weak, or "" when it is strong enough.
std::string TokenWeakness(const std::string& token) {
  if (token.size() < kMinTokenChars) {
    return fmt::format("the token needs at least {} characters", kMinTokenChars);
  }
  if (const double bits = ZxcvbnMatch(token.c_str(), nullptr, nullptr); bits < kMinTokenBits) {
    return fmt::format(
        "the token is guessable (about {:.0f} bits, at least {:.0f} needed: repeats, sequences "
        "or words); make one with `openssl rand -hex 32`",
        bits, kMinTokenBits);
  }
  return "";
}

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
  if (sodium_init() < 0) return MakeError("libsodium failed to initialise");
  if (!o.token_file.empty()) {
    auto t = ReadFirstLine(o.token_file, "--token-file");
    if (!t) return MakeError(t.error());
    // The message never quotes the token: it goes to logs and terminals.
    if (auto weak = TokenWeakness(*t); !weak.empty()) {
      return MakeError(ErrorKind::kInvalid, fmt::format("--token-file {}: {}", o.token_file, weak));
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
      // "token" names whoever signed in with the bearer token (Who): no user may take it.
      if (line.compare(0, colon, "token") == 0) {
        return MakeError(
            fmt::format("--users {} line {}: the name \"token\" is reserved for the bearer token",
                        o.users_file, n));
      }
      users_[line.substr(0, colon)] = line.substr(colon + 1);
    }
    if (users_.empty()) return MakeError(fmt::format("--users {}: no users", o.users_file));
    auto dummy = DummyHash(users_);
    if (!dummy) return MakeError(dummy.error());
    dummy_hash_ = std::move(dummy).value();
  }
  for (const auto& name : o.editors) {
    if (!users_.contains(name)) {
      return MakeError(ErrorKind::kInvalid,
                       fmt::format("--editor {}: no such user in --users {}", name,
                                   o.users_file.empty() ? "(not given)" : o.users_file));
    }
  }
  editors_ = {o.editors.begin(), o.editors.end()};
  return true;
}

bool Auth::MayEdit(const std::string& who) const {
  return who == "token" || editors_.empty() || editors_.contains(who);
}

bool Auth::Authorized(const http::Request& req) {
  if (!enabled()) return true;
  const std::string header = req.get_header_value("Authorization");
  if (header.starts_with("Bearer ") && Bearer(req.remote_addr, header.substr(7)).status == 200) {
    return true;
  }
  const std::string session = SessionCookie(req);
  return !session.empty() && SessionValid(session);
}

std::optional<std::string> Auth::Who(const http::Request& req) {
  if (!enabled()) return std::nullopt;
  const std::string header = req.get_header_value("Authorization");
  if (header.starts_with("Bearer ") && Bearer(req.remote_addr, header.substr(7)).status == 200) {
    return "token";
  }
  const std::string session = SessionCookie(req);
  if (session.empty() || !SessionValid(session)) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = session_users_.find(session);
  return it == session_users_.end() ? std::string("token") : it->second;
}

bool Auth::FromOwnPage(const http::Request& req) {
  return SameOrigin(req) && req.get_header_value("X-Requested-With") == "dmarc-report";
}

bool Auth::HasSession(const http::Request& req) {
  if (!enabled()) return false;
  const std::string session = SessionCookie(req);
  return !session.empty() && SessionValid(session);
}

void Auth::Login(const http::Request& req, http::Response& res) {
  if (!SameOrigin(req)) return SendJson(res, 403, {{"error", "cross-origin request"}});
  if (!enabled()) return SendJson(res, 200, {{"signed_in", true}});
  const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  auto text = [&](const char* key) {
    return body.is_object() && body.contains(key) && body[key].is_string()
               ? body[key].get<std::string>()
               : std::string();
  };
  // Guessing is slowed per client address (behind a reverse proxy: for everyone at once).
  const Verdict v = SignIn(req.remote_addr, text("token"), text("user"), text("password"));
  if (v.status == 429) {
    res.set_header("Retry-After", std::to_string(v.retry_after));
    return SendJson(res, 429,
                    {{"error", fmt::format("too many failed sign-ins from this address; try "
                                           "again in {} s",
                                           v.retry_after)}});
  }
  if (v.status != 200) return SendJson(res, 401, {{"error", "wrong name, password or token"}});
  const long max_age = std::chrono::duration_cast<std::chrono::seconds>(kSessionLifetime).count();
  const std::string user = text("user");
  res.set_header("Set-Cookie", Cookie(NewSession(user.empty() ? "token" : user), max_age));
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
  if (token_.empty()) return false;
  // Digests of equal size are compared, so not even the token's length shows in the timing.
  const auto digest = [](const std::string& s) {
    std::array<unsigned char, crypto_generichash_BYTES> d{};
    crypto_generichash(d.data(), d.size(), reinterpret_cast<const unsigned char*>(s.data()),
                       s.size(), nullptr, 0);
    return d;
  };
  const auto a = digest(candidate);
  const auto b = digest(token_);
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool Auth::PasswordMatches(const std::string& user, const std::string& password) const {
  auto it = users_.find(user);
  // An unknown user costs one verification too, so timing does not tell which names exist.
  const std::string& hash = it == users_.end() ? dummy_hash_ : it->second;
  const bool ok = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  return ok && it != users_.end();
}

Auth::Verdict Auth::SignIn(const std::string& address, const std::string& token,
                           const std::string& user, const std::string& password) {
  if (const long wait = Reserve(address); wait > 0) return {429, wait};
  const bool ok = TokenMatches(token) || (!user.empty() && PasswordMatches(user, password));
  Finished(address, ok);
  return {ok ? 200 : 401, 0};
}

Auth::Verdict Auth::Bearer(const std::string& address, const std::string& token) {
  if (const long wait = Reserve(address); wait > 0) return {429, wait};
  const bool ok = TokenMatches(token);
  Finished(address, ok);
  return {ok ? 200 : 401, 0};
}

long Auth::RetryAfter(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = attempts_.find(address);
  return it == attempts_.end() ? 0 : WaitLocked(it->second, std::chrono::steady_clock::now());
}

std::string Auth::NewSession(const std::string& who) {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  std::lock_guard lock(mu_);
  Expire();
  if (sessions_.size() >= kMaxSessions) {
    session_users_.erase(sessions_.begin()->first);
    sessions_.erase(sessions_.begin());
  }
  sessions_[hex] = std::chrono::steady_clock::now() + kSessionLifetime;
  session_users_[hex] = who;
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
  session_users_.erase(id);
}

// Attempts per client address: after kMaxFailedSignIns failures within kSignInWindow, the address
// may not try again until the oldest of them is that old. An attempt is counted (pending) before
// its slow verification, not after: concurrent attempts cannot all pass the check first.
long Auth::WaitLocked(Attempts& a, std::chrono::steady_clock::time_point now) {
  std::erase_if(a.failures, [&](auto t) { return t + kSignInWindow <= now; });
  if (a.failures.size() + a.pending < kMaxFailedSignIns) return 0;
  // Limited by attempts still running: they end within a second or so.
  if (a.failures.size() < kMaxFailedSignIns) return 1;
  const auto wait = a.failures.front() + kSignInWindow - now;
  return std::chrono::duration_cast<std::chrono::seconds>(wait).count() + 1;
}

long Auth::Reserve(const std::string& address) {
  std::lock_guard lock(mu_);
  if (attempts_.size() >= kMaxTrackedAddresses && !attempts_.contains(address)) {
    ForgetAddresses();
  }
  Attempts& a = attempts_[address];
  if (const long wait = WaitLocked(a, std::chrono::steady_clock::now()); wait > 0) return wait;
  ++a.pending;
  return 0;
}

void Auth::Finished(const std::string& address, bool ok) {
  std::lock_guard lock(mu_);
  Attempts& a = attempts_[address];
  if (a.pending > 0) --a.pending;
  if (ok) {
    // A success forgets the address's failures.
    a.failures.clear();
    if (a.pending == 0) attempts_.erase(address);
    return;
  }
  a.failures.push_back(std::chrono::steady_clock::now());
  if (a.failures.size() > kMaxFailedSignIns) a.failures.erase(a.failures.begin());
}

// Many addresses at once: forget those with only old failures first, then any not verifying.
void Auth::ForgetAddresses() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(attempts_, [&](const auto& kv) {
    return kv.second.pending == 0 &&
           (kv.second.failures.empty() || kv.second.failures.back() + kSignInWindow <= now);
  });
  if (attempts_.size() < kMaxTrackedAddresses) return;
  auto it = std::find_if(attempts_.begin(), attempts_.end(),
                         [](const auto& kv) { return kv.second.pending == 0; });
  attempts_.erase(it == attempts_.end() ? attempts_.begin() : it);
}

void Auth::Expire() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(sessions_, [&](const auto& kv) { return kv.second <= now; });
  std::erase_if(session_users_, [&](const auto& kv) { return !sessions_.contains(kv.first); });
}

void SendJson(http::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(DumpJson(j), "application/json");
}

Result<std::string> HashPassword(const std::string& password) {
  if (sodium_init() < 0) return MakeError("libsodium failed to initialise");
  if (password.empty()) return MakeError("empty password");
  return HashWith(password, crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                  crypto_pwhash_ALG_ARGON2ID13);
}

}  // namespace dmarc::web
