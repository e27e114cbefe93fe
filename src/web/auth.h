// Sign-in and sessions of the dashboard: a bearer token and/or users with Argon2id password
// hashes (libsodium), session cookies after POST /api/login, and a limit on failed sign-ins per
// client address that wrong bearer tokens count towards too. Used by server.cc; HashPassword
// makes the lines of a users file. The limits: docs/security.md, "Sign-in and API".
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "web/http.h"

namespace dmarc::web {

struct ServeOptions;

// Users (name → Argon2id hash string), a bearer token and the signed-in sessions. Thread-safe.
class Auth {
 public:
  // `secure_cookie`: the server speaks HTTPS, so the session cookie is marked Secure.
  explicit Auth(bool secure_cookie) : secure_cookie_(secure_cookie) {}

  // Reads options.token_file and options.users_file; errors name the option and the file. A
  // token shorter than 16 characters or guessable (under 64 bits by zxcvbn's estimate) is refused.
  Result<bool> Load(const ServeOptions& options);

  // True when a token or users are configured; without, every request is authorized.
  bool enabled() const { return !token_.empty() || !users_.empty(); }

  // A matching bearer token (Authorization header) or a valid session cookie.
  bool Authorized(const http::Request& req);

  // Who an authorized request comes from, for the record of what it changes: the user name of
  // its session ("token" for a session signed in with the token), or "token" for a bearer
  // token; nothing when it is not authorized or sign-in is not configured.
  std::optional<std::string> Who(const http::Request& req);
  // A state-changing request from the dashboard's own pages: no foreign Origin, and the header
  // "X-Requested-With: dmarc-report", which a page of another site cannot send without a CORS
  // preflight that this server never grants.
  static bool FromOwnPage(const http::Request& req);
  // Whether `who` (from Who) may change what the dashboard changes: the token always; a user when
  // no editors are configured (--editor, [web] editors) or when listed.
  bool MayEdit(const std::string& who) const;

  // POST /api/login ({"token"} or {"user", "password"}) and POST /api/logout.
  void Login(const http::Request& req, http::Response& res);
  void Logout(const http::Request& req, http::Response& res);
  // The request carries a valid session cookie (signed in with POST /api/login, not only a
  // bearer token): the dashboard then offers to sign out.
  bool HasSession(const http::Request& req);

  // What a sign-in or a bearer token from one client address gets.
  struct Verdict {
    int status = 200;      // 200: accepted; 401: wrong credentials; 429: too many failures
    long retry_after = 0;  // with 429: seconds until the address may try again
  };
  // A sign-in with the fields of POST /api/login (empty when absent). Costs one password
  // verification whether the user exists or not, and counts towards the address's limit.
  Verdict SignIn(const std::string& address, const std::string& token, const std::string& user,
                 const std::string& password);
  // A bearer token presented with a request: a wrong one counts as a failed sign-in.
  Verdict Bearer(const std::string& address, const std::string& token);
  // Seconds the address must wait before its credentials are checked again (0: none).
  long RetryAfter(const std::string& address);

 private:
  // Failed and running sign-ins of one client address.
  struct Attempts {
    std::vector<std::chrono::steady_clock::time_point> failures;  // within the window
    std::size_t pending = 0;                                      // reserved, being verified
  };
  bool TokenMatches(const std::string& candidate) const;
  bool PasswordMatches(const std::string& user, const std::string& password) const;
  std::string NewSession(const std::string& who);
  bool SessionValid(const std::string& id);
  void EndSession(const std::string& id);
  // Reserves one of the address's attempts before a verification; returns the seconds to wait
  // instead (0: reserved, call Finished).
  long Reserve(const std::string& address);
  void Finished(const std::string& address, bool ok);
  long WaitLocked(Attempts& a, std::chrono::steady_clock::time_point now);
  void ForgetAddresses();
  void Expire();
  std::string Cookie(const std::string& value, long max_age) const;

  bool secure_cookie_;
  std::string token_;
  std::map<std::string, std::string> users_;
  std::set<std::string> editors_;  // empty: every user may edit
  // Verified when the user is unknown, so that costs what a wrong password does.
  std::string dummy_hash_;
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> sessions_;
  std::map<std::string, std::string> session_users_;  // session → who signed in
  std::map<std::string, Attempts> attempts_;
};

// A JSON answer that is never cached.
void SendJson(http::Response& res, int status, const nlohmann::json& j);

// A libsodium (Argon2id) hash of password for a users file line.
Result<std::string> HashPassword(const std::string& password);

}  // namespace dmarc::web
