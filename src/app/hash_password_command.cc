// `dmarc-report hash-password`: a password from standard input → a "NAME:HASH" line for the
// users file of `serve --users` (web/auth.h).
#include <fmt/format.h>

#include <iostream>
#include <string>

#include "app/cli.h"
#include "web/auth.h"

namespace dmarc::app {

namespace {

std::string& HashUser() {
  static std::string user = "admin";
  return user;
}

}  // namespace

void AddHashPasswordOptions(CLI::App& cmd) {
  cmd.add_option("--user", HashUser(), "The user name")->capture_default_str();
}

int RunHashPasswordCommand() {
  const std::string& user = HashUser();
  if (user.empty() || user.find(':') != std::string::npos) {
    fmt::print(stderr, "--user: a name without ':' is required\n");
    return 2;
  }
  std::string password;
  std::getline(std::cin, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  auto hash = web::HashPassword(password);
  if (!hash) {
    fmt::print(stderr, "{}\n", hash.error());
    return 2;
  }
  fmt::print("{}:{}\n", user, *hash);
  return 0;
}

}  // namespace dmarc::app
