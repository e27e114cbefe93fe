// Test helper: runs the dmarc-report binary as a user would, capturing exit status, standard
// output and standard error, in a per-test temporary folder.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "testing/test_util.h"

namespace dmarc::testing {

struct Outcome {
  int status = -1;
  std::string out, err;
};

inline std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

// A new empty folder "<prefix>-<pid>-<test name>" under the temporary directory.
inline std::filesystem::path FreshTestDir(const std::string& prefix, const std::string& test) {
  namespace fs = std::filesystem;
  fs::path dir =
      fs::temp_directory_path() / (prefix + "-" + std::to_string(::getpid()) + "-" + test);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Runs DMARC_BINARY_DIR/dmarc-report with args (exactly as given), standard input from
// stdin_path; output goes through files in dir. `prefix` goes before the command in the shell
// line (NAME=value words, `env -i`, `timeout 5`, `cd DIR &&` ...).
inline Outcome RunDmarcReport(const std::vector<std::string>& args,
                              const std::filesystem::path& dir,
                              const std::string& stdin_path = "/dev/null",
                              const std::string& prefix = "") {
  std::string cmd = prefix + " " + ShellQuote(std::string(DMARC_BINARY_DIR) + "/dmarc-report");
  for (const auto& a : args) cmd += " " + ShellQuote(a);
  const std::filesystem::path out = dir / "stdout", err = dir / "stderr";
  cmd += " <" + ShellQuote(stdin_path) + " >" + ShellQuote(out) + " 2>" + ShellQuote(err);
  Outcome r;
  const int raw = std::system(cmd.c_str());
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

}  // namespace dmarc::testing
