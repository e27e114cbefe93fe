// Memory under attack (issue #15), the program run as a service runs it: each hostile input is
// generated here, and the program runs under a memory cap (`ulimit -v`, RLIMIT_AS) or has its
// peak compared. Built without sanitizers only (tests/CMakeLists.txt): AddressSanitizer reserves
// terabytes of address space, so a cap on it says nothing.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "testing/base64.h"
#include "testing/compress.h"
#include "testing/process.h"
#include "testing/run_program.h"
#include "testing/test_util.h"
#include "testing/zip_writer.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::Base64;
using dmarc::testing::FreshTestDir;
using dmarc::testing::Outcome;
using dmarc::testing::RunDmarcReport;

// The cap: far above what these inputs need now (under 200 MB of address space with two
// workers), far below what they took before (3.1 GB, 24 GB, 1 GB each).
constexpr int kCapKiB = 768 * 1024;
const std::string kCapped = fmt::format("ulimit -v {} &&", kCapKiB);

class MemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir("dmarc-memory",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A Maildir holding these mails, and a configuration that fetches from it into a store.
  fs::path MaildirConfig(const std::vector<std::string>& mails, const std::string& extra = "") {
    for (const char* sub : {"new", "cur", "tmp"}) fs::create_directories(dir_ / "Maildir" / sub);
    for (std::size_t i = 0; i < mails.size(); ++i) {
      std::ofstream(dir_ / "Maildir" / "new" / fmt::format("{}.eml", i), std::ios::binary)
          << mails[i];
    }
    const fs::path config = dir_ / "fetch.toml";
    std::ofstream(config) << fmt::format(
        "[store]\nurl = \"sqlite:{}\"\n[maildir]\npath = \"{}\"\n[fetch]\njobs = 2\n"
        "[enrich]\noffline = true\n{}",
        (dir_ / "reports.db").string(), (dir_ / "Maildir").string(), extra);
    return config;
  }

  std::size_t StoredRejections() {
    const fs::path out = dir_ / "stats.json";
    fs::remove(out);
    EXPECT_EQ(dmarc::testing::RunToEnd(
                  {"stats", "--db", "sqlite:" + (dir_ / "reports.db").string(), "--json"}, out),
              0);
    return nlohmann::json::parse(dmarc::testing::ReadFile(out))
        .value("rejected_inputs", std::size_t{0});
  }

  fs::path dir_;
};

// An mbox of `n` spam mails.
std::string SpamMbox(int n) {
  std::string mbox;
  for (int i = 0; i < n; ++i) {
    mbox += fmt::format(
        "From spam@example.net Mon Jan  1 00:00:00 2024\nFrom: spam@example.net\n"
        "Subject: offer {}\n\n{}\n\n",
        i, std::string(i % 2 ? 300 : 100, 'x'));
  }
  return mbox;
}

// Every rejection used to copy the first MiB of the whole input: 3,000 mails took 3.1 GB, and
// 100,000 tiny ones 24 GB (killed).
TEST_F(MemoryTest, AnMboxOfSpamIsRejectedUnderTheCap) {
  for (int n : {3000, 100'000}) {
    const fs::path mbox = dir_ / fmt::format("spam-{}.mbox", n);
    std::ofstream(mbox, std::ios::binary) << SpamMbox(n);
    fs::remove(dir_ / "reports.db");
    const Outcome r = RunDmarcReport({"import", "--db", (dir_ / "reports.db").string(), "-j", "2",
                                      "--no-enrich", "-q", mbox.string()},
                                     dir_, "/dev/null", kCapped);
    EXPECT_EQ(r.status, 1) << n << " mails: " << r.err.substr(0, 2000);
    EXPECT_EQ(r.err.find("bad_alloc"), std::string::npos);
    // 1,000 rejections kept, the rest counted in one.
    EXPECT_NE(r.err.find(fmt::format("{} more rejection(s)", n - 1000)), std::string::npos);
    EXPECT_EQ(StoredRejections(), 1001u);
  }
}

// A 3.6 MB zip of invalid reports in one Maildir mail made every `fetch` and `run` end in
// bad_alloc, leaving the mail where it was: a crash loop.
TEST_F(MemoryTest, AZipOfInvalidReportsInAMailIsFiledAsInvalidUnderTheCap) {
  std::vector<std::pair<std::string, std::string>> entries;
  std::uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 1000; ++i) {
    std::string junk = "<feedback>";
    while (junk.size() < 3500) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift: text that does not compress
      junk += static_cast<char>('a' + x % 26);
    }
    entries.emplace_back(fmt::format("r{}.xml", i), junk);
  }
  const std::string mail =
      "From: a@example.net\r\nTo: dmarc@example.com\r\nSubject: reports\r\nMIME-Version: 1.0\r\n"
      "Content-Type: application/zip; name=\"r.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      Base64(dmarc::testing::ZipOf(entries)) + "\r\n";
  ASSERT_GT(mail.size(), 3'000'000u);
  const fs::path config = MaildirConfig({mail});
  const Outcome r =
      RunDmarcReport({"fetch", "-c", config.string(), "-q"}, dir_, "/dev/null", kCapped);
  EXPECT_EQ(r.status, 0) << r.err.substr(0, 2000);
  EXPECT_EQ(r.err.find("bad_alloc"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(dir_ / "Maildir" / "new"));
  EXPECT_TRUE(fs::exists(dir_ / "Maildir" / ".Archive.Invalid" / "cur" / "0.eml"));
  EXPECT_EQ(StoredRejections(), 1000u);
}

// An aggregate report of about `bytes` bytes of XML, as a mail with a gzip attachment.
std::string LargeReportMail(int id, std::size_t bytes) {
  std::string xml = fmt::format(
      "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>big.example</org_name>"
      "<email>r@big.example</email><report_id>big-{}</report_id><date_range><begin>1700000000"
      "</begin><end>1700086399</end></date_range></report_metadata><policy_published><domain>"
      "example.com</domain><p>none</p></policy_published>\n",
      id);
  for (std::uint32_t i = 0; xml.size() < bytes; ++i) {
    xml += fmt::format(
        "<record><row><source_ip>10.{}.{}.{}</source_ip><count>{}</count><policy_evaluated>"
        "<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>"
        "</row><identifiers><header_from>example.com</header_from></identifiers><auth_results>"
        "<spf><domain>mail.example.com</domain><result>fail</result></spf></auth_results>"
        "</record>\n",
        (i >> 16) & 255, (i >> 8) & 255, i & 255, i % 7 + 1);
  }
  xml += "</feedback>\n";
  return "From: r@big.example\r\nTo: dmarc@example.com\r\nSubject: Report\r\nMIME-Version: 1.0\r\n"
         "Content-Type: application/gzip; name=\"r.xml.gz\"\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n" +
         Base64(dmarc::testing::GzipOf(xml)) + "\r\n";
}

// The peak resident memory of `fetch` over these mails, in KiB (the children's high-water mark:
// each fetch runs in a fresh forked child, waited for before the next).
long FetchPeakKiB(const fs::path& config, const fs::path& dir) {
  const pid_t pid = fork();
  if (pid == 0) {
    const Outcome r = RunDmarcReport({"fetch", "-c", config.string(), "-q"}, dir);
    std::_Exit(r.status == 0 ? 0 : 3);
  }
  int status = 0;
  rusage usage{};
  EXPECT_EQ(wait4(pid, &status, 0, &usage), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return usage.ru_maxrss;  // the child's own children included (RUSAGE_CHILDREN of the child)
}

// Reports held at once are bounded by bytes, not by count: eight large reports in one fetch held
// eight parsed reports at once (eight of ~100 MB reached 6.5 GB; eight of 12 MB 3.4 times the
// peak of one). Now each such report weighs more than --max-batch-bytes, so the peak of eight
// stays near that of one: one parsed, one being committed (measured: 2.2 times).
TEST_F(MemoryTest, LargeReportsInOneFetchAreHeldByBytes) {
  constexpr std::size_t kReportBytes = 12 * 1024 * 1024;
  std::vector<std::string> mails;
  for (int i = 0; i < 8; ++i) mails.push_back(LargeReportMail(i, kReportBytes));
  const fs::path eight = MaildirConfig(mails);
  const long eight_kib = FetchPeakKiB(eight, dir_);
  // Streamed into the store (12 MB each, past --stream-bytes), and filed as aggregate reports.
  EXPECT_TRUE(fs::is_empty(dir_ / "Maildir" / "new"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "Maildir" / ".Archive.Aggregate" / "cur"),
                          fs::directory_iterator()),
            8);
  const fs::path stats = dir_ / "eight.json";
  ASSERT_EQ(dmarc::testing::RunToEnd(
                {"stats", "--db", "sqlite:" + (dir_ / "reports.db").string(), "--json"}, stats),
            0);
  EXPECT_EQ(nlohmann::json::parse(dmarc::testing::ReadFile(stats))["reports"], 8);
  fs::rename(dir_ / "Maildir", dir_ / "Maildir-eight");
  fs::remove(dir_ / "reports.db");
  const fs::path one = MaildirConfig({LargeReportMail(100, kReportBytes)});
  const long one_kib = FetchPeakKiB(one, dir_);
  RecordProperty("peak_one_report_kib", std::to_string(one_kib));
  RecordProperty("peak_eight_reports_kib", std::to_string(eight_kib));
  EXPECT_LT(eight_kib, 11 * one_kib / 4)
      << "one report: " << one_kib << " KiB, eight: " << eight_kib;
}

// An aggregate report of `records` records (about 420 bytes of XML each).
void WriteBigReport(const fs::path& path, int records) {
  std::ofstream out(path, std::ios::binary);
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback><report_metadata><org_name>"
         "big.example</org_name><email>r@big.example</email><report_id>big-1</report_id>"
         "<date_range><begin>1711929600</begin><end>1712015999</end></date_range>"
         "</report_metadata><policy_published><domain>example.com</domain><p>none</p>"
         "</policy_published>\n";
  for (int i = 0; i < records; ++i) {
    out << fmt::format(
        "<record><row><source_ip>10.{}.{}.{}</source_ip><count>{}</count><policy_evaluated>"
        "<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>"
        "</row><identifiers><header_from>example.com</header_from></identifiers><auth_results>"
        "<dkim><domain>example.com</domain><selector>s1</selector><result>pass</result></dkim>"
        "<spf><domain>bounce.example.com</domain><result>fail</result></spf></auth_results>"
        "</record>\n",
        (i >> 16) & 255, (i >> 8) & 255, i & 255, i % 7 + 1);
  }
  out << "</feedback>\n";
}

// One huge aggregate report (~60 MB of XML, plain and gzip) is parsed as a stream in flat memory
// (issue #14): under a cap of 256 MiB of address space, which the report parsed whole exceeds
// (about 870 MB resident: measured), every record comes out, in JSON and CSV.
TEST_F(MemoryTest, AHugeReportIsParsedAsAStreamUnderTheCap) {
  constexpr int kRecords = 150'000;
  const fs::path xml = dir_ / "big.xml";
  WriteBigReport(xml, kRecords);
  ASSERT_GT(fs::file_size(xml), 60'000'000u);
  const fs::path gz = dir_ / "big.xml.gz";
  std::ofstream(gz, std::ios::binary) << dmarc::testing::GzipOf(dmarc::testing::ReadFile(xml));
  const std::string cap = "ulimit -v 262144 &&";
  for (const fs::path& input : {xml, gz}) {
    const Outcome whole = RunDmarcReport(
        {"parse", "-q", "--no-enrich", "--stream-bytes", "0", "-o", "/dev/null", input.string()},
        dir_, "/dev/null", cap);
    EXPECT_EQ(whole.status, 1) << input << ": parsed whole under the cap?";
    const fs::path json = dir_ / "out.json";
    const Outcome r = RunDmarcReport({"parse", "-q", "--no-enrich", "--stream-bytes", "1048576",
                                      "-o", json.string(), input.string()},
                                     dir_, "/dev/null", cap);
    ASSERT_EQ(r.status, 0) << input << ": " << r.err.substr(0, 2000);
    const auto doc = nlohmann::json::parse(dmarc::testing::ReadFile(json));
    ASSERT_EQ(doc["aggregate_reports"].size(), 1u);
    EXPECT_EQ(doc["aggregate_reports"][0]["records"].size(), std::size_t{kRecords});
    const fs::path csv = dir_ / "out.csv";
    const Outcome c = RunDmarcReport({"parse", "-q", "--no-enrich", "--stream-bytes", "1048576",
                                      "-f", "csv", "-o", csv.string(), input.string()},
                                     dir_, "/dev/null", cap);
    ASSERT_EQ(c.status, 0) << input << ": " << c.err.substr(0, 2000);
    const std::string rows = dmarc::testing::ReadFile(csv);
    EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), kRecords + 1);
  }
}

// The same report imported into the store (issue #14): streamed, its records and XML wait in
// spools the store reads back, so import stays under a cap of 512 MiB of address space (the
// store's page cache and its threads' stacks and arenas take their part), which the report
// imported whole exceeds (rejected: out of memory). Every record is stored, and the XML kept.
TEST_F(MemoryTest, AHugeReportIsImportedAsAStreamUnderTheCap) {
  constexpr int kRecords = 150'000;
  const fs::path xml = dir_ / "big.xml";
  WriteBigReport(xml, kRecords);
  const fs::path gz = dir_ / "big.xml.gz";
  std::ofstream(gz, std::ios::binary) << dmarc::testing::GzipOf(dmarc::testing::ReadFile(xml));
  const std::string cap = "ulimit -v 524288 &&";
  const std::string whole_db = "sqlite:" + (dir_ / "whole.db").string();
  const Outcome whole = RunDmarcReport(
      {"import", "-q", "--offline", "--stream-bytes", "0", "--db", whole_db, gz.string()}, dir_,
      "/dev/null", cap);
  EXPECT_NE(whole.status, 0) << "imported whole under the cap?";
  const std::string db = "sqlite:" + (dir_ / "reports.db").string();
  const Outcome r = RunDmarcReport(
      {"import", "-q", "--offline", "--stream-bytes", "1048576", "--db", db, gz.string()}, dir_,
      "/dev/null", cap);
  ASSERT_EQ(r.status, 0) << r.err.substr(0, 2000);
  const fs::path stats = dir_ / "stats.json";
  ASSERT_EQ(dmarc::testing::RunToEnd({"stats", "--db", db, "--json"}, stats), 0);
  const auto doc = nlohmann::json::parse(dmarc::testing::ReadFile(stats));
  EXPECT_EQ(doc["reports"], 1);
  EXPECT_EQ(doc["records"], kRecords);
  // The XML as received, from the store (compressed in pieces, written into its blob in pieces).
  const fs::path raw = dir_ / "raw.xml";
  ASSERT_EQ(std::system(fmt::format("sqlite3 '{}' 'SELECT writefile(\"{}\", bytes) FROM "
                                    "aggregate_raw' >/dev/null && zstd -dcq '{}' > '{}.out'",
                                    (dir_ / "reports.db").string(), raw.string(), raw.string(),
                                    raw.string())
                            .c_str()),
            0);
  EXPECT_TRUE(dmarc::testing::ReadFile(raw.string() + ".out") == dmarc::testing::ReadFile(xml))
      << "the stored XML is not the report as received";
}

}  // namespace
