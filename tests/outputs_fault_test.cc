// Fault tests of the outputs (docs/outputs.md, issue #18): the real program (`run`, `fetch`)
// delivering to a webhook receiver that is down for a while, with `run` killed (SIGKILL) while
// reports wait and again while they are being delivered. The receiver (cpp-httplib, in this test)
// checks every request's HMAC-SHA256 signature and records the documents' keys as they arrive:
// every stored report must arrive, none that was not stored, each key delivered in the order
// stored, and no more repeats than one batch in flight when the process died.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "outputs/outbox.h"
#include "outputs/webhook.h"
#include "store/store.h"
#include "testing/net.h"
#include "testing/process.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::ReadFile;

constexpr const char* kSecret = "fault-test-secret";

template <class Pred>
bool WaitUntil(Pred pred, int seconds = 60) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

// A webhook receiver on a fixed port, started and stopped at will.
class Receiver {
 public:
  explicit Receiver(int port) : port_(port) {}
  ~Receiver() { Stop(); }
  void Start(int delay_ms) {
    server_ = std::make_unique<httplib::Server>();
    server_->Post("/hook", [this, delay_ms](const httplib::Request& req, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      const std::lock_guard lock(mu_);
      if (req.get_header_value("X-DMARC-Report-Signature") !=
          dmarc::outputs::WebhookSignature(kSecret, req.body)) {
        ++bad_;
        res.status = 401;
        return;
      }
      keys_.push_back(req.get_header_value("X-DMARC-Report-Key"));
      res.status = 200;
    });
    ASSERT_TRUE(server_->bind_to_port("127.0.0.1", port_));
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  void Stop() {
    if (!server_) return;
    server_->stop();
    thread_.join();
    server_.reset();
  }
  std::vector<std::string> Keys() {
    const std::lock_guard lock(mu_);
    return keys_;
  }
  int Bad() {
    const std::lock_guard lock(mu_);
    return bad_;
  }

 private:
  int port_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> keys_;
  int bad_ = 0;
};

class OutputsFault : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = dmarc::testing::FreshTestDir("outputs-fault");
    fs::create_directories(dir_ / "inbox");
    std::ofstream(dir_ / "secret") << kSecret << "\n";
    fs::permissions(dir_ / "secret", fs::perms::owner_read | fs::perms::owner_write);
    port_ = dmarc::testing::FreePort();
    db_ = "sqlite:" + (dir_ / "store.db").string();
  }
  std::string Config(bool required) {
    const std::string file = (dir_ / "c.toml").string();
    std::ofstream(file) << fmt::format(
        "[store]\nurl = \"{}\"\n[directory]\npath = \"{}\"\n[fetch]\nwatch_interval = 1\n"
        "[enrich]\nenabled = false\n[web]\nlisten = \"127.0.0.1:{}\"\n"
        "[output.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/hook\"\n"
        "secret_file = \"{}\"\nrequired = {}\nbatch_size = 3\nretry_min = 1\nretry_max = 2\n"
        "timeout = 5\n",
        db_, (dir_ / "inbox").string(), web_port_, port_, (dir_ / "secret").string(), required);
    return file;
  }
  // Copies the first n sample reports (from `from` on) into the inbox.
  void Drop(std::size_t from, std::size_t n) {
    std::vector<fs::path> samples;
    for (const auto& e :
         fs::directory_iterator(dmarc::testing::TestData("real/parsedmarc-samples/aggregate"))) {
      samples.push_back(e.path());
    }
    std::sort(samples.begin(), samples.end());
    ASSERT_GE(samples.size(), from + n);
    for (std::size_t i = from; i < from + n; ++i) {
      fs::copy_file(samples[i], dir_ / "inbox" / samples[i].filename());
    }
  }
  // The keys of the stored reports, in the order stored.
  std::vector<std::string> StoredKeys() {
    auto st = dmarc::store::OpenStore(db_, {});
    EXPECT_TRUE(st.ok()) << st.error();
    std::vector<std::string> keys;
    if (!st.ok()) return keys;
    EXPECT_TRUE((*st)
                    ->ForEachAggregate({},
                                       [&](dmarc::model::AggregateReport&& r) {
                                         keys.push_back(dmarc::outputs::AggregateKey(r));
                                       })
                    .ok());
    return keys;
  }
  nlohmann::json Outputs() {
    const fs::path out = dir_ / "outputs.json";
    const int rc = std::system(fmt::format("'{}' outputs --db '{}' --json >'{}' 2>/dev/null",
                                           dmarc::testing::Binary(), db_, out.string())
                                   .c_str());
    (void)rc;
    auto j = nlohmann::json::parse(ReadFile(out.string()), nullptr, false);
    return j.is_object() && !j["outputs"].empty() ? j["outputs"][0] : nlohmann::json();
  }
  // Every mail of the inbox filed (the directory source moves them into processed/).
  bool InboxFiled() {
    for (const auto& e : fs::directory_iterator(dir_ / "inbox")) {
      if (e.path().filename() != "processed") return false;
    }
    return true;
  }
  std::string Log() { return fs::exists(dir_ / "run.log") ? ReadFile(dir_ / "run.log") : ""; }

  // Every stored key arrived, none other, in the order stored (each key's first arrival), and no
  // key more than twice in all.
  void ExpectDeliveredInOrder(const std::vector<std::string>& got,
                              const std::vector<std::string>& stored, std::size_t max_repeats) {
    std::vector<std::string> first;
    std::set<std::string> seen;
    for (const auto& k : got) {
      if (seen.insert(k).second) first.push_back(k);
    }
    EXPECT_EQ(first, stored);
    EXPECT_LE(got.size() - first.size(), max_repeats) << "repeats after the kill";
  }

  fs::path dir_;
  int port_ = 0, web_port_ = dmarc::testing::FreePort();
  std::string db_;
};

TEST_F(OutputsFault, ReceiverDownThenUpWithRunKilledTwiceDeliversEveryReportInOrder) {
  Receiver receiver(port_);
  const std::string config = Config(false);
  Drop(0, 10);
  pid_t run = dmarc::testing::Spawn({"run", "--config", config}, dir_ / "run.log");
  // Receiver down: the reports are stored and the mails filed (the output is not required), the
  // deliveries fail and wait for their retry.
  ASSERT_TRUE(WaitUntil([&] { return InboxFiled(); })) << Log();
  const std::size_t first = StoredKeys().size();
  ASSERT_GT(first, 5u);  // the samples repeat a report or two
  ASSERT_TRUE(WaitUntil([&] { return Outputs().value("failures", 0) >= 2; })) << Log();
  EXPECT_EQ(Outputs().value("backlog", 0), first);
  // /metrics: the backlog (set every 5 s) and the failures, never the secret.
  httplib::Client web("127.0.0.1", web_port_);
  const std::string backlog =
      fmt::format("dmarc_report_output_backlog{{output=\"hook\"}} {}", first);
  std::string metrics;
  EXPECT_TRUE(WaitUntil([&] {
    auto res = web.Get("/metrics");
    metrics = res ? res->body : "";
    return metrics.find(backlog) != std::string::npos;
  })) << metrics;
  EXPECT_NE(metrics.find("dmarc_report_output_failing{output=\"hook\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("dmarc_report_output_failures_total{output=\"hook\"}"), std::string::npos);
  EXPECT_EQ(metrics.find(kSecret), std::string::npos);
  // The dashboard's badge reads /api/outputs.
  auto api = web.Get("/api/outputs");
  ASSERT_TRUE(api);
  EXPECT_EQ(nlohmann::json::parse(api->body, nullptr, false).value("failing", 0), 1) << api->body;
  ::kill(run, SIGKILL);
  EXPECT_EQ(dmarc::testing::Wait(run), -SIGKILL);
  // Up again, slowly (so that the next kill lands mid-delivery); more reports arrive meanwhile.
  receiver.Start(150);
  Drop(10, 5);
  run = dmarc::testing::Spawn({"run", "--config", config}, dir_ / "run.log");
  ASSERT_TRUE(WaitUntil([&] { return receiver.Keys().size() >= 4; })) << Log();
  ::kill(run, SIGKILL);
  EXPECT_EQ(dmarc::testing::Wait(run), -SIGKILL);
  const std::size_t before_restart = receiver.Keys().size();
  run = dmarc::testing::Spawn({"run", "--config", config}, dir_ / "run.log");
  ASSERT_TRUE(WaitUntil([&] { return InboxFiled(); })) << Log();
  const std::size_t all = StoredKeys().size();
  EXPECT_GT(all, first);
  EXPECT_LT(before_restart, all) << "killed before the end";
  ASSERT_TRUE(WaitUntil([&] { return Outputs().value("backlog", 1) == 0; })) << Log();
  ::kill(run, SIGTERM);
  EXPECT_EQ(dmarc::testing::Wait(run), 0) << Log();
  EXPECT_EQ(receiver.Bad(), 0);
  // Each batch of 3 in flight at the kill may come again (delivery is at least once; the key is
  // the receiver's document id, so a repeat replaces the same document).
  ExpectDeliveredInOrder(receiver.Keys(), StoredKeys(), 3);
  const nlohmann::json state = Outputs();
  EXPECT_EQ(state["failing"], false);
  EXPECT_GE(state["delivered"].get<std::size_t>(), all);
  EXPECT_NE(state["last_error"], nullptr);  // the refused connections, kept for the record
  EXPECT_EQ(Log().find(kSecret), std::string::npos) << "the secret is never logged";
}

TEST_F(OutputsFault, ARequiredOutputHoldsTheMailsUntilItDelivered) {
  Receiver receiver(port_);
  const std::string config = Config(true);
  Drop(0, 4);
  // Receiver down: the reports are stored, but their mails stay in the inbox.
  EXPECT_NE(dmarc::testing::RunToEnd({"fetch", "--config", config}, dir_ / "run.log"), 0);
  EXPECT_FALSE(StoredKeys().empty()) << Log();
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "inbox"), fs::directory_iterator()), 4)
      << Log();
  EXPECT_NE(Log().find("the mails of this batch stay where they are"), std::string::npos) << Log();
  receiver.Start(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // retry_min
  EXPECT_EQ(dmarc::testing::RunToEnd({"fetch", "--config", config}, dir_ / "run.log"), 0) << Log();
  ExpectDeliveredInOrder(receiver.Keys(), StoredKeys(), 0);
  EXPECT_EQ(receiver.Keys().size(), StoredKeys().size());
  EXPECT_TRUE(InboxFiled());
}

// check-config makes each output as `run` would (its keys and secret file checked); export --to
// with an unknown output name lists the configured ones; `outputs` lists a configured output
// before anything was queued for it.
TEST_F(OutputsFault, CheckConfigExportToAndOutputsOnAFreshStore) {
  const std::string config = Config(false);
  const fs::path log = dir_ / "cli.log";
  EXPECT_EQ(dmarc::testing::RunToEnd({"check-config", config}, log), 0) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("outputs: hook (webhook)"), std::string::npos) << ReadFile(log);
  fs::remove(dir_ / "secret");
  EXPECT_EQ(dmarc::testing::RunToEnd({"check-config", config}, log), 1);
  EXPECT_NE(ReadFile(log).find("output.hook.secret_file: cannot read"), std::string::npos)
      << ReadFile(log);
  std::ofstream(dir_ / "secret") << kSecret;
  fs::permissions(dir_ / "secret", fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(dmarc::testing::RunToEnd({"export", "--config", config, "--to", "nope"}, log), 2);
  EXPECT_NE(ReadFile(log).find("--to nope: no [output.nope] in the configuration (outputs: hook)"),
            std::string::npos)
      << ReadFile(log);
  EXPECT_EQ(dmarc::testing::RunToEnd(
                {"export", "--config", config, "--to", "2024-01-01", "--to", "2024-02-01"}, log),
            2);
  EXPECT_NE(ReadFile(log).find("at most one last day"), std::string::npos) << ReadFile(log);
  fs::create_directories(dir_ / "empty");  // a store with nothing queued
  EXPECT_EQ(
      dmarc::testing::RunToEnd({"import", "--config", config, (dir_ / "empty").string()}, log), 0)
      << ReadFile(log);
  fs::remove(log);
  EXPECT_EQ(dmarc::testing::RunToEnd({"outputs", "--config", config}, log), 0) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("hook (webhook): ok"), std::string::npos) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("backlog: 0 report(s)"), std::string::npos) << ReadFile(log);
}

// An output taken out of the configuration keeps its backlog, shown as not configured and
// failing, until `outputs --clear NAME` forgets it; the reports stay stored.
TEST_F(OutputsFault, ClearForgetsTheBacklogOfAnOutputRemovedFromTheConfiguration) {
  const std::string config = Config(false);  // no receiver listens
  Drop(0, 3);
  const fs::path log = dir_ / "cli.log";
  // Stored, not delivered: exit status 3 tells a script so.
  EXPECT_EQ(
      dmarc::testing::RunToEnd({"import", "--config", config, (dir_ / "inbox").string()}, log), 3)
      << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("outputs: reports are still waiting to be delivered"),
            std::string::npos)
      << ReadFile(log);
  const std::size_t stored = StoredKeys().size();
  ASSERT_GT(stored, 0u) << ReadFile(log);
  EXPECT_EQ(Outputs()["backlog"], stored) << ReadFile(log);
  const std::string without = (dir_ / "without.toml").string();
  std::ofstream(without) << fmt::format("[store]\nurl = \"{}\"\n", db_);
  fs::remove(log);
  EXPECT_EQ(dmarc::testing::RunToEnd({"outputs", "--config", without}, log), 1) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("hook (not configured): FAILING"), std::string::npos)
      << ReadFile(log);
  // Cleared while still configured: done, with a warning that new reports queue again.
  fs::remove(log);
  EXPECT_EQ(dmarc::testing::RunToEnd({"outputs", "--config", config, "--clear", "hook"}, log), 0)
      << ReadFile(log);
  EXPECT_NE(ReadFile(log).find(fmt::format("hook: {} queued report(s) dropped", stored)),
            std::string::npos)
      << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("still in the configuration"), std::string::npos) << ReadFile(log);
  fs::remove(log);
  EXPECT_EQ(dmarc::testing::RunToEnd({"outputs", "--config", without}, log), 0) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("no outputs"), std::string::npos) << ReadFile(log);
  EXPECT_EQ(StoredKeys().size(), stored);
  fs::remove(log);
  EXPECT_EQ(dmarc::testing::RunToEnd({"outputs", "--config", without, "--clear", "hook"}, log), 0)
      << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("hook: 0 queued report(s) dropped"), std::string::npos)
      << ReadFile(log);
  EXPECT_EQ(ReadFile(log).find("still in the configuration"), std::string::npos) << ReadFile(log);
}
}  // namespace
