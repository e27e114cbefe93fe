// Sign-in without HTTP: the Auth class with plain values (client address, user, password, token),
// so these hold whatever server carries the requests. The attacks of issue #15: user names found
// by timing, the failure limit passed by concurrent attempts, unlimited bearer-token guesses,
// guessable tokens.
#include "web/auth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "testing/test_util.h"
#include "web/server.h"

namespace dmarc::web {
namespace {

namespace fs = std::filesystem;

// A token as `openssl rand -hex 32` makes one.
constexpr const char* kToken = "9f4c2b7e18a05d63c9e1f47a2b8d06e35a7c19f2e4b80d6a3c5e7f9102b4d6e8";

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = dmarc::testing::FreshTestDir("dmarc-auth"); }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  // An Auth with the user ana (password "correct horse", hashed as hash-password does).
  void LoadUsers(Auth& auth) {
    auto hash = HashPassword("correct horse");
    ASSERT_TRUE(hash.ok()) << hash.error();
    auto r = auth.Load({.users_file = Write("users", "ana:" + *hash + "\n")});
    ASSERT_TRUE(r.ok()) << r.error();
  }

  fs::path dir_;
};

using Clock = std::chrono::steady_clock;

double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

TEST_F(AuthTest, AnUnknownUserCostsWhatAWrongPasswordCosts) {
  Auth auth(false);
  LoadUsers(auth);
  // A fresh address per attempt: the failure limit stays out of the way. The fastest of a few
  // attempts each, so a busy machine's pauses do not decide.
  double known = 1e9, unknown = 1e9;
  for (int i = 0; i < 3; ++i) {
    auto t0 = Clock::now();
    EXPECT_EQ(auth.SignIn("10.0.0." + std::to_string(i), "", "ana", "wrong").status, 401);
    known = std::min(known, Millis(Clock::now() - t0));
    t0 = Clock::now();
    EXPECT_EQ(auth.SignIn("10.0.1." + std::to_string(i), "", "bob", "wrong").status, 401);
    unknown = std::min(unknown, Millis(Clock::now() - t0));
  }
  EXPECT_GE(unknown, known / 2) << "known user " << known << " ms, unknown user " << unknown
                                << " ms: timing tells which names exist";
  EXPECT_EQ(auth.SignIn("10.0.2.1", "", "ana", "correct horse").status, 200);
  // The dummy hash verifies nothing, whatever the password.
  EXPECT_EQ(auth.SignIn("10.0.2.2", "", "bob", "").status, 401);
}

TEST_F(AuthTest, ConcurrentAttemptsCannotPassTheLimit) {
  Auth auth(false);
  LoadUsers(auth);
  // 20 wrong passwords from one address at once: each is slow to verify (Argon2id), so checking
  // the count before and adding to it after let them all through.
  constexpr int kAttempts = 20;
  std::vector<int> status(kAttempts);
  std::atomic<int> ready = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < kAttempts; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready < kAttempts) std::this_thread::yield();
      status[i] = auth.SignIn("192.0.2.7", "", "ana", "guess " + std::to_string(i)).status;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(status.begin(), status.end(), 401), 5);
  EXPECT_EQ(std::count(status.begin(), status.end(), 429), kAttempts - 5);
  // Now the limit is the failures' own: the right password waits too, other addresses do not.
  const Auth::Verdict after = auth.SignIn("192.0.2.7", "", "ana", "correct horse");
  EXPECT_EQ(after.status, 429);
  EXPECT_GT(after.retry_after, 800);
  EXPECT_LE(after.retry_after, 901);
  EXPECT_EQ(auth.SignIn("192.0.2.8", "", "ana", "correct horse").status, 200);
}

TEST_F(AuthTest, BearerTokenGuessesCountAsFailedSignIns) {
  Auth auth(false);
  ASSERT_TRUE(auth.Load({.token_file = Write("token", std::string(kToken) + "\n")}).ok());
  EXPECT_EQ(auth.Bearer("198.51.100.1", kToken).status, 200);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(auth.Bearer("198.51.100.1", "guess-" + std::to_string(i)).status, 401) << i;
  }
  // The sixth is not even compared: the right token is refused as well, with the wait.
  const Auth::Verdict limited = auth.Bearer("198.51.100.1", kToken);
  EXPECT_EQ(limited.status, 429);
  EXPECT_GT(limited.retry_after, 800);
  EXPECT_EQ(auth.RetryAfter("198.51.100.1"), limited.retry_after);
  EXPECT_EQ(auth.SignIn("198.51.100.1", kToken, "", "").status, 429);  // one limit for both
  EXPECT_EQ(auth.Bearer("198.51.100.2", kToken).status, 200);
  EXPECT_EQ(auth.RetryAfter("198.51.100.2"), 0);
  // Sign-in form guesses count towards the bearer limit too.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(auth.SignIn("198.51.100.3", "x", "", "").status, 401);
  EXPECT_EQ(auth.Bearer("198.51.100.3", kToken).status, 429);
}

TEST_F(AuthTest, GuessableTokensAreRefused) {
  for (const std::string weak :
       {"abc", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abababababababababababab",
        "0123456789abcdef0123456789abcdef", "passwordpassword1", "qwertyuiopasdfghjkl"}) {
    const std::string file = Write("weak-token", weak + "\n");
    Auth auth(false);
    auto r = auth.Load({.token_file = file});
    ASSERT_FALSE(r.ok()) << weak;
    EXPECT_NE(r.error().find("--token-file " + file), std::string::npos) << r.error();
    EXPECT_EQ(r.error().find(weak), std::string::npos) << "the message shows the token";
  }
  Auth strong(false);
  auto r = strong.Load({.token_file = Write("token", std::string(kToken) + "\n")});
  EXPECT_TRUE(r.ok()) << r.error();
}

}  // namespace
}  // namespace dmarc::web
