// The parsedmarc INI converter: what configparser accepts and refuses, and that the TOML it
// writes is what our own configuration loader reads back, key by key.
#include "app/parsedmarc_ini.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "testing/test_util.h"

namespace dmarc::app {
namespace {

namespace fs = std::filesystem;
using testing::FreshTestDir;
using testing::TestData;

config::EnvLookup NoEnv() {
  return [](const std::string&) -> const char* { return nullptr; };
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string AllWarnings(const ParsedmarcConversion& c) {
  std::string all;
  for (const auto& w : c.warnings) all += w + "\n";
  return all;
}

class ParsedmarcIni : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir("dmarc-parsedmarc-ini");
    options_.secrets_dir = dir_.string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The password file the converted TOML names, as the user would create it.
  void WritePasswordFile(const std::string& password) {
    const auto file = dir_ / "imap-password";
    std::ofstream(file) << password << "\n";
    ::chmod(file.c_str(), 0600);
  }

  ParsedmarcConversion Convert(const std::string& ini) {
    auto c = ConvertParsedmarcIni(ini, "test.ini", options_);
    EXPECT_TRUE(c) << (c ? "" : c.error());
    return c ? *c : ParsedmarcConversion{};
  }

  // The converted TOML as our loader reads it (it must accept it).
  config::Config Load(const ParsedmarcConversion& c) {
    auto config = config::LoadConfigText(c.toml, "converted.toml", NoEnv());
    EXPECT_TRUE(config) << (config ? "" : config.error()) << "\n" << c.toml;
    return config ? *config : config::Config{};
  }

  std::string Error(const std::string& ini) {
    auto c = ConvertParsedmarcIni(ini, "bad.ini", options_);
    EXPECT_FALSE(c) << c->toml;
    return c ? "" : c.error();
  }

  fs::path dir_;
  ConvertOptions options_;
};

TEST_F(ParsedmarcIni, DocumentedExampleConvertsToWhatOurLoaderReadsKeyByKey) {
  auto c = ConvertParsedmarcIniFile(TestData("parsedmarc/parsedmarc.ini"), options_);
  ASSERT_TRUE(c) << c.error();
  WritePasswordFile("$uper%Secure");
  const config::Config config = Load(*c);
  ASSERT_TRUE(config.imap);
  const auto& imap = *config.imap;
  EXPECT_EQ(imap.host, "imap.example.com");
  EXPECT_EQ(imap.port, 993);
  EXPECT_EQ(imap.tls, collect::TlsMode::kTls);
  EXPECT_TRUE(imap.verify_tls);
  EXPECT_EQ(imap.user, "dmarcreports@example.com");
  EXPECT_EQ(imap.password, "$uper%Secure");  // from the file the TOML names
  EXPECT_EQ(imap.timeout, 30);               // 29.5 s, rounded up
  EXPECT_EQ(imap.folder, "INBOX/DMARC");
  EXPECT_EQ(imap.archive_folder, "Archive");
  EXPECT_EQ(imap.after, collect::After::kArchive);
  EXPECT_TRUE(imap.idle);
  EXPECT_EQ(imap.batch_size, 25);
  EXPECT_EQ(config.fetch.watch_interval, 300);
  EXPECT_EQ(config.fetch.jobs, 4u);
  EXPECT_FALSE(config.enrich.offline);
  EXPECT_EQ(config.enrich.nameservers, (std::vector<std::string>{"10.0.0.53", "10.0.0.54:5353"}));
  EXPECT_EQ(config.enrich.dns_timeout_ms, 2500);
  EXPECT_EQ(config.enrich.geoip_dbs,
            std::vector<std::string>{"/usr/share/GeoIP/GeoLite2-Country.mmdb"});
  EXPECT_EQ(config.failure.keep_sample, parse::KeepSample::kHeaders);
  EXPECT_EQ(config.log.level, "info");  // verbose = TRUE
  EXPECT_EQ(config.log.file, "/var/log/parsedmarc/parsedmarc.log");
  EXPECT_FALSE(config.mbox || config.maildir || config.directory || config.pop3);
  // Each key names the option it came from.
  EXPECT_TRUE(Has(c->toml, "folder = \"INBOX/DMARC\"  # [mailbox] reports_folder (line 33)"))
      << c->toml;
}

TEST_F(ParsedmarcIni, EveryOptionOfTheFileIsMappedOrListedNoneSilentlyDropped) {
  const std::string path = TestData("parsedmarc/parsedmarc.ini");
  auto ini = ParseIni(testing::ReadFile(path), path);
  ASSERT_TRUE(ini) << ini.error();
  auto c = ConvertParsedmarcIniFile(path, options_);
  ASSERT_TRUE(c) << c.error();
  std::size_t options = 0;
  for (const auto& s : ini->sections) {
    for (const auto& o : s.options) {
      ++options;
      EXPECT_TRUE(Has(c->toml, "[" + s.name + "] " + o.key + " (line " + std::to_string(o.line)))
          << s.name << " " << o.key << "\n"
          << c->toml;
    }
  }
  EXPECT_EQ(options, 41u);
}

TEST_F(ParsedmarcIni, OptionsWithoutEquivalentWarnNamingThemAndTheirLine) {
  auto c = ConvertParsedmarcIniFile(TestData("parsedmarc/parsedmarc.ini"), options_);
  ASSERT_TRUE(c) << c.error();
  const std::string w = AllWarnings(*c);
  const std::string file = TestData("parsedmarc/parsedmarc.ini");
  for (const char* expected :
       {":19: [general] output: no equivalent", ":40: [mailbox] since: no equivalent",
        ":43: [elasticsearch] hosts: no equivalent (yet)", ":44: [elasticsearch] ssl",
        ":47: [splunk_hec] url", ":48: [splunk_hec] token", ":49: [splunk_hec] index",
        ":52: [s3] bucket", ":56: [syslog] server", ":60: [webhook] aggregate_url",
        ":62: [webhook] timeout", ":28: [imap] password: not copied"}) {
    EXPECT_TRUE(Has(w, file + expected)) << expected << "\n" << w;
  }
  // What dmarc-report already does is listed in the TOML but is no warning.
  EXPECT_FALSE(Has(w, "save_aggregate")) << w;
  EXPECT_FALSE(Has(w, "max_retries")) << w;
  EXPECT_TRUE(Has(c->toml, "# [imap] max_retries (line 30): not needed")) << c->toml;
  // Secrets are never copied, neither into the TOML nor into a warning.
  for (const char* secret : {"uper", "HECTokenGoesHere", "es-secret"}) {
    EXPECT_FALSE(Has(c->toml, secret)) << secret;
    EXPECT_FALSE(Has(w, secret)) << secret;
  }
}

TEST_F(ParsedmarcIni, UnknownSectionsAndOptionsAreNamedNotDropped) {
  auto c = Convert(
      "[imap]\nhost = h\nuser = u\ncolour = blue\n[frobnicate]\nspeed = 3\n[empty]\n"
      "[Kafka]\nhosts = k\n");
  const std::string w = AllWarnings(c);
  EXPECT_TRUE(Has(w, "test.ini:4: [imap] colour: unknown parsedmarc option")) << w;
  EXPECT_TRUE(Has(w, "test.ini:6: [frobnicate] speed: unknown parsedmarc section")) << w;
  EXPECT_TRUE(Has(w, "test.ini:7: [empty]: unknown parsedmarc section")) << w;
  // Section names are case-sensitive in configparser: parsedmarc ignores [Kafka].
  EXPECT_TRUE(Has(w, "test.ini:9: [Kafka] hosts: unknown parsedmarc section")) << w;
  EXPECT_TRUE(Has(c.toml, "# [imap] colour (line 4): unknown")) << c.toml;
  Load(c);
}

TEST_F(ParsedmarcIni, BooleansTakeEverySpellingConfigparserAccepts) {
  for (const auto& [text, verify] : std::vector<std::pair<std::string, bool>>{{"True", false},
                                                                              {"false", true},
                                                                              {"YES", false},
                                                                              {"no", true},
                                                                              {"on", false},
                                                                              {"Off", true},
                                                                              {"1", false},
                                                                              {"0", true}}) {
    auto c = Convert("[imap]\nhost = h\nuser = u\nskip_certificate_verification = " + text + "\n");
    EXPECT_EQ(Load(c).imap->verify_tls, verify) << text;
  }
  const std::string e = Error("[general]\n\n[imap]\nhost = h\nssl = maybe\n");
  EXPECT_TRUE(Has(e, "bad.ini:5: [imap] ssl: must be true or false")) << e;
  EXPECT_TRUE(Has(e, "\"maybe\"")) << e;
}

TEST_F(ParsedmarcIni, MalformedFilesNameTheFileAndTheLine) {
  EXPECT_TRUE(Has(Error("host = h\n[imap]\n"), "bad.ini:1: an option before the first [section]"));
  EXPECT_TRUE(Has(Error("[imap]\nhost = h\njust words\n"), "bad.ini:3: expected \"key = value\""));
  EXPECT_TRUE(Has(Error("[imap]\nhost = h\nHost = i\n"),
                  "bad.ini:3: option \"host\" of [imap] given twice (first on line 2)"));
  EXPECT_TRUE(Has(Error("[imap]\n[general]\n[imap]\n"),
                  "bad.ini:3: section [imap] given twice (first on line 1)"));
  EXPECT_TRUE(Has(Error("[imap]\n= value\n"), "bad.ini:2: an option without a name"));
  EXPECT_TRUE(Has(Error("[]\n"), "bad.ini:1: a section header must be"));
  EXPECT_TRUE(Has(Error("[imap]\nhost = h\npassword = 50%off\n"),
                  "bad.ini:3: [imap] password: '%' must be followed by '%' or '('"));
  EXPECT_TRUE(Has(Error("[imap]\nuser = %(nobody)s\n"), "bad.ini:2: [imap] user: %(nobody)s"));
  EXPECT_TRUE(Has(Error("[imap]\na = %(b)s\nb = %(a)s\n"), "nested too deep"));
  EXPECT_TRUE(Has(Error("[imap]\nport = 99999\n"), "bad.ini:2: [imap] port: must be an integer"));
  EXPECT_TRUE(Has(Error("[imap]\ntimeout = nan\n"), "bad.ini:2: [imap] timeout: must be"));
  // Hostile sizes and bytes.
  EXPECT_TRUE(Has(Error("[imap]\nhost = " + std::string(kMaxIniLineBytes, 'a') + "\n"),
                  "bad.ini:2: line longer than 8192 bytes"));
  EXPECT_TRUE(Has(Error("[imap]\n\nhost = \xff\xfe\n"), "bad.ini:3: not UTF-8 text"));
  EXPECT_TRUE(Has(Error(std::string("[imap]\nhost = a\0b\n", 17)), "bad.ini:2: not UTF-8"));
  std::string huge = "[imap]\n";
  while (huge.size() <= kMaxIniBytes) huge += "# " + std::string(1000, 'x') + "\n";
  EXPECT_TRUE(Has(Error(huge), "bad.ini: larger than 1 MiB"));
  // Expansion is bounded: each level doubles the value.
  std::string bomb = "[imap]\na0 = " + std::string(8000, 'x') + "\n";
  for (int i = 1; i <= 9; ++i) {
    bomb += fmt::format("a{} = %(a{})s%(a{})s\n", i, i - 1, i - 1);
  }
  EXPECT_TRUE(Has(Error(bomb), "value longer than 64 KiB"));
  // A missing file and a directory.
  auto missing = ConvertParsedmarcIniFile((dir_ / "none.ini").string(), options_);
  ASSERT_FALSE(missing);
  EXPECT_TRUE(Has(missing.error(), "cannot read " + (dir_ / "none.ini").string()));
  EXPECT_FALSE(ConvertParsedmarcIniFile(dir_.string(), options_));
}

TEST_F(ParsedmarcIni, ContinuationLinesCommentsAndInterpolationAsConfigparser) {
  auto ini = ParseIni(
      "\xEF\xBB\xBF[DEFAULT]\ndomain = example.com\n[imap]\n  host : imap.%(domain)s  \n"
      "user = dmarc@%(DOMAIN)s\n# a comment\n  ; an indented comment\nnote = first\n  second\n\n"
      "  third\nhash = a # b\n",
      "x.ini");
  ASSERT_TRUE(ini) << ini.error();
  ASSERT_EQ(ini->sections.size(), 2u);
  const auto& opts = ini->sections[1].options;
  ASSERT_EQ(opts.size(), 4u);
  EXPECT_EQ(opts[0].key, "host");
  EXPECT_EQ(opts[0].value, "imap.example.com");
  EXPECT_EQ(opts[0].line, 4);
  EXPECT_EQ(opts[1].value, "dmarc@example.com");
  EXPECT_EQ(opts[2].value, "first\nsecond\n\nthird");
  EXPECT_EQ(opts[3].value, "a # b");  // no inline comments
  // [DEFAULT] is listed as not converted, with a warning.
  auto c = Convert("[DEFAULT]\nname = u\n[imap]\nhost = h\nuser = %(name)s\n");
  EXPECT_TRUE(Has(AllWarnings(c), "test.ini:2: [DEFAULT] name: not converted")) << c.toml;
  EXPECT_EQ(Load(c).imap->user, "u");
  // As in configparser, a reference to the option itself never ends.
  EXPECT_TRUE(Has(Error("[DEFAULT]\nuser = u\n[imap]\nuser = %(user)s\n"),
                  "bad.ini:4: [imap] user: interpolation nested too deep"));
}

TEST_F(ParsedmarcIni, ValuesAreEscapedAndReadBackUnchanged) {
  const std::string folder = "Reports \"DMARC\" \\ tab\there \xC3\xA9t\xC3\xA9 \x01";
  auto c = Convert("[imap]\nhost = h\nuser = u\n[mailbox]\nreports_folder = " + folder +
                   "\narchive_folder = a\\b\n[\x1b[31mevil]\nk\x1b]0;x = v\n");
  const auto config = Load(c);
  EXPECT_EQ(config.imap->folder, folder);
  EXPECT_EQ(config.imap->archive_folder, "a\\b");
  // Names from the file reach comments and warnings with control characters escaped.
  EXPECT_FALSE(Has(c.toml, "\x1b")) << c.toml;
  EXPECT_FALSE(Has(AllWarnings(c), "\x1b"));
  EXPECT_TRUE(Has(c.toml, "[\\x1b[31mevil] k\\x1b]0;x")) << c.toml;
  EXPECT_EQ(TomlString("a\"b\\c\n\x7f"), "\"a\\\"b\\\\c\\n\\u007F\"");
}

TEST_F(ParsedmarcIni, MailboxActionsFollowParsedmarcsPrecedence) {
  const std::string base = "[imap]\nhost = h\nuser = u\n";
  EXPECT_EQ(Load(Convert(base + "[mailbox]\ndelete = yes\ntest = yes\n")).imap->after,
            collect::After::kKeep);
  EXPECT_EQ(Load(Convert(base + "[mailbox]\ndelete = true\n")).imap->after,
            collect::After::kDelete);
  // The deprecated forms in [imap] count after [mailbox], except delete, which parsedmarc
  // ignores there.
  auto c = Convert("[mailbox]\nreports_folder = new\nbatch_size = 0\n" + base +
                   "reports_folder = old\ndelete = true\n");
  const auto config = Load(c);
  EXPECT_EQ(config.imap->folder, "old");
  EXPECT_EQ(config.imap->after, collect::After::kArchive);
  EXPECT_EQ(config.imap->batch_size, 10000);  // 0: no limit
  EXPECT_TRUE(Has(AllWarnings(c), "test.ini:8: [imap] delete: not converted")) << AllWarnings(c);
  // watch = false: parsedmarc ran once.
  c = Convert(base + "[mailbox]\nwatch = false\n");
  EXPECT_TRUE(Has(AllWarnings(c), "[mailbox] watch (line 5): = false")) << AllWarnings(c);
  Load(c);
}

TEST_F(ParsedmarcIni, PlainImapBecomesStartTlsWithAWarning) {
  auto c = Convert("[imap]\nhost = h\nuser = u\nssl = False\n");
  const auto config = Load(c);
  EXPECT_EQ(config.imap->tls, collect::TlsMode::kStartTls);
  EXPECT_EQ(config.imap->port, 143);
  EXPECT_TRUE(Has(AllWarnings(c), "test.ini:4: [imap] ssl: converted to tls = \"starttls\""));
}

TEST_F(ParsedmarcIni, FailureReportOptionsChooseWhatIsKeptOfTheSample) {
  const std::string base = "[imap]\nhost = h\nuser = u\n[general]\n";
  auto c = Convert(base + "save_forensic = False\nstrip_attachment_payloads = true\n");
  EXPECT_EQ(Load(c).failure.keep_sample, parse::KeepSample::kNone);
  EXPECT_TRUE(Has(AllWarnings(c), "test.ini:5: [general] save_forensic: failure reports are"));
  EXPECT_EQ(Load(Convert(base + "strip_attachment_payloads = false\n")).failure.keep_sample,
            parse::KeepSample::kFull);
  EXPECT_EQ(Load(Convert(base + "debug = yes\nverbose = yes\n")).log.level, "debug");
  EXPECT_EQ(Load(Convert(base + "warnings = yes\n")).log.level, "warning");
  EXPECT_EQ(Load(Convert(base + "silent = true\n")).log.level, "error");
  c = Convert(base + "nameservers = 1.1.1.1, not-an-address\n");
  EXPECT_EQ(Load(c).enrich.nameservers, std::vector<std::string>{"1.1.1.1"});
  EXPECT_TRUE(Has(AllWarnings(c), "\"not-an-address\" left out")) << AllWarnings(c);
}

TEST_F(ParsedmarcIni, WithoutAMailboxWeCanReadADropFolderIsConfigured) {
  auto c = Convert("[msgraph]\nclient_id = x\nclient_secret = s3cr3t\n[mailbox]\nwatch = yes\n");
  const std::string w = AllWarnings(c);
  EXPECT_TRUE(Has(w, "test.ini:2: [msgraph] client_id: no equivalent (yet)")) << w;
  EXPECT_TRUE(Has(w, "no [imap] or [maildir] mailbox to convert")) << w;
  EXPECT_TRUE(Has(w, "[mailbox] watch (line 5): not converted")) << w;
  EXPECT_FALSE(Has(c.toml + w, "s3cr3t"));
  EXPECT_EQ(Load(c).directory->path, "/var/lib/dmarc-report/inbox");
  // A Maildir is converted.
  c = Convert(
      "[maildir]\nmaildir_path = /srv/mail/dmarc\nmaildir_create = True\n"
      "[mailbox]\ntest = true\n");
  const auto config = Load(c);
  ASSERT_TRUE(config.maildir);
  EXPECT_EQ(config.maildir->path, "/srv/mail/dmarc");
  EXPECT_EQ(config.maildir->after, collect::After::kKeep);
  EXPECT_TRUE(Has(AllWarnings(c), "test.ini:3: [maildir] maildir_create: no equivalent"));
}

}  // namespace
}  // namespace dmarc::app
