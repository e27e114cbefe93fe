// Test helper: runs the dmarc-report binary through the shell with a prefix (environment,
// timeout, working folder) and captures what it printed.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "testing/run_program.h"

namespace dmarc::testing {

using CliOutcome = Outcome;

// Runs `prefix dmarc-report args...` (prefix: NAME=value words, `env -i`, `timeout ...`),
// stdin from /dev/null, stdout and stderr captured through files in dir.
inline CliOutcome RunCli(const std::vector<std::string>& args, const std::filesystem::path& dir,
                         const std::string& prefix = "") {
  return RunDmarcReport(args, dir, "/dev/null", prefix);
}

}  // namespace dmarc::testing
