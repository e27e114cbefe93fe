// `fetch` over IMAP with OAuth2 (issue #19) against a real Dovecot whose oauth2 passdb asks a
// token-introspection endpoint run by the test (RFC 7662 shaped: POST token=..., answer
// {"active": ..., "username": ...}). No Microsoft or Google server is involved: what is tested
// is the SASL exchange (XOAUTH2, OAUTHBEARER of RFC 7628), the token sources and the retry with
// a fresh token after a refusal.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "testing/dovecot.h"
#include "testing/http_server.h"
#include "testing/jwt_check.h"
#include "testing/net.h"
#include "testing/process.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::Dovecot;
using dmarc::testing::ReadFile;

std::string ReportMail(int i) { return dmarc::testing::SampleReportMail(i); }

// The token-introspection endpoint Dovecot's oauth2 passdb asks, and a token endpoint shaped like
// Microsoft's https://login.microsoftonline.com/TENANT/oauth2/v2.0/token (client credentials).
class Introspection {
 public:
  Introspection() {
    http_.routes.Post(
        "/tenant-1/oauth2/v2.0/devicecode",
        [this](const httplib::Request& req, httplib::Response& res) { DeviceCode(req, res); });
    http_.routes.Post("/tenant-1/oauth2/v2.0/token",
                      [this](const httplib::Request& req, httplib::Response& res) {
                        std::lock_guard lock(mu_);
                        grants_.push_back(req.params);
                        if (req.get_param_value("grant_type") != "client_credentials") {
                          return Delegated(req, res);
                        }
                        if (req.get_param_value("client_secret") != "app-s3cret") {
                          res.status = 401;
                          res.set_content(R"({"error": "invalid_client", "error_description": )"
                                          R"("AADSTS7000215: Invalid client secret provided."})",
                                          "application/json");
                          return;
                        }
                        const std::string token = "cc-" + std::to_string(grants_.size());
                        res.set_content(R"({"token_type": "Bearer", "expires_in": 3599, )"
                                        R"("ext_expires_in": 3599, "access_token": ")" +
                                            token + "\"}",
                                        "application/json");
                      });
    // Shaped like Google's https://oauth2.googleapis.com/token: the JWT bearer grant (RFC 7523)
    // of a service account, its assertion checked with the account's public key.
    http_.routes.Post("/token", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      auto jwt = dmarc::testing::CheckRs256Jwt(req.get_param_value("assertion"), public_pem_);
      if (req.get_param_value("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" ||
          !jwt) {
        res.status = 400;
        res.set_content(R"({"error": "invalid_grant", "error_description": "Invalid JWT."})",
                        "application/json");
        return;
      }
      subjects_.push_back(jwt->claims.value("sub", ""));
      res.set_content(R"({"access_token": "sa-)" + std::to_string(subjects_.size()) +
                          R"(", "expires_in": 3599, "token_type": "Bearer"})",
                      "application/json");
    });
    http_.routes.Post("/introspect", [this](const httplib::Request& req, httplib::Response& res) {
      std::string token = req.get_param_value("token");
      if (token.empty() && req.body.starts_with("token=")) token = req.body.substr(6);
      std::lock_guard lock(mu_);
      asked_.push_back(token);
      const bool active = valid_.count(token) > 0;
      res.set_content(active ? R"({"active": true, "username": "dmarc"})" : R"({"active": false})",
                      "application/json");
    });
    http_.Listen();
  }
  std::string Url() const { return Base() + "/introspect"; }
  std::string Base() const { return http_.Url(); }
  std::vector<httplib::Params> Grants() {
    std::lock_guard lock(mu_);
    return grants_;
  }
  void Allow(const std::string& token) {
    std::lock_guard lock(mu_);
    valid_.insert(token);
  }
  void Revoke(const std::string& token) {
    std::lock_guard lock(mu_);
    valid_.erase(token);
  }
  // The service account's key pair: the token endpoint checks with the public half.
  std::string ServiceAccountKey() {
    std::lock_guard lock(mu_);
    auto [private_pem, public_pem] = dmarc::testing::MakeRsaKeyPem();
    public_pem_ = public_pem;
    return private_pem;
  }
  std::vector<std::string> Subjects() {
    std::lock_guard lock(mu_);
    return subjects_;
  }
  std::vector<std::string> Asked() {
    std::lock_guard lock(mu_);
    return asked_;
  }
  // Delegated sign-in: the refresh token the token endpoint takes now ("": none), and how many
  // of the next access tokens it hands out Dovecot will refuse (expired before use).
  std::string Refresh() {
    std::lock_guard lock(mu_);
    return refresh_;
  }
  void RevokeRefresh() {
    std::lock_guard lock(mu_);
    refresh_ = "revoked";
  }
  void RefuseNextAccessTokens(int n) {
    std::lock_guard lock(mu_);
    refuse_next_ = n;
  }

 private:
  static constexpr const char* kDeviceCode = "dc-GMMhmHCXhWEz";
  static constexpr const char* kImapScope =
      "https://outlook.office.com/IMAP.AccessAsUser.All offline_access";

  static void OAuthError(httplib::Response& res, const std::string& error) {
    res.status = 400;
    res.set_content(
        nlohmann::json{{"error", error}, {"error_description", "AADSTS: " + error}}.dump(),
        "application/json");
  }

  // Microsoft's device authorization endpoint: a public client (no secret), the IMAP scope.
  void DeviceCode(const httplib::Request& req, httplib::Response& res) {
    if (req.get_param_value("client_id") != "public-app" ||
        req.get_param_value("scope") != kImapScope || req.has_param("client_secret")) {
      return OAuthError(res, "invalid_request");
    }
    res.set_content(nlohmann::json{{"user_code", "IMAP7G9K"},
                                   {"device_code", kDeviceCode},
                                   {"verification_uri", "https://microsoft.com/devicelogin"},
                                   {"expires_in", 900},
                                   {"interval", 1},
                                   {"message", "enter the code IMAP7G9K"}}
                        .dump(),
                    "application/json");
  }

  // The device code's poll (pending once) and the refresh token grant: new access and refresh
  // tokens each time (the old refresh token stops working: rotation). Called with mu_ held.
  void Delegated(const httplib::Request& req, httplib::Response& res) {
    const std::string grant = req.get_param_value("grant_type");
    if (req.get_param_value("client_id") != "public-app") return OAuthError(res, "invalid_client");
    if (grant == "urn:ietf:params:oauth:grant-type:device_code") {
      if (req.get_param_value("device_code") != kDeviceCode) {
        return OAuthError(res, "bad_verification_code");
      }
      if (polls_++ == 0) return OAuthError(res, "authorization_pending");
    } else if (grant != "refresh_token" || req.get_param_value("refresh_token") != refresh_ ||
               refresh_.empty() || req.get_param_value("scope") != kImapScope) {
      return OAuthError(res, "invalid_grant");
    }
    const std::string access = "dc-access-" + std::to_string(++issued_);
    if (refuse_next_ > 0) {
      --refuse_next_;
    } else {
      valid_.insert(access);
    }
    refresh_ = "dc-refresh-" + std::to_string(issued_);
    res.set_content(nlohmann::json{{"token_type", "Bearer"},
                                   {"expires_in", 3599},
                                   {"scope", kImapScope},
                                   {"access_token", access},
                                   {"refresh_token", refresh_}}
                        .dump(),
                    "application/json");
  }

  std::mutex mu_;
  std::set<std::string> valid_;
  std::vector<std::string> asked_;
  std::vector<httplib::Params> grants_;
  std::string public_pem_;
  std::vector<std::string> subjects_;
  std::string refresh_;
  int issued_ = 0, refuse_next_ = 0, polls_ = 0;
  dmarc::testing::LoopbackHttpServer http_;  // last: stopped before the state it uses goes
};

class OAuthFetch : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = dmarc::testing::FreshTestDir("dmarc-oauth");
    db_ = (dir_ / "store.db").string();
    dovecot_ = std::make_unique<Dovecot>(dir_ / "server", true, introspection_.Url());
    dovecot_->Start();
  }
  void TearDown() override {
    dovecot_.reset();
    if (!HasFailure() && !std::getenv("DMARC_KEEP_TEST_DIRS")) fs::remove_all(dir_);
  }

  // A configuration for the IMAPS port; `auth_keys` are the [imap] keys of the login.
  std::string Config(const std::string& auth_keys) {
    const fs::path p = dir_ / "fetch.toml";
    std::ofstream(p) << "[store]\nurl = \"sqlite:" << db_ << "\"\n[enrich]\noffline = true\n"
                     << "[imap]\nhost = \"127.0.0.1\"\nport = " << dovecot_->imaps
                     << "\nca_file = \"" << dovecot_->Cert() << "\"\nuser = \"dmarc\"\n"
                     << auth_keys;
    return p.string();
  }

  std::string TokenFile(const std::string& token) {
    const fs::path p = dir_ / "token";
    std::ofstream(p) << token << "\n";
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
    return p.string();
  }

  int Fetch(const std::string& config) {
    log_ = dir_ / "fetch.log";
    return dmarc::testing::RunFetch(config, log_);
  }
  std::string Log() const { return ReadFile(log_.string()); }

  Introspection introspection_;
  fs::path dir_, log_;
  std::string db_;
  std::unique_ptr<Dovecot> dovecot_;
};

TEST_F(OAuthFetch, Xoauth2WithAValidTokenFetchesAndFilesEveryReport) {
  introspection_.Allow("tok-valid-1");
  for (int i = 0; i < 3; ++i) dovecot_->Deliver("m" + std::to_string(i), ReportMail(i));
  const std::string config =
      Config("auth = \"xoauth2\"\ntoken_file = \"" + TokenFile("tok-valid-1") + "\"\n");
  ASSERT_EQ(Fetch(config), 0) << Log() << dovecot_->Log();
  EXPECT_EQ(dovecot_->Count(""), 0u) << Log();
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), 3u) << Log();
  EXPECT_NE(Log().find("3 aggregate"), std::string::npos) << Log();
  EXPECT_EQ(Log().find("tok-valid-1"), std::string::npos) << "the token is never logged";
  EXPECT_EQ(introspection_.Asked(), std::vector<std::string>{"tok-valid-1"});
}

TEST_F(OAuthFetch, OauthbearerWithATokenCommandFetches) {
  introspection_.Allow("tok-cmd-1");
  dovecot_->Deliver("m", ReportMail(1));
  const std::string config = Config(
      "auth = \"oauthbearer\"\ntoken_command = [\"/bin/sh\", \"-c\", "
      "\"echo tok-cmd-1; echo second line ignored\"]\n");
  ASSERT_EQ(Fetch(config), 0) << Log() << dovecot_->Log();
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), 1u) << Log();
  EXPECT_EQ(Log().find("tok-cmd-1"), std::string::npos) << "the command's output is never logged";
  EXPECT_EQ(introspection_.Asked(), std::vector<std::string>{"tok-cmd-1"});
}

TEST_F(OAuthFetch, WithoutSaslIrTheTokenFollowsTheServersContinuation) {
  // Capabilities without SASL-IR (RFC 4959), before and after login.
  dovecot_->Stop();
  std::ofstream(dir_ / "server" / "dovecot.conf", std::ios::app)
      << "imap_capability = IMAP4rev1 LOGIN-REFERRALS ID ENABLE IDLE UIDPLUS MOVE\n";
  dovecot_->Start();
  const std::string greeting = dmarc::testing::Greeting(dovecot_->imap);
  ASSERT_NE(greeting.find("AUTH=XOAUTH2"), std::string::npos) << greeting;
  ASSERT_EQ(greeting.find("SASL-IR"), std::string::npos) << greeting;
  introspection_.Allow("tok-no-ir");
  dovecot_->Deliver("m", ReportMail(1));
  for (const char* auth : {"xoauth2", "oauthbearer"}) {
    const std::string config = Config("auth = \"" + std::string(auth) + "\"\ntoken_file = \"" +
                                      TokenFile("tok-no-ir") + "\"\nafter = \"keep\"\n");
    EXPECT_EQ(Fetch(config), 0) << auth << "\n" << Log() << dovecot_->Log();
  }
  EXPECT_EQ(introspection_.Asked(), (std::vector<std::string>{"tok-no-ir", "tok-no-ir"}));
}

TEST_F(OAuthFetch, AServerWithoutTheMechanismIsNamedAndGetsNoToken) {
  // A Dovecot with passwords only: AUTH=PLAIN and AUTH=LOGIN.
  dovecot_ = std::make_unique<Dovecot>(dir_ / "password-server");
  dovecot_->Start();
  dovecot_->Deliver("m", ReportMail(1));
  const fs::path ran = dir_ / "ran";
  EXPECT_EQ(Fetch(Config("auth = \"oauthbearer\"\ntoken_command = [\"/bin/sh\", \"-c\", \"touch " +
                         ran.string() + "; echo tok-x\"]\n")),
            1);
  EXPECT_FALSE(fs::exists(ran)) << "no token is asked for when it cannot be used";
  EXPECT_NE(Log().find("the server does not offer AUTHENTICATE OAUTHBEARER (no AUTH=OAUTHBEARER "
                       "in its capabilities; check imap.host and imap.auth)"),
            std::string::npos)
      << Log();
  EXPECT_TRUE(introspection_.Asked().empty());
}

TEST_F(OAuthFetch, ARevokedTokenGivesAClearErrorAndTouchesNoMail) {
  dovecot_->Deliver("m", ReportMail(1));
  for (const char* auth : {"xoauth2", "oauthbearer"}) {
    const std::string config = Config("auth = \"" + std::string(auth) + "\"\ntoken_file = \"" +
                                      TokenFile("tok-revoked") + "\"\n");
    EXPECT_EQ(Fetch(config), 1) << Log();
    EXPECT_NE(Log().find("login as \"dmarc\" with an OAuth2 token refused"), std::string::npos)
        << Log();
    EXPECT_NE(Log().find("the token may be expired or lack the IMAP scope"), std::string::npos)
        << Log();
    EXPECT_EQ(Log().find("tok-revoked"), std::string::npos) << Log();
    EXPECT_EQ(dovecot_->Count(""), 1u);
  }
  // Dovecot asked about the token once per mechanism: the token file gave the refused token
  // again, so there was no second attempt.
  EXPECT_EQ(introspection_.Asked(), (std::vector<std::string>{"tok-revoked", "tok-revoked"}));
}

TEST_F(OAuthFetch, TheTokenFileIsReadAgainForEveryConnection) {
  introspection_.Allow("tok-old");
  dovecot_->Deliver("m1", ReportMail(1));
  const std::string config =
      Config("auth = \"xoauth2\"\ntoken_file = \"" + TokenFile("tok-old") + "\"\n");
  ASSERT_EQ(Fetch(config), 0) << Log();
  // An external refresher replaces the token; the old one expires.
  introspection_.Revoke("tok-old");
  introspection_.Allow("tok-new");
  TokenFile("tok-new");
  dovecot_->Deliver("m2", ReportMail(2));
  ASSERT_EQ(Fetch(config), 0) << Log();
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), 2u) << Log();
  EXPECT_EQ(introspection_.Asked(), (std::vector<std::string>{"tok-old", "tok-new"}));
}

TEST_F(OAuthFetch, ARefusedTokenIsReplacedByTheCommandsNextOneOnce) {
  introspection_.Allow("tok-fresh");
  dovecot_->Deliver("m", ReportMail(1));
  // The first run hands out a token that has expired meanwhile, the next a fresh one.
  const std::string marker = (dir_ / "ran").string();
  const std::string config =
      Config("auth = \"oauthbearer\"\ntoken_command = [\"/bin/sh\", \"-c\", \"if [ -e " + marker +
             " ]; then echo tok-fresh; else touch " + marker + "; echo tok-stale; fi\"]\n");
  ASSERT_EQ(Fetch(config), 0) << Log() << dovecot_->Log();
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), 1u) << Log();
  EXPECT_EQ(introspection_.Asked(), (std::vector<std::string>{"tok-stale", "tok-fresh"}));

  // A source that keeps handing out the refused token is not asked in a loop.
  const std::string same =
      Config("auth = \"oauthbearer\"\ntoken_command = [\"/bin/sh\", \"-c\", \"echo tok-stale\"]\n");
  dovecot_->Deliver("m2", ReportMail(2));
  EXPECT_EQ(Fetch(same), 1) << Log();
  EXPECT_NE(Log().find("with an OAuth2 token refused"), std::string::npos) << Log();
}

TEST_F(OAuthFetch, AFailingOrSilentTokenCommandIsNamed) {
  dovecot_->Deliver("m", ReportMail(1));
  EXPECT_EQ(Fetch(Config("auth = \"xoauth2\"\ntoken_command = [\"/bin/false\"]\n")), 1);
  EXPECT_NE(Log().find("imap.token_command (/bin/false): failed (exit status 1)"),
            std::string::npos)
      << Log();
  EXPECT_EQ(Fetch(Config("auth = \"xoauth2\"\ntoken_command = [\"/bin/true\"]\n")), 1);
  EXPECT_NE(Log().find("imap.token_command (/bin/true): printed no token"), std::string::npos)
      << Log();
  EXPECT_EQ(
      Fetch(Config("auth = \"xoauth2\"\ntimeout = 1\ntoken_command = [\"/bin/sleep\", \"30\"]\n")),
      1);
  EXPECT_NE(Log().find("no token after 1 s"), std::string::npos) << Log();
  EXPECT_EQ(dovecot_->Count(""), 1u);
}

TEST_F(OAuthFetch, ClientCredentialsTokenIsFetchedAndFetchedAnewAfterARefusal) {
  introspection_.Allow("cc-2");  // the first token handed out is refused by the server
  dovecot_->Deliver("m", ReportMail(1));
  const fs::path secret = dir_ / "client-secret";
  std::ofstream(secret) << "app-s3cret\n";
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  const std::string keys = "auth = \"xoauth2\"\noauth2_token_url = \"" + introspection_.Base() +
                           "/tenant-1/oauth2/v2.0/token\"\nclient_id = \"app-1\"\n"
                           "scope = \"https://outlook.office365.com/.default\"\n"
                           "client_secret_file = \"" +
                           secret.string() + "\"\n";
  ASSERT_EQ(Fetch(Config(keys)), 0) << Log() << dovecot_->Log();
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), 1u) << Log();
  EXPECT_EQ(introspection_.Asked(), (std::vector<std::string>{"cc-1", "cc-2"}));
  const auto grants = introspection_.Grants();
  ASSERT_EQ(grants.size(), 2u);
  const auto param = [&](const char* key) {
    auto it = grants[0].find(key);
    return it == grants[0].end() ? std::string() : it->second;
  };
  EXPECT_EQ(param("grant_type"), "client_credentials");
  EXPECT_EQ(param("client_id"), "app-1");
  EXPECT_EQ(param("client_secret"), "app-s3cret");
  EXPECT_EQ(param("scope"), "https://outlook.office365.com/.default");
  EXPECT_EQ(Log().find("app-s3cret"), std::string::npos) << Log();
  EXPECT_EQ(Log().find("cc-2"), std::string::npos) << Log();

  // A wrong secret: the token endpoint's error is named, the secret is not.
  std::ofstream(secret) << "wrong-s3cret\n";
  dovecot_->Deliver("m2", ReportMail(2));
  EXPECT_EQ(Fetch(Config(keys)), 1) << Log();
  EXPECT_NE(Log().find("answered 401: invalid_client: AADSTS7000215: Invalid client secret "
                       "provided. (check imap.client_id, imap.client_secret and imap.scope)"),
            std::string::npos)
      << Log();
  EXPECT_EQ(Log().find("wrong-s3cret"), std::string::npos) << Log();
  EXPECT_EQ(dovecot_->Count(""), 1u);
}

// Gmail with a Google Workspace service account (domain-wide delegation): a JWT for the IMAP user,
// signed with the key file's private key, exchanged at the key's token_uri; the token signs in.
TEST_F(OAuthFetch, AServiceAccountKeyGetsATokenForTheMailboxAndSignsIn) {
  introspection_.Allow("sa-1");
  dovecot_->Deliver("m", ReportMail(2));
  const fs::path key = dir_ / "service-account.json";
  std::ofstream(key) << nlohmann::json{{"type", "service_account"},
                                       {"private_key_id", "k1"},
                                       {"private_key", introspection_.ServiceAccountKey()},
                                       {"client_email", "reader@p.iam.gserviceaccount.com"},
                                       {"token_uri", introspection_.Base() + "/token"}}
                            .dump();
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_EQ(Fetch(Config("auth = \"xoauth2\"\nservice_account_file = \"" + key.string() + "\"\n")),
            0)
      << Log() << dovecot_->Log();
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), 1u) << Log();
  EXPECT_EQ(introspection_.Subjects(), std::vector<std::string>{"dmarc"}) << "sub = imap.user";
  EXPECT_EQ(introspection_.Asked(), std::vector<std::string>{"sa-1"});
  EXPECT_EQ(Log().find("PRIVATE KEY"), std::string::npos);
}

// Microsoft 365 with delegated sign-in: `login` runs the device-code flow and seals the refresh
// token in the store; fetch turns it into access tokens Dovecot checks, asks anew after a
// refusal, keeps each rotated refresh token, and says to sign in again once it is revoked.
TEST_F(OAuthFetch, ADeviceCodeSignInGivesTokensThatAreRefreshedAndRotated) {
  dovecot_->Deliver("m", ReportMail(1));
  const std::string base = introspection_.Base() + "/tenant-1/oauth2/v2.0/";
  const std::string config =
      Config("auth = \"xoauth2\"\noauth2_device_url = \"" + base + "devicecode\"\n" +
             "oauth2_token_url = \"" + base + "token\"\nclient_id = \"public-app\"\n" +
             "scope = \"https://outlook.office.com/IMAP.AccessAsUser.All offline_access\"\n" +
             "token_key_file = \"" + (dir_ / "token.key").string() + "\"\n");
  EXPECT_EQ(Fetch(config), 1) << Log();
  EXPECT_NE(Log().find("run dmarc-report login"), std::string::npos) << Log();
  EXPECT_TRUE(introspection_.Asked().empty()) << "no token reached the server";

  log_ = dir_ / "login.log";
  ASSERT_EQ(dmarc::testing::RunToEnd({"login", "--config", config}, log_), 0) << Log();
  EXPECT_NE(Log().find("enter the code IMAP7G9K"), std::string::npos) << Log();
  const std::string first = introspection_.Refresh();
  ASSERT_EQ(first, "dc-refresh-1");
  EXPECT_EQ(ReadFile(db_).find(first), std::string::npos) << "the store holds it sealed";

  // The first access token is refused by Dovecot (expired): one more refresh, and it signs in.
  introspection_.RefuseNextAccessTokens(1);
  ASSERT_EQ(Fetch(config), 0) << Log() << dovecot_->Log();
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), 1u) << Log();
  EXPECT_EQ(introspection_.Asked(), (std::vector<std::string>{"dc-access-2", "dc-access-3"}));
  EXPECT_EQ(introspection_.Refresh(), "dc-refresh-3");
  EXPECT_EQ(Log().find("dc-refresh"), std::string::npos) << Log();
  EXPECT_EQ(Log().find("dc-access"), std::string::npos) << Log();

  // The next run takes the rotated token, the one kept in the store.
  dovecot_->Deliver("m2", ReportMail(2));
  ASSERT_EQ(Fetch(config), 0) << Log();
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), 2u) << Log();

  // Revoked: the error says what to do, and the mail stays.
  introspection_.RevokeRefresh();
  dovecot_->Deliver("m3", ReportMail(3));
  EXPECT_EQ(Fetch(config), 1) << Log();
  EXPECT_NE(Log().find("dmarc-report login"), std::string::npos) << Log();
  EXPECT_EQ(dovecot_->Count(""), 1u);
}

}  // namespace
