// The store's promises, checked with real processes: two importers at once, kill -9 at random
// moments followed by a re-run, and `parse` / `export` printing the same thing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "testing/process.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::ReadFile;
using dmarc::testing::TestData;

using dmarc::testing::RunToEnd;
using dmarc::testing::Spawn;
using dmarc::testing::Wait;

nlohmann::json Stats(const std::string& db, const fs::path& dir) {
  return dmarc::testing::StoreStats(db, dir);
}

class Import : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dmarc-import-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "corpus");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes n distinct reports of `records` records each; returns the message total.
  std::uint64_t MakeCorpus(int n, int records) {
    std::uint64_t total = 0;
    for (int i = 0; i < n; ++i) {
      std::string xml =
          "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>gen.example</org_name>"
          "<email>r@gen.example</email><report_id>gen-" +
          std::to_string(i) + "</report_id><date_range><begin>" +
          std::to_string(1700000000 + i * 3600) + "</begin><end>" +
          std::to_string(1700000000 + i * 3600 + 3599) +
          "</end></date_range></report_metadata><policy_published><domain>example.com</domain>"
          "<p>none</p></policy_published>";
      for (int k = 0; k < records; ++k) {
        const int count = 1 + (i * 7 + k) % 13;
        total += static_cast<std::uint64_t>(count);
        xml += "<record><row><source_ip>10." + std::to_string(i % 250) + "." +
               std::to_string(k % 250) + ".1</source_ip><count>" + std::to_string(count) +
               "</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
               "<spf>fail</spf></policy_evaluated></row><identifiers><header_from>example.com"
               "</header_from></identifiers><auth_results><dkim><domain>example.com</domain>"
               "<selector>s</selector><result>pass</result></dkim></auth_results></record>";
      }
      xml += "</feedback>";
      std::ofstream(dir_ / "corpus" / ("r" + std::to_string(i) + ".xml")) << xml;
    }
    return total;
  }

  fs::path dir_;
};

TEST_F(Import, TwoImportersAtOnceBothSucceedWithoutDuplicates) {
  const std::uint64_t total = MakeCorpus(300, 40);
  const std::string db = (dir_ / "shared.db").string();
  const std::string corpus = (dir_ / "corpus").string();
  const pid_t a =
      Spawn({"import", "-q", "--batch-records", "500", "--db", db, corpus}, dir_ / "a.log");
  const pid_t b =
      Spawn({"import", "-q", "--batch-records", "500", "--db", db, corpus}, dir_ / "b.log");
  EXPECT_EQ(Wait(a), 0) << ReadFile(dir_ / "a.log");
  EXPECT_EQ(Wait(b), 0) << ReadFile(dir_ / "b.log");
  EXPECT_EQ(ReadFile(dir_ / "a.log").find("locked"), std::string::npos);
  EXPECT_EQ(ReadFile(dir_ / "b.log").find("locked"), std::string::npos);
  const auto s = Stats(db, dir_);
  EXPECT_EQ(s["reports"], 300);
  EXPECT_EQ(s["records"], 300 * 40);
  EXPECT_EQ(s["messages"], total);
}

TEST_F(Import, KillNineAtAnyMomentThenRerunLosesAndDuplicatesNothing) {
  const std::uint64_t total = MakeCorpus(400, 30);
  const std::string db = (dir_ / "killed.db").string();
  const std::string corpus = (dir_ / "corpus").string();
  // How long a full import takes here, to spread the kills over it.
  const std::string probe_db = (dir_ / "probe.db").string();
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(RunToEnd({"import", "-q", "--db", probe_db, corpus}, dir_ / "probe.log"), 0);
  const auto full_ms = std::max<long>(20, std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::steady_clock::now() - t0)
                                              .count());
  std::mt19937 rng(12345);
  int killed = 0;
  for (int round = 0; round < 12; ++round) {
    const pid_t pid =
        Spawn({"import", "-q", "-j", "1", "--batch-records", "200", "--db", db, corpus},
              dir_ / "killed.log");
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<long>(1, full_ms * 2)(rng)));
    if (kill(pid, SIGKILL) == 0) ++killed;
    Wait(pid);
    // Whatever was committed is consistent at every moment.
    const auto s = Stats(db, dir_);
    EXPECT_LE(s["reports"].get<int>(), 400);
    EXPECT_LE(s["messages"].get<std::uint64_t>(), total);
  }
  EXPECT_GT(killed, 0);
  ASSERT_EQ(RunToEnd({"import", "-q", "--db", db, corpus}, dir_ / "final.log"), 0)
      << ReadFile(dir_ / "final.log");
  const auto s = Stats(db, dir_);
  EXPECT_EQ(s["reports"], 400);
  EXPECT_EQ(s["records"], 400 * 30);
  EXPECT_EQ(s["messages"], total);
  // And the store equals one made without interruption.
  const auto clean = Stats(probe_db, dir_);
  EXPECT_EQ(s, clean);
}

TEST_F(Import, ParseAndExportAgree) {
  // Distinct reports (the sample folder holds some duplicates, which parse prints and import
  // drops).
  const std::string base = TestData("real/parsedmarc-samples/");
  for (const char* name :
       {"aggregate/rfc9990-sample.xml", "aggregate/twilight.eml",
        "aggregate_invalid/report_with_upper_cased_pass.xml", "extract_report/nice-input.xml.zip",
        "aggregate/ikea.com!example.de!1538690400!1538776800.xml"}) {
    fs::copy_file(base + name, dir_ / "corpus" / fs::path(name).filename());
  }
  const std::string db = (dir_ / "agree.db").string();
  const std::string corpus = (dir_ / "corpus").string();
  ASSERT_EQ(RunToEnd({"import", "-q", "--db", db, corpus}, dir_ / "import.log"), 0);
  for (const char* format : {"json", "csv"}) {
    const fs::path parsed = dir_ / (std::string("parsed.") + format);
    const fs::path exported = dir_ / (std::string("exported.") + format);
    ASSERT_EQ(
        RunToEnd({"parse", "-q", "-f", format, "-o", parsed.string(), corpus}, dir_ / "p.log"), 0);
    ASSERT_EQ(
        RunToEnd({"export", "--db", db, "-f", format, "-o", exported.string()}, dir_ / "e.log"), 0)
        << ReadFile(dir_ / "e.log");
    EXPECT_EQ(ReadFile(parsed), ReadFile(exported)) << format;
  }
}

TEST_F(Import, StatsJsonHasExactlyTheDocumentedKeys) {
  MakeCorpus(3, 2);
  const std::string db = (dir_ / "keys.db").string();
  ASSERT_EQ(RunToEnd({"import", "-q", "--db", db, (dir_ / "corpus").string()}, dir_ / "i.log"), 0);
  const auto s = Stats(db, dir_);
  // Key order as printed (nlohmann::json sorts; ordered_json keeps the document's order).
  const auto ordered = nlohmann::ordered_json::parse(ReadFile(dir_ / "stats.json"));
  std::vector<std::string> keys;
  for (const auto& [k, v] : ordered.items()) keys.push_back(k);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"reports", "records", "messages", "dmarc_pass", "dmarc_fail",
                                      "by_disposition", "by_domain", "source_ips",
                                      "failure_reports", "smtp_tls_reports", "rejected_inputs"}));
  EXPECT_EQ(s["reports"], 3);
  EXPECT_EQ(s["dmarc_pass"], s["messages"]);  // every generated row passes DKIM
}

TEST_F(Import, RejectedInputsAreStoredAndCounted) {
  MakeCorpus(2, 1);
  fs::copy_file(TestData("broken/truncated.xml.gz"), dir_ / "corpus" / "bad.gz");
  const std::string db = (dir_ / "rej.db").string();
  const fs::path log = dir_ / "import.log";
  EXPECT_EQ(RunToEnd({"import", "--db", db, (dir_ / "corpus").string()}, log), 1);
  const std::string out = ReadFile(log);
  EXPECT_NE(out.find("bad.gz: truncated gzip stream"), std::string::npos) << out;
  EXPECT_NE(out.find("2 new report(s)"), std::string::npos) << out;
  auto s = Stats(db, dir_);
  EXPECT_EQ(s["rejected_inputs"], 1);
  EXPECT_EQ(s["reports"], 2);
  // Importing again: nothing new, the rejection is not counted twice.
  EXPECT_EQ(RunToEnd({"import", "-q", "--db", db, (dir_ / "corpus").string()}, log), 1);
  s = Stats(db, dir_);
  EXPECT_EQ(s["rejected_inputs"], 1);
  EXPECT_EQ(s["reports"], 2);
}

TEST_F(Import, LinksInsideAFolderAreRejectedByNameButANamedLinkIsFollowed) {
  MakeCorpus(1, 1);
  std::ofstream(dir_ / "secret") << "root:$6$secret-hash:19000:0:99999:7:::";
  fs::create_symlink(dir_ / "secret", dir_ / "corpus" / "shadow.eml");
  const std::string db = (dir_ / "links.db").string();
  const fs::path log = dir_ / "import.log";
  EXPECT_EQ(RunToEnd({"import", "--db", db, (dir_ / "corpus").string()}, log), 1);
  const std::string out = ReadFile(log);
  EXPECT_NE(out.find("shadow.eml: a symbolic link: not read"), std::string::npos) << out;
  auto s = Stats(db, dir_);
  EXPECT_EQ(s["rejected_inputs"], 1);
  EXPECT_EQ(s["reports"], 1);
  // Nothing of the target reached the store.
  for (const char* suffix : {"", "-wal"}) {
    if (fs::exists(db + suffix)) {
      EXPECT_EQ(ReadFile(db + suffix).find("secret-hash"), std::string::npos) << suffix;
    }
  }
  // A link named on the command line is the user's own choice: it is read (here: not a report).
  fs::create_symlink(dir_ / "corpus" / "r0.xml", dir_ / "named.xml");
  EXPECT_EQ(RunToEnd({"import", "--db", db, (dir_ / "named.xml").string()}, log), 0)
      << ReadFile(log);
}

TEST_F(Import, FailureAndSmtpTlsReportsAreStoredCountedAndExported) {
  // parse and export print the same documents and CSV for each type; the LinkedIn sample with
  // CRLF line ends is a duplicate of the LF one and is left out of the comparison corpus.
  const std::string base = TestData("real/parsedmarc-samples/");
  for (const char* type : {"failure", "smtp_tls"}) {
    const fs::path corpus = dir_ / type;
    fs::create_directories(corpus);
    for (const auto& e : fs::directory_iterator(base + type)) {
      if (e.path().filename() == "dmarc_ruf_report_linkedin.crlf.eml") continue;
      fs::copy_file(e.path(), corpus / e.path().filename());
    }
    const std::string db = (dir_ / "other.db").string();
    ASSERT_EQ(RunToEnd({"import", "-q", "--db", db, corpus.string()}, dir_ / "import.log"), 0)
        << ReadFile(dir_ / "import.log");
    for (const char* format : {"json", "csv"}) {
      const fs::path parsed = dir_ / (std::string("parsed.") + format);
      const fs::path exported = dir_ / (std::string("exported.") + format);
      ASSERT_EQ(RunToEnd({"parse", "-q", "-f", format, "--type", type, "-o", parsed.string(),
                          corpus.string()},
                         dir_ / "p.log"),
                0);
      ASSERT_EQ(
          RunToEnd({"export", "--db", db, "-f", format, "--type", type, "-o", exported.string()},
                   dir_ / "e.log"),
          0)
          << ReadFile(dir_ / "e.log");
      EXPECT_EQ(ReadFile(parsed), ReadFile(exported)) << type << " " << format;
    }
  }
  // Both types counted; a second import adds nothing.
  const std::string db = (dir_ / "other.db").string();
  auto s = Stats(db, dir_);
  EXPECT_EQ(s["failure_reports"], 4);
  EXPECT_EQ(s["smtp_tls_reports"], 4);
  EXPECT_EQ(s["reports"], 0);
  const fs::path log = dir_ / "again.log";
  ASSERT_EQ(RunToEnd({"import", "--db", db, base + "failure", base + "smtp_tls"}, log), 0);
  EXPECT_NE(ReadFile(log).find("failure reports: 0 new, 5 duplicate(s); SMTP TLS reports: 0 new, "
                               "4 duplicate(s)"),
            std::string::npos)
      << ReadFile(log);
  s = Stats(db, dir_);
  EXPECT_EQ(s["failure_reports"], 4);
  EXPECT_EQ(s["smtp_tls_reports"], 4);
  // The JSON export of one type has the shape of parse's document, the other arrays empty.
  const fs::path out = dir_ / "tls.json";
  ASSERT_EQ(RunToEnd({"export", "--db", db, "--type", "smtp_tls", "-o", out.string()}, log), 0);
  const auto j = nlohmann::json::parse(ReadFile(out));
  EXPECT_TRUE(j["aggregate_reports"].empty());
  EXPECT_TRUE(j["failure_reports"].empty());
  EXPECT_EQ(j["smtp_tls_reports"].size(), 4u);
  // --type all: every type in one document, the one parse prints of the same inputs.
  const std::string aggregate = base + "aggregate/rfc9990-sample.xml";
  const std::string mixed = (dir_ / "mixed.db").string();
  const std::vector<std::string> inputs = {aggregate, (dir_ / "failure").string(),
                                           (dir_ / "smtp_tls").string()};
  std::vector<std::string> import_args = {"import", "-q", "--db", mixed};
  std::vector<std::string> parse_args = {"parse", "-q", "-o", (dir_ / "all-parsed.json").string()};
  for (const auto& i : inputs) {
    import_args.push_back(i);
    parse_args.push_back(i);
  }
  ASSERT_EQ(RunToEnd(import_args, log), 0) << ReadFile(log);
  ASSERT_EQ(RunToEnd(parse_args, log), 0) << ReadFile(log);
  const fs::path all = dir_ / "all.json";
  ASSERT_EQ(RunToEnd({"export", "--db", mixed, "--type", "all", "-o", all.string()}, log), 0)
      << ReadFile(log);
  EXPECT_EQ(ReadFile(all), ReadFile(dir_ / "all-parsed.json"));
  const auto every = nlohmann::json::parse(ReadFile(all));
  EXPECT_EQ(every["aggregate_reports"].size(), 1u);
  EXPECT_EQ(every["failure_reports"].size(), 4u);
  EXPECT_EQ(every["smtp_tls_reports"].size(), 4u);
  EXPECT_EQ(RunToEnd({"export", "--db", mixed, "--type", "all", "-f", "csv"}, log), 2);
  EXPECT_NE(ReadFile(log).find("--type all needs --format json"), std::string::npos);
}

TEST_F(Import, BadDatesAreUsageErrors) {
  const fs::path log = dir_ / "x.log";
  EXPECT_EQ(RunToEnd({"stats", "--db", (dir_ / "x.db").string(), "--from", "2024-02-30"}, log), 2);
  EXPECT_NE(ReadFile(log).find("2024-02-30"), std::string::npos);
  EXPECT_EQ(RunToEnd({"export", "--db", (dir_ / "x.db").string(), "--to", "yesterday"}, log), 2);
}

}  // namespace
