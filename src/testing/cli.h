// Test helper: runs the dmarc-report binary through the shell and captures what it printed.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "testing/test_util.h"

namespace dmarc::testing {

struct CliOutcome {
  int status = -1;
  std::string out, err;
};

inline std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `dmarc-report args...` with `env` (NAME=value words) prepended, stdin from /dev/null,
// stdout and stderr captured through files in dir.
inline CliOutcome RunCli(const std::vector<std::string>& args, const std::filesystem::path& dir,
                         const std::string& env = "") {
  std::string cmd = env + " " + ShellQuote(std::string(DMARC_BINARY_DIR) + "/dmarc-report");
  for (const auto& a : args) cmd += " " + ShellQuote(a);
  const auto out = dir / "cli.stdout", err = dir / "cli.stderr";
  cmd += " </dev/null >" + ShellQuote(out) + " 2>" + ShellQuote(err);
  CliOutcome r;
  const int raw = std::system(cmd.c_str());
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

}  // namespace dmarc::testing
