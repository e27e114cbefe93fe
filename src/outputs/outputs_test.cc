// The delivery engine over a real SQLite store's outbox (a fake output records what it is
// given), the type registry, and the webhook output against a local HTTP server that checks
// every request's signature.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sodium.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "outputs/engine.h"
#include "outputs/outbox.h"
#include "outputs/registry.h"
#include "outputs/webhook.h"
#include "pipeline/extract.h"
#include "testing/net.h"
#include "testing/test_util.h"

namespace dmarc::outputs {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TestData;

std::vector<model::AggregateReport> Samples() {
  std::vector<model::AggregateReport> out;
  for (const char* name : {"aggregate/rfc9990-sample.xml", "aggregate/empty_reason.xml",
                           "aggregate/ikea.com!example.de!1538690400!1538776800.xml",
                           "aggregate/usssa.com!example.com!1538784000!1538870399.xml",
                           "aggregate/old_draft_from_wiki.xml"}) {
    const std::string path = TestData(std::string("real/parsedmarc-samples/") + name);
    auto got = pipeline::ExtractReports(ReadFile(path), path, {});
    EXPECT_EQ(got.reports.size(), 1u) << name;
    for (auto& f : got.reports) out.push_back(std::move(f.aggregate));
  }
  return out;
}

// Records the keys it is given; fails as told.
class FakeOutput : public Output {
 public:
  explicit FakeOutput(std::string name) : name_(std::move(name)) {}
  const std::string& Name() const override { return name_; }
  Result<bool> Prepare() override {
    ++prepared;
    return true;
  }
  Status Deliver(std::span<const Item> items) override {
    ++calls;
    if (fail_next > 0) {
      --fail_next;
      return MakeError(ErrorKind::kIo, name_ + ": connection refused");
    }
    for (const Item& i : items) {
      if (i.key == refuse_key) return MakeError(ErrorKind::kInvalid, name_ + ": mapping error");
    }
    for (const Item& i : items) keys.push_back(i.key);
    return Ok();
  }
  std::string name_;
  std::vector<std::string> keys;
  std::string refuse_key;
  int fail_next = 0, calls = 0, prepared = 0;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("outputs-engine");
    auto st = store::OpenStore("sqlite:" + (dir_ / "t.db").string(), {});
    ASSERT_TRUE(st.ok()) << st.error();
    store_ = std::move(st).value();
    reports_ = Samples();
  }
  void StoreAll() {
    store::Batch b;
    for (const auto& r : reports_) b.aggregates.push_back({"test", &r});
    ASSERT_TRUE(store_->Store(b).ok());
  }
  std::vector<std::string> Keys() const {
    std::vector<std::string> keys;
    for (const auto& r : reports_) keys.push_back(AggregateKey(r));
    return keys;
  }
  // An engine over one fake output (owned by the engine; fake points at it).
  std::unique_ptr<Engine> MakeEngine(FakeOutput*& fake, DeliverySettings d = {}) {
    auto out = std::make_unique<FakeOutput>("fake");
    fake = out.get();
    std::vector<ConfiguredOutput> outputs;
    outputs.push_back({std::move(out), d, false});
    return std::make_unique<Engine>(*store_, std::move(outputs), [this] { return now_; });
  }
  store::OutboxState State() {
    auto all = store_->QueryOutbox();
    EXPECT_TRUE(all.ok());
    for (const auto& s : *all) {
      if (s.name == "fake") return s;
    }
    return {};
  }

  fs::path dir_;
  std::unique_ptr<store::ReportStore> store_;
  std::vector<model::AggregateReport> reports_;
  std::int64_t now_ = 1'000'000;
  std::atomic<bool> stop_{false};
};

TEST_F(EngineTest, DeliversEveryReportOnceInOrderABatchAtATime) {
  store_->SetOutboxOutputs({"fake"});
  StoreAll();
  FakeOutput* fake = nullptr;
  auto engine = MakeEngine(fake, {.batch_size = 2});
  ASSERT_TRUE(engine->Drain(false, true, stop_));
  EXPECT_EQ(fake->keys, Keys());
  EXPECT_EQ(fake->calls, 3);  // 2 + 2 + 1
  EXPECT_EQ(fake->prepared, 1);
  EXPECT_EQ(State().backlog, 0u);
  EXPECT_EQ(State().delivered, reports_.size());
  EXPECT_EQ(State().last_success_at, now_);
  // Nothing left: another drain sends nothing.
  ASSERT_TRUE(engine->Drain(false, true, stop_));
  EXPECT_EQ(fake->calls, 3);
}

TEST_F(EngineTest, FailuresBackOffExponentiallyAndTheWaitSurvivesARestart) {
  store_->SetOutboxOutputs({"fake"});
  StoreAll();
  FakeOutput* fake = nullptr;
  const DeliverySettings d{.batch_size = 10, .retry_min_seconds = 10, .retry_max_seconds = 35};
  auto engine = MakeEngine(fake, d);
  fake->fail_next = 4;
  const std::int64_t waits[] = {10, 20, 35, 35};
  for (const std::int64_t wait : waits) {
    EXPECT_FALSE(engine->Drain(false, true, stop_));
    EXPECT_EQ(engine->NextAttemptAt(0), now_ + wait);
    // Not due yet: nothing is tried.
    const int calls = fake->calls;
    EXPECT_FALSE(engine->Drain(false, true, stop_));
    EXPECT_EQ(fake->calls, calls);
    now_ += wait;
  }
  EXPECT_EQ(fake->prepared, 4);  // again after each error
  EXPECT_EQ(State().consecutive_failures, 4u);
  EXPECT_EQ(State().last_error, "fake: connection refused");
  // A new engine (a restart) waits for the same time, then delivers.
  now_ -= 1;
  engine = MakeEngine(fake, d);
  ASSERT_TRUE(engine->Load().ok());
  EXPECT_EQ(engine->NextAttemptAt(0), now_ + 1);
  EXPECT_FALSE(engine->Drain(false, true, stop_));
  EXPECT_EQ(fake->calls, 0);
  now_ += 1;
  EXPECT_TRUE(engine->Drain(false, true, stop_));
  EXPECT_EQ(fake->keys, Keys());
  EXPECT_EQ(State().consecutive_failures, 0u);
  EXPECT_EQ(State().failures, 4u);
}

TEST_F(EngineTest, AReportRefusedForGoodIsDroppedAloneAndTheOthersDelivered) {
  store_->SetOutboxOutputs({"fake"});
  StoreAll();
  FakeOutput* fake = nullptr;
  auto engine = MakeEngine(fake, {.batch_size = 10});
  const auto keys = Keys();
  fake->refuse_key = keys[2];
  ASSERT_TRUE(engine->Drain(false, true, stop_));
  std::vector<std::string> want = keys;
  want.erase(want.begin() + 2);
  EXPECT_EQ(fake->keys, want);
  EXPECT_EQ(State().dropped, 1u);
  EXPECT_EQ(State().delivered, keys.size() - 1);
  EXPECT_EQ(State().last_error, "fake: mapping error");
  EXPECT_EQ(State().backlog, 0u);
}

TEST_F(EngineTest, ExportToQueuesStoredReportsForOneOutput) {
  StoreAll();  // no output configured while storing
  FakeOutput* fake = nullptr;
  auto engine = MakeEngine(fake);
  ASSERT_TRUE(engine->Drain(false, true, stop_));
  EXPECT_TRUE(fake->keys.empty());
  auto added = store_->OutboxEnqueue("fake", {}, {});
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(*added, reports_.size());
  ASSERT_TRUE(engine->Drain(false, true, stop_));
  EXPECT_EQ(fake->keys, Keys());
}

TEST_F(EngineTest, RunDeliversInTheBackgroundAndTellsWhenRequiredOutputsAreDone) {
  store_->SetOutboxOutputs({"fake"});
  auto st = store::OpenStore("sqlite:" + (dir_ / "t.db").string(), {});  // the engine's own
  ASSERT_TRUE(st.ok());
  auto out = std::make_unique<FakeOutput>("fake");
  FakeOutput* fake = out.get();
  fake->fail_next = 1;
  std::vector<ConfiguredOutput> outputs;
  outputs.push_back({std::move(out), {.retry_min_seconds = 1}, true});
  Engine engine(**st, std::move(outputs));
  std::thread runner([&] { engine.Run(stop_, 50); });
  StoreAll();
  // The first attempt fails: the wait says so at once ...
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(engine.WaitRequiredDelivered(10'000, stop_));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_TRUE(fake->keys.empty());
  // ... and the retry a second later delivers.
  bool delivered = false;
  for (int i = 0; i < 50 && !delivered; ++i) {
    delivered = engine.WaitRequiredDelivered(10'000, stop_);
    if (!delivered) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(delivered);
  stop_ = true;
  engine.Nudge();
  runner.join();
  EXPECT_EQ(fake->keys, Keys());
}

TEST(Registry, AnUnknownTypeNamesTheKnownOnes) {
  auto made = MakeOutput({.name = "x", .type = "carrier-pigeon"});
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.error(),
            "output.x.type: unknown type \"carrier-pigeon\" (known: elasticsearch, kafka, "
            "opensearch, splunk_hec, splunk_json, splunk_kv, "
            "syslog, webhook, zincsearch)");
  Register("fake", [](const OutputConfig& c) -> Result<std::unique_ptr<Output>> {
    return std::unique_ptr<Output>(new FakeOutput(c.name));
  });
  auto fake = MakeOutput({.name = "y", .type = "fake"});
  ASSERT_TRUE(fake.ok());
  EXPECT_EQ((*fake)->Name(), "y");
  EXPECT_EQ(KnownTypes(), (std::vector<std::string>{"elasticsearch", "fake", "kafka", "opensearch",
                                                    "splunk_hec", "splunk_json", "splunk_kv",
                                                    "syslog", "webhook", "zincsearch"}));
}

TEST(Retry, DelaysDoubleUpToTheLongest) {
  const DeliverySettings d{.retry_min_seconds = 5, .retry_max_seconds = 60};
  EXPECT_EQ(RetryDelay(d, 1), 5);
  EXPECT_EQ(RetryDelay(d, 2), 10);
  EXPECT_EQ(RetryDelay(d, 4), 40);
  EXPECT_EQ(RetryDelay(d, 5), 60);
  EXPECT_EQ(RetryDelay(d, 1'000'000), 60);
}

TEST(Keys, StableAndDistinctPerIdentity) {
  auto r = Samples();
  EXPECT_EQ(AggregateKey(r[0]), AggregateKey(r[0]));
  EXPECT_NE(AggregateKey(r[0]), AggregateKey(r[1]));
  EXPECT_EQ(AggregateKey(r[0]).size(), std::string("aggregate-").size() + 64);
  model::AggregateReport later = r[0];
  later.report_metadata.end += 1;  // the store's identity includes the range
  EXPECT_NE(AggregateKey(later), AggregateKey(r[0]));
}

// ---- The webhook ----

// RFC 4231, test case 2.
TEST(Webhook, SignatureIsHmacSha256OfTheBody) {
  ASSERT_GE(sodium_init(), 0);
  EXPECT_EQ(WebhookSignature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("outputs-webhook");
    std::ofstream(dir_ / "secret") << "s3cr3t-key\n";
    port_ = server_.bind_to_any_port("127.0.0.1");
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      const std::lock_guard lock(mu_);
      if (req.get_header_value("X-DMARC-Report-Signature") !=
          WebhookSignature("s3cr3t-key", req.body)) {
        ++bad_signatures_;
        res.status = 400;
        return;
      }
      if (answer_ != 200) {
        res.status = answer_;
        return;
      }
      auto j = nlohmann::json::parse(req.body, nullptr, false);
      bodies_.push_back(j);
      keys_.push_back(req.get_header_value("X-DMARC-Report-Key"));
      res.status = 204;
    });
    server_.Post("/hang", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::seconds(3));
      res.status = 204;
    });
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }
  OutputConfig Config(const std::string& path) {
    return {.name = "hook",
            .type = "webhook",
            .options = {{"url", "http://127.0.0.1:" + std::to_string(port_) + path},
                        {"secret_file", (dir_ / "secret").string()},
                        {"timeout", "1"}}};
  }
  fs::path dir_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  int answer_ = 200, bad_signatures_ = 0;
  std::vector<nlohmann::json> bodies_;
  std::vector<std::string> keys_;
};

TEST_F(WebhookTest, PostsOneSignedJsonDocumentPerReportInOrder) {
  auto out = MakeWebhookOutput(Config("/hook"));
  ASSERT_TRUE(out.ok()) << out.error();
  const auto reports = Samples();
  std::vector<Item> items;
  for (const auto& r : reports) {
    items.push_back({.kind = ReportKind::kAggregate, .key = AggregateKey(r), .aggregate = &r});
  }
  ASSERT_TRUE((*out)->Deliver(items).ok());
  const std::lock_guard lock(mu_);
  EXPECT_EQ(bad_signatures_, 0);
  ASSERT_EQ(bodies_.size(), reports.size());
  for (std::size_t i = 0; i < reports.size(); ++i) {
    EXPECT_EQ(keys_[i], items[i].key);
    EXPECT_EQ(bodies_[i]["type"], "aggregate");
    EXPECT_EQ(bodies_[i]["key"], items[i].key);
    EXPECT_EQ(bodies_[i]["report"]["report_metadata"]["report_id"],
              reports[i].report_metadata.report_id);
    EXPECT_EQ(bodies_[i]["report"]["records"].size(), reports[i].records.size());
  }
}

TEST_F(WebhookTest, AnswersBecomeErrorKindsThatSayWhetherToRetry) {
  auto out = MakeWebhookOutput(Config("/hook"));
  ASSERT_TRUE(out.ok());
  const auto reports = Samples();
  const Item item{.key = "k", .aggregate = &reports[0]};
  const std::pair<int, ErrorKind> cases[] = {{503, ErrorKind::kIo},
                                             {429, ErrorKind::kIo},
                                             {401, ErrorKind::kAuth},
                                             {422, ErrorKind::kInvalid}};
  for (const auto& [status, kind] : cases) {
    {
      const std::lock_guard lock(mu_);
      answer_ = status;
    }
    Status s = (*out)->Deliver(std::span<const Item>(&item, 1));
    ASSERT_FALSE(s.ok()) << status;
    EXPECT_EQ(s.error_kind(), kind) << status;
    EXPECT_NE(s.error().find("HTTP " + std::to_string(status)), std::string::npos) << s.error();
    EXPECT_EQ(s.error().find("s3cr3t"), std::string::npos);
  }
  // A receiver that hangs: the timeout (1 s) is a retryable error.
  auto hang = MakeWebhookOutput(Config("/hang"));
  ASSERT_TRUE(hang.ok());
  Status s = (*hang)->Deliver(std::span<const Item>(&item, 1));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_kind(), ErrorKind::kIo);
  // Nobody listening.
  OutputConfig down = Config("/hook");
  down.options["url"] = "http://127.0.0.1:" + std::to_string(testing::FreePort()) + "/";
  auto closed = MakeWebhookOutput(down);
  ASSERT_TRUE(closed.ok());
  s = (*closed)->Deliver(std::span<const Item>(&item, 1));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error_kind(), ErrorKind::kIo);
}

TEST_F(WebhookTest, KeysAreCheckedAndNamed) {
  OutputConfig c = Config("/hook");
  c.options["colour"] = "red";
  auto r = MakeWebhookOutput(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rfind("output.hook.colour: unknown key", 0), 0u) << r.error();
  c = Config("/hook");
  c.options.erase("secret_file");
  r = MakeWebhookOutput(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "output.hook.secret_file: is required");
  c = Config("/hook");
  c.options["url"] = "ftp://x/";
  EXPECT_FALSE(MakeWebhookOutput(c).ok());
  c = Config("/hook");
  c.options["secret_file"] = (dir_ / "missing").string();
  r = MakeWebhookOutput(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("output.hook.secret_file: cannot read"), std::string::npos);
  c = Config("/hook");
  c.options["timeout"] = "0";
  EXPECT_FALSE(MakeWebhookOutput(c).ok());
}

}  // namespace
}  // namespace dmarc::outputs
