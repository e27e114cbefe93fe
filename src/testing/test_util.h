// Test-only helpers: locating fixtures and reading them.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

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

// Three real report mails of parsedmarc's samples (each one aggregate report), by i % 3: mails
// for the tests of the remote sources.
inline std::string SampleReportMail(int i) {
  static const char* const kSamples[] = {
      "aggregate/Report domain- borschow.com Submitter- google.com Report-ID- "
      "949348866075514174.eml",
      "aggregate/mimecast-weird-gzip.eml", "aggregate/twilight.eml"};
  return ReadFile(TestData(std::string("real/parsedmarc-samples/") + kSamples[i % 3]));
}

// Command-line arguments for the dmarc-report binary with enrichment off (--no-enrich) unless
// the test sets an enrichment option itself: outputs must not depend on DNS or on the
// geolocation database installed.
inline std::vector<std::string> EnrichmentOffByDefault(std::vector<std::string> args) {
  if (args.empty() || (args[0] != "parse" && args[0] != "import")) return args;
  for (const auto& a : args) {
    for (const char* opt :
         {"--offline", "--nameserver", "--geoip-db", "--services-file", "--no-enrich", "--dns-"}) {
      if (a.rfind(opt, 0) == 0) return args;
    }
  }
  args.insert(args.begin() + 1, "--no-enrich");
  return args;
}

// An empty folder of its own for the running test: /tmp/PREFIX-PID-TESTNAME.
// (A parameterised test's name holds a '/': one folder, not a folder in a folder that removing
// the test's folder would leave behind.)
inline std::filesystem::path FreshTestDir(const std::string& prefix) {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '_');
  auto dir = std::filesystem::temp_directory_path() /
             (prefix + "-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace dmarc::testing
