#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "base/time.h"
#include "collect/jwt.h"
#include "collect/oauth_token.h"
#include "collect/source.h"
#include "http/request.h"
#include "testing/http_server.h"
#include "testing/jwt_check.h"
#include "testing/test_util.h"

namespace dmarc::collect {
namespace {

namespace fs = std::filesystem;

TEST(FolderTemplate, ReplacesDatePartsWithTheIsoWeek) {
  const std::int64_t t = DaysFromCivil(2026, 3, 2) * kSecondsPerDay + 3600;  // a Monday
  EXPECT_EQ(ExpandFolderTemplate("done/[YEAR]/week_[WEEK]", t), "done/2026/week_10");
  EXPECT_EQ(ExpandFolderTemplate("[YEAR]-[MONTH]-[DAY]", t), "2026-03-02");
  // 2027-01-01 is a Friday: ISO week 53 of 2026.
  EXPECT_EQ(ExpandFolderTemplate("[WEEK]", DaysFromCivil(2027, 1, 1) * kSecondsPerDay), "53");
  // 2025-12-29 is the Monday of ISO week 1 of 2026.
  EXPECT_EQ(ExpandFolderTemplate("[WEEK]", DaysFromCivil(2025, 12, 29) * kSecondsPerDay), "01");
  EXPECT_EQ(ExpandFolderTemplate("plain [YEAR", t), "plain [YEAR");
}

TEST(FolderName, NamesTheFolderOfEachClass) {
  EXPECT_STREQ(FolderName(MailClass::kAggregate), "Aggregate");
  EXPECT_STREQ(FolderName(MailClass::kForensic), "Forensic");
  EXPECT_STREQ(FolderName(MailClass::kSmtpTls), "SMTP-TLS");
  EXPECT_STREQ(FolderName(MailClass::kInvalid), "Invalid");
}

TEST(OAuth2, SaslResponsesCarryTheUserAndTheToken) {
  EXPECT_EQ(XOAuth2Response("dmarc@example.com", "ya29.t"),
            std::string("user=dmarc@example.com\x01"
                        "auth=Bearer ya29.t\x01\x01"));
  // RFC 7628 §3.1, with the saslname escapes of RFC 5801.
  EXPECT_EQ(OAuthBearerResponse("a,b=c@example.com", "imap.example.com", 993, "t"),
            std::string("n,a=a=2Cb=3Dc@example.com,\x01host=imap.example.com\x01port=993\x01"
                        "auth=Bearer t\x01\x01"));
}

TEST(OAuth2, TokenSourcesGiveTheFirstLine) {
  const fs::path dir = dmarc::testing::FreshTestDir("dmarc-oauth-token");
  std::ofstream(dir / "token") << "tok-1\r\nnext line\n";
  auto t = ReadAccessToken((dir / "token").string(), {}, 5);
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(*t, "tok-1");
  t = ReadAccessToken("", {"/bin/sh", "-c", "printf 'tok-2\\nmore'"}, 5);
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(*t, "tok-2");
  t = ReadAccessToken((dir / "missing").string(), {}, 5);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().find("imap.token_file: cannot read"), std::string::npos) << t.error();
  t = ReadAccessToken("", {"/nonexistent/get-token"}, 5);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().find("cannot run"), std::string::npos) << t.error();
  fs::remove_all(dir);
}

// The client-credentials token is kept until 60 s before it expires, fetched anew when the server
// refused it, and fetched for every connection when the endpoint says no lifetime or one under
// a minute. Counted at a loopback token endpoint.
TEST(OAuth2, ClientCredentialsTokensAreCachedUntilAMinuteBeforeExpiryOrARefusal) {
  dmarc::testing::LoopbackHttpServer endpoint;
  std::atomic<int> requests{0};
  std::atomic<int> lifetime{3600};
  endpoint.routes.Post("/token", [&](const httplib::Request& req, httplib::Response& res) {
    const int n = ++requests;
    EXPECT_EQ(req.get_param_value("grant_type"), "client_credentials");
    EXPECT_EQ(req.get_param_value("client_id"), "app-1");
    EXPECT_EQ(req.get_param_value("client_secret"), "secret-value-1");
    std::string body = R"({"token_type":"Bearer","access_token":"tok-)" + std::to_string(n) + '"';
    if (lifetime > 0) body += ",\"expires_in\":" + std::to_string(lifetime.load());
    res.set_content(body + "}", "application/json");
  });
  endpoint.Listen();
  ImapOptions c;
  c.auth = "xoauth2";
  c.oauth2_token_url = endpoint.Url() + "/token";
  c.client_id = "app-1";
  c.client_secret = "secret-value-1";
  c.timeout = 10;
  const auto get = [](AccessTokens& tokens, bool refused) {
    auto t = tokens.Get(refused);
    EXPECT_TRUE(t) << t.error();
    return t ? *t : std::string();
  };
  {
    AccessTokens tokens(c);
    EXPECT_EQ(get(tokens, false), "tok-1");
    EXPECT_EQ(get(tokens, false), "tok-1") << "an hour-long token is reused";
    EXPECT_EQ(requests, 1);
    EXPECT_EQ(get(tokens, true), "tok-2") << "a refused token is replaced";
    EXPECT_EQ(get(tokens, false), "tok-2");
    EXPECT_EQ(requests, 2);
  }
  for (const int seconds : {60, 0}) {  // within the minute's margin; no expires_in at all
    lifetime = seconds;
    AccessTokens tokens(c);
    const int before = requests;
    get(tokens, false);
    get(tokens, false);
    EXPECT_EQ(requests, before + 2) << "expires_in " << seconds;
  }
}

TEST(Jwt, Base64UrlHasNoPaddingAndTheUrlAlphabet) {
  EXPECT_EQ(Base64Url(""), "");
  EXPECT_EQ(Base64Url("f"), "Zg");
  EXPECT_EQ(Base64Url("fo"), "Zm8");
  EXPECT_EQ(Base64Url("foo"), "Zm9v");
  EXPECT_EQ(Base64Url("\xfb\xff"), "-_8");  // "+/8=" in plain base64
}

// A Google service account's key file (the fields the console's JSON has that matter here).
std::string ServiceAccountJson(const std::string& private_pem, const std::string& token_uri) {
  return nlohmann::json{{"type", "service_account"},
                        {"project_id", "dmarc-reports"},
                        {"private_key_id", "kid-0123"},
                        {"private_key", private_pem},
                        {"client_email", "reader@dmarc-reports.iam.gserviceaccount.com"},
                        {"client_id", "1234567890"},
                        {"token_uri", token_uri}}
      .dump(2);
}

// The assertion of the JWT bearer grant (RFC 7523) verifies with the account's public key and
// claims what Google's token endpoint checks: issuer, subject (the mailbox), scope, audience,
// an hour's validity.
TEST(Jwt, ServiceAccountAssertionIsSignedByTheKeyAndClaimsTheMailbox) {
  const fs::path dir = dmarc::testing::FreshTestDir("dmarc-jwt");
  const auto [private_pem, public_pem] = dmarc::testing::MakeRsaKeyPem();
  std::ofstream(dir / "sa.json") << ServiceAccountJson(private_pem,
                                                       "https://oauth2.googleapis.com/token");
  auto key = ReadServiceAccountKey((dir / "sa.json").string(), "imap.service_account_file");
  ASSERT_TRUE(key) << key.error();
  EXPECT_EQ(key->client_email, "reader@dmarc-reports.iam.gserviceaccount.com");
  auto jwt = ServiceAccountAssertion(*key, "dmarc@example.com", kGmailScope, 1'700'000'000);
  ASSERT_TRUE(jwt) << jwt.error();
  auto checked = dmarc::testing::CheckRs256Jwt(*jwt, public_pem);
  ASSERT_TRUE(checked) << "the signature verifies";
  EXPECT_EQ(checked->header,
            (nlohmann::json{{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "kid-0123"}}));
  EXPECT_EQ(checked->claims,
            (nlohmann::json{{"iss", "reader@dmarc-reports.iam.gserviceaccount.com"},
                            {"sub", "dmarc@example.com"},
                            {"scope", "https://mail.google.com/"},
                            {"aud", "https://oauth2.googleapis.com/token"},
                            {"iat", 1'700'000'000},
                            {"exp", 1'700'003'600}}));
  const auto other = dmarc::testing::MakeRsaKeyPem();
  EXPECT_FALSE(dmarc::testing::CheckRs256Jwt(*jwt, other.second)) << "another key's check fails";

  // Key files that are not what they should be: named, their content never shown.
  std::ofstream(dir / "user.json") << R"({"type": "authorized_user", "client_id": "x"})";
  auto bad = ReadServiceAccountKey((dir / "user.json").string(), "imap.service_account_file");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("imap.service_account_file: " + (dir / "user.json").string() +
                             " is not a service account's JSON key"),
            std::string::npos)
      << bad.error();
  nlohmann::json no_key = nlohmann::json::parse(ServiceAccountJson(private_pem, "https://t"));
  no_key.erase("private_key");
  std::ofstream(dir / "nokey.json") << no_key.dump();
  bad = ReadServiceAccountKey((dir / "nokey.json").string(), "imap.service_account_file");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("has no \"private_key\""), std::string::npos) << bad.error();
  bad = ReadServiceAccountKey((dir / "missing.json").string(), "imap.service_account_file");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("imap.service_account_file: "), std::string::npos) << bad.error();
  ServiceAccountKey broken = *key;
  broken.private_key =
      "-----BEGIN PRIVATE KEY-----\nnot-a-key-c2VjcmV0\n-----END PRIVATE KEY-----\n";
  auto unsigned_jwt = ServiceAccountAssertion(broken, "dmarc@example.com", kGmailScope, 1);
  ASSERT_FALSE(unsigned_jwt);
  EXPECT_EQ(unsigned_jwt.error(), "the private key is not a PEM RSA private key");
  fs::remove_all(dir);
}

// The grant at a loopback endpoint shaped like https://oauth2.googleapis.com/token: the form
// Google documents, an assertion that verifies, and the token kept like a client-credentials one.
TEST(Jwt, ServiceAccountTokenIsGrantedForTheAssertionAndCached) {
  const fs::path dir = dmarc::testing::FreshTestDir("dmarc-jwt-grant");
  const auto [private_pem, public_pem] = dmarc::testing::MakeRsaKeyPem();
  dmarc::testing::LoopbackHttpServer google;
  std::atomic<int> grants{0};
  std::string subject;
  google.routes.Post("/token", [&](const httplib::Request& req, httplib::Response& res) {
    EXPECT_EQ(req.get_header_value("Content-Type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(req.get_param_value("grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer");
    auto jwt = dmarc::testing::CheckRs256Jwt(req.get_param_value("assertion"), public_pem);
    if (!jwt) {
      res.status = 400;
      res.set_content(
          R"({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})",
          "application/json");
      return;
    }
    subject = jwt->claims.value("sub", "");
    res.set_content(R"({"access_token": "ya29.sa-)" + std::to_string(++grants) +
                        R"(", "expires_in": 3599, "token_type": "Bearer"})",
                    "application/json");
  });
  google.Listen();
  std::ofstream(dir / "sa.json") << ServiceAccountJson(private_pem, google.Url() + "/token");
  ImapOptions c;
  c.auth = "xoauth2";
  c.user = "dmarc@example.com";
  c.service_account_file = (dir / "sa.json").string();
  c.timeout = 10;
  AccessTokens tokens(c);
  auto t = tokens.Get(false);
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(*t, "ya29.sa-1");
  EXPECT_EQ(subject, "dmarc@example.com");
  t = tokens.Get(false);
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(*t, "ya29.sa-1") << "kept until a minute before it expires";
  t = tokens.Get(true);
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(*t, "ya29.sa-2") << "a refused token is replaced";

  // Signed by another key (a key file replaced by a wrong one): Google's error is named.
  std::ofstream(dir / "sa.json") << ServiceAccountJson(dmarc::testing::MakeRsaKeyPem().first,
                                                       google.Url() + "/token");
  auto refused = RequestServiceAccountToken(c, 1);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("answered 400: invalid_grant: Invalid JWT Signature."),
            std::string::npos)
      << refused.error();
  EXPECT_NE(refused.error().find("reader@dmarc-reports.iam.gserviceaccount.com is delegated the "
                                 "scope https://mail.google.com/"),
            std::string::npos)
      << refused.error();
  EXPECT_EQ(refused.error().find("PRIVATE KEY"), std::string::npos);
  fs::remove_all(dir);
}

// Retry-After (RFC 9110 §10.2.3) as Graph and others send it: delay-seconds or an HTTP-date.
TEST(RetryAfter, SecondsOrAnHttpDate) {
  using dmarc::http::RetryAfterSeconds;
  constexpr std::int64_t kNow = 1'445'412'470;  // 2015-10-21 07:27:50 UTC
  EXPECT_EQ(RetryAfterSeconds("120", kNow), 120);
  EXPECT_EQ(RetryAfterSeconds(" 5 ", kNow), 5);
  EXPECT_EQ(RetryAfterSeconds("0", kNow), 0);
  EXPECT_EQ(RetryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT", kNow), 10);
  EXPECT_EQ(RetryAfterSeconds("Wed, 21 Oct 2015 07:00:00 GMT", kNow), 0) << "a date past";
  EXPECT_EQ(RetryAfterSeconds("99999999999999", kNow), 999'999'999) << "no overflow";
  EXPECT_FALSE(RetryAfterSeconds("", kNow));
  EXPECT_FALSE(RetryAfterSeconds("soon", kNow));
}

class LocalSources : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = dmarc::testing::FreshTestDir("dmarc-collect"); }
  void TearDown() override { fs::remove_all(dir_); }
  void Put(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  // An empty Maildir at dir_/Maildir and its source.
  std::unique_ptr<Source> EmptyMaildir() {
    for (const char* sub : {"new", "cur", "tmp"}) fs::create_directories(dir_ / "Maildir" / sub);
    MaildirOptions c;
    c.path = (dir_ / "Maildir").string();
    return MakeMaildirSource(c, 1 << 20);
  }
  fs::path dir_;
};

TEST_F(LocalSources, MaildirMailsAreFiledOnlyWhenFiledAndIntoMaildirPlusPlusFolders) {
  const fs::path md = dir_ / "Maildir";
  fs::create_directories(md / "tmp");
  Put(md / "new" / "1.a", "mail one");
  Put(md / "cur" / "2.b:2,S", "mail two");
  Put(md / "tmp" / "3.c", "being delivered");
  MaildirOptions c;
  c.path = md.string();
  auto src = MakeMaildirSource(c, 1 << 20);
  auto n = src->Open();
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 2u);
  auto batch = src->Next();
  ASSERT_TRUE(batch) << batch.error();
  ASSERT_EQ(batch->size(), 2u);
  // Nothing moves before File().
  EXPECT_TRUE(fs::exists(md / "new" / "1.a"));
  std::vector<Filing> filings;
  for (const auto& m : *batch) {
    filings.push_back({m.id, m.bytes == "mail one" ? MailClass::kAggregate : MailClass::kInvalid});
  }
  ASSERT_TRUE(src->File(filings));
  EXPECT_TRUE(fs::exists(md / ".Archive.Aggregate" / "cur" / "1.a"));
  EXPECT_TRUE(fs::exists(md / ".Archive.Invalid" / "cur" / "2.b:2,S"));
  EXPECT_TRUE(fs::exists(md / "tmp" / "3.c"));
  EXPECT_TRUE(src->Next()->empty());
  n = src->Open();
  EXPECT_EQ(*n, 0u);
}

TEST_F(LocalSources, MaildirLinksAreRejectedByNameAndFiledAwayNeverRead) {
  const fs::path md = dir_ / "Maildir";
  auto src = EmptyMaildir();
  Put(dir_ / "shadow", "root:$6$secret");
  fs::create_symlink(dir_ / "shadow", md / "new" / "1.evil");
  Put(md / "new" / "2.mail", "mail");
  ASSERT_EQ(*src->Open(), 2u);
  auto batch = src->Next();
  ASSERT_EQ(batch->size(), 2u);
  const MailItem& link = (*batch)[0];
  EXPECT_EQ(fs::path(link.id).filename(), "1.evil");
  EXPECT_TRUE(link.bytes.empty());
  ASSERT_TRUE(link.error);
  EXPECT_NE(link.error->find("symbolic link"), std::string::npos) << *link.error;
  EXPECT_EQ((*batch)[1].bytes, "mail");
  // Filed as Invalid like any unreadable mail: the link moves, its target stays as it was.
  ASSERT_TRUE(src->File({{link.id, MailClass::kInvalid}}));
  EXPECT_TRUE(fs::is_symlink(md / ".Archive.Invalid" / "cur" / "1.evil"));
  EXPECT_EQ(dmarc::testing::ReadFile((dir_ / "shadow").string()), "root:$6$secret");
  // Nor are new/ and cur/ read through a link (to /etc, say).
  fs::remove_all(md / "new");
  fs::create_directories(dir_ / "etc");
  Put(dir_ / "etc" / "passwd", "root:x:0:0");
  fs::create_directory_symlink(dir_ / "etc", md / "new");
  auto opened = src->Open();
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), (md / "new").string() + ": a symbolic link: not followed");
}

// Folders the sources make hold mails (failure reports: personal data): private whatever the
// umask.
TEST_F(LocalSources, FoldersMadeForFilingArePrivateWhateverTheUmask) {
  const mode_t old_umask = ::umask(0);
  const fs::path md = dir_ / "Maildir";
  auto maildir = EmptyMaildir();
  Put(md / "new" / "1.a", "mail");
  ASSERT_EQ(*maildir->Open(), 1u);
  auto batch = maildir->Next();
  ASSERT_TRUE(maildir->File({{(*batch)[0].id, MailClass::kInvalid}}));
  Put(dir_ / "drop" / "sub" / "x.xml", "x");
  auto drop = MakeDirectorySource((dir_ / "drop").string(), 1 << 20);
  ASSERT_EQ(*drop->Open(), 1u);
  batch = drop->Next();
  ASSERT_TRUE(drop->File({{(*batch)[0].id, MailClass::kInvalid}}));
  ::umask(old_umask);
  for (const fs::path& made : {md / ".Archive.Invalid", md / ".Archive.Invalid" / "cur",
                               md / ".Archive.Invalid" / "new", md / ".Archive.Invalid" / "tmp",
                               dir_ / "drop" / "invalid", dir_ / "drop" / "invalid" / "sub"}) {
    EXPECT_EQ(fs::status(made).permissions(), fs::perms::owner_all) << made;
  }
}

TEST_F(LocalSources, DirectoryMovesToProcessedAndInvalidAndSkipsThemWhenListing) {
  const fs::path drop = dir_ / "drop";
  Put(drop / "a.xml", "a");
  Put(drop / "sub" / "b.eml", "b");
  Put(drop / ".partial", "still being written");
  Put(drop / "processed" / "old.xml", "old");
  auto src = MakeDirectorySource(drop.string(), 1 << 20);
  auto n = src->Open();
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 2u);
  auto batch = src->Next();
  ASSERT_EQ(batch->size(), 2u);
  ASSERT_TRUE(
      src->File({{(*batch)[0].id, MailClass::kAggregate}, {(*batch)[1].id, MailClass::kInvalid}}));
  EXPECT_TRUE(fs::exists(drop / "processed" / "a.xml"));
  EXPECT_TRUE(fs::exists(drop / "invalid" / "sub" / "b.eml"));
  EXPECT_EQ(*src->Open(), 0u);
}

TEST_F(LocalSources, DirectoryLeavesFilesBeingWrittenForALaterPass) {
  const fs::path drop = dir_ / "drop";
  Put(drop / "done.xml", "whole");
  Put(drop / "upload.xml.part", "partial");
  Put(drop / "copy.tmp", "partial");
  // A writer appending every 200 ms for 4 s.
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < 20; ++i) {
      std::ofstream(drop / "growing.xml", std::ios::app) << "<piece/>";
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    writing = false;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto src = MakeDirectorySource(drop.string(), 1 << 20);
  auto n = src->Open();
  ASSERT_TRUE(n) << n.error();
  EXPECT_TRUE(writing) << "the writer ended before the look";
  auto batch = src->Next();
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ(fs::path((*batch)[0].id).filename(), "done.xml");
  ASSERT_TRUE(src->File({{(*batch)[0].id, MailClass::kAggregate}}));
  writer.join();
  // Once it has stopped changing, the next pass takes it, whole.
  ASSERT_EQ(*src->Open(), 1u);
  batch = src->Next();
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ(fs::path((*batch)[0].id).filename(), "growing.xml");
  EXPECT_EQ((*batch)[0].bytes.size(), 20 * std::string("<piece/>").size());
}

TEST_F(LocalSources, OversizedMailsComeWithAnErrorNotTheirBytes) {
  Put(dir_ / "drop" / "big", std::string(5000, 'x'));
  auto src = MakeDirectorySource((dir_ / "drop").string(), 1000);
  ASSERT_EQ(*src->Open(), 1u);
  auto batch = src->Next();
  ASSERT_EQ(batch->size(), 1u);
  ASSERT_TRUE((*batch)[0].error);
  EXPECT_NE((*batch)[0].error->find("larger than the limit"), std::string::npos);
}

TEST_F(LocalSources, MissingPathsNameThePath) {
  MaildirOptions c;
  c.path = (dir_ / "nope").string();
  auto n = MakeMaildirSource(c, 1000)->Open();
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().find("nope: does not exist"), std::string::npos) << n.error();
  Put(dir_ / "notmaildir" / "x", "x");
  c.path = (dir_ / "notmaildir").string();
  n = MakeMaildirSource(c, 1000)->Open();
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().find("not a Maildir"), std::string::npos) << n.error();
}

}  // namespace
}  // namespace dmarc::collect
