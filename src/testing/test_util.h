// Test-only helpers: locating fixtures and reading them.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace dmarc::testing {

// The repository root (compiled in; DMARC_SOURCE_DIR in the environment overrides it).
inline std::string SourceDir() {
  if (const char* env = std::getenv("DMARC_SOURCE_DIR")) return env;
  return DMARC_SOURCE_DIR;
}

inline std::string TestData(const std::string& relative) {
  return SourceDir() + "/testdata/" + relative;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// An empty folder of its own for the running test: /tmp/PREFIX-PID-TESTNAME.
inline std::filesystem::path FreshTestDir(const std::string& prefix) {
  const auto dir = std::filesystem::temp_directory_path() /
                   (prefix + "-" + std::to_string(::getpid()) + "-" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace dmarc::testing
