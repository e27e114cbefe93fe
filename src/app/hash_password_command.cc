// `dmarc-report hash-password`: a password from standard input → a "NAME:HASH" line for the
// users file of `serve --users` (web/auth.h). On a terminal it asks twice, without echo.
#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <optional>
#include <string>

#include "app/cli.h"
#include "base/signals.h"
#include "web/auth.h"

namespace dmarc::app {

namespace {

std::string& HashUser() {
  static std::string user = "admin";
  return user;
}

// The terminal's settings while echo is off, restored by the guard or by a signal's handler.
struct termios saved_terminal;

extern "C" void RestoreTerminalAndDie(int sig) {
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_terminal);
  DieBySignal(sig);
}

// Echo off on the terminal of standard input for its lifetime (Ctrl-C still works and restores).
class NoEcho {
 public:
  NoEcho() {
    if (::tcgetattr(STDIN_FILENO, &saved_terminal) != 0) return;
    struct termios quiet = saved_terminal;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    OnStopSignal(SIGINT, RestoreTerminalAndDie);
    OnStopSignal(SIGTERM, RestoreTerminalAndDie);
    OnStopSignal(SIGHUP, RestoreTerminalAndDie);
    active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  ~NoEcho() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_terminal);
    OnStopSignal(SIGINT, nullptr);
    OnStopSignal(SIGTERM, nullptr);
    OnStopSignal(SIGHUP, nullptr);
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  bool active_ = false;
};

std::optional<std::string> ReadLine() {
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// The password: one line of standard input, or, on a terminal, asked twice without echo.
std::optional<std::string> ReadPassword(const std::string& user) {
  if (::isatty(STDIN_FILENO) == 0) return ReadLine().value_or("");
  NoEcho quiet;
  fmt::print(stderr, "Password for {}: ", user);
  std::fflush(stderr);
  auto first = ReadLine();
  fmt::print(stderr, "Again: ");
  std::fflush(stderr);
  auto second = ReadLine();
  if (!first || !second || *first != *second) {
    fmt::print(stderr, "the two passwords differ; nothing was printed\n");
    return std::nullopt;
  }
  return first;
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
  const auto password = ReadPassword(user);
  if (!password) return 2;
  auto hash = web::HashPassword(*password);
  if (!hash) {
    fmt::print(stderr, "{}\n", hash.error());
    return 2;
  }
  fmt::print("{}:{}\n", user, *hash);
  return 0;
}

}  // namespace dmarc::app
