// The device authorization grant (RFC 8628) and the delegated refresh against a local HTTPS server
// that answers as the Microsoft identity platform's documentation says
// (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code,
// .../v2-oauth2-auth-code-flow#refresh-the-access-token) and checks every request's form. The
// waits between polls go to a recording clock: the test sees each interval without sleeping.
#include "collect/device_code.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "testing/https_server.h"

namespace dmarc::collect {
namespace {

using nlohmann::json;

constexpr const char* kClientId = "11111111-2222-3333-4444-555555555555";
constexpr const char* kScope = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access";
constexpr const char* kDeviceCode = "GMMhmHCXhWEzkobqIHGG_EnNYYsAkukHspeYUk9E8";
constexpr const char* kRefresh = "0.AR8A-first-refresh-secret";

// The tenant's /devicecode and /token endpoints.
class FakeIdentity {
 public:
  explicit FakeIdentity(const std::filesystem::path& dir) : https_(dir) {
    EXPECT_TRUE(https_.made());
    https_.routes().Post("/common/oauth2/v2.0/devicecode",
                         [this](const auto& req, auto& res) { DeviceCode(req, res); });
    https_.routes().Post("/common/oauth2/v2.0/token",
                         [this](const auto& req, auto& res) { Token(req, res); });
    https_.Start();
  }

  DeviceCodeGrant Grant(std::vector<std::int64_t>& slept, std::vector<std::string>& shown) {
    DeviceCodeGrant g;
    g.device_url = https_.Base() + "/common/oauth2/v2.0/devicecode";
    g.token_url = https_.Base() + "/common/oauth2/v2.0/token";
    g.client_id = kClientId;
    g.scope = kScope;
    g.table = "imap";
    g.timeout = 10;
    g.ca_file = https_.Cert();
    g.show = [&shown](const std::string& m) { shown.push_back(m); };
    g.sleep = [&slept](std::int64_t s) { slept.push_back(s); };
    return g;
  }
  std::string TokenUrl() const { return https_.Base() + "/common/oauth2/v2.0/token"; }
  std::string Cert() const { return https_.Cert(); }

  std::vector<std::string> Problems() {
    std::lock_guard lock(mu_);
    return problems_;
  }

  // The polls' answers, in order, before the tokens: "authorization_pending", "slow_down", ...
  void Answer(std::vector<std::string> errors) {
    std::lock_guard lock(mu_);
    answers_ = std::move(errors);
    polls_ = 0;
  }
  std::int64_t expires_in = 900;
  bool rotate = true;  // a refresh gives a new refresh token

 private:
  static void OAuthError(httplib::Response& res, const std::string& error) {
    res.status = 400;
    res.set_content(json{{"error", error},
                         {"error_description", "AADSTS70016: OAuth 2.0 device flow error."},
                         {"error_codes", {70016}}}
                        .dump(),
                    "application/json");
  }

  void Expect(const httplib::Request& req, const std::map<std::string, std::string>& want) {
    const std::map<std::string, std::string> got(req.params.begin(), req.params.end());
    if (got != want) problems_.push_back(req.path + ": unexpected form " + req.body);
    if (req.get_header_value("Content-Type") != "application/x-www-form-urlencoded") {
      problems_.push_back(req.path + ": Content-Type " + req.get_header_value("Content-Type"));
    }
  }

  void DeviceCode(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    Expect(req, {{"client_id", kClientId}, {"scope", kScope}});
    res.set_content(json{{"user_code", "FD5TH7G9K"},
                         {"device_code", kDeviceCode},
                         {"verification_uri", "https://microsoft.com/devicelogin"},
                         {"expires_in", expires_in},
                         {"interval", 5},
                         {"message",
                          "To sign in, use a web browser to open the page "
                          "https://microsoft.com/devicelogin and enter the code FD5TH7G9K to "
                          "authenticate."}}
                        .dump(),
                    "application/json");
  }

  void Token(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (req.get_param_value("grant_type") == "refresh_token") return Refresh(req, res);
    Expect(req, {{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                 {"client_id", kClientId},
                 {"device_code", kDeviceCode}});
    if (polls_ < answers_.size()) return OAuthError(res, answers_[polls_++]);
    res.set_content(json{{"token_type", "Bearer"},
                         {"scope", kScope},
                         {"expires_in", 3599},
                         {"access_token", "eyJ0eXAi.access-1"},
                         {"refresh_token", kRefresh}}
                        .dump(),
                    "application/json");
  }

  void Refresh(const httplib::Request& req, httplib::Response& res) {
    Expect(req, {{"grant_type", "refresh_token"},
                 {"client_id", kClientId},
                 {"refresh_token", req.get_param_value("refresh_token")},
                 {"scope", kScope}});
    if (req.get_param_value("refresh_token") != current_) {
      res.status = 400;
      res.set_content(json{{"error", "invalid_grant"},
                           {"error_description",
                            "AADSTS50173: The provided grant has expired due to it being "
                            "revoked."}}
                          .dump(),
                      "application/json");
      return;
    }
    ++refreshes_;
    json answer = {{"token_type", "Bearer"},
                   {"expires_in", 3599},
                   {"access_token", "eyJ0eXAi.access-r" + std::to_string(refreshes_)}};
    if (rotate) {
      current_ = "0.AR8A-rotated-" + std::to_string(refreshes_);
      answer["refresh_token"] = current_;
    }
    res.set_content(answer.dump(), "application/json");
  }

 public:
  // The refresh token the endpoint takes (only the last one issued); "" revokes every one.
  std::string current_ = kRefresh;

 private:
  std::mutex mu_;
  std::vector<std::string> problems_;
  std::vector<std::string> answers_;
  std::size_t polls_ = 0;
  int refreshes_ = 0;
  dmarc::testing::LoopbackHttpsServer https_;
};

class DeviceCode : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dmarc-devicecode-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    std::filesystem::create_directories(dir_);
    idp_ = std::make_unique<FakeIdentity>(dir_);
  }
  void TearDown() override {
    EXPECT_EQ(idp_->Problems(), std::vector<std::string>{});
    idp_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<FakeIdentity> idp_;
  std::vector<std::int64_t> slept_;
  std::vector<std::string> shown_;
};

TEST_F(DeviceCode, PollsAtTheIntervalSlowsDownWhenToldAndGivesTheTokens) {
  idp_->Answer(
      {"authorization_pending", "authorization_pending", "slow_down", "authorization_pending"});
  auto tokens = RunDeviceCodeFlow(idp_->Grant(slept_, shown_));
  ASSERT_TRUE(tokens.ok()) << tokens.error();
  EXPECT_EQ(tokens->access_token, "eyJ0eXAi.access-1");
  EXPECT_EQ(tokens->refresh_token, kRefresh);
  EXPECT_EQ(tokens->expires_in, 3599);
  // The interval of 5 s, and 5 s more from the slow_down on (RFC 8628 §3.5).
  EXPECT_EQ(slept_, (std::vector<std::int64_t>{5, 5, 5, 10, 10}));
  ASSERT_EQ(shown_.size(), 1u);
  EXPECT_NE(shown_[0].find("enter the code FD5TH7G9K"), std::string::npos);
}

TEST_F(DeviceCode, AnExpiredCodeIsSaidAndTheWaitIsBoundedByExpiresIn) {
  idp_->Answer({"authorization_pending", "expired_token"});
  auto expired = RunDeviceCodeFlow(idp_->Grant(slept_, shown_));
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.error().find("the code expired before anyone signed in; run dmarc-report "
                                 "login again"),
            std::string::npos)
      << expired.error();

  // Pending for ever: the polls stop once expires_in (12 s: two polls of 5 s) is spent.
  idp_->Answer(std::vector<std::string>(100, "authorization_pending"));
  idp_->expires_in = 12;
  slept_.clear();
  auto timed_out = RunDeviceCodeFlow(idp_->Grant(slept_, shown_));
  ASSERT_FALSE(timed_out.ok());
  EXPECT_NE(timed_out.error().find("nobody signed in within 12 s"), std::string::npos)
      << timed_out.error();
  EXPECT_EQ(slept_, (std::vector<std::int64_t>{5, 5}));
}

TEST_F(DeviceCode, ADeclinedSignInAndABadCodeAreSaid) {
  idp_->Answer({"authorization_declined"});
  auto declined = RunDeviceCodeFlow(idp_->Grant(slept_, shown_));
  ASSERT_FALSE(declined.ok());
  EXPECT_EQ(declined.error_kind(), ErrorKind::kAuth);
  EXPECT_NE(declined.error().find("the user declined the sign-in"), std::string::npos);
  idp_->Answer({"access_denied"});
  EXPECT_NE(RunDeviceCodeFlow(idp_->Grant(slept_, shown_)).error().find("declined"),
            std::string::npos);
  idp_->Answer({"bad_verification_code"});
  EXPECT_NE(RunDeviceCodeFlow(idp_->Grant(slept_, shown_)).error().find("does not know the device"),
            std::string::npos);
}

TEST_F(DeviceCode, TheDelegatedGrantSavesARotatedTokenAndARevokedOneSaysToSignInAgain) {
  std::string kept = kRefresh;
  std::vector<std::string> saved;
  RefreshTokenKeeper keeper{[&kept]() -> Result<std::string> { return kept; },
                            [&](const std::string& t) -> Status {
                              saved.push_back(t);
                              kept = t;
                              return Ok();
                            }};
  CachedToken token(DelegatedGrant(
      {idp_->TokenUrl(), kClientId, "", "", kScope, "imap", 10, idp_->Cert()}, keeper));
  auto first = token.Get(false);
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(*first, "eyJ0eXAi.access-r1");
  EXPECT_EQ(token.Get(false).value(), *first) << "kept until shortly before it expires";
  EXPECT_EQ(saved, std::vector<std::string>{"0.AR8A-rotated-1"});
  // Refused by the server: a new one, from the rotated refresh token.
  EXPECT_EQ(token.Get(true).value(), "eyJ0eXAi.access-r2");
  EXPECT_EQ(kept, "0.AR8A-rotated-2");

  idp_->current_ = "revoked";
  auto revoked = token.Get(true);
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.error_kind(), ErrorKind::kAuth);
  EXPECT_NE(revoked.error().find("the stored refresh token was refused (invalid_grant: "
                                 "AADSTS50173"),
            std::string::npos)
      << revoked.error();
  EXPECT_NE(revoked.error().find("sign in again with dmarc-report login"), std::string::npos);
  EXPECT_EQ(revoked.error().find("rotated"), std::string::npos) << "no token in the error";
}

}  // namespace
}  // namespace dmarc::collect
