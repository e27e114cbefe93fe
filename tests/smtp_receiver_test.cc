// The built-in SMTP receiver of `run` ([smtp], issue #19) with a real client, swaks: report mail
// delivered over loopback ends in the store and is filed; STARTTLS; a foreign recipient is
// refused (never an open relay); and `kill -9` of `run` right after the client was told 250
// loses nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "testing/base64.h"
#include "testing/net.h"
#include "testing/process.h"
#include "testing/run_program.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::ReadFile;
using dmarc::testing::ShellQuote;

// An aggregate report mail with its own report id.
std::string ReportMail(int i) {
  const std::string xml =
      "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>smtp.example</org_name>"
      "<email>r@smtp.example</email><report_id>smtp-" +
      std::to_string(i) + "</report_id><date_range><begin>" +
      std::to_string(1700000000 + i * 3600) + "</begin><end>" +
      std::to_string(1700003599 + i * 3600) +
      "</end></date_range></report_metadata><policy_published><domain>example.com</domain><p>none"
      "</p></policy_published><record><row><source_ip>192.0.2.7</source_ip><count>2</count>"
      "<policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf>"
      "</policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers>"
      "<auth_results><spf><domain>example.com</domain><result>pass</result></spf></auth_results>"
      "</record></feedback>";
  return "From: noreply-dmarc@smtp.example\r\nTo: dmarc@reports.example.com\r\nSubject: Report " +
         std::to_string(i) + "\r\nMessage-ID: <smtp-" + std::to_string(i) +
         "@smtp.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n"
         "\r\n--b\r\nContent-Type: text/plain\r\n\r\nA DMARC report.\r\n--b\r\nContent-Type: "
         "text/xml; name=\"r.xml\"\r\nContent-Disposition: attachment; filename=\"r.xml\"\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n" +
         dmarc::testing::Base64(xml) + "\r\n--b--\r\n";
}

class SmtpReceiver : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = dmarc::testing::FreshTestDir("dmarc-smtp-run");
    db_ = (dir_ / "store.db").string();
    port_ = dmarc::testing::FreePort();
  }
  void TearDown() override {
    Stop();
    if (!HasFailure() && !std::getenv("DMARC_KEEP_TEST_DIRS")) fs::remove_all(dir_);
  }

  // `run` with [smtp] on the test's port; a long watch_interval: only a spooled mail's wake-up
  // makes the loop ingest at once.
  void Start(const std::string& extra = "") {
    const fs::path config = dir_ / "run.toml";
    std::ofstream(config) << "[store]\nurl = \"sqlite:" << db_ << "\"\n[fetch]\nwatch_interval = "
                          << "600\n[enrich]\nenabled = false\n[web]\nenabled = false\n[smtp]\n"
                          << "listen = \"127.0.0.1:" << port_ << "\"\nhostname = \"mx.test\"\n"
                          << "accept = [\"dmarc@reports.example.com\"]\n"
                          << extra;
    pid_ = dmarc::testing::Spawn({"run", "--config", config.string()}, dir_ / "run.log");
    for (int i = 0; i < 100 && !dmarc::testing::CanConnect(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(dmarc::testing::CanConnect(port_)) << ReadFile((dir_ / "run.log").string());
  }

  void Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    dmarc::testing::Wait(pid_);
    pid_ = -1;
  }

  struct Swaks {
    int status;
    std::string transcript;
  };
  // swaks delivering `mail` to the receiver; `args` adds its options (--tls, --to ...).
  Swaks Send(const std::string& mail, const std::string& args = "") {
    const fs::path file = dir_ / "mail.eml", out = dir_ / "swaks.out";
    std::ofstream(file, std::ios::binary) << mail;
    const std::string command =
        "swaks --server 127.0.0.1 --port " + std::to_string(port_) +
        " --helo client.test --from noreply-dmarc@smtp.example " +
        (args.find("--to") == std::string::npos ? "--to dmarc@reports.example.com " : "") + args +
        " --data " + ShellQuote(file.string()) + " > " + ShellQuote(out.string()) + " 2>&1";
    const int rc = std::system(command.c_str());
    return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ReadFile(out.string())};
  }

  // Waits until the store holds `n` aggregate reports (at most 20 s); the last stats.
  nlohmann::json WaitForReports(int n) {
    nlohmann::json s;
    for (int i = 0; i < 100; ++i) {
      if (fs::exists(db_)) {
        s = dmarc::testing::StoreStats(db_, dir_);
        if (s["reports"] == n) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return s;
  }

  int Files(const std::string& sub) const {
    int n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir_ / "smtp-spool" / sub, ec);
         it != fs::directory_iterator(); ++it) {
      ++n;
    }
    return n;
  }

  fs::path dir_;
  std::string db_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(SmtpReceiver, SwaksDeliversARealReportIntoTheStoreAndTheMailIsFiled) {
  Start();
  const std::string real = ReadFile(dmarc::testing::TestData(
      "real/parsedmarc-samples/aggregate/Report domain- borschow.com Submitter- google.com "
      "Report-ID- 949348866075514174.eml"));
  const Swaks sent = Send(real);
  ASSERT_EQ(sent.status, 0) << sent.transcript;
  EXPECT_NE(sent.transcript.find("<-  250 2.0.0 Ok: queued as"), std::string::npos)
      << sent.transcript;
  EXPECT_NE(sent.transcript.find("250-PIPELINING"), std::string::npos) << sent.transcript;
  EXPECT_EQ(WaitForReports(1)["reports"], 1) << ReadFile((dir_ / "run.log").string());
  // A mail without a report is kept as Invalid, like the Invalid folder of a mailbox.
  ASSERT_EQ(Send("Subject: hello\r\n\r\nno report here\r\n").status, 0);
  for (int i = 0; i < 50 && Files(".Archive.Invalid/cur") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(Files(".Archive.Aggregate/cur"), 1);
  EXPECT_EQ(Files(".Archive.Invalid/cur"), 1);
  EXPECT_EQ(Files("new"), 0);
  Stop();
  EXPECT_NE(ReadFile((dir_ / "run.log").string()).find("smtp: receiving on 127.0.0.1:"),
            std::string::npos);
  // check-config describes the receiver.
  const fs::path out = dir_ / "check.out";
  EXPECT_EQ(dmarc::testing::RunToEnd({"check-config", (dir_ / "run.toml").string()}, out), 0);
  const std::string check = ReadFile(out.string());
  EXPECT_NE(check.find("smtp on 127.0.0.1:" + std::to_string(port_) +
                       " for dmarc@reports.example.com (spool " + (dir_ / "smtp-spool").string() +
                       "; at most 10485760 bytes a mail"),
            std::string::npos)
      << check;
}

TEST_F(SmtpReceiver, ForeignRecipientIsRefusedAndNothingSpooled) {
  Start("after = \"delete\"\n");
  const Swaks relay = Send(ReportMail(1), "--to victim@gmail.example");
  EXPECT_NE(relay.status, 0) << relay.transcript;
  EXPECT_NE(relay.transcript.find("<** 550 5.7.1"), std::string::npos) << relay.transcript;
  const Swaks big = Send(ReportMail(2), "--add-header 'X-Pad: " + std::string(200, 'p') + "'");
  EXPECT_EQ(big.status, 0) << big.transcript;
  EXPECT_EQ(WaitForReports(1)["reports"], 1);
  EXPECT_EQ(Files("new") + Files("cur") + Files("tmp"), 0);  // after = "delete"
}

TEST_F(SmtpReceiver, StartTlsWithSwaks) {
  const std::string key = (dir_ / "key.pem").string(), cert = (dir_ / "cert.pem").string();
  ASSERT_EQ(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mx.test "
                         "-keyout " +
                         key + " -out " + cert + " 2>/dev/null")
                            .c_str()),
            0);
  Start("tls_cert = \"" + cert + "\"\ntls_key = \"" + key + "\"\n");
  const Swaks sent = Send(ReportMail(3), "--tls");
  ASSERT_EQ(sent.status, 0) << sent.transcript;
  EXPECT_NE(sent.transcript.find("220 2.0.0 Ready to start TLS"), std::string::npos)
      << sent.transcript;
  EXPECT_NE(sent.transcript.find("TLS started"), std::string::npos) << sent.transcript;
  EXPECT_EQ(WaitForReports(1)["reports"], 1);
}

TEST_F(SmtpReceiver, KillNineRightAfter250LosesNothing) {
  constexpr int kMails = 5;
  Start();
  for (int i = 0; i < kMails; ++i) {
    const Swaks sent = Send(ReportMail(10 + i));
    ASSERT_EQ(sent.status, 0) << sent.transcript;
  }
  Stop(SIGKILL);  // at once after the last 250: its mail is in the spool, maybe not yet stored
  const int stored =
      fs::exists(db_) ? dmarc::testing::StoreStats(db_, dir_)["reports"].get<int>() : 0;
  EXPECT_GE(Files("new") + stored, kMails);
  Start();
  EXPECT_EQ(WaitForReports(kMails)["reports"], kMails) << ReadFile((dir_ / "run.log").string());
  EXPECT_EQ(Files("new"), 0);
}

}  // namespace
