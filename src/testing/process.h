// Test helpers: run the dmarc-report binary as a separate process, its output appended to a log.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/test_util.h"

extern char** environ;

namespace dmarc::testing {

inline const std::string& Binary() {
  static const std::string path = std::string(DMARC_BINARY_DIR) + "/dmarc-report";
  return path;
}

// Runs the program with these arguments (enrichment off unless they set it: see
// EnrichmentOffByDefault), standard output and error appended to log.
inline pid_t Spawn(const std::vector<std::string>& given, const std::filesystem::path& log) {
  const std::vector<std::string> args = EnrichmentOffByDefault(given);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(Binary().c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, Binary().c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// The exit status, or minus the signal that ended the process.
inline int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

inline int RunToEnd(const std::vector<std::string>& args, const std::filesystem::path& log) {
  return Wait(Spawn(args, log));
}

// `fetch --config CONFIG`, its output in `log` (emptied first); the exit status.
inline int RunFetch(const std::string& config, const std::filesystem::path& log) {
  std::filesystem::remove(log);
  return RunToEnd({"fetch", "--config", config}, log);
}

// `stats --json` of a store, parsed; its output goes to DIR/stats.json.
inline nlohmann::json StoreStats(const std::string& db, const std::filesystem::path& dir) {
  const std::filesystem::path out = dir / "stats.json";
  std::filesystem::remove(out);
  EXPECT_EQ(RunToEnd({"stats", "--db", db, "--json"}, out), 0) << ReadFile(out);
  return nlohmann::json::parse(ReadFile(out));
}

}  // namespace dmarc::testing
