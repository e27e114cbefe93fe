// Test helper: the gtest fixture part that tests of `fetch` against a fake REST API (the
// Microsoft Graph and Gmail fakes of tests/graph_test.cc and tests/gmail_test.cc) share: a fresh
// folder, the fake server made in it, `fetch` run with its log kept, and, at the end, the
// server's Problems() (requests that broke the documented API) checked empty.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "testing/process.h"
#include "testing/test_util.h"

namespace dmarc::testing {

template <class Server>
class FakeApiFetch : public ::testing::Test {
 protected:
  explicit FakeApiFetch(std::string prefix) : prefix_(std::move(prefix)) {}

  void SetUp() override {
    dir_ = FreshTestDir(prefix_);
    server_ = std::make_unique<Server>(dir_);
  }
  void TearDown() override {
    EXPECT_EQ(server_->Problems(), std::vector<std::string>{});
    server_.reset();
    if (!HasFailure() && !std::getenv("DMARC_KEEP_TEST_DIRS")) std::filesystem::remove_all(dir_);
  }

  // `fetch --config CONFIG`, with `options` before --config; the exit status.
  int Fetch(const std::string& config, std::vector<std::string> options = {}) {
    log_ = dir_ / "fetch.log";
    std::filesystem::remove(log_);
    options.insert(options.begin(), "fetch");
    options.insert(options.end(), {"--config", config});
    return RunToEnd(options, log_);
  }
  std::string Log() const { return ReadFile(log_.string()); }

  // Fetch(config) succeeds, and takes a second at least: the fake's first throttled answer, with
  // Retry-After: 1, was waited out.
  void FetchWaitingOutARetryAfter(const std::string& config) {
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(Fetch(config), 0) << Log();
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(1))
        << "the 429's Retry-After: 1 was waited out";
  }

  std::string prefix_;
  std::filesystem::path dir_, log_;
  std::unique_ptr<Server> server_;
};

}  // namespace dmarc::testing
