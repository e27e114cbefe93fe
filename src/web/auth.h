// Sign-in and sessions of the dashboard: a bearer token and/or users with Argon2id password
// hashes (libsodium), session cookies after POST /api/login, and a limit on failed sign-ins per
// client address. Used by server.cc; HashPassword makes the lines of a users file.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
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

  // Reads options.token_file and options.users_file; errors name the option and the file.
  Result<bool> Load(const ServeOptions& options);

  // True when a token or users are configured; without, every request is authorized.
  bool enabled() const { return !token_.empty() || !users_.empty(); }

  // A matching bearer token (Authorization header) or a valid session cookie.
  bool Authorized(const http::Request& req);

  // POST /api/login ({"token"} or {"user", "password"}) and POST /api/logout.
  void Login(const http::Request& req, http::Response& res);
  void Logout(const http::Request& req, http::Response& res);

 private:
  bool TokenMatches(const std::string& candidate) const;
  bool PasswordMatches(const std::string& user, const std::string& password) const;
  std::string NewSession();
  bool SessionValid(const std::string& id);
  void EndSession(const std::string& id);
  long SignInWait(const std::string& address);
  void SignInFailed(const std::string& address);
  void SignedIn(const std::string& address);
  void Expire();
  std::string Cookie(const std::string& value, long max_age) const;

  bool secure_cookie_;
  std::string token_;
  std::map<std::string, std::string> users_;
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> sessions_;
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> failures_;
};

// A JSON answer that is never cached.
void SendJson(http::Response& res, int status, const nlohmann::json& j);

// A libsodium (Argon2id) hash of password for a users file line.
Result<std::string> HashPassword(const std::string& password);

}  // namespace dmarc::web
