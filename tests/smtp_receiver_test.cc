// The built-in SMTP receiver of `run` ([smtp], issue #19) with real clients: swaks, and a real
// Postfix relaying to it. Report mail delivered over loopback ends in the store and is filed;
// STARTTLS; a foreign recipient is refused (never an open relay); `kill -9` of `run` right after
// the client was told 250 loses nothing; through Postfix, the hop is TLS with the certificate
// verified, a refused recipient bounces once, and mail waits in Postfix's queue while `run` is
// down.
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
#include "testing/postfix.h"
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
    const fs::path file = dir_ / "mail.eml";
    std::ofstream(file, std::ios::binary) << mail;
    return RunSwaks(port_, args + " --data @" + ShellQuote(file.string()));
  }

  // swaks to a loopback port, from the reporter to dmarc@reports.example.com unless `args` has
  // its own --to.
  Swaks RunSwaks(int port, const std::string& args) {
    const fs::path out = dir_ / "swaks.out";
    const std::string command =
        "swaks --server 127.0.0.1 --port " + std::to_string(port) +
        " --helo client.test --from noreply-dmarc@smtp.example " +
        (args.find("--to") == std::string::npos ? "--to dmarc@reports.example.com " : "") + args +
        " > " + ShellQuote(out.string()) + " 2>&1";
    const int rc = std::system(command.c_str());
    return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ReadFile(out.string())};
  }

  // A self-signed certificate for the receiver's name mx.test (as CN and subjectAltName):
  // DIR/PREFIXcert.pem and DIR/PREFIXkey.pem; the [smtp] lines naming them.
  std::string MakeCert(const std::string& prefix = "") {
    const std::string key = (dir_ / (prefix + "key.pem")).string(),
                      cert = (dir_ / (prefix + "cert.pem")).string();
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mx.test -addext "
        "subjectAltName=DNS:mx.test -keyout " +
        ShellQuote(key) + " -out " + ShellQuote(cert) + " 2>/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return "tls_cert = \"" + cert + "\"\ntls_key = \"" + key + "\"\n";
  }
  std::string Cert() const { return (dir_ / "cert.pem").string(); }

  // Waits until the store holds `n` aggregate reports (or `n` of another count of `stats`, at
  // most 20 s); the last stats.
  nlohmann::json WaitForReports(int n, const std::string& count = "reports") {
    nlohmann::json s;
    for (int i = 0; i < 100; ++i) {
      if (fs::exists(db_)) {
        s = dmarc::testing::StoreStats(db_, dir_);
        if (s[count] == n) break;
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
  Start(MakeCert());
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

// `run`'s receiver behind a real Postfix, as a site whose MX is Postfix hands the report domain
// over (README, "Behind Postfix instead"): a private instance of its own (testing/postfix.h)
// relays reports.example.com to the receiver's port, over STARTTLS with the receiver's
// certificate verified; swaks injects the mail into Postfix.
class SmtpPostfix : public SmtpReceiver {
 protected:
  void SetUp() override {
    SmtpReceiver::SetUp();
    tls_ = MakeCert();
    postfix_ = std::make_unique<dmarc::testing::Postfix>(
        dir_ / "postfix", dmarc::testing::Postfix::Relay{"reports.example.com", port_, Cert(),
                                                         "mx.test", "smtp.example"});
    ASSERT_FALSE(HasFailure());
    postfix_->Start();
  }
  void TearDown() override {
    postfix_.reset();  // `postfix stop`, before the folder goes
    SmtpReceiver::TearDown();
  }

  // Injects a mail into Postfix with swaks; Postfix's queue id for it.
  std::string Inject(const std::string& args) {
    const Swaks sent = RunSwaks(postfix_->port, args);
    const std::string queued = "<-  250 2.0.0 Ok: queued as ";
    const auto at = sent.transcript.find(queued);
    EXPECT_EQ(sent.status, 0) << sent.transcript;
    if (at == std::string::npos) {
      ADD_FAILURE() << "Postfix did not queue the mail:\n" << sent.transcript;
      return "(not queued)";
    }
    const auto id = at + queued.size();
    return sent.transcript.substr(id, sent.transcript.find_first_of("\r\n", id) - id);
  }

  // Waits until Postfix is done with the mail (delivered or bounced, and removed from its queue);
  // its delivery line ("ID: to=<...>, relay=..., status=...").
  std::string Delivery(const std::string& id) {
    EXPECT_TRUE(postfix_->WaitForLog(id + ": removed")) << postfix_->Log();
    return LogLine(id + ": to=<");
  }
  // The last line of Postfix's log holding `start` (a retry comes after the deferral).
  std::string LogLine(const std::string& start) const {
    const std::string log = postfix_->Log();
    const auto at = log.rfind(start);
    return at == std::string::npos ? "" : log.substr(at, log.find('\n', at) - at);
  }
  std::string Relay() const { return "relay=127.0.0.1[127.0.0.1]:" + std::to_string(port_) + ","; }

  std::string tls_;
  std::unique_ptr<dmarc::testing::Postfix> postfix_;
};

TEST_F(SmtpPostfix, RelaysGzipZipAndFailureReportsOverVerifiedTls) {
  Start(tls_);
  const std::string samples = dmarc::testing::TestData("real/parsedmarc-samples/");
  const std::string gz = Inject(
      "--header 'Subject: Report Domain: example.com Submitter: fastmail.com' "
      "--attach-type application/gzip --attach @" +
      ShellQuote(samples +
                 "aggregate/fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz"));
  const std::string zip = Inject(
      "--header 'Subject: Report Domain: example.com Submitter: infonacot' "
      "--attach-type application/zip --attach @" +
      ShellQuote(samples +
                 "aggregate/"
                 "estadocuenta1.infonacot.gob.mx!example.com!1536853302!1536939702!2940.xml.zip"));
  const std::string failure =
      Inject("--data @" + ShellQuote(samples + "failure/dmarc_ruf_report_linkedin.eml"));
  for (const std::string& id : {gz, zip, failure}) {
    const std::string line = Delivery(id);
    EXPECT_NE(line.find(Relay()), std::string::npos) << line;
    EXPECT_NE(line.find("status=sent (250 2.0.0 Ok: queued as "), std::string::npos) << line;
  }
  EXPECT_TRUE(postfix_->QueueEmpty()) << postfix_->Queue();
  // Every hop verified the receiver's certificate (smtp_tls_policy_maps: secure match=mx.test).
  const std::string log = postfix_->Log();
  EXPECT_NE(log.find("Verified TLS connection established to 127.0.0.1[127.0.0.1]:" +
                     std::to_string(port_)),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("Untrusted TLS"), std::string::npos) << log;
  EXPECT_EQ(WaitForReports(2)["reports"], 2) << ReadFile((dir_ / "run.log").string());
  EXPECT_EQ(WaitForReports(1, "failure_reports")["failure_reports"], 1)
      << ReadFile((dir_ / "run.log").string());
}

TEST_F(SmtpPostfix, RecipientTheReceiverRefusesBouncesOnceAndNeverLoops) {
  Start(tls_);
  const std::string id = Inject(
      "--to other@reports.example.com --data @" +
      ShellQuote(dmarc::testing::TestData("real/parsedmarc-samples/aggregate/twilight.eml")));
  const std::string line = Delivery(id);
  EXPECT_NE(line.find(Relay()), std::string::npos) << line;
  EXPECT_NE(line.find("status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.7.1"),
            std::string::npos)
      << line;
  // A 5xx answer is final: one try, and the non-delivery notice goes to the sender (here
  // discarded), not back to the receiver.
  const std::string log = postfix_->Log();
  std::size_t tries = 0;
  for (auto at = log.find(id + ": to=<"); at != std::string::npos;
       at = log.find(id + ": to=<", at + 1)) {
    ++tries;
  }
  EXPECT_EQ(tries, 1u) << log;
  const std::string notice = LogLine(id + ": sender non-delivery notification: ");
  ASSERT_FALSE(notice.empty()) << log;
  const std::string bounce = Delivery(notice.substr(notice.rfind(' ') + 1));
  EXPECT_NE(bounce.find("to=<noreply-dmarc@smtp.example>, relay=none"), std::string::npos)
      << bounce;
  EXPECT_TRUE(postfix_->QueueEmpty()) << postfix_->Queue();
  EXPECT_EQ(Files("new") + Files("cur") + Files("tmp"), 0);
  EXPECT_NE(ReadFile((dir_ / "run.log").string()).find("other@reports.example.com"),
            std::string::npos);
}

TEST_F(SmtpPostfix, ReceiverDownKeepsTheMailInPostfixsQueueUntilItIsBack) {
  // `run` not started: nothing listens on the receiver's port.
  const std::string id = Inject(
      "--data @" +
      ShellQuote(dmarc::testing::TestData("real/parsedmarc-samples/aggregate/twilight.eml")));
  ASSERT_TRUE(postfix_->WaitForLog(id + ": to=<dmarc@reports.example.com>, relay=none"))
      << postfix_->Log();
  ASSERT_TRUE(postfix_->WaitForLog("status=deferred (connect to 127.0.0.1[127.0.0.1]:" +
                                   std::to_string(port_) + ": Connection refused)"))
      << postfix_->Log();
  const std::string queue = postfix_->Queue();
  EXPECT_NE(queue.find(id), std::string::npos) << queue;
  EXPECT_NE(queue.find("Connection refused"), std::string::npos) << queue;
  Start(tls_);
  EXPECT_EQ(postfix_->Flush(), 0);  // as an operator would; else Postfix retries within minutes
  const std::string line = Delivery(id);
  EXPECT_NE(line.find(Relay()), std::string::npos) << line;
  EXPECT_NE(line.find("status=sent (250 2.0.0 Ok: queued as "), std::string::npos) << line;
  EXPECT_TRUE(postfix_->QueueEmpty()) << postfix_->Queue();
  EXPECT_EQ(WaitForReports(1)["reports"], 1) << ReadFile((dir_ / "run.log").string());
}

TEST_F(SmtpPostfix, AnImpostorWithAnotherCertificateGetsNoMail) {
  // A server on the receiver's port with a certificate for the same name, but not the one
  // Postfix trusts: the mail stays in Postfix's queue.
  Start(MakeCert("impostor-"));
  const std::string id = Inject(
      "--data @" +
      ShellQuote(dmarc::testing::TestData("real/parsedmarc-samples/aggregate/twilight.eml")));
  ASSERT_TRUE(postfix_->WaitForLog(id + ": to=<dmarc@reports.example.com>, " + Relay()))
      << postfix_->Log();
  const std::string line = LogLine(id + ": to=<");
  EXPECT_NE(line.find("status=deferred (Server certificate not verified)"), std::string::npos)
      << line;
  EXPECT_NE(postfix_->Queue().find(id), std::string::npos) << postfix_->Queue();
  EXPECT_EQ(Files("new") + Files("cur") + Files("tmp"), 0);
}

}  // namespace
