// `parse` with aggregate reports parsed as streams (issue #14): with `--stream-bytes 1` every
// aggregate report past its first bytes is streamed (plain, gzip, zip, in a mail), and the
// output must be the golden files' bytes, as with every report parsed whole.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "testing/compress.h"
#include "testing/run_program.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::FreshTestDir;
using dmarc::testing::Outcome;
using dmarc::testing::ReadFile;
using dmarc::testing::RunDmarcReport;
using dmarc::testing::TestData;

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir("dmarc-stream",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(dir_); }

  Outcome Exec(const std::vector<std::string>& args) {
    return RunDmarcReport(dmarc::testing::EnrichmentOffByDefault(args), dir_);
  }

  fs::path dir_;
};

struct Golden {
  std::string golden;  // testdata/golden/<type>/<sample>.<json|csv>
  std::string sample;  // testdata/real/parsedmarc-samples/<type>/<sample>
  std::string type;    // the sample's folder
  bool json;
};

std::vector<Golden> Goldens() {
  std::vector<Golden> out;
  const fs::path root = TestData("golden");
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const fs::path& p = entry.path();
    const std::string type = p.parent_path().filename().string();
    out.push_back({p.string(),
                   TestData("real/parsedmarc-samples/" + type + "/" + p.stem().string()), type,
                   p.extension() == ".json"});
  }
  std::sort(out.begin(), out.end(),
            [](const Golden& a, const Golden& b) { return a.golden < b.golden; });
  return out;
}

std::vector<std::string> CsvArgs(const Golden& g) {
  if (g.json) return {};
  if (g.type == "failure") return {"-f", "csv", "--type", "failure"};
  if (g.type == "smtp_tls") return {"-f", "csv", "--type", "smtp_tls"};
  return {"-f", "csv"};
}

TEST_F(StreamTest, EveryGoldenComesOutTheSameWholeAndStreamed) {
  const std::vector<Golden> goldens = Goldens();
  // 38 aggregate (19 samples, JSON and CSV) and more: guards against a walk over nothing.
  ASSERT_GE(goldens.size(), 60u);
  for (const Golden& g : goldens) {
    ASSERT_TRUE(fs::exists(g.sample)) << g.sample;
    const std::string expected = ReadFile(g.golden);
    for (const char* stream_bytes : {"0", "1", "4194304"}) {
      std::vector<std::string> args = {"parse", "-q", "--stream-bytes", stream_bytes};
      for (const auto& a : CsvArgs(g)) args.push_back(a);
      args.push_back(g.sample);
      const Outcome r = Exec(args);
      EXPECT_EQ(r.out, expected) << g.golden << " with --stream-bytes " << stream_bytes << "\n"
                                 << r.err;
    }
  }
}

// Import streams what is larger than --stream-bytes into the store (issue #14): the same store
// as an import of every report whole, as export and stats tell, the rejections too.
TEST_F(StreamTest, ImportStoresTheSameWholeAndStreamed) {
  const std::string samples = TestData("real/parsedmarc-samples/");
  std::map<std::string, std::string> exported, stats, addresses;
  for (const char* stream_bytes : {"0", "1"}) {
    const std::string db = "sqlite:" + (dir_ / (std::string("s") + stream_bytes + ".db")).string();
    const Outcome r =
        Exec({"import", "-q", "-j", "2", "--offline", "--stream-bytes", stream_bytes, "--db", db,
              samples + "aggregate", samples + "aggregate_invalid", samples + "extract_report",
              samples + "failure", samples + "smtp_tls", samples + "empty.xml"});
    EXPECT_EQ(r.status, 1) << r.err;  // empty.xml is rejected
    const Outcome e = Exec({"export", "--db", db, "--type", "aggregate"});
    ASSERT_EQ(e.status, 0) << e.err;
    exported[stream_bytes] = e.out;
    const Outcome s = Exec({"stats", "--db", db, "--json"});
    ASSERT_EQ(s.status, 0) << s.err;
    stats[stream_bytes] = s.out;
    // What the dashboard shows of each address (filled from the spool for streamed reports).
    const fs::path rows = dir_ / "addresses.txt";
    ASSERT_EQ(std::system(("sqlite3 " + db.substr(7) +
                           " 'SELECT ip, base_domain, country, asn FROM ip_info_cache ORDER BY ip'"
                           " > " +
                           rows.string())
                              .c_str()),
              0);
    addresses[stream_bytes] = ReadFile(rows);
  }
  EXPECT_GT(exported["0"].size(), 10000u);
  EXPECT_EQ(exported["0"], exported["1"]);
  EXPECT_EQ(stats["0"], stats["1"]);
  EXPECT_GT(std::count(addresses["0"].begin(), addresses["0"].end(), '\n'), 50);
  EXPECT_EQ(addresses["0"], addresses["1"]);
}

// Many inputs at once, in parallel, with enrichment and --verbose: the same bytes on standard
// output and the same log lines, whether reports are streamed or not.
TEST_F(StreamTest, ManyInputsEnrichedAndVerboseAreTheSameStreamed) {
  const std::string samples = TestData("real/parsedmarc-samples/");
  for (const char* format : {"json", "csv"}) {
    std::vector<std::string> whole = {"parse",
                                      "-v",
                                      "-j",
                                      "2",
                                      "--offline",
                                      "-f",
                                      format,
                                      samples + "aggregate",
                                      samples + "extract_report",
                                      samples + "failure",
                                      samples + "smtp_tls"};
    std::vector<std::string> streamed = whole;
    streamed.insert(streamed.begin() + 1, {"--stream-bytes", "1"});
    whole.insert(whole.begin() + 1, {"--stream-bytes", "0"});
    const Outcome a = Exec(whole);
    const Outcome b = Exec(streamed);
    EXPECT_EQ(a.status, b.status);
    EXPECT_GT(a.out.size(), 10000u) << a.err;
    EXPECT_EQ(a.out, b.out) << format;
    EXPECT_EQ(a.err, b.err) << format;
  }
}

// A streamed report broken midway (a gzip cut short after records were formatted) is rejected
// with the container's reason, and what it handed out is dropped; the other inputs are still
// written. An XML file cut short inside a record is rejected as when parsed whole.
TEST_F(StreamTest, AReportBrokenMidwayIsRejectedAndTheOthersAreWritten) {
  const std::string samples = TestData("real/parsedmarc-samples/aggregate/");
  const std::string xml = ReadFile(samples + "!large-example.com!1711897200!1711983600.xml");
  const std::string gz = dmarc::testing::GzipOf(xml);
  const fs::path cut = dir_ / "cut.xml.gz";
  std::ofstream(cut, std::ios::binary) << gz.substr(0, gz.size() * 3 / 4);
  const fs::path cut_xml = dir_ / "cut.xml";
  std::ofstream(cut_xml, std::ios::binary) << xml.substr(0, xml.size() * 3 / 4);
  const std::string good = samples + "rfc9990-sample.xml";
  for (const char* format : {"json", "csv"}) {
    const Outcome r = Exec(
        {"parse", "-q", "--stream-bytes", "1", "-f", format, cut.string(), good, cut_xml.string()});
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find(cut.string() + ": truncated gzip stream\n"), std::string::npos) << r.err;
    const Outcome whole = Exec(
        {"parse", "-q", "--stream-bytes", "0", "-f", format, cut.string(), good, cut_xml.string()});
    EXPECT_EQ(r.out, whole.out) << format;
    // Rejected too (the streamed parser words where it stopped differently from pugixml's).
    EXPECT_NE(r.err.find(cut_xml.string() + ": not well-formed XML"), std::string::npos) << r.err;
    EXPECT_NE(whole.err.find(cut_xml.string() + ": not well-formed XML"), std::string::npos);
    EXPECT_NE(r.out.find("3v98abbp8ya9n3va8yr8oa3ya"), std::string::npos) << format;  // good's id
  }
}

}  // namespace
