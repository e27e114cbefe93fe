// Runs the dmarc-report binary as a user would: exit statuses, stdout/stderr, file output,
// standard input, directories, Maildirs and mboxes.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "testing/run_program.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::FreshTestDir;
using dmarc::testing::Outcome;
using dmarc::testing::ReadFile;
using dmarc::testing::RunDmarcReport;
using dmarc::testing::TestData;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        FreshTestDir("dmarc-cli", ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(dir_); }

  Outcome Exec(const std::vector<std::string>& args, const std::string& stdin_path = "/dev/null") {
    return RunDmarcReport(dmarc::testing::EnrichmentOffByDefault(args), dir_, stdin_path);
  }

  fs::path dir_;
};

const std::string kSamples = "real/parsedmarc-samples/";

TEST_F(Cli, ParsesOneFileToJson) {
  Outcome r = Exec({"parse", TestData(kSamples + "aggregate/rfc9990-sample.xml")});
  EXPECT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["aggregate_reports"].size(), 1u);
  EXPECT_EQ(j["aggregate_reports"][0]["report_metadata"]["report_id"], "3v98abbp8ya9n3va8yr8oa3ya");
  EXPECT_NE(r.err.find("1 report(s) parsed, 0 rejected"), std::string::npos) << r.err;
}

// --type picks the one list filled in the JSON document too (all by default), also for reports
// streamed past --stream-bytes; other types are counted on stderr.
TEST_F(Cli, TypeFiltersTheJsonDocument) {
  const std::string samples = TestData(kSamples);
  const std::vector<std::string> inputs = {samples + "aggregate/rfc9990-sample.xml",
                                           samples + "failure", samples + "smtp_tls"};
  auto parse = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "parse");
    args.insert(args.end(), inputs.begin(), inputs.end());
    return Exec(args);
  };
  for (const std::string stream : {"0", "16"}) {
    Outcome every = parse({"-q", "--stream-bytes", stream});
    ASSERT_EQ(every.status, 0) << every.err;
    const auto all = nlohmann::json::parse(every.out);
    EXPECT_EQ(all["aggregate_reports"].size(), 1u);
    EXPECT_EQ(all["failure_reports"].size(), 5u);
    EXPECT_EQ(all["smtp_tls_reports"].size(), 4u);
    EXPECT_EQ(parse({"-q", "--stream-bytes", stream, "--type", "all"}).out, every.out);
    const std::map<std::string, std::string> lists = {{"aggregate", "aggregate_reports"},
                                                      {"failure", "failure_reports"},
                                                      {"smtp_tls", "smtp_tls_reports"}};
    for (const auto& [type, list] : lists) {
      Outcome one = parse({"--stream-bytes", stream, "--type", type});
      ASSERT_EQ(one.status, 0) << one.err;
      const auto j = nlohmann::json::parse(one.out);
      for (const auto& [other_type, other] : lists) {
        if (other == list) {
          EXPECT_EQ(j[other], all[other]) << type << " " << stream;
        } else {
          EXPECT_TRUE(j[other].empty()) << type << " " << other << " " << stream;
        }
      }
      EXPECT_NE(one.err.find("of other types are not in this output"), std::string::npos)
          << one.err;
    }
  }
  EXPECT_EQ(parse({"-q", "-f", "csv", "--type", "all"}).status, 2);
}

TEST_F(Cli, ExitStatusOneAndPathReasonWhenAnInputIsRejected) {
  const std::string good = TestData(kSamples + "aggregate/rfc9990-sample.xml");
  const std::string bad = TestData("broken/truncated.xml.gz");
  Outcome r = Exec({"parse", "-q", good, bad});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(bad + ": truncated gzip stream\n"), std::string::npos) << r.err;
  // The good report is still written.
  EXPECT_EQ(nlohmann::json::parse(r.out)["aggregate_reports"].size(), 1u);
}

TEST_F(Cli, FailureAndSmtpTlsReportsJoinTheDocument) {
  const std::string samples = TestData(kSamples);
  Outcome r = Exec({"parse", samples + "aggregate/rfc9990-sample.xml", samples + "failure",
                    samples + "smtp_tls"});
  EXPECT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["aggregate_reports"].size(), 1u);
  EXPECT_EQ(j["failure_reports"].size(), 5u);
  EXPECT_EQ(j["smtp_tls_reports"].size(), 4u);
  EXPECT_NE(r.err.find("10 report(s) parsed, 0 rejected"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 aggregate, 5 failure, 4 SMTP TLS"), std::string::npos) << r.err;
  // The default keeps only the headers of the reported message.
  for (const auto& f : j["failure_reports"]) EXPECT_TRUE(f["parsed_sample"]["body"].is_null());

  Outcome full = Exec({"parse", "-q", "--failure-sample", "full",
                       samples + "failure/dmarc_ruf_report_linkedin.eml"});
  EXPECT_EQ(full.status, 0) << full.err;
  const auto fj = nlohmann::json::parse(full.out);
  EXPECT_FALSE(fj["failure_reports"][0]["parsed_sample"]["body"].is_null());
  Outcome none = Exec({"parse", "-q", "--failure-sample", "none",
                       samples + "failure/dmarc_ruf_report_linkedin.eml"});
  const auto nj = nlohmann::json::parse(none.out);
  EXPECT_EQ(nj["failure_reports"][0]["sample"], "");
  EXPECT_TRUE(nj["failure_reports"][0]["parsed_sample"].is_null());
  EXPECT_EQ(Exec({"parse", "--failure-sample", "all", "x"}).status, 2);

  Outcome csv = Exec({"parse", "-f", "csv", "--type", "smtp_tls", samples + "smtp_tls",
                      samples + "aggregate/rfc9990-sample.xml"});
  EXPECT_EQ(csv.status, 0) << csv.err;
  EXPECT_EQ(csv.out.rfind("organization_name,begin_date,", 0), 0u) << csv.out;
  EXPECT_NE(csv.err.find("1 report(s) of other types are not in this output"), std::string::npos)
      << csv.err;
}

// Subjects and attachment names are the sender's text: a newline or a terminal escape in them
// must not start a line of its own (a forged message) or reach the terminal.
TEST_F(Cli, ControlCharactersOfSubjectsAndAttachmentNamesAreEscapedOnStderr) {
  std::ofstream(dir_ / "subject.eml")
      << "From: a@example.com\r\nTo: b@example.com\r\n"
         "Subject: =?utf-8?q?hi=0Aforged_line_=1B[31mred?=\r\n\r\nno report here\r\n";
  std::ofstream(dir_ / "attachment.eml")
      << "From: a@example.com\r\nTo: b@example.com\r\nSubject: r\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
         "Content-Type: application/gzip\r\n"
         "Content-Disposition: attachment; filename*=utf-8''x%0Aforged%1B%5B31m.xml.gz\r\n"
         "Content-Transfer-Encoding: "
         "base64\r\n\r\nH4sIAKZSE2sC/7NJS01NSUpMzrazGWWNEA==\r\n--b--\r\n";
  Outcome r =
      Exec({"parse", "-q", (dir_ / "subject.eml").string(), (dir_ / "attachment.eml").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("\nforged"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(subject \"hi\\nforged line \\x1b[31mred\")\n"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("[part 1: x\\nforged\\x1b[31m.xml.gz]: "), std::string::npos) << r.err;
}

// CSV injection: a report's org_name (the sender's text) starting like a formula is shown as
// text in the CSV unless --csv-raw asks for parsedmarc's raw cells.
TEST_F(Cli, CsvCellsThatStartLikeAFormulaAreNeutralisedUnlessCsvRaw) {
  std::string xml = ReadFile(TestData(kSamples + "aggregate/rfc9990-sample.xml"));
  const std::size_t at = xml.find("<org_name>") + 10;
  xml.replace(at, xml.find("</org_name>") - at, "=HYPERLINK(\"http://evil.example\",\"x\")");
  std::ofstream(dir_ / "evil.xml") << xml;
  Outcome r = Exec({"parse", "-q", "-f", "csv", (dir_ / "evil.xml").string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\","),
            std::string::npos)
      << r.out;
  r = Exec({"parse", "-q", "-f", "csv", "--csv-raw", (dir_ / "evil.xml").string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(",\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\","),
            std::string::npos)
      << r.out;
}

TEST_F(Cli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(Exec({"parse"}).status, 2);
  EXPECT_EQ(Exec({"parse", "--format", "yaml", "x"}).status, 2);
  EXPECT_EQ(Exec({"frobnicate"}).status, 2);
  EXPECT_EQ(Exec({}).status, 2);
  EXPECT_EQ(Exec({"--help"}).status, 0);
}

TEST_F(Cli, MissingPathIsNamed) {
  Outcome r = Exec({"parse", "-q", (dir_ / "nope.xml").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("nope.xml: no such file or directory"), std::string::npos);
}

TEST_F(Cli, ReadsStandardInput) {
  Outcome r = Exec({"parse", "-q", "-"}, TestData(kSamples + "extract_report/nice-input.xml.gz"));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["aggregate_reports"][0]["records"].size(), 20u);
}

TEST_F(Cli, WritesCsvToAFile) {
  const fs::path out = dir_ / "out.csv";
  Outcome r =
      Exec({"parse", "-q", "--format", "csv", "--output", out.string(),
            TestData(kSamples + "aggregate/usssa.com!example.com!1538784000!1538870399.xml")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  const std::string csv = ReadFile(out);
  EXPECT_EQ(csv.rfind("xml_schema,org_name,", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);  // header + 2 records
}

TEST_F(Cli, WalksDirectoriesAndKeepsInputOrder) {
  // Parallel workers, yet output in sorted path order, identical with 1 and 2 jobs.
  const std::string samples = TestData(kSamples + "aggregate");
  Outcome one = Exec({"parse", "-q", "-j", "1", samples});
  Outcome two = Exec({"parse", "-q", "-j", "2", samples});
  EXPECT_EQ(one.status, 0) << one.err;
  EXPECT_EQ(one.out, two.out);
  const auto j = nlohmann::json::parse(one.out);
  EXPECT_EQ(j["aggregate_reports"].size(), 19u);
}

// Output waiting for its turn beyond --output-memory-bytes goes to a temporary file and comes
// back in its place: with no memory for it at all (every result but the next one waits in the
// file), each format and type is the same document, with any number of workers. One report is
// streamed too (--stream-bytes), so its spool is set aside as well. The failure reports come
// first, so the document's first aggregate report is in a result that waited (the "," before it
// is left out on its way from the file).
TEST_F(Cli, OutputWaitingBeyondItsMemoryComesBackInOrderFromATemporaryFile) {
  const std::string samples = TestData(kSamples);
  const std::vector<std::string> inputs = {samples + "failure", samples + "aggregate",
                                           samples + "smtp_tls"};
  const std::vector<std::vector<std::string>> formats = {
      {}, {"-f", "csv"}, {"-f", "csv", "--type", "failure"}, {"-f", "csv", "--type", "smtp_tls"}};
  for (const auto& format : formats) {
    std::vector<std::string> base = {"parse", "-q", "--stream-bytes", "20000"};
    base.insert(base.end(), format.begin(), format.end());
    base.insert(base.end(), inputs.begin(), inputs.end());
    Outcome reference = Exec(base);
    ASSERT_EQ(reference.status, 0) << reference.err;
    ASSERT_GT(reference.out.size(), 1000u);
    for (const char* jobs : {"1", "3"}) {
      std::vector<std::string> args = base;
      args.insert(args.begin() + 1, {"-j", jobs, "--output-memory-bytes", "0"});
      Outcome spilled = Exec(args);
      EXPECT_EQ(spilled.status, 0) << spilled.err;
      // (Not EXPECT_EQ: its diff of two large documents takes too long.)
      EXPECT_TRUE(spilled.out == reference.out)
          << "-j " << jobs << " " << testing::PrintToString(format) << ": " << spilled.out.size()
          << " bytes, not " << reference.out.size();
      // Spilled output goes from the temporary file to the output by sendfile where the output
      // takes it (the file above, a pipe), and through this process where it does not (a file
      // opened for appending).
      for (const std::string way : {" | cat > ", " >> "}) {
        const fs::path out = dir_ / "output";
        fs::remove(out);
        std::string cmd =
            dmarc::testing::ShellQuote(std::string(DMARC_BINARY_DIR) + "/dmarc-report");
        for (const auto& a : dmarc::testing::EnrichmentOffByDefault(args)) {
          cmd += " " + dmarc::testing::ShellQuote(a);
        }
        cmd += " 2>/dev/null </dev/null" + way + dmarc::testing::ShellQuote(out.string());
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
        EXPECT_TRUE(ReadFile(out) == reference.out) << way << "-j " << jobs;
      }
    }
  }
}

TEST_F(Cli, ReadsAMaildirButNotItsTmp) {
  const fs::path md = dir_ / "Maildir";
  for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(md / sub);
  fs::copy_file(TestData(kSamples + "aggregate/twilight.eml"), md / "new" / "1.host:2,");
  fs::copy_file(TestData(kSamples + "aggregate/mimecast-weird-gzip.eml"),
                md / "cur" / "2.host:2,S");
  // A half-delivered mail in tmp/ and Dovecot's index files are not inputs.
  std::ofstream(md / "tmp" / "3.host") << "Subject: half";
  std::ofstream(md / "dovecot-uidlist") << "3 V1 N4";
  Outcome r = Exec({"parse", "-q", md.string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["aggregate_reports"].size(), 2u);
}

TEST_F(Cli, ReadsAnMbox) {
  const std::string mail = ReadFile(TestData(kSamples + "aggregate/twilight.eml"));
  const fs::path mbox = dir_ / "reports.mbox";
  std::ofstream(mbox) << "From a@b Mon Jan  1 00:00:00 2024\n"
                      << mail << "\nFrom a@b Mon Jan  1 00:00:01 2024\n"
                      << mail;
  Outcome r = Exec({"parse", "-q", mbox.string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["aggregate_reports"].size(), 2u);
}

TEST_F(Cli, LimitsAreConfigurable) {
  const std::string zip = TestData("broken/zip-mixed.zip");
  EXPECT_EQ(Exec({"parse", "-q", zip}).status, 0);
  Outcome r = Exec({"parse", "-q", "--max-zip-entries", "2", zip});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("over the limit of 2"), std::string::npos);
}

TEST_F(Cli, HostilePayloadsStayVerbatimAndEscaped) {
  Outcome json = Exec({"parse", "-q", TestData("broken/script-payload.xml")});
  ASSERT_EQ(json.status, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["aggregate_reports"][0]["report_metadata"]["org_name"],
            "<script>alert(1)</script>\"'&,;\n=cmd|' /C calc'!A0");
  Outcome csv = Exec({"parse", "-q", "-f", "csv", TestData("broken/script-payload.xml")});
  EXPECT_NE(csv.out.find("\"<script>alert(1)</script>\"\"'&,;\n=cmd|' /C calc'!A0\""),
            std::string::npos);
}

// What a terminal shows while hash-password runs on it: everything the program wrote, with the
// lines typed (`answers`, each sent once the text so far ends with its prompt).
struct TerminalRun {
  std::string screen;
  int status = -1;
};

TerminalRun RunOnTerminal(const std::vector<std::string>& args,
                          const std::vector<std::pair<std::string, std::string>>& answers) {
  TerminalRun run;
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) return run;
  if (pid == 0) {
    const std::string bin = std::string(DMARC_BINARY_DIR) + "/dmarc-report";
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  std::size_t next = 0;
  for (;;) {
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    char buf[512];
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the program has exited
    run.screen.append(buf, static_cast<std::size_t>(n));
    if (next < answers.size() && run.screen.ends_with(answers[next].first)) {
      const std::string line = answers[next++].second + "\n";
      if (::write(master, line.data(), line.size()) != static_cast<ssize_t>(line.size())) break;
    }
  }
  int raw = 0;
  if (::waitpid(pid, &raw, WNOHANG) != pid) {  // still waiting for a line it will not get
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &raw, 0);
  }
  ::close(master);
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return run;
}

// On a terminal the password is asked twice and never shown; from a pipe it is one line.
TEST_F(Cli, HashPasswordDoesNotEchoOnATerminal) {
  TerminalRun ok =
      RunOnTerminal({"hash-password", "--user", "bob"},
                    {{"Password for bob: ", "Tr0ub4dor&3"}, {"Again: ", "Tr0ub4dor&3"}});
  EXPECT_EQ(ok.status, 0) << ok.screen;
  EXPECT_EQ(ok.screen.find("Tr0ub4dor"), std::string::npos) << ok.screen;
  EXPECT_NE(ok.screen.find("bob:$argon2id$"), std::string::npos) << ok.screen;

  TerminalRun differ = RunOnTerminal({"hash-password", "--user", "bob"},
                                     {{"Password for bob: ", "one"}, {"Again: ", "two"}});
  EXPECT_EQ(differ.status, 2) << differ.screen;
  EXPECT_NE(differ.screen.find("the two passwords differ"), std::string::npos) << differ.screen;
  EXPECT_EQ(differ.screen.find("bob:$"), std::string::npos) << differ.screen;

  const fs::path input = dir_ / "password";
  std::ofstream(input) << "Tr0ub4dor&3\n";
  Outcome piped = Exec({"hash-password", "--user", "bob"}, input.string());
  EXPECT_EQ(piped.status, 0) << piped.err;
  EXPECT_TRUE(piped.out.starts_with("bob:$argon2id$")) << piped.out;
  EXPECT_EQ(piped.err.find("Password"), std::string::npos) << piped.err;
}

// Commands that read or update a store refuse one that does not exist (a typo in --db used to
// give an empty store, silently created); only import, fetch and run create one.
TEST_F(Cli, ReadingCommandsRefuseAStoreThatDoesNotExist) {
  const fs::path db = dir_ / "typo.db";
  const std::vector<std::vector<std::string>> commands = {
      {"stats", "--db", db.string()},
      {"export", "--db", db.string()},
      {"report", "--db", db.string(), "--html", (dir_ / "r.html").string()},
      {"enrich", "--offline", "--db", db.string()},
      {"vacuum", "--db", db.string()},
      {"serve", "--db", db.string(), "--listen", "127.0.0.1:0"},
  };
  for (const auto& args : commands) {
    Outcome r = Exec(args);
    EXPECT_NE(r.status, 0) << args[0];
    EXPECT_NE(r.err.find("no store at " + db.string() + ": create one with"), std::string::npos)
        << args[0] << ": " << r.err;
    EXPECT_FALSE(fs::exists(db)) << args[0];
  }
  // Once import made it, they read it.
  Outcome imported = Exec(
      {"import", "-q", "--db", db.string(), TestData(kSamples + "aggregate/rfc9990-sample.xml")});
  ASSERT_EQ(imported.status, 0) << imported.err;
  Outcome stats = Exec({"stats", "--db", db.string()});
  EXPECT_EQ(stats.status, 0) << stats.err;
}

// --version names the commit the program was built from and what is built in; a mistyped
// command is named, with the closest one.
TEST_F(Cli, VersionNamesTheCommitAndUnknownCommandsAreNamed) {
  Outcome v = Exec({"--version"});
  EXPECT_EQ(v.status, 0) << v.err;
  const std::string head = "dmarc-report ";
  ASSERT_TRUE(v.out.starts_with(head)) << v.out;
  const std::size_t at = v.out.find(" (commit ");
  ASSERT_NE(at, std::string::npos) << v.out;
  const std::string commit = v.out.substr(at + 9, v.out.find(')', at) - at - 9);
  const fs::path git_out = dir_ / "head";
  const std::string git = "git -C " + dmarc::testing::ShellQuote(DMARC_SOURCE_DIR) +
                          " rev-parse --short=12 HEAD >" + git_out.string() + " 2>/dev/null";
  if (std::system(git.c_str()) == 0) {
    std::string expected = ReadFile(git_out);
    while (!expected.empty() && expected.back() == '\n') expected.pop_back();
    EXPECT_TRUE(commit.starts_with(expected)) << commit << " vs " << expected;
  } else {
    EXPECT_EQ(commit, "unknown");
  }
  EXPECT_NE(v.out.find("stores: SQLite (embedded), PostgreSQL"), std::string::npos) << v.out;

  Outcome typo = Exec({"improt", "x.xml"});
  EXPECT_EQ(typo.status, 2);
  EXPECT_NE(typo.err.find("unknown command \"improt\"; did you mean \"import\"?"),
            std::string::npos)
      << typo.err;
  Outcome unknown = Exec({"frobnicate"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find("unknown command \"frobnicate\"\ncommands: parse, import"),
            std::string::npos)
      << unknown.err;
}

}  // namespace
