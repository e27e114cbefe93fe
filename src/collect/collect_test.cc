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
#include "collect/oauth_token.h"
#include "collect/source.h"
#include "testing/http_server.h"
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
