// Soak: `run` watching a drop folder through one hour's worth of report arrivals, accelerated
// (1,200 arrivals: small reports, a large one every 60th, repeats and junk among them). The
// resident memory after the last round may exceed that after the warm-up by a fixed bound only.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "testing/cli.h"
#include "testing/process.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::ReadFile;
using dmarc::testing::TestData;

constexpr int kRounds = 20;            // each one simulated 3 minutes
constexpr int kArrivalsPerRound = 60;  // one report mail every 3 seconds
constexpr long kWarmUpRounds = 5;
// Built without sanitizers only (tests/CMakeLists.txt).
constexpr long kMaxGrowthKiB = 16 * 1024;  // measured: about 5 MiB (SQLite page cache filling)

long RssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return -1;
}

bool InboxEmpty(const fs::path& inbox) {
  for (const auto& e : fs::directory_iterator(inbox)) {
    if (e.is_regular_file()) return false;
  }
  return true;
}

std::string WithId(std::string xml, const std::string& old_id, const std::string& id) {
  const auto at = xml.find(old_id);
  EXPECT_NE(at, std::string::npos);
  return xml.replace(at, old_id.size(), id);
}

TEST(Soak, AnHourOfArrivalsKeepsMemoryFlat) {
  const fs::path dir = fs::temp_directory_path() / ("dmarc-soak-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const fs::path inbox = dir / "inbox";
  fs::create_directories(inbox);
  const std::string small =
      ReadFile(TestData("real/parsedmarc-samples/aggregate/"
                        "rfc9990-example.net!example.com!1700000000!1700086399.xml"));
  const std::string large = ReadFile(
      TestData("real/parsedmarc-samples/aggregate/!large-example.com!1711897200!1711983600.xml"));
  const std::string db = "sqlite:" + (dir / "reports.db").string();
  const fs::path config = dir / "run.toml";
  std::ofstream(config) << fmt::format(
      "[store]\nurl = \"{}\"\n[directory]\npath = \"{}\"\n[fetch]\nwatch_interval = 1\n"
      "[enrich]\noffline = true\n"
      "[log]\nlevel = \"warning\"\nstderr = false\nfile = \"{}\"\n[web]\nlisten = "
      "\"127.0.0.1:0\"\n",
      db, inbox.string(), (dir / "run.log").string());
  const pid_t pid = dmarc::testing::Spawn({"run", "--config", config.string()}, dir / "run.out");

  int distinct = 0;
  long warm = 0, last = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kArrivalsPerRound; ++i) {
      const int n = round * kArrivalsPerRound + i;
      // Written beside the folder, then renamed into it: a drop folder takes whole files only.
      const std::string name = fmt::format("arrival-{:05}.xml", n);
      const fs::path file = dir / name;
      if (n % 100 == 99) {
        std::ofstream(file) << "junk " << n;  // rejected, filed as invalid
      } else if (n % 50 == 49) {
        std::ofstream(file) << WithId(small, "dmarcbis-test-report-001", "soak-0");  // repeat
      } else if (n % 60 == 0) {
        std::ofstream(file) << WithId(large, "example.com:1711897200", fmt::format("big-{}", n));
        ++distinct;
      } else {
        std::ofstream(file) << WithId(small, "dmarcbis-test-report-001", fmt::format("soak-{}", n));
        ++distinct;
      }
      fs::rename(file, inbox / name);
    }
    bool done = false;
    for (int i = 0; i < 600 && !done; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      done = InboxEmpty(inbox);
    }
    ASSERT_TRUE(done) << "round " << round
                      << " not collected in 30 s: " << ReadFile((dir / "run.log").string());
    last = RssKiB(pid);
    if (round + 1 == kWarmUpRounds) warm = last;
  }
  std::cout << "RSS after warm-up " << warm << " KiB, after " << kRounds << " rounds " << last
            << " KiB\n";
  EXPECT_GT(warm, 0);
  EXPECT_LE(last - warm, kMaxGrowthKiB);

  ::kill(pid, SIGTERM);
  EXPECT_EQ(dmarc::testing::Wait(pid), 0);
  auto stats = dmarc::testing::RunCli({"stats", "--db", db, "--json"}, dir);
  ASSERT_EQ(stats.status, 0) << stats.err;
  // soak-0 is a repeat of arrival 0's id only if arrival 0 was small: it is large (n % 60 == 0),
  // so soak-0 is stored once, at its first repeat.
  EXPECT_EQ(nlohmann::json::parse(stats.out)["reports"].get<int>(), distinct + 1);
  fs::remove_all(dir);
}

}  // namespace
