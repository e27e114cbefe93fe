// `dmarc-report check-config --from-parsedmarc` as a user migrating from parsedmarc runs it: the
// TOML it prints passes `check-config` itself once the password file exists; warnings go to
// standard error; a broken INI file fails naming the file and the line.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "testing/cli.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::FreshTestDir;
using dmarc::testing::RunCli;
using dmarc::testing::TestData;

class FromParsedmarc : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = FreshTestDir("dmarc-from-parsedmarc"); }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text, int mode = 0644) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path.string();
  }

  fs::path dir_;
};

TEST_F(FromParsedmarc, PrintsTomlThatCheckConfigAcceptsAndWarnsOnStandardError) {
  const std::string ini = TestData("parsedmarc/parsedmarc.ini");
  auto r = RunCli({"check-config", "--from-parsedmarc", ini, "--secrets-dir", dir_.string()}, dir_,
                  "env -i");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("host = \"imap.example.com\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("warning:"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("warning: " + ini + ":43: [elasticsearch] hosts: no equivalent"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("es-secret"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("uper"), std::string::npos) << r.out;

  // As written, the TOML names a password file that does not exist yet: check-config says so.
  const std::string toml = Write("dmarc-report.toml", r.out, 0600);
  auto checked = RunCli({"check-config", toml}, dir_, "env -i");
  EXPECT_EQ(checked.status, 1) << checked.out;
  EXPECT_NE(
      checked.err.find("imap.password_file: cannot read " + (dir_ / "imap-password").string()),
      std::string::npos)
      << checked.err;
  // Once the user has created it, the converted configuration passes.
  Write("imap-password", "$uper%Secure\n", 0600);
  checked = RunCli({"check-config", toml}, dir_, "env -i");
  ASSERT_EQ(checked.status, 0) << checked.err;
  EXPECT_NE(
      checked.out.find("sources: imap dmarcreports@example.com@imap.example.com:993/INBOX/DMARC"),
      std::string::npos)
      << checked.out;
  EXPECT_NE(checked.out.find("log: level info, stderr, file /var/log/parsedmarc/parsedmarc.log"),
            std::string::npos)
      << checked.out;
  EXPECT_NE(checked.out.find("DNS via 10.0.0.53, 10.0.0.54:5353; failure samples: headers"),
            std::string::npos)
      << checked.out;
  EXPECT_EQ(checked.out.find("$uper"), std::string::npos) << checked.out;
}

TEST_F(FromParsedmarc, AnInvalidOrUnreadableFileFailsNamingFileAndLine) {
  const std::string bad = Write("bad.ini", "[imap]\nhost = h\nport = nine\n");
  auto r = RunCli({"check-config", "--from-parsedmarc", bad}, dir_);
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find(bad + ":3: [imap] port: must be an integer"), std::string::npos) << r.err;

  const std::string broken = Write("broken.ini", "[general]\nsave_aggregate\n");
  r = RunCli({"check-config", "--from-parsedmarc", broken}, dir_);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(broken + ":2: expected \"key = value\""), std::string::npos) << r.err;

  r = RunCli({"check-config", "--from-parsedmarc", (dir_ / "none.ini").string()}, dir_);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot read " + (dir_ / "none.ini").string()), std::string::npos) << r.err;

  // Either a TOML file or --from-parsedmarc, not both, not neither.
  EXPECT_EQ(RunCli({"check-config"}, dir_).status, 2);
  EXPECT_EQ(RunCli({"check-config", "x.toml", "--from-parsedmarc", bad}, dir_).status, 2);
}

}  // namespace
