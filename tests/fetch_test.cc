// `fetch` against a real Dovecot started by the test: folder contents after the run, store totals
// against what was delivered, the COPY + EXPUNGE fallback, clear errors, kill -9 recovery, and a
// server restart during --watch.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "testing/base64.h"
#include "testing/compress.h"
#include "testing/dns_servers.h"
#include "testing/dovecot.h"
#include "testing/postgres.h"
#include "testing/process.h"
#include "testing/run_program.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::Base64;
using dmarc::testing::Dovecot;
using dmarc::testing::ReadFile;
using dmarc::testing::RunToEnd;
using dmarc::testing::Spawn;
using dmarc::testing::TestData;
using dmarc::testing::Wait;

std::string ReportXml(int i) {
  return "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>gen.example</org_name>"
         "<email>r@gen.example</email><report_id>mail-" +
         std::to_string(i) + "</report_id><date_range><begin>" +
         std::to_string(1700000000 + i * 3600) + "</begin><end>" +
         std::to_string(1700000000 + i * 3600 + 3599) +
         "</end></date_range></report_metadata><policy_published><domain>example.com</domain>"
         "<p>none</p></policy_published><record><row><source_ip>192.0.2." +
         std::to_string(i % 250 + 1) +
         "</source_ip><count>3</count><policy_evaluated><disposition>none</disposition>"
         "<dkim>pass</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>"
         "example.com</header_from></identifiers><auth_results><spf><domain>example.com</domain>"
         "<result>fail</result></spf></auth_results></record></feedback>";
}

std::string Mail(const std::string& subject, const std::string& parts) {
  return "From: dmarc-noreply@gen.example\r\nTo: dmarc@example.com\r\nSubject: " + subject +
         "\r\nDate: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <" +
         std::to_string(std::hash<std::string>()(subject)) +
         "@gen.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
         "boundary=\"b\"\r\n\r\n" +
         "--b\r\nContent-Type: text/plain\r\n\r\nThis is a DMARC aggregate report.\r\n" + parts +
         "--b--\r\n";
}

std::string Attachment(const std::string& type, const std::string& name, const std::string& data) {
  return "--b\r\nContent-Type: " + type + "; name=\"" + name +
         "\"\r\nContent-Disposition: attachment; filename=\"" + name +
         "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + Base64(data);
}

// A generated report mail; the container and declared content type vary with i.
std::string ReportMail(int i) {
  const std::string xml = ReportXml(i);
  const std::string name = "gen.example!example.com!" + std::to_string(i);
  switch (i % 4) {
    case 0:
      return Mail("Report " + std::to_string(i),
                  Attachment("application/gzip", name + ".xml.gz", dmarc::testing::GzipOf(xml)));
    case 1:
      return Mail("Report " + std::to_string(i), Attachment("text/xml", name + ".xml", xml));
    case 2:  // an odd declared type: the content decides
      return Mail(
          "Report " + std::to_string(i),
          Attachment("application/octet-stream", name + ".bin", dmarc::testing::GzipOf(xml)));
    default:  // gzip declared as zip, as some reporters do
      return Mail("Report " + std::to_string(i),
                  Attachment("application/zip", name + ".zip", dmarc::testing::GzipOf(xml)));
  }
}

nlohmann::json Stats(const std::string& db, const fs::path& dir) {
  return dmarc::testing::StoreStats(db, dir);
}

class Fetch : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = dmarc::testing::FreshTestDir("dmarc-fetch");
    db_ = (dir_ / "store.db").string();
  }
  void TearDown() override {
    dovecot_.reset();
    if (!HasFailure() && !std::getenv("DMARC_KEEP_TEST_DIRS")) fs::remove_all(dir_);
  }

  void StartServer(bool move = true) {
    dovecot_ = std::make_unique<Dovecot>(dir_ / "server", move);
    dovecot_->Start();
  }

  // A configuration for the IMAPS port with the test's certificate; `extra` adds [imap] keys.
  std::string Config(const std::string& extra = "", const std::string& name = "fetch.toml",
                     const std::string& enrich = "offline = true\n") {
    const fs::path p = dir_ / name;
    std::ofstream(p) << "[store]\nurl = \"sqlite:" << db_ << "\"\n[fetch]\nwatch_interval = 1\n"
                     << "max_backoff = 2\n[enrich]\n"
                     << enrich << "[imap]\nhost = \"127.0.0.1\"\nport = " << dovecot_->imaps
                     << "\nca_file = \"" << dovecot_->Cert()
                     << "\"\nuser = \"dmarc\"\npassword_file = \"" << Secret() << "\"\n"
                     << extra;
    return p.string();
  }

  std::string Pop3Config(const std::string& extra) {
    const fs::path p = dir_ / "pop3.toml";
    std::ofstream(p) << "[store]\nurl = \"sqlite:" << db_ << "\"\n[enrich]\noffline = true\n"
                     << "[pop3]\nhost = \"127.0.0.1\"\n"
                     << "port = " << dovecot_->pop3s << "\nca_file = \"" << dovecot_->Cert()
                     << "\"\nuser = \"dmarc\"\npassword_file = \"" << Secret()
                     << "\"\nbatch_size = 5\nstate_file = \"" << (dir_ / "uidl").string() << "\"\n"
                     << extra;
    return p.string();
  }

  std::string Secret() {
    const fs::path p = dir_ / "password";
    std::ofstream(p) << Dovecot::kPassword << "\n";
    return p.string();
  }

  int Run(const std::vector<std::string>& args, const std::string& log_name = "fetch.log") {
    log_ = dir_ / log_name;
    fs::remove(log_);
    return RunToEnd(args, log_);
  }
  std::string Log() const { return ReadFile(log_.string()); }

  // Delivers the real sample mails and generated ones; returns {aggregate report mails, mails
  // without a report}; besides these, one failure and one SMTP TLS report mail.
  std::pair<int, int> DeliverCorpus(int generated) {
    int reports = 0, others = 0;
    for (const char* f : {"aggregate/Report domain- borschow.com Submitter- google.com Report-ID- "
                          "949348866075514174.eml",
                          "aggregate/mimecast-weird-gzip.eml", "aggregate/twilight.eml"}) {
      dovecot_->Deliver("real" + std::to_string(reports++),
                        ReadFile(TestData(std::string("real/parsedmarc-samples/") + f)));
    }
    // A real zipped report, attached as such.
    dovecot_->Deliver(
        "zip", Mail("Zipped report",
                    Attachment("application/zip", "report.zip",
                               ReadFile(TestData(
                                   "real/parsedmarc-samples/aggregate/estadocuenta1.infonacot.gob."
                                   "mx!example.com!1536853302!1536939702!2940.xml.zip")))));
    ++reports;
    for (int i = 0; i < generated; ++i) {
      dovecot_->Deliver("gen" + std::to_string(i), ReportMail(i));
      ++reports;
    }
    // A failure (ARF) report and an SMTP TLS report (see kFailureMails, kSmtpTlsMails), then
    // mails that are not reports: an auto-reply, spam.
    dovecot_->Deliver(
        "arf", ReadFile(TestData("real/parsedmarc-samples/failure/dmarc_ruf_report_linkedin.eml")));
    dovecot_->Deliver(
        "tlsrpt",
        ReadFile(TestData("real/parsedmarc-samples/smtp_tls/google.com_smtp_tls_report.eml")));
    dovecot_->Deliver("autoreply",
                      "From: someone@example.org\r\nTo: dmarc@example.com\r\nSubject: Out of office"
                      "\r\nAuto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n");
    dovecot_->Deliver("spam", Mail("Cheap watches",
                                   "--b\r\nContent-Type: text/html\r\n\r\n<html><body>Buy!</body>"
                                   "</html>\r\n"));
    others = 2;
    return {reports, others};
  }

  fs::path dir_, log_;
  std::string db_;
  std::unique_ptr<Dovecot> dovecot_;
};

TEST_F(Fetch, FilesEveryMailByKindStoresEveryReportAndARerunChangesNothing) {
  StartServer();
  const auto [reports, others] = DeliverCorpus(40);
  const std::string config = Config("batch_size = 7\n");
  ASSERT_EQ(Run({"fetch", "--config", config}), 0) << Log();
  EXPECT_EQ(dovecot_->Count(""), 0u) << Log();
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), static_cast<std::size_t>(reports));
  EXPECT_EQ(dovecot_->Count("Archive/Invalid"), static_cast<std::size_t>(others));
  EXPECT_EQ(dovecot_->Count("Archive/Forensic"), 1u);
  EXPECT_EQ(dovecot_->Count("Archive/SMTP-TLS"), 1u);
  EXPECT_NE(Log().find("Out of office"), std::string::npos) << "reason of an invalid mail logged";
  EXPECT_NE(Log().find(std::to_string(reports + others + 2) + " mail(s): " +
                       std::to_string(reports) + " aggregate, 1 forensic, 1 SMTP TLS"),
            std::string::npos)
      << Log();
  auto s = Stats(db_, dir_);
  EXPECT_EQ(s["reports"], reports);
  EXPECT_EQ(s["failure_reports"], 1);
  EXPECT_EQ(s["smtp_tls_reports"], 1);
  EXPECT_EQ(s["rejected_inputs"], others);
  // MOVE was used: nothing was expunged by hand.
  EXPECT_EQ(dovecot_->Log().find("expunged=" + std::to_string(reports)), std::string::npos);

  // Re-running finds nothing to do; delivering the same reports again stores no duplicate.
  ASSERT_EQ(Run({"fetch", "--config", config}), 0) << Log();
  EXPECT_NE(Log().find("0 mail(s)"), std::string::npos) << Log();
  for (int i = 0; i < 5; ++i) dovecot_->Deliver("again" + std::to_string(i), ReportMail(i));
  ASSERT_EQ(Run({"fetch", "--config", config}), 0) << Log();
  EXPECT_NE(Log().find("5 duplicate(s)"), std::string::npos) << Log();
  s = Stats(db_, dir_);
  EXPECT_EQ(s["reports"], reports);
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), static_cast<std::size_t>(reports + 5));
}

TEST_F(Fetch, WithoutMoveItCopiesAndExpungesOverStartTlsWithAuthenticatePlain) {
  StartServer(/*move=*/false);
  const auto [reports, others] = DeliverCorpus(10);
  const std::string config = Config("tls = \"starttls\"\nauth = \"plain\"\n", "starttls.toml");
  // STARTTLS on the plain port, and the certificate checked against the name localhost.
  std::string text = ReadFile(config);
  text.replace(text.find("127.0.0.1"), 9, "localhost");
  text.replace(text.find(std::to_string(dovecot_->imaps)), std::to_string(dovecot_->imaps).size(),
               std::to_string(dovecot_->imap));
  std::ofstream(config) << text;
  ASSERT_EQ(Run({"fetch", "--config", config}), 0) << Log();
  EXPECT_EQ(dovecot_->Count(""), 0u);
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), static_cast<std::size_t>(reports));
  EXPECT_EQ(dovecot_->Count("Archive/Invalid"), static_cast<std::size_t>(others));
  EXPECT_EQ(Stats(db_, dir_)["reports"], reports);
  EXPECT_NE(dovecot_->Log().find("method=PLAIN"), std::string::npos);
  EXPECT_NE(dovecot_->Log().find("expunged=" + std::to_string(reports + others + 2)),
            std::string::npos)
      << dovecot_->Log();
}

TEST_F(Fetch, MoveAndDeleteModes) {
  StartServer();
  for (int i = 0; i < 6; ++i) dovecot_->Deliver("m" + std::to_string(i), ReportMail(i));
  dovecot_->Deliver("junk", "Subject: hello\r\n\r\nnot a report\r\n");
  ASSERT_EQ(Run({"fetch", "--config",
                 Config("after = \"move\"\nmove_to = \"done/[YEAR]/week_[WEEK]\"\n")}),
            0)
      << Log();
  std::size_t moved = 0;
  for (const auto& e : fs::directory_iterator(dovecot_->Maildir())) {
    const std::string name = e.path().filename().string();
    if (name.starts_with(".done.") && name.find(".week_") != std::string::npos) {
      moved += dovecot_->Count(name.substr(1));
    }
  }
  EXPECT_EQ(moved, 6u);
  EXPECT_EQ(dovecot_->Count("Archive/Invalid"), 1u);

  for (int i = 10; i < 14; ++i) dovecot_->Deliver("d" + std::to_string(i), ReportMail(i));
  dovecot_->Deliver("junk2", "Subject: hello again\r\n\r\nnot a report\r\n");
  ASSERT_EQ(Run({"fetch", "--config", Config("after = \"delete\"\n")}), 0) << Log();
  EXPECT_EQ(dovecot_->Count(""), 0u);
  EXPECT_EQ(dovecot_->Count("Archive/Invalid"), 2u) << "mails without a report are never deleted";
  EXPECT_EQ(Stats(db_, dir_)["reports"], 10);
}

TEST_F(Fetch, CommonMistakesGiveClearErrorsAndTouchNoMail) {
  StartServer();
  dovecot_->Deliver("m", ReportMail(1));
  const std::string port = std::to_string(dovecot_->imaps);

  std::ofstream(dir_ / "wrong") << "not-the-password\n";
  std::string config = Config();
  std::string text = ReadFile(config);
  text.replace(text.find(Secret()), Secret().size(), (dir_ / "wrong").string());
  std::ofstream(dir_ / "wrong.toml") << text;
  EXPECT_EQ(Run({"fetch", "-c", (dir_ / "wrong.toml").string()}), 1);
  EXPECT_NE(Log().find("127.0.0.1:" + port + ": login as \"dmarc\" refused"), std::string::npos)
      << Log();
  EXPECT_NE(Log().find("check imap.user and imap.password"), std::string::npos) << Log();
  EXPECT_EQ(Log().find("not-the-password"), std::string::npos);

  // No ca_file: the system's authorities do not know the self-signed certificate.
  text = ReadFile(config);
  text.erase(text.find("ca_file"), text.find('\n', text.find("ca_file")) - text.find("ca_file"));
  std::ofstream(dir_ / "untrusted.toml") << text;
  EXPECT_EQ(Run({"fetch", "-c", (dir_ / "untrusted.toml").string()}), 1);
  EXPECT_NE(Log().find("TLS certificate of 127.0.0.1:" + port + " is not trusted"),
            std::string::npos)
      << Log();
  EXPECT_EQ(dovecot_->Log().find("Login: user=<dmarc>"), std::string::npos)
      << "no credentials may be sent to an untrusted server";

  EXPECT_EQ(Run({"fetch", "-c", Config("folder = \"DMARC\"\n", "folder.toml")}), 1);
  EXPECT_NE(Log().find("cannot open folder \"DMARC\""), std::string::npos) << Log();
  EXPECT_NE(Log().find("check imap.folder"), std::string::npos) << Log();

  text = ReadFile(config);
  const int closed = dmarc::testing::FreePort();
  text.replace(text.find(port), port.size(), std::to_string(closed));
  std::ofstream(dir_ / "closed.toml") << text;
  EXPECT_EQ(Run({"fetch", "-c", (dir_ / "closed.toml").string()}), 1);
  EXPECT_NE(Log().find("127.0.0.1:" + std::to_string(closed) + ": cannot connect"),
            std::string::npos)
      << Log();
  EXPECT_NE(Log().find("check imap.host and imap.port"), std::string::npos) << Log();

  std::ofstream(dir_ / "bad.toml") << "[imap]\nhost = \"x\"\nport = \"993\"\n";
  EXPECT_EQ(Run({"fetch", "-c", (dir_ / "bad.toml").string()}), 2);
  EXPECT_NE(Log().find("imap.port: must be an integer"), std::string::npos) << Log();

  EXPECT_EQ(dovecot_->Count(""), 1u) << "the mail stays in the INBOX";
}

// check-config --connect signs in and lists the folder, naming what is wrong, and leaves every
// mail where it is.
TEST_F(Fetch, CheckConfigConnectSignsInListsTheFolderAndNamesWhatIsWrong) {
  StartServer();
  dovecot_->Deliver("a", ReportMail(1));
  dovecot_->Deliver("b", ReportMail(2));
  const std::string config = Config();
  EXPECT_EQ(Run({"check-config", "--connect", config}), 0) << Log();
  EXPECT_NE(Log().find("connect imap://dmarc@127.0.0.1:" + std::to_string(dovecot_->imaps) +
                       "/INBOX: ok, 2 mails waiting"),
            std::string::npos)
      << Log();
  EXPECT_EQ(Run({"check-config", config}), 0);
  EXPECT_EQ(Log().find("connect "), std::string::npos) << "without --connect, no connection";

  std::ofstream(dir_ / "wrong") << "not-the-password\n";
  std::string text = ReadFile(config);
  text.replace(text.find(Secret()), Secret().size(), (dir_ / "wrong").string());
  std::ofstream(dir_ / "wrong.toml") << text;
  EXPECT_EQ(Run({"check-config", "--connect", (dir_ / "wrong.toml").string()}), 1);
  EXPECT_NE(Log().find("/INBOX: FAILED: "), std::string::npos) << Log();
  EXPECT_NE(Log().find("login as \"dmarc\" refused"), std::string::npos) << Log();
  EXPECT_EQ(Log().find("not-the-password"), std::string::npos);

  EXPECT_EQ(Run({"check-config", "--connect", Config("folder = \"DMARC\"\n", "folder.toml")}), 1);
  EXPECT_NE(Log().find("cannot open folder \"DMARC\""), std::string::npos) << Log();

  EXPECT_EQ(dovecot_->Count(""), 2u) << "nothing is read, moved or deleted";
}

TEST_F(Fetch, KillDashNineMidBatchThenARerunLosesAndDuplicatesNothing) {
  StartServer();
  constexpr int kMails = 300;
  for (int i = 0; i < kMails; ++i) dovecot_->Deliver("k" + std::to_string(i), ReportMail(i));
  const std::string config = Config("batch_size = 10\n");
  std::mt19937 rng(7);
  int killed = 0;
  for (int round = 0; round < 4; ++round) {
    const pid_t pid = Spawn({"fetch", "-q", "-c", config}, dir_ / "killed.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 250));
    ::kill(pid, SIGKILL);
    killed += Wait(pid) == -SIGKILL;
  }
  EXPECT_GT(killed, 0) << "no run was interrupted; the test proves nothing";
  ASSERT_EQ(Run({"fetch", "-c", config}), 0) << Log();
  EXPECT_EQ(dovecot_->Count(""), 0u);
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), static_cast<std::size_t>(kMails));
  EXPECT_EQ(dovecot_->Count("Archive/Invalid"), 0u);
  const auto s = Stats(db_, dir_);
  EXPECT_EQ(s["reports"], kMails);
  EXPECT_EQ(s["records"], kMails);
  EXPECT_EQ(s["messages"], 3 * kMails);
}

// A stop (SIGINT) while a drain talks to the mailbox ends it after the batch in hand, without
// cutting the command being answered short: no error, every stored report's mail filed, the rest
// left in the inbox for the next run. (Taken by a handler on the thread that waited in poll(2),
// the signal used to fail that command as a lost connection.)
TEST_F(Fetch, AStopMidDrainCutsNoMailboxCommandShort) {
  StartServer();
  constexpr int kMails = 300;
  for (int i = 0; i < kMails; ++i) dovecot_->Deliver("s" + std::to_string(i), ReportMail(i));
  const std::string config = Config("batch_size = 5\n");
  std::mt19937 rng(11);
  int stopped_early = 0;
  for (int round = 0; round < 3; ++round) {
    log_ = dir_ / ("stop" + std::to_string(round) + ".log");
    const std::size_t filed_before = dovecot_->Count("Archive/Aggregate");
    const pid_t pid = Spawn({"fetch", "-c", config}, log_);
    // Once this run filed its first batch it is mid-drain, talking to the server: the signal
    // comes a few milliseconds later, whatever the machine's speed (a fixed delay let a fast
    // machine drain all 300 mails first).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (dovecot_->Count("Archive/Aggregate") == filed_before &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
    ::kill(pid, SIGINT);
    EXPECT_EQ(Wait(pid), 0) << Log();
    EXPECT_EQ(Log().find(" error "), std::string::npos) << Log();
    const std::size_t filed = dovecot_->Count("Archive/Aggregate");
    EXPECT_EQ(Stats(db_, dir_)["reports"], static_cast<int>(filed)) << Log();
    EXPECT_EQ(filed + dovecot_->Count(""), static_cast<std::size_t>(kMails));
    stopped_early += filed < static_cast<std::size_t>(kMails);
  }
  EXPECT_GT(stopped_early, 0) << "no run was stopped mid-drain; the test proves nothing";
}

TEST_F(Fetch, WatchCollectsNewMailAndSurvivesAServerRestart) {
  StartServer();
  const std::string config = Config();
  log_ = dir_ / "watch.log";
  const pid_t pid = Spawn({"fetch", "--watch", "-c", config}, log_);
  auto wait_for = [&](std::size_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (dovecot_->Count("Archive/Aggregate") < n && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return dovecot_->Count("Archive/Aggregate");
  };
  for (int i = 0; i < 5; ++i) dovecot_->Deliver("w" + std::to_string(i), ReportMail(i));
  EXPECT_EQ(wait_for(5), 5u) << Log();
  // The server has moved the mails; the batch is done once the program has its answer and logs
  // the batch (on a slow machine the restart would otherwise cut that answer off).
  const std::string first_batch = "/INBOX: 5 mail(s): 5 aggregate";
  for (int i = 0; i < 300 && Log().find(first_batch) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  dovecot_->Stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  dovecot_->Start();
  for (int i = 5; i < 12; ++i) dovecot_->Deliver("w" + std::to_string(i), ReportMail(i));
  EXPECT_EQ(wait_for(12), 12u) << Log();
  ::kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid), 0) << Log();
  EXPECT_NE(Log().find("retrying in"), std::string::npos) << Log();
  EXPECT_NE(Log().find(first_batch), std::string::npos) << "one line per batch: " << Log();
  EXPECT_EQ(Stats(db_, dir_)["reports"], 12);
}

TEST_F(Fetch, PostgresRestartDuringWatchLosesNothingAndArchivesOnlyStoredMail) {
  StartServer();
  // A short folder: the server's Unix socket path must fit in 108 bytes.
  dmarc::testing::PostgresServer pg(fs::path("/tmp") / ("pgf-" + std::to_string(::getpid())));
  pg.Start();
  const std::string url = pg.CreateDatabase("dmarc");
  // The fixture's configuration with the PostgreSQL store instead of its SQLite file.
  const std::string config = Config();
  std::string text = ReadFile(config);
  const std::string sqlite = "sqlite:" + db_;
  text.replace(text.find(sqlite), sqlite.size(), url);
  std::ofstream(config, std::ios::trunc) << text;
  log_ = dir_ / "watch.log";
  const pid_t pid = Spawn({"fetch", "--watch", "-c", config}, log_);
  auto wait_for = [&](std::size_t n, int seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (dovecot_->Count("Archive/Aggregate") < n && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return dovecot_->Count("Archive/Aggregate");
  };
  for (int i = 0; i < 5; ++i) dovecot_->Deliver("p" + std::to_string(i), ReportMail(i));
  ASSERT_EQ(wait_for(5, 30), 5u) << Log();
  // The database goes away; mail arriving meanwhile is read, but stays in the inbox: nothing is
  // archived before its reports are committed.
  pg.Stop();
  for (int i = 5; i < 10; ++i) dovecot_->Deliver("p" + std::to_string(i), ReportMail(i));
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), 5u) << Log();
  EXPECT_EQ(dovecot_->Count(""), 5u) << Log();
  pg.Start();
  EXPECT_EQ(wait_for(10, 60), 10u) << Log();
  for (int i = 10; i < 12; ++i) dovecot_->Deliver("p" + std::to_string(i), ReportMail(i));
  EXPECT_EQ(wait_for(12, 30), 12u) << Log();
  ::kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid), 0) << Log();
  EXPECT_EQ(dovecot_->Count(""), 0u) << Log();
  const auto stats = Stats(url, dir_);
  EXPECT_EQ(stats["reports"], 12) << stats.dump();
  EXPECT_EQ(stats["records"], 12) << stats.dump();
  EXPECT_EQ(stats["messages"], 36) << stats.dump();
}

// A stop while reverse lookups wait on a nameserver that never answers: "stopping" at once, the
// process ends within seconds (the lookups would take a minute), and nothing is lost: every mail
// is either archived with its report stored or still in the inbox.
TEST_F(Fetch, AStopCancelsPendingDnsLookupsAndLosesNothing) {
  StartServer();
  dmarc::testing::SilentServer silent;
  const std::string config = Config(
      "", "dns.toml",
      "nameservers = [\"" + silent.address() + "\"]\ndns_timeout_ms = 20000\ndns_retries = 1\n");
  for (int i = 0; i < 3; ++i) dovecot_->Deliver("d" + std::to_string(i), ReportMail(i));
  log_ = dir_ / "dns.log";
  const pid_t pid = Spawn({"fetch", "--watch", "-c", config}, log_);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // mails read, lookups pending
  const auto start = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid), 0) << Log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3)) << Log();
  EXPECT_NE(Log().find("stopping"), std::string::npos) << Log();
  const std::size_t archived = dovecot_->Count("Archive/Aggregate");
  EXPECT_EQ(archived + dovecot_->Count(""), 3u) << Log();
  if (archived > 0) EXPECT_EQ(Stats(db_, dir_)["reports"], static_cast<int>(archived)) << Log();
}

TEST_F(Fetch, WatchWithoutIdlePollsAtTheInterval) {
  StartServer();
  log_ = dir_ / "poll.log";
  const pid_t pid = Spawn({"fetch", "--watch", "-c", Config("idle = false\n")}, log_);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (int i = 0; i < 3; ++i) dovecot_->Deliver("p" + std::to_string(i), ReportMail(i));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (dovecot_->Count("Archive/Aggregate") < 3 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(dovecot_->Count("Archive/Aggregate"), 3u) << Log();
  ::kill(pid, SIGINT);
  EXPECT_EQ(Wait(pid), 0) << Log();
  EXPECT_EQ(dovecot_->Log().find("IDLE"), std::string::npos);
  EXPECT_NE(Log().find("fetch: 3 mail(s)"), std::string::npos) << Log();
}

TEST_F(Fetch, Pop3DeletesReportMailsAfterCommitAndKeepsTheOthersOnce) {
  StartServer();
  const auto [reports, others] = DeliverCorpus(12);
  const std::string config = Pop3Config("");
  ASSERT_EQ(Run({"fetch", "-c", config}), 0) << Log();
  EXPECT_EQ(dovecot_->Count(""), static_cast<std::size_t>(others)) << "only non-reports are left";
  auto s = Stats(db_, dir_);
  EXPECT_EQ(s["reports"], reports);
  EXPECT_EQ(s["rejected_inputs"], others);
  ASSERT_EQ(Run({"fetch", "-c", config}), 0) << Log();
  EXPECT_NE(Log().find("fetch: 0 mail(s)"), std::string::npos)
      << "kept mails are read once: " << Log();
}

TEST_F(Fetch, Pop3KeepRemembersWhatWasRead) {
  StartServer();
  for (int i = 0; i < 8; ++i) dovecot_->Deliver("p" + std::to_string(i), ReportMail(i));
  const std::string config = Pop3Config(
      "after = \"keep\"\ntls = \"starttls\"\nport = " + std::to_string(dovecot_->pop3) + "\n");
  std::string text = ReadFile(config);
  // The later port key wins in no TOML: remove the first one.
  text.erase(text.find("port = " + std::to_string(dovecot_->pop3s) + "\n"),
             ("port = " + std::to_string(dovecot_->pop3s) + "\n").size());
  std::ofstream(config) << text;
  ASSERT_EQ(Run({"fetch", "-c", config}), 0) << Log();
  EXPECT_EQ(dovecot_->Count(""), 8u);
  EXPECT_EQ(Stats(db_, dir_)["reports"], 8);
  for (int i = 8; i < 10; ++i) dovecot_->Deliver("p" + std::to_string(i), ReportMail(i));
  ASSERT_EQ(Run({"fetch", "-c", config}), 0) << Log();
  EXPECT_NE(Log().find("fetch: 2 mail(s)"), std::string::npos) << Log();
  EXPECT_EQ(Stats(db_, dir_)["reports"], 10);

  std::ofstream(dir_ / "wrong") << "nope\n";
  text = ReadFile(config);
  text.replace(text.find(Secret()), Secret().size(), (dir_ / "wrong").string());
  std::ofstream(config) << text;
  EXPECT_EQ(Run({"fetch", "-c", config}), 1);
  EXPECT_NE(Log().find("login as \"dmarc\" refused"), std::string::npos) << Log();
  EXPECT_NE(Log().find("check pop3.user and pop3.password"), std::string::npos) << Log();
}

TEST_F(Fetch, LocalSourcesAtOnceFromTheEnvironmentOnly) {
  // A drop folder with the real samples (two of them broken beyond repair), a Maildir and an
  // mbox, configured through environment variables alone.
  const fs::path drop = dir_ / "drop", md = dir_ / "Maildir";
  fs::create_directories(drop);
  fs::copy(TestData("real/parsedmarc-samples/aggregate"), drop / "aggregate");
  fs::copy_file(TestData("real/parsedmarc-samples/empty.xml"), drop / "empty.xml");
  const std::size_t dropped = static_cast<std::size_t>(
      std::distance(fs::recursive_directory_iterator(drop), fs::recursive_directory_iterator()));
  for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(md / sub);
  for (int i = 0; i < 3; ++i) std::ofstream(md / "new" / std::to_string(i)) << ReportMail(i);
  std::ofstream(md / "new" / "junk") << "Subject: hi\r\n\r\nno report\r\n";
  std::ofstream(dir_ / "box.mbox") << "From a@b Tue Nov 14 10:00:00 2023\n"
                                   << ReportMail(7) << "\nFrom a@b Tue Nov 14 10:00:00 2023\n"
                                   << ReportMail(8) << "\n";
  ::setenv("DMARC_REPORT_STORE_URL", db_.c_str(), 1);
  ::setenv("DMARC_REPORT_DIRECTORY_PATH", drop.c_str(), 1);
  ::setenv("DMARC_REPORT_MAILDIR_PATH", md.c_str(), 1);
  ::setenv("DMARC_REPORT_MBOX_PATH", (dir_ / "box.mbox").c_str(), 1);
  ::setenv("DMARC_REPORT_ENRICH_OFFLINE", "true", 1);
  const int rc = Run({"fetch"});
  for (const char* v :
       {"DMARC_REPORT_STORE_URL", "DMARC_REPORT_DIRECTORY_PATH", "DMARC_REPORT_MAILDIR_PATH",
        "DMARC_REPORT_MBOX_PATH", "DMARC_REPORT_ENRICH_OFFLINE"}) {
    ::unsetenv(v);
  }
  ASSERT_EQ(rc, 0) << Log();
  auto count = [](const fs::path& p) {
    std::size_t n = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
      n += it->is_regular_file();
    }
    return n;
  };
  EXPECT_EQ(count(drop / "invalid"), 1u) << "empty.xml: " << Log();
  EXPECT_TRUE(fs::exists(drop / "invalid" / "empty.xml"));
  EXPECT_EQ(count(drop / "processed") + count(drop / "invalid"), dropped - 1) << Log();
  EXPECT_TRUE(fs::exists(drop / "processed" / "aggregate" / "twilight.eml"));
  EXPECT_EQ(count(md / ".Archive.Aggregate"), 3u);
  EXPECT_EQ(count(md / ".Archive.Invalid"), 1u);
  EXPECT_EQ(count(md / "new") + count(md / "cur"), 0u);
  EXPECT_TRUE(fs::exists(dir_ / "box.mbox")) << "an mbox is read, never changed";
  // The same as `import` finds in the samples, plus the five generated reports.
  const std::string import_db = (dir_ / "import.db").string();
  ASSERT_EQ(
      RunToEnd({"import", "-q", "--db", import_db, TestData("real/parsedmarc-samples/aggregate")},
               dir_ / "import.log"),
      0);
  EXPECT_EQ(Stats(db_, dir_)["reports"], Stats(import_db, dir_)["reports"].get<int>() + 5) << Log();
}

TEST_F(Fetch, FailureKeepSampleFromTheConfiguration) {
  // The same real failure report fetched from a drop folder twice: with the default (headers)
  // the sample is kept, with keep_sample = "none" it is not.
  const std::string sample =
      TestData("real/parsedmarc-samples/failure/dmarc_ruf_report_linkedin.eml");
  auto fetch_with = [&](const std::string& name, const std::string& failure_table) {
    const fs::path drop = dir_ / ("drop-" + name);
    fs::create_directories(drop);
    fs::copy_file(sample, drop / "ruf.eml");
    const std::string db = (dir_ / (name + ".db")).string();
    const fs::path config = dir_ / (name + ".toml");
    std::ofstream(config) << "[store]\nurl = \"sqlite:" << db << "\"\n[directory]\npath = \""
                          << drop.string() << "\"\n[enrich]\noffline = true\n"
                          << failure_table;
    EXPECT_EQ(Run({"fetch", "-q", "--config", config.string()}), 0) << Log();
    EXPECT_TRUE(fs::exists(drop / "processed" / "ruf.eml")) << Log();
    auto r = dmarc::testing::RunDmarcReport({"export", "--db", db, "--type", "failure"}, dir_);
    EXPECT_EQ(r.status, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["failure_reports"].size(), 1u) << r.out;
    return j["failure_reports"][0];
  };
  const auto kept = fetch_with("headers", "");
  EXPECT_FALSE(kept["sample"].get<std::string>().empty()) << kept.dump();
  EXPECT_TRUE(kept["parsed_sample"].is_object()) << kept.dump();
  const auto none = fetch_with("none", "[failure]\nkeep_sample = \"none\"\n");
  EXPECT_TRUE(none["sample"].get<std::string>().empty()) << none.dump();
  EXPECT_TRUE(none["parsed_sample"].is_null()) << none.dump();
  EXPECT_EQ(none["source"]["ip_address"], kept["source"]["ip_address"]);
}

// Waits up to `seconds` for the file to exist.
bool Appears(const fs::path& p, int seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!fs::exists(p) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return fs::exists(p);
}

TEST_F(Fetch, WatchedDropFolderWakesOnArrivalAndWaitsForFilesBeingWritten) {
  // Polling every 600 s: anything picked up within the test's time came through inotify.
  const fs::path drop = dir_ / "drop";
  fs::create_directories(drop);
  const fs::path config = dir_ / "drop.toml";
  std::ofstream(config) << "[store]\nurl = \"sqlite:" << db_
                        << "\"\n[fetch]\nwatch_interval = 600\n"
                        << "[enrich]\noffline = true\n[directory]\npath = \"" << drop.string()
                        << "\"\n";
  log_ = dir_ / "drop.log";
  const pid_t pid = Spawn({"fetch", "--watch", "-c", config.string()}, log_);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  // Moved in whole: taken at once, not at the next poll.
  std::ofstream(dir_ / "moved.xml") << ReportXml(1);
  fs::rename(dir_ / "moved.xml", drop / "moved.xml");
  EXPECT_TRUE(Appears(drop / "processed" / "moved.xml", 20)) << Log();

  // Written slowly, in pieces, each write closing the file (so each wakes the watcher): never
  // read half-written. Temporary names are left alone until renamed.
  const std::string xml = ReportXml(2), other = ReportXml(3);
  const std::size_t piece = xml.size() / 5 + 1;
  ASSERT_EQ(xml.size(), other.size());
  for (std::size_t at = 0; at < xml.size(); at += piece) {
    std::ofstream(drop / "slow.xml", std::ios::app) << xml.substr(at, piece);
    std::ofstream(drop / "later.xml.part", std::ios::app) << other.substr(at, piece);
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
  }
  EXPECT_TRUE(Appears(drop / "processed" / "slow.xml", 20)) << Log();
  EXPECT_FALSE(fs::exists(drop / "invalid")) << Log();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(fs::exists(drop / "later.xml.part")) << Log();
  fs::rename(drop / "later.xml.part", drop / "later.xml");
  EXPECT_TRUE(Appears(drop / "processed" / "later.xml", 20)) << Log();

  ::kill(pid, SIGINT);
  EXPECT_EQ(Wait(pid), 0) << Log();
  EXPECT_EQ(Stats(db_, dir_)["reports"], 3) << Log();
}

}  // namespace
