#include "config/config.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>

#include "testing/test_util.h"

namespace dmarc::config {
namespace {

using collect::After;
using log::SyslogTransport;

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = dmarc::testing::FreshTestDir("dmarc-config"); }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }

  Result<Config> Load(const std::string& toml) {
    return LoadConfig(Write("c.toml", toml), [this](const std::string& n) -> const char* {
      auto it = env_.find(n);
      return it == env_.end() ? nullptr : it->second.c_str();
    });
  }

  fs::path dir_;
  std::map<std::string, std::string> env_;
};

// No --config: $DMARC_REPORT_CONFIG (empty: no file), else the system file when it exists, else
// none; never a file of the working folder.
TEST_F(ConfigTest, DefaultConfigPathOrder) {
  const std::string system = (dir_ / "etc.toml").string();
  auto env = [this](const std::string& n) -> const char* {
    auto it = env_.find(n);
    return it == env_.end() ? nullptr : it->second.c_str();
  };
  EXPECT_EQ(DefaultConfigPath(env, system), "");
  Write("etc.toml", "[store]\n");
  EXPECT_EQ(DefaultConfigPath(env, system), system);
  env_["DMARC_REPORT_CONFIG"] = "/srv/other.toml";
  EXPECT_EQ(DefaultConfigPath(env, system), "/srv/other.toml");
  env_["DMARC_REPORT_CONFIG"] = "";
  EXPECT_EQ(DefaultConfigPath(env, system), "");
  env_.clear();
  const fs::path before = fs::current_path();
  fs::current_path(dir_);
  Write("dmarc-report.toml", "[store]\n");
  EXPECT_EQ(DefaultConfigPath(env, (dir_ / "missing.toml").string()), "");
  fs::current_path(before);
  EXPECT_STREQ(kSystemConfigPath, "/etc/dmarc-report/dmarc-report.toml");
}

TEST_F(ConfigTest, ReadsTheDocumentedExample) {
  auto c = Load(R"(
[store]
url = "sqlite:data/x.db"
[imap]
host = "mail.example.com"
port = 993
tls = "tls"
verify_tls = true
user = "dmarc"
password = "secret"
folder = "INBOX"
after = "move"
move_to = "done/[YEAR]/week_[WEEK]"
batch_size = 50
[maildir]
path = "/var/mail/dmarc"
)");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->store.url, "sqlite:data/x.db");
  ASSERT_TRUE(c->imap);
  EXPECT_EQ(c->imap->host, "mail.example.com");
  EXPECT_EQ(c->imap->port, 993);
  EXPECT_EQ(c->imap->password, "secret");
  EXPECT_EQ(c->imap->after, After::kMove);
  EXPECT_EQ(c->imap->move_to, "done/[YEAR]/week_[WEEK]");
  EXPECT_EQ(c->imap->batch_size, 50);
  ASSERT_TRUE(c->maildir);
  EXPECT_EQ(c->maildir->path, "/var/mail/dmarc");
  EXPECT_FALSE(c->pop3);
  EXPECT_FALSE(c->mbox);
}

TEST_F(ConfigTest, EnvironmentOverridesTheFileAndCanEnableASource) {
  env_["DMARC_REPORT_IMAP_HOST"] = "other.example";
  env_["DMARC_REPORT_IMAP_PORT"] = "1143";
  env_["DMARC_REPORT_IMAP_VERIFY_TLS"] = "false";
  env_["DMARC_REPORT_DIRECTORY_PATH"] = "/drop";
  auto c = Load("[imap]\nhost = \"mail.example.com\"\nuser = \"u\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->imap->host, "other.example");
  EXPECT_EQ(c->imap->port, 1143);
  EXPECT_FALSE(c->imap->verify_tls);
  ASSERT_TRUE(c->directory);
  EXPECT_EQ(c->directory->path, "/drop");
}

TEST_F(ConfigTest, SecretsComeFromFilesWithoutTheTrailingNewline) {
  const std::string secret = Write("secret", "p4ss word\n");
  auto c = Load("[imap]\nhost = \"h\"\nuser = \"u\"\npassword_file = \"" + secret + "\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->imap->password, "p4ss word");

  env_["DMARC_REPORT_IMAP_PASSWORD_FILE"] = Write("secret2", "from-env\r\n");
  c = Load("[imap]\nhost = \"h\"\nuser = \"u\"\npassword = \"inline\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->imap->password, "from-env");
}

TEST_F(ConfigTest, StoreTableAloneWithPasswordFileAndReadUrl) {
  const std::string secret = Write("pg", "pg-pass\n");
  const std::string file = Write("s.toml",
                                 "[store]\nurl = \"postgresql://dmarc@db/dmarc\"\n"
                                 "read_url = \"postgresql://dmarc@standby/dmarc\"\n"
                                 "[imap]\nthis_table = \"is not read\"\n");
  auto env = [this](const std::string& n) -> const char* {
    auto it = env_.find(n);
    return it == env_.end() ? nullptr : it->second.c_str();
  };
  std::vector<std::string> secrets, warnings;
  env_["DMARC_REPORT_STORE_PASSWORD_FILE"] = secret;
  auto c = LoadStoreConfig(file, env, secrets, warnings);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->url, "postgresql://dmarc@db/dmarc");
  EXPECT_EQ(c->read_url, "postgresql://dmarc@standby/dmarc");
  EXPECT_EQ(c->password, "pg-pass");
  // Logging keeps it out of every line.
  EXPECT_NE(std::find(secrets.begin(), secrets.end(), "pg-pass"), secrets.end());
  // The environment alone, and the key in the file.
  env_.clear();
  env_["DMARC_REPORT_STORE_URL"] = "postgresql://u@h/d";
  secrets.clear();
  c = LoadStoreConfig("", env, secrets, warnings);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->url, "postgresql://u@h/d");
  EXPECT_TRUE(c->password.empty());
  EXPECT_TRUE(secrets.empty());
  auto full = Load("[store]\nurl = \"postgresql://u@h/d\"\npassword_file = \"" + secret +
                   "\"\n[directory]\npath = \"in\"\n");
  ASSERT_TRUE(full) << full.error();
  EXPECT_EQ(full->store.password, "pg-pass");
  EXPECT_NE(std::find(full->secrets.begin(), full->secrets.end(), "pg-pass"), full->secrets.end());
  env_.clear();
  auto bad = LoadStoreConfig(Write("b.toml", "[store]\nurl = \"\"\npasword_file = \"x\"\n"), env,
                             secrets, warnings);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("store.url: must not be empty"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("store.pasword_file: unknown key"), std::string::npos) << bad.error();
}

TEST_F(ConfigTest, DefaultPortsFollowTheTlsMode) {
  auto c = Load(
      "[imap]\nhost = \"h\"\nuser = \"u\"\ntls = \"starttls\"\n[pop3]\nhost = \"h\"\n"
      "user = \"u\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->imap->port, 143);
  EXPECT_EQ(c->pop3->port, 995);
}

TEST_F(ConfigTest, EveryProblemIsReportedNamingItsKey) {
  auto c = Load(R"(
[imap]
host = "h"
port = 70000
tls = "ssl"
verify_tls = "yes"
after = "move"
hots = "typo"
[mbox]
[weird]
)");
  ASSERT_FALSE(c);
  const std::string& e = c.error();
  EXPECT_NE(e.find("imap.port: must be 1..65535, not 70000"), std::string::npos) << e;
  EXPECT_NE(e.find("imap.tls: must be one of \"tls\", \"starttls\", \"none\", not \"ssl\""),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("imap.verify_tls: must be true or false"), std::string::npos) << e;
  EXPECT_NE(e.find("imap.user: is required"), std::string::npos) << e;
  EXPECT_NE(e.find("imap.move_to: is required with after = \"move\""), std::string::npos) << e;
  EXPECT_NE(e.find("imap.hots: unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("mbox.path: is required"), std::string::npos) << e;
  EXPECT_NE(e.find("[weird]: unknown table"), std::string::npos) << e;
}

TEST_F(ConfigTest, BadEnvironmentValuesNameTheVariable) {
  env_["DMARC_REPORT_IMAP_PORT"] = "99x";
  auto c = Load("[imap]\nhost = \"h\"\nuser = \"u\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("DMARC_REPORT_IMAP_PORT: must be an integer, not \"99x\""),
            std::string::npos)
      << c.error();
}

TEST_F(ConfigTest, SyntaxErrorsNameTheLine) {
  auto c = Load("[imap]\nhost = \n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("c.toml:2:"), std::string::npos) << c.error();
}

// A delegated IMAP sign-in (device code): a public client needs no secret, but the token URL,
// the key file and a scope go with the device URL, and the key file with nothing else.
TEST_F(ConfigTest, ImapDeviceCodeNeedsTheTokenUrlAKeyFileAndAScope) {
  const std::string head =
      "[imap]\nhost = \"outlook.office365.com\"\nuser = \"dmarc@example.com\"\n"
      "auth = \"xoauth2\"\nclient_id = \"app\"\n"
      "oauth2_device_url = \"https://login.example/t/oauth2/v2.0/devicecode\"\n";
  auto c = Load(head +
                "oauth2_token_url = \"https://login.example/t/oauth2/v2.0/token\"\n"
                "token_key_file = \"/etc/dmarc-report/token.key\"\n"
                "scope = \"https://outlook.office.com/IMAP.AccessAsUser.All offline_access\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->imap->oauth2_device_url, "https://login.example/t/oauth2/v2.0/devicecode");
  EXPECT_EQ(c->imap->token_key_file, "/etc/dmarc-report/token.key");
  c = Load(head);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("oauth2_token_url: is required with oauth2_device_url"),
            std::string::npos)
      << c.error();
  EXPECT_NE(c.error().find("token_key_file: is required with oauth2_device_url"), std::string::npos)
      << c.error();
  EXPECT_NE(c.error().find("scope: is required with oauth2_device_url"), std::string::npos)
      << c.error();
  c = Load(
      "[imap]\nhost = \"h\"\nuser = \"u\"\nauth = \"xoauth2\"\ntoken_file = \"/run/t\"\n"
      "token_key_file = \"/k\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("token_key_file: goes with oauth2_device_url"), std::string::npos)
      << c.error();
}

TEST_F(ConfigTest, OAuth2AuthTakesExactlyOneTokenSource) {
  auto c =
      Load("[imap]\nhost = \"h\"\nuser = \"u\"\nauth = \"xoauth2\"\ntoken_file = \"/run/t\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->imap->auth, "xoauth2");
  EXPECT_EQ(c->imap->token_file, "/run/t");
  c = Load(
      "[imap]\nhost = \"h\"\nuser = \"u\"\nauth = \"oauthbearer\"\n"
      "token_command = [\"/usr/local/bin/get-token\", \"--tenant\", \"t\"]\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->imap->token_command,
            (std::vector<std::string>{"/usr/local/bin/get-token", "--tenant", "t"}));

  const std::string secret = Write("client-secret", "s3cr3t-value\n");
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  c = Load(
      "[imap]\nhost = \"h\"\nuser = \"u\"\nauth = \"xoauth2\"\n"
      "oauth2_token_url = \"https://login.example/t/oauth2/v2.0/token\"\nclient_id = \"app\"\n"
      "client_secret_file = \"" +
      secret + "\"\nscope = \"https://outlook.office365.com/.default\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->imap->client_secret, "s3cr3t-value");
  EXPECT_NE(std::find(c->secrets.begin(), c->secrets.end(), "s3cr3t-value"), c->secrets.end());
  EXPECT_TRUE(c->warnings.empty());

  // A Google service account's key: the token source for Gmail with domain-wide delegation.
  const std::string key = Write("sa.json", "{}\n");
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
  c = Load(
      "[imap]\nhost = \"imap.gmail.com\"\nuser = \"dmarc@example.com\"\nauth = \"xoauth2\"\n"
      "service_account_file = \"" +
      key + "\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->imap->service_account_file, key);
  EXPECT_TRUE(c->warnings.empty());
  fs::permissions(key, fs::perms::others_read, fs::perm_options::add);
  c = Load(
      "[imap]\nhost = \"imap.gmail.com\"\nuser = \"dmarc@example.com\"\nauth = \"xoauth2\"\n"
      "service_account_file = \"" +
      key + "\"\n");
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_EQ(c->warnings[0].find("[imap] service_account_file: " + key + " is readable by other"),
            0u)
      << c->warnings[0];

  // A password beside an OAuth2 auth is never sent: said, so that nobody believes it is used.
  c = Load(
      "[imap]\nhost = \"h\"\nuser = \"u\"\nauth = \"xoauth2\"\ntoken_file = \"/run/t\"\n"
      "password = \"long-enough-pw-1\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_NE(std::find(c->warnings.begin(), c->warnings.end(),
                      "[imap] password: is not used: auth = \"xoauth2\" signs in with a token"),
            c->warnings.end());

  // [imap] keys after host and user → an error they give.
  const std::pair<const char*, const char*> kMistakes[] = {
      {"auth = \"xoauth2\"\n",
       "imap.auth: \"xoauth2\" needs a token source: token_file, token_command, "
       "oauth2_token_url or service_account_file"},
      {"auth = \"xoauth2\"\ntoken_file = \"/t\"\ntoken_command = [\"x\"]\n",
       "imap.auth: give one token source: token_file, token_command, oauth2_token_url or "
       "service_account_file"},
      {"service_account_file = \"/sa.json\"\n",
       "imap.service_account_file: goes with auth = \"xoauth2\" or \"oauthbearer\""},
      {"token_file = \"/t\"\n", "imap.token_file: goes with auth = \"xoauth2\" or \"oauthbearer\""},
      {"auth = \"xoauth2\"\noauth2_token_url = \"https://login.example/token\"\n",
       "imap.client_id: is required with oauth2_token_url"},
      {"auth = \"xoauth2\"\noauth2_token_url = \"https://login.example/token\"\n",
       "imap.client_secret: is required"},
      {"auth = \"oauth\"\n",
       "imap.auth: must be \"login\", \"plain\", \"xoauth2\" or \"oauthbearer\", not \"oauth\""},
  };
  for (const auto& [keys, error] : kMistakes) {
    c = Load(std::string("[imap]\nhost = \"h\"\nuser = \"u\"\n") + keys);
    ASSERT_FALSE(c) << keys;
    EXPECT_NE(c.error().find(error), std::string::npos) << c.error();
  }
}

TEST_F(ConfigTest, ASecretFileThatCannotBeReadIsAnError) {
  auto c = Load("[imap]\nhost = \"h\"\nuser = \"u\"\npassword_file = \"/nonexistent/x\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("imap.password_file: cannot read /nonexistent/x"), std::string::npos)
      << c.error();
}

TEST_F(ConfigTest, GraphTableWithDefaultsSecretFileAndEnvironment) {
  const std::string secret = Write("graph-secret", "s3cret-value-from-file\n");
  auto c = Load("[graph]\ntenant_id = \"contoso\"\nclient_id = \"app-1\"\nclient_secret_file = \"" +
                secret + "\"\nmailbox = \"dmarc@example.com\"\nfolder = \"Inbox/DMARC\"\n");
  ASSERT_TRUE(c) << c.error();
  ASSERT_TRUE(c->graph);
  EXPECT_EQ(c->graph->tenant_id, "contoso");
  EXPECT_EQ(c->graph->client_secret, "s3cret-value-from-file");
  EXPECT_EQ(c->graph->mailbox, "dmarc@example.com");
  EXPECT_EQ(c->graph->folder, "Inbox/DMARC");
  EXPECT_EQ(c->graph->after, After::kArchive);
  EXPECT_EQ(c->graph->archive_folder, "Archive");
  EXPECT_EQ(c->graph->graph_url, "https://graph.microsoft.com/v1.0");
  EXPECT_EQ(c->graph->login_url, "https://login.microsoftonline.com");
  EXPECT_EQ(c->graph->scope, "https://graph.microsoft.com/.default");
  EXPECT_EQ(c->graph->batch_requests, 20);
  EXPECT_NE(std::find(c->secrets.begin(), c->secrets.end(), "s3cret-value-from-file"),
            c->secrets.end());

  // The environment alone can configure it; a trailing '/' of a URL goes.
  env_["DMARC_REPORT_GRAPH_TENANT_ID"] = "t";
  env_["DMARC_REPORT_GRAPH_CLIENT_ID"] = "c";
  env_["DMARC_REPORT_GRAPH_CLIENT_SECRET_FILE"] = secret;
  env_["DMARC_REPORT_GRAPH_MAILBOX"] = "shared@example.com";
  env_["DMARC_REPORT_GRAPH_AFTER"] = "move";
  env_["DMARC_REPORT_GRAPH_MOVE_TO"] = "Done/[YEAR]";
  env_["DMARC_REPORT_GRAPH_GRAPH_URL"] = "http://127.0.0.1:8080/v1.0/";
  c = Load("");
  ASSERT_TRUE(c) << c.error();
  ASSERT_TRUE(c->graph);
  EXPECT_EQ(c->graph->mailbox, "shared@example.com");
  EXPECT_EQ(c->graph->folder, "Inbox");
  EXPECT_EQ(c->graph->after, After::kMove);
  EXPECT_EQ(c->graph->move_to, "Done/[YEAR]");
  EXPECT_EQ(c->graph->graph_url, "http://127.0.0.1:8080/v1.0");
}

TEST_F(ConfigTest, GraphProblemsNameTheirKeys) {
  auto c = Load(
      "[graph]\nafter = \"move\"\nlogin_url = \"login.microsoftonline.com\"\n"
      "folder = \"\"\nclient_secret = \"inline-secret-1\"\nbatch_requests = 21\n");
  ASSERT_FALSE(c);
  for (const char* want :
       {"graph.tenant_id: is required", "graph.batch_requests: must be 1..20, not 21",
        "graph.client_id: is required", "graph.mailbox: is required", "graph.folder: is required",
        "graph.move_to: is required with after = \"move\"",
        "graph.login_url: must be an https:// or http:// URL, not \"login.microsoftonline.com\""}) {
    EXPECT_NE(c.error().find(want), std::string::npos) << want << "\n" << c.error();
  }
  c = Load("[graph]\ntenant_id = \"t\"\nclient_id = \"c\"\nmailbox = \"m@example.com\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("graph.client_secret: give one of client_secret_file (or "
                           "client_secret) and certificate_file"),
            std::string::npos)
      << c.error();
  c = Load(
      "[graph]\ntenant_id = \"t\"\nclient_id = \"c\"\nmailbox = \"m@example.com\"\n"
      "certificate_file = \"/etc/app.pem\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->graph->certificate_file, "/etc/app.pem");
}

TEST_F(ConfigTest, GraphDeviceCodeNeedsAKeyFileNoSecretAndOfflineAccess) {
  const std::string base =
      "[graph]\nauth = \"device_code\"\ntenant_id = \"t\"\nclient_id = \"c\"\n"
      "mailbox = \"m@example.com\"\n";
  auto c = Load(base + "token_key_file = \"/var/lib/dmarc/token.key\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->graph->auth, "device_code");
  EXPECT_EQ(c->graph->scope, collect::kGraphDelegatedScope) << "the delegated default";
  c = Load(base + "client_secret = \"x\"\nscope = \"https://graph.microsoft.com/Mail.Read\"\n");
  ASSERT_FALSE(c);
  for (const char* want :
       {"graph.token_key_file: is required with auth = \"device_code\"",
        "graph.client_secret: goes with auth = \"app\"",
        "graph.scope: must include offline_access with auth = \"device_code\""}) {
    EXPECT_NE(c.error().find(want), std::string::npos) << want << "\n" << c.error();
  }
  c = Load(base + "auth = \"password\"\n");
  ASSERT_FALSE(c);
  c = Load(
      "[graph]\nauth = \"delegated\"\ntenant_id = \"t\"\nclient_id = \"c\"\n"
      "mailbox = \"m@example.com\"\nclient_secret = \"s\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("graph.auth: must be \"app\" or \"device_code\", not \"delegated\""),
            std::string::npos)
      << c.error();
}

TEST_F(ConfigTest, GmailTableDefaultsAndItsTwoCredentials) {
  auto c = Load("[gmail]\nuser = \"dmarc@example.com\"\nservice_account_file = \"/etc/sa.json\"\n");
  ASSERT_TRUE(c) << c.error();
  ASSERT_TRUE(c->gmail);
  EXPECT_EQ(c->gmail->label, "INBOX");
  EXPECT_EQ(c->gmail->query, "");
  EXPECT_EQ(c->gmail->after, After::kArchive);
  EXPECT_EQ(c->gmail->archive_folder, "Archive");
  EXPECT_EQ(c->gmail->api_url, "https://gmail.googleapis.com");
  EXPECT_EQ(c->gmail->token_url, "https://oauth2.googleapis.com/token");
  EXPECT_EQ(c->gmail->scope, "https://www.googleapis.com/auth/gmail.modify");

  // A refresh token from the environment alone; the secrets are redacted.
  const std::string refresh = Write("gmail-refresh", "1//0refresh-token-value\n");
  env_["DMARC_REPORT_GMAIL_USER"] = "me@example.com";
  env_["DMARC_REPORT_GMAIL_CLIENT_ID"] = "123-abc.apps.googleusercontent.com";
  env_["DMARC_REPORT_GMAIL_CLIENT_SECRET"] = "GOCSPX-s3cret";
  env_["DMARC_REPORT_GMAIL_REFRESH_TOKEN_FILE"] = refresh;
  env_["DMARC_REPORT_GMAIL_LABEL"] = "";
  env_["DMARC_REPORT_GMAIL_QUERY"] = "has:attachment";
  env_["DMARC_REPORT_GMAIL_AFTER"] = "delete";
  c = Load("");
  ASSERT_TRUE(c) << c.error();
  ASSERT_TRUE(c->gmail);
  EXPECT_EQ(c->gmail->refresh_token, "1//0refresh-token-value");
  EXPECT_EQ(c->gmail->label, "");
  EXPECT_EQ(c->gmail->after, After::kDelete);
  for (const char* secret : {"1//0refresh-token-value", "GOCSPX-s3cret"}) {
    EXPECT_NE(std::find(c->secrets.begin(), c->secrets.end(), secret), c->secrets.end()) << secret;
  }
}

TEST_F(ConfigTest, GmailProblemsNameTheirKeys) {
  auto c = Load("[gmail]\nlabel = \"\"\napi_url = \"gmail.googleapis.com\"\n");
  ASSERT_FALSE(c);
  for (const char* want : {"gmail.user: is required", "gmail.label: give a label, a query, or both",
                           "gmail.service_account_file: give one of service_account_file and a "
                           "refresh token",
                           "gmail.api_url: must be an https:// or http:// URL"}) {
    EXPECT_NE(c.error().find(want), std::string::npos) << want << "\n" << c.error();
  }
  c = Load("[gmail]\nuser = \"u@example.com\"\nclient_id = \"c\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("gmail.client_secret: is required with a refresh token"),
            std::string::npos)
      << c.error();
  EXPECT_NE(c.error().find("gmail.refresh_token: is required with a refresh token"),
            std::string::npos)
      << c.error();
}

TEST_F(ConfigTest, NoSourceIsAnError) {
  auto c = Load("[store]\nurl = \"x.db\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("no source configured"), std::string::npos) << c.error();
}

TEST_F(ConfigTest, AnInlinePasswordInAReadableFileIsWarnedAbout) {
  const std::string text = "[imap]\nhost = \"h\"\nuser = \"u\"\npassword = \"pw-4f7a9c2e\"\n";
  auto c = Load(text);
  ASSERT_TRUE(c) << c.error();
  fs::permissions(dir_ / "c.toml", fs::perms::owner_read | fs::perms::owner_write);
  c = LoadConfig((dir_ / "c.toml").string(), nullptr);
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->warnings.empty());
  fs::permissions(dir_ / "c.toml", fs::perms::others_read, fs::perm_options::add);
  c = LoadConfig((dir_ / "c.toml").string(), nullptr);
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_NE(c->warnings[0].find("imap.password is in a file other users can read"),
            std::string::npos)
      << c->warnings[0];
  EXPECT_EQ(c->warnings[0].find("pw-4f7a9c2e"), std::string::npos) << "never the password itself";
}

// A secret under 8 characters is weak, and redacting it from log lines mangles them: warned
// about, naming the key, never the secret.
TEST_F(ConfigTest, ShortSecretsAreWarnedAbout) {
  const std::string secret = Write("secret", "s3cr\n");
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  auto c = Load("[imap]\nhost = \"h\"\nuser = \"u\"\npassword_file = \"" + secret + "\"\n");
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_EQ(c->warnings[0].find("[imap] password: the secret is shorter than 8 characters"), 0u)
      << c->warnings[0];
  EXPECT_EQ(c->warnings[0].find("s3cr"), std::string::npos);
  std::ofstream(secret) << "long-enough-1234\n";
  c = Load("[imap]\nhost = \"h\"\nuser = \"u\"\npassword_file = \"" + secret + "\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->warnings.empty());
}

TEST_F(ConfigTest, SecretTokenAndUsersFilesOthersCanReadAreWarnedAbout) {
  const std::string secret = Write("secret", "p4ssw0rd-long\n");
  const std::string token = Write("token", "0123456789abcdef0123\n");
  const std::string users = Write("users", "ann:$argon2id$...\n");
  for (const auto& f : {secret, token, users}) fs::permissions(f, fs::perms::owner_read);
  const std::string text = "[imap]\nhost = \"h\"\nuser = \"u\"\npassword_file = \"" + secret +
                           "\"\n[web]\ntoken_file = \"" + token + "\"\nusers_file = \"" + users +
                           "\"\n";
  auto c = Load(text);  // no inline password: the configuration's own mode does not matter
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->warnings.empty());
  fs::permissions(secret, fs::perms::group_read, fs::perm_options::add);
  fs::permissions(token, fs::perms::others_read, fs::perm_options::add);
  fs::permissions(users, fs::perms::others_read, fs::perm_options::add);
  c = Load(text);
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->warnings.size(), 3u);
  EXPECT_EQ(c->warnings[0],
            fmt::format("[imap] password_file: {} is readable by other users; chmod 600 {}", secret,
                        secret));
  EXPECT_NE(c->warnings[1].find("[web] token_file: " + token), std::string::npos);
  EXPECT_NE(c->warnings[2].find("[web] users_file: " + users), std::string::npos);
}

TEST_F(ConfigTest, ReadsLogConsulAndRetention) {
  Write("token", "consul-token\n");
  auto c = Load(R"(
[store]
retention_days = 400
[directory]
path = "inbox"
[log]
level = "debug"
stderr = false
file = "/var/log/dmarc-report.log"
syslog = "tcp://[::1]:6514"
syslog_facility = "local3"
[consul]
service_port = 9090
token_file = ")" +
                (dir_ / "token").string() + R"("
)");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->store.retention_days, 400);
  EXPECT_EQ(c->log.level, "debug");
  EXPECT_FALSE(c->log.to_stderr);
  EXPECT_EQ(c->log.file, "/var/log/dmarc-report.log");
  EXPECT_EQ(c->log.syslog_transport, SyslogTransport::kTcp);
  EXPECT_EQ(c->log.syslog_host, "::1");
  EXPECT_EQ(c->log.syslog_port, 6514);
  EXPECT_EQ(c->log.syslog_facility, "local3");
  ASSERT_TRUE(c->consul);
  EXPECT_EQ(c->consul->address, "http://127.0.0.1:8500");
  EXPECT_EQ(c->consul->service_port, 9090);
  EXPECT_EQ(c->consul->token, "consul-token");
  EXPECT_EQ(c->secrets, std::vector<std::string>{"consul-token"});
}

TEST_F(ConfigTest, WebTableWithDefaultsAndEnvironment) {
  auto c = Load("[directory]\npath = \"in\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->web.enabled);
  EXPECT_EQ(c->web.listen, "127.0.0.1:8080");
  EXPECT_FALSE(c->web.show_failure_samples);

  env_["DMARC_REPORT_WEB_LISTEN"] = "127.0.0.1:0";
  c = Load(R"([directory]
path = "in"
[web]
listen = "0.0.0.0:9000"
token_file = "/run/secrets/web-token"
users_file = "/etc/dmarc-report/users"
tls_cert = "/etc/ssl/c.pem"
tls_key = "/etc/ssl/k.pem"
show_failure_samples = true
enabled = false
)");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->web.listen, "127.0.0.1:0") << "the environment wins";
  EXPECT_FALSE(c->web.enabled);
  EXPECT_EQ(c->web.token_file, "/run/secrets/web-token");
  EXPECT_EQ(c->web.users_file, "/etc/dmarc-report/users");
  EXPECT_EQ(c->web.tls_cert, "/etc/ssl/c.pem");
  EXPECT_EQ(c->web.tls_key, "/etc/ssl/k.pem");
  EXPECT_TRUE(c->web.show_failure_samples);

  env_.clear();
  c = Load(
      "[directory]\npath = \"in\"\n[web]\ntls_cert = \"c.pem\"\nport = 1\nenabled = \"yes\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("web.tls_key: tls_cert and tls_key go together"), std::string::npos)
      << c.error();
  EXPECT_NE(c.error().find("web.port: unknown key"), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("web.enabled: must be true or false"), std::string::npos) << c.error();
}

TEST_F(ConfigTest, WebLimitsAndAllowedHosts) {
  auto c = Load("[directory]\npath = \"in\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(static_cast<const web::ServeOptions&>(c->web), web::ServeOptions{});
  env_["DMARC_REPORT_WEB_ALLOWED_HOSTS"] = "dmarc.example,dash.example";
  env_["DMARC_REPORT_WEB_IDLE_TIMEOUT"] = "30";
  c = Load(R"([directory]
path = "in"
[web]
max_connections = 100
max_connections_per_client = 8
max_header_bytes = 16384
max_headers = 50
max_body_bytes = 4096
sign_in_threads = 1
sign_in_queue = 4
forwarders_file = ["ours.tsv"]
)");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->web.forwarders_files, std::vector<std::string>{"ours.tsv"});
  EXPECT_EQ(c->web.allowed_hosts, (std::vector<std::string>{"dmarc.example", "dash.example"}));
  EXPECT_EQ(c->web.idle_timeout, 30u);
  EXPECT_EQ(c->web.max_connections, 100u);
  EXPECT_EQ(c->web.max_connections_per_client, 8u);
  EXPECT_EQ(c->web.max_header_bytes, 16384u);
  EXPECT_EQ(c->web.max_headers, 50u);
  EXPECT_EQ(c->web.max_body_bytes, 4096u);
  EXPECT_EQ(c->web.sign_in_threads, 1u);
  EXPECT_EQ(c->web.sign_in_queue, 4u);
  env_.clear();
  c = Load("[directory]\npath = \"in\"\n[web]\nmax_connections = 0\nmax_body_bytes = 1\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("web.max_connections: must be 1..100000, not 0"), std::string::npos)
      << c.error();
  EXPECT_NE(c.error().find("web.max_body_bytes: must be 1024..16777216, not 1"), std::string::npos)
      << c.error();
}

TEST_F(ConfigTest, SyslogTargetForms) {
  const std::pair<const char*, std::tuple<SyslogTransport, const char*, int>> cases[] = {
      {"10.0.0.5", {SyslogTransport::kUdp, "10.0.0.5", 514}},
      {"udp://log.example:5514", {SyslogTransport::kUdp, "log.example", 5514}},
      {"tcp://10.0.0.5", {SyslogTransport::kTcp, "10.0.0.5", 514}},
      {"log.example:1514", {SyslogTransport::kUdp, "log.example", 1514}},
  };
  for (const auto& [text, want] : cases) {
    auto c = Load(std::string("[directory]\npath = \"in\"\n[log]\nsyslog = \"") + text + "\"\n");
    ASSERT_TRUE(c) << text << ": " << c.error();
    EXPECT_EQ(c->log.syslog_transport, std::get<0>(want)) << text;
    EXPECT_EQ(c->log.syslog_host, std::get<1>(want)) << text;
    EXPECT_EQ(c->log.syslog_port, std::get<2>(want)) << text;
  }
  for (const char* bad : {"http://x", "x:0", "x:99999", "::1", "tcp://", "x:"}) {
    auto c = Load(std::string("[directory]\npath = \"in\"\n[log]\nsyslog = \"") + bad + "\"\n");
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.error().find("log.syslog: must be \"udp://HOST:PORT\""), std::string::npos)
        << c.error();
  }
}

TEST_F(ConfigTest, ServiceTablesReportEveryProblemWithWhatIsExpected) {
  auto c = Load(R"(
[store]
retention_days = -1
[directory]
path = "in"
[log]
level = "verbose"
syslog_facility = "local9"
[consul]
address = "127.0.0.1:8500"
check_interval = "ten seconds"
deregister_after = "5"
sevice_port = 1
)");
  ASSERT_FALSE(c);
  const std::string& e = c.error();
  for (const char* want : {
           "c.toml: store.retention_days: must be 0..100000, not -1",
           // One message on two lines.
           // NOLINTNEXTLINE(bugprone-suspicious-missing-comma)
           "c.toml: log.level: must be one of \"debug\", \"info\", \"warning\", \"error\", "
           "\"critical\", not \"verbose\"",
           "c.toml: log.syslog_facility: must be one of",
           "c.toml: consul.address: must be an http:// or https:// URL, not \"127.0.0.1:8500\"",
           "c.toml: consul.check_interval: must be a duration such as \"10s\"",
           "c.toml: consul.deregister_after: must be a duration",
           "c.toml: consul.sevice_port: unknown key (expected one of: address, check_interval,",
       }) {
    EXPECT_NE(e.find(want), std::string::npos) << "missing: " << want << "\nin:\n" << e;
  }
  // One line per problem.
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 6) << e;
}

TEST_F(ConfigTest, PasswordsAreAmongTheSecrets) {
  env_["DMARC_REPORT_POP3_PASSWORD"] = "pop-secret";
  auto c = Load(
      "[imap]\nhost = \"h\"\nuser = \"u\"\npassword = \"imap-secret\"\n"
      "[pop3]\nhost = \"h\"\nuser = \"u\"\n");
  ASSERT_TRUE(c) << c.error();
  const auto has = [&](const std::string& s) {
    return std::find(c->secrets.begin(), c->secrets.end(), s) != c->secrets.end();
  };
  EXPECT_TRUE(has("imap-secret"));
  EXPECT_TRUE(has("pop-secret"));
  // Their encoded forms too: base64 (AUTH LOGIN) and SASL PLAIN's "\0u\0imap-secret".
  EXPECT_TRUE(has("aW1hcC1zZWNyZXQ="));
  EXPECT_TRUE(has("AHUAaW1hcC1zZWNyZXQ="));
}

// A password with " or \ goes out escaped inside an IMAP quoted string, and base64-encoded with
// the user name by AUTHENTICATE PLAIN: neither form may reach a log line.
TEST_F(ConfigTest, EncodedFormsOfAPasswordAreRedactedFromLogLines) {
  auto c = Load("[imap]\nhost = \"h\"\nuser = \"ann\"\npassword = 'pa\"ss\\word'\n");
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->imap->password, "pa\"ss\\word");
  const std::string trace =
      "C: a1 LOGIN ann \"pa\\\"ss\\\\word\"\n"
      "C: a2 AUTHENTICATE PLAIN AGFubgBwYSJzc1x3b3Jk\n"
      "C: a3 AUTHENTICATE PLAIN YW5uAGFubgBwYSJzc1x3b3Jk\n"
      "C: cGEic3Ncd29yZA==\n"
      "server: password for ann is wrong";
  EXPECT_EQ(log::Redact(trace, c->secrets),
            "C: a1 LOGIN ann \"[redacted]\"\n"
            "C: a2 AUTHENTICATE PLAIN [redacted]\n"
            "C: a3 AUTHENTICATE PLAIN [redacted]\n"
            "C: [redacted]\n"
            "server: password for ann is wrong");
}

TEST_F(ConfigTest, EnrichAndFailureTablesWithEnvironmentOverrides) {
  auto c = Load("[mbox]\npath = \"m\"\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->enrich.enabled);
  EXPECT_FALSE(c->enrich.offline);
  EXPECT_EQ(c->enrich.dns_cache_ttl_seconds, 7 * 86400);
  EXPECT_EQ(c->failure.keep_sample, parse::KeepSample::kHeaders);

  c = Load(R"([mbox]
path = "m"
[enrich]
offline = true
nameservers = ["127.0.0.1:5353", "::1"]
dns_concurrency = 8
dns_timeout_ms = 300
dns_retries = 0
dns_cache_ttl = "12h"
geoip_db = ["a.mmdb", "b.mmdb"]
services_file = ["s.tsv"]
[failure]
keep_sample = "none"
)");
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->enrich.offline);
  EXPECT_EQ(c->enrich.nameservers, (std::vector<std::string>{"127.0.0.1:5353", "::1"}));
  EXPECT_EQ(c->enrich.dns_concurrency, 8u);
  EXPECT_EQ(c->enrich.dns_timeout_ms, 300);
  EXPECT_EQ(c->enrich.dns_retries, 0);
  EXPECT_EQ(c->enrich.dns_cache_ttl_seconds, 12 * 3600);
  EXPECT_EQ(c->enrich.geoip_dbs, (std::vector<std::string>{"a.mmdb", "b.mmdb"}));
  EXPECT_EQ(c->enrich.services_files, (std::vector<std::string>{"s.tsv"}));
  EXPECT_EQ(c->failure.keep_sample, parse::KeepSample::kNone);

  env_["DMARC_REPORT_ENRICH_ENABLED"] = "false";
  env_["DMARC_REPORT_ENRICH_NAMESERVERS"] = "192.0.2.1,192.0.2.2:53";
  env_["DMARC_REPORT_ENRICH_DNS_CACHE_TTL"] = "3600";
  env_["DMARC_REPORT_FAILURE_KEEP_SAMPLE"] = "full";
  c = Load("[mbox]\npath = \"m\"\n[enrich]\ndns_cache_ttl = 60\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_FALSE(c->enrich.enabled);
  EXPECT_EQ(c->enrich.nameservers, (std::vector<std::string>{"192.0.2.1", "192.0.2.2:53"}));
  EXPECT_EQ(c->enrich.dns_cache_ttl_seconds, 3600);
  EXPECT_EQ(c->failure.keep_sample, parse::KeepSample::kFull);
  env_.clear();

  c = Load(R"([mbox]
path = "m"
[enrich]
nameservers = ["dns.example"]
dns_cache_ttl = "soon"
geoip_db = "one.mmdb"
[failure]
keep_sample = "some"
)");
  ASSERT_FALSE(c);
  for (const char* expected :
       {"enrich.nameservers: nameserver \"dns.example\"", "enrich.dns_cache_ttl: must be",
        "enrich.geoip_db: must be an array of strings", "failure.keep_sample: must be one of"}) {
    EXPECT_NE(c.error().find(expected), std::string::npos) << expected << "\n" << c.error();
  }
}

// [output.NAME]: any number of tables, each with a type; the keys every output has are parsed
// here, the type's own keys passed on as text (the type's factory checks them), a secret file's
// content kept out of the logs, environment variables over the file's values.
TEST_F(ConfigTest, OutputTablesGiveEachOutputItsTypeSettingsAndOwnKeys) {
  const std::string secret = Write("hook.secret", "hmac-key-123\n");
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  env_["DMARC_REPORT_OUTPUT_ES_MAIN_URL"] = "https://es.example:9200";
  auto c = Load(fmt::format(R"([mbox]
path = "m"
[output.hook]
type = "webhook"
required = true
url = "https://receiver.example/dmarc"
secret_file = "{}"
timeout = 30
retry_min = "30s"
retry_max = "2h"
batch_size = 5
[output.es-main]
type = "elasticsearch"
url = "http://localhost:9200"
monthly = true
hosts = ["a", "b"]
)",
                            secret));
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->outputs.size(), 2u);
  // In the order of their names.
  const outputs::OutputTable& es = c->outputs[0];
  EXPECT_EQ(es.output.name, "es-main");
  EXPECT_EQ(es.output.type, "elasticsearch");
  EXPECT_FALSE(es.output.required);
  EXPECT_EQ(es.output.options,
            (std::map<std::string, std::string>{
                {"hosts", "a,b"}, {"monthly", "true"}, {"url", "https://es.example:9200"}}));
  EXPECT_EQ(es.delivery, outputs::DeliverySettings{});
  const outputs::OutputTable& hook = c->outputs[1];
  EXPECT_EQ(hook.output.name, "hook");
  EXPECT_TRUE(hook.output.required);
  EXPECT_EQ(hook.output.options.at("secret_file"), secret);
  EXPECT_EQ(hook.output.options.at("timeout"), "30");
  EXPECT_EQ(hook.output.options.count("retry_min"), 0u);
  EXPECT_EQ(hook.delivery.retry_min_seconds, 30);
  EXPECT_EQ(hook.delivery.retry_max_seconds, 7200);
  EXPECT_EQ(hook.delivery.batch_size, 5u);
  EXPECT_NE(std::find(c->secrets.begin(), c->secrets.end(), "hmac-key-123"), c->secrets.end());
  env_.clear();

  c = Load(R"([mbox]
path = "m"
[output.a]
url = "x"
[output.b]
type = "webhook"
retry_min = 60
retry_max = 10
[output.c]
type = "webhook"
nested = { x = 1 }
[output."bad name"]
type = "webhook"
)");
  ASSERT_FALSE(c);
  for (const char* expected :
       {"output.a.type: is required", "output.b.retry_max: must not be less than retry_min",
        "output.c.nested: must be a string, a number, a boolean or an array of strings",
        "[output.bad name]: must be a table named"}) {
    EXPECT_NE(c.error().find(expected), std::string::npos) << expected << "\n" << c.error();
  }
  // The store commands read only the outputs.
  std::vector<std::string> secrets, warnings;
  auto only =
      LoadOutputsConfig(Write("o.toml", "[output.x]\ntype = \"webhook\"\n"), {}, secrets, warnings);
  ASSERT_TRUE(only.ok()) << only.error();
  ASSERT_EQ(only->size(), 1u);
  EXPECT_EQ((*only)[0].output.type, "webhook");
}

// DMARC_REPORT_OUTPUTS: [output.NAME] tables given by the environment alone (a container's
// configuration), beside the file's, each key still overridable by its own variable; the store
// commands read them without a file; a name in both, other tables or bad TOML are refused.
TEST_F(ConfigTest, OutputsCanBeGivenByTheEnvironmentAlone) {
  env_["DMARC_REPORT_OUTPUTS"] =
      "[output.zinc]\ntype = \"zincsearch\"\nurl = \"http://127.0.0.1:4080\"\nuser = \"admin\"\n"
      "[output.hook]\ntype = \"webhook\"\nbatch_size = 7\n";
  env_["DMARC_REPORT_OUTPUT_ZINC_URL"] = "http://zinc.internal:4080";
  auto c = Load("[mbox]\npath = \"m\"\n[output.es]\ntype = \"elasticsearch\"\n");
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->outputs.size(), 3u);
  EXPECT_EQ(c->outputs[0].output.name, "es");  // by name, wherever given
  EXPECT_EQ(c->outputs[1].output.name, "hook");
  EXPECT_EQ(c->outputs[1].delivery.batch_size, 7u);
  EXPECT_EQ(c->outputs[2].output.name, "zinc");
  EXPECT_EQ(c->outputs[2].output.type, "zincsearch");
  EXPECT_EQ(c->outputs[2].output.options,
            (std::map<std::string, std::string>{{"url", "http://zinc.internal:4080"},
                                                {"user", "admin"}}));
  const EnvLookup env = [this](const std::string& n) -> const char* {
    auto it = env_.find(n);
    return it == env_.end() ? nullptr : it->second.c_str();
  };
  std::vector<std::string> secrets, warnings;
  auto only = LoadOutputsConfig("", env, secrets, warnings);
  ASSERT_TRUE(only.ok()) << only.error();
  ASSERT_EQ(only->size(), 2u);
  EXPECT_EQ((*only)[1].output.options.at("url"), "http://zinc.internal:4080");

  for (const auto& [value, expected] : std::vector<std::pair<std::string, std::string>>{
           {"[output.es]\ntype = \"webhook\"\n",
            "[output.es]: given both in the file and in DMARC_REPORT_OUTPUTS"},
           {"[store]\nurl = \"x\"\n",
            "DMARC_REPORT_OUTPUTS: [store]: only [output.NAME] tables may be given here"},
           {"[output.x\n", "DMARC_REPORT_OUTPUTS:1:"},
           {"[output.\"bad name\"]\ntype = \"webhook\"\n",
            "DMARC_REPORT_OUTPUTS: [output.bad name]: must be a table named"},
           {std::string(70 * 1024, '#'), "DMARC_REPORT_OUTPUTS: longer than 65536 bytes"}}) {
    env_["DMARC_REPORT_OUTPUTS"] = value;
    c = Load("[mbox]\npath = \"m\"\n[output.es]\ntype = \"elasticsearch\"\n");
    ASSERT_FALSE(c) << value;
    EXPECT_NE(c.error().find(expected), std::string::npos) << expected << "\n" << c.error();
  }
}

// [web] editors name users of users_file: without that file they name nobody.
TEST_F(ConfigTest, WebEditorsNeedAUsersFile) {
  auto c = Load("[mbox]\npath = \"m\"\n[web]\neditors = [\"alice\"]\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("web.editors: names users of users_file, which is not set"),
            std::string::npos)
      << c.error();
  c = Load("[mbox]\npath = \"m\"\n[web]\nusers_file = \"u\"\neditors = [\"alice\", \"bob\"]\n");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->web.editors, (std::vector<std::string>{"alice", "bob"}));
}
TEST_F(ConfigTest, SmtpTableIsASourceWithItsLimitsAndNeedsAnAllowList) {
  auto c = Load(R"(
[smtp]
listen = "127.0.0.1:2525"
accept = ["dmarc@reports.example.com", "tls.example.org"]
after = "delete"
max_message_bytes = 65536
command_timeout = "2m"
)");
  ASSERT_TRUE(c) << c.error();
  ASSERT_TRUE(c->smtp);
  EXPECT_EQ(c->smtp->listen, "127.0.0.1:2525");
  EXPECT_EQ(c->smtp->accept.size(), 2u);
  EXPECT_EQ(c->smtp->after, After::kDelete);
  EXPECT_EQ(c->smtp->max_message_bytes, 65536);
  EXPECT_EQ(c->smtp->command_timeout, 120);
  EXPECT_EQ(c->smtp->data_timeout, 600);
  EXPECT_EQ(c->smtp->max_recipients, 100);

  // The environment alone can configure it.
  env_["DMARC_REPORT_SMTP_ACCEPT"] = "reports.example.com";
  env_["DMARC_REPORT_SMTP_MAX_RECIPIENTS"] = "5";
  c = Load("");
  ASSERT_TRUE(c) << c.error();
  ASSERT_TRUE(c->smtp);
  EXPECT_EQ(c->smtp->accept, std::vector<std::string>{"reports.example.com"});
  EXPECT_EQ(c->smtp->max_recipients, 5);
  env_.clear();

  c = Load("[smtp]\nlisten = \"0.0.0.0:25\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("smtp.accept: is required"), std::string::npos) << c.error();
  c = Load("[smtp]\naccept = [\"*\"]\ntls_cert = \"c.pem\"\nafter = \"keep\"\n");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("smtp.accept: \"*\": must be an address"), std::string::npos)
      << c.error();
  EXPECT_NE(c.error().find("smtp.tls_key: tls_cert and tls_key go together"), std::string::npos)
      << c.error();
  EXPECT_NE(c.error().find("smtp.after: must be one of"), std::string::npos) << c.error();
}

}  // namespace
}  // namespace dmarc::config
