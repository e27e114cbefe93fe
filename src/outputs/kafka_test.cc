// The Kafka output against librdkafka's own mock cluster (real client code, real protocol),
// with broker failures injected.
#include "outputs/kafka.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "outputs/streams_test_util.h"
#include "sinks/parsedmarc_format.h"

namespace dmarc::outputs {
namespace {

using outputs::testing::AggregateItem;
using outputs::testing::FailureItem;
using outputs::testing::SampleAggregate;
using outputs::testing::SampleFailure;
using outputs::testing::SampleSmtpTls;
using outputs::testing::SmtpTlsItem;

constexpr std::int16_t kProduceApi = 0;

OutputConfig Config(const std::string& brokers, std::map<std::string, std::string> extra = {}) {
  OutputConfig c;
  c.name = "k";
  c.type = "kafka";
  c.options = std::move(extra);
  if (!brokers.empty()) c.options["brokers"] = brokers;
  return c;
}

// A mock cluster of `brokers` brokers with the three default topics (3 partitions each).
class MockCluster {
 public:
  explicit MockCluster(int brokers) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    mc_ = rd_kafka_mock_cluster_new(rk_, brokers);
    for (const char* t : {"dmarc_aggregate", "dmarc_failure", "smtp_tls"}) {
      rd_kafka_mock_topic_create(mc_, t, 3, 1);
    }
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;
  rd_kafka_mock_cluster_t* get() { return mc_; }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mc_); }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
};

struct Consumed {
  std::string key, value, record_index;
  int partition = 0;
};

std::string Header(const rd_kafka_message_t* m, const char* name) {
  rd_kafka_headers_t* h = nullptr;
  if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR) return "";
  const void* v = nullptr;
  size_t n = 0;
  if (rd_kafka_header_get_last(h, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR) return "";
  return {static_cast<const char*>(v), n};
}

// Everything in `topic` (all 3 partitions, from the start), reading until `want` messages came
// or 10 s passed, then 300 ms more to catch any surplus (a duplicate).
std::vector<Consumed> Consume(const std::string& bootstraps, const std::string& topic,
                              std::size_t want) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "test", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(3);
  for (int p = 0; p < 3; ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(c, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<Consumed> got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool extra = false;
  while (std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 50);
    if (m != nullptr) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        got.push_back({std::string(static_cast<const char*>(m->key), m->key_len),
                       std::string(static_cast<const char*>(m->payload), m->len),
                       Header(m, "record_index"), m->partition});
      }
      rd_kafka_message_destroy(m);
    }
    if (got.size() >= want && !extra) {
      extra = true;
      deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    }
  }
  rd_kafka_consumer_close(c);
  rd_kafka_destroy(c);
  return got;
}

TEST(KafkaOptions, RefusesUnknownAndMalformedKeysNamingThem) {
  auto r = MakeKafkaOutput(Config("127.0.0.1:9", {{"bokers", "x"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error_kind(), ErrorKind::kInvalid);
  EXPECT_NE(r.error().find("output.k.bokers"), std::string::npos) << r.error();
  r = MakeKafkaOutput(Config(""));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("output.k.brokers"), std::string::npos) << r.error();
  r = MakeKafkaOutput(Config("127.0.0.1:9", {{"aggregate_topic", "a topic"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("output.k.aggregate_topic"), std::string::npos) << r.error();
  r = MakeKafkaOutput(Config("127.0.0.1:9", {{"timeout", "soon"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("output.k.timeout"), std::string::npos) << r.error();
  r = MakeKafkaOutput(Config("127.0.0.1:9", {{"compression", "rar"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(MakeKafkaOutput(Config("127.0.0.1:9", {{"compression", "zstd"}})).ok());
}

TEST(KafkaOptions, SaslReadsThePasswordFileAndNeverShowsIt) {
  const auto dir = std::filesystem::temp_directory_path() / "kafka_options_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "pw") << "s3cret-pw\n";
  auto r = MakeKafkaOutput(Config("127.0.0.1:9", {{"security_protocol", "sasl_plaintext"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("output.k.username"), std::string::npos) << r.error();
  r = MakeKafkaOutput(Config("127.0.0.1:9", {{"security_protocol", "sasl_plaintext"},
                                             {"sasl_mechanism", "SCRAM-SHA-256"},
                                             {"username", "u"},
                                             {"password_file", (dir / "pw").string()}}));
  ASSERT_TRUE(r.ok()) << r.error();
  // A password without SASL is refused, and the refusal does not quote the file's content.
  r = MakeKafkaOutput(Config("127.0.0.1:9", {{"password_file", (dir / "pw").string()}}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().find("s3cret"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(KafkaMessages, OneMessagePerRecordWithTheReportsFields) {
  const auto report = SampleAggregate("r-1", 3);
  const auto msgs = KafkaMessages(AggregateItem(report));
  ASSERT_EQ(msgs.size(), 3U);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const auto j = nlohmann::json::parse(msgs[i].value);
    EXPECT_EQ(msgs[i].index, i);
    EXPECT_EQ(j["org_name"], "google.com");
    EXPECT_EQ(j["report_id"], "r-1");
    EXPECT_EQ(j["policy_published"]["domain"], "example.com");
    EXPECT_EQ(j["policy_published"]["p"], "reject");
    EXPECT_EQ(j["date_range"][0], "2023-11-14T22:13:20");
    EXPECT_EQ(j["source"]["ip_address"], "192.0.2." + std::to_string(i + 1));
    EXPECT_EQ(j["count"], i + 1);
    EXPECT_EQ(j["policy_evaluated"]["dkim"], i % 2 == 0 ? "pass" : "fail");
    EXPECT_EQ(j["auth_results"]["spf"][0]["domain"], "bounce.example.com");
    EXPECT_EQ(msgs[i].value.find('\n'), std::string::npos);  // compact
  }
  const auto tls = SampleSmtpTls();
  const auto tls_msgs = KafkaMessages(SmtpTlsItem(tls));
  ASSERT_EQ(tls_msgs.size(), 2U);
  const auto t1 = nlohmann::json::parse(tls_msgs[1].value);
  EXPECT_EQ(t1["organization_name"], "Example Inc.");
  EXPECT_EQ(t1["policy_domain"], "example.net");
  EXPECT_FALSE(t1.contains("policies"));
}

TEST(KafkaMessages, TheRecordIsParsedmarcsRecordObject) {
  auto report = SampleAggregate("r-1", 2);
  auto& full = report.records[1];
  full.source.country = "DE";
  full.source.reverse_dns = "mail.example.net";
  full.source.asn = 3320;
  full.source.as_name = "DTAG \"quoted\"";
  full.policy_evaluated.policy_override_reasons.push_back({"forwarded", std::nullopt});
  full.policy_evaluated.policy_override_reasons.push_back({"local_policy", "a\\b"});
  full.identifiers.envelope_from = "bounce.example.com";
  full.dkim.push_back({"x.example", "s2", "fail", std::string("bad\nsig")});
  full.normalized_timespan = true;
  report.records[0].dkim.clear();
  report.records[0].spf.clear();
  const auto msgs = KafkaMessages(AggregateItem(report));
  ASSERT_EQ(msgs.size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    std::string pretty;
    sinks::AppendAggregateJsonRecord(report.records[i], pretty, true);
    auto want = nlohmann::ordered_json::parse(pretty);
    auto got = nlohmann::ordered_json::parse(msgs[i].value);
    for (const char* k : {"xml_schema", "org_name", "org_email", "org_extra_contact_info",
                          "report_id", "date_range", "policy_published"}) {
      ASSERT_TRUE(got.contains(k)) << k;
      got.erase(k);
    }
    EXPECT_EQ(got, want) << msgs[i].value;  // same members, same order, same values
  }
}

TEST(KafkaMock, DeliversOneMessagePerRecordKeyedByReportInOrder) {
  MockCluster cluster(3);
  auto out = MakeKafkaOutput(Config(cluster.bootstraps()));
  ASSERT_TRUE(out.ok()) << out.error();
  ASSERT_TRUE((*out)->Prepare().ok());
  const auto a = SampleAggregate("a", 5), b = SampleAggregate("b", 4, "example.org");
  const auto f = SampleFailure();
  const auto t = SampleSmtpTls();
  const std::vector<Item> items = {AggregateItem(a), AggregateItem(b), FailureItem(f, "fail-1"),
                                   SmtpTlsItem(t)};
  const Status st = (*out)->Deliver(items);
  ASSERT_TRUE(st.ok()) << st.error();
  const auto agg = Consume(cluster.bootstraps(), "dmarc_aggregate", 9);
  ASSERT_EQ(agg.size(), 9U);
  std::map<std::string, std::vector<int>> order;  // report key → record indexes as consumed
  std::map<std::string, int> partition;
  for (const auto& m : agg) {
    order[m.key].push_back(std::stoi(m.record_index));
    if (partition.count(m.key) != 0) {
      EXPECT_EQ(partition[m.key], m.partition);
    }
    partition[m.key] = m.partition;
    const auto j = nlohmann::json::parse(m.value);
    EXPECT_EQ(j["report_id"], m.key == items[0].key ? "a" : "b");
  }
  EXPECT_EQ(order[items[0].key], (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(order[items[1].key], (std::vector<int>{0, 1, 2, 3}));
  const auto fail = Consume(cluster.bootstraps(), "dmarc_failure", 1);
  ASSERT_EQ(fail.size(), 1U);
  EXPECT_EQ(fail[0].key, "fail-1");
  EXPECT_EQ(nlohmann::json::parse(fail[0].value)["reported_domain"], "example.com");
  EXPECT_EQ(Consume(cluster.bootstraps(), "smtp_tls", 2).size(), 2U);
}

TEST(KafkaMock, RetriesInjectedProduceErrorsWithoutDuplicates) {
  MockCluster cluster(3);
  // The next produce requests fail with retryable errors and a dropped connection.
  rd_kafka_mock_push_request_errors(
      cluster.get(), kProduceApi, 4, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT,
      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
  auto out = MakeKafkaOutput(Config(cluster.bootstraps(), {{"timeout", "20"}}));
  ASSERT_TRUE(out.ok()) << out.error();
  const auto a = SampleAggregate("a", 50);
  const Item items[] = {AggregateItem(a)};
  const Status st = (*out)->Deliver(items);
  ASSERT_TRUE(st.ok()) << st.error();
  const auto got = Consume(cluster.bootstraps(), "dmarc_aggregate", 50);
  ASSERT_EQ(got.size(), 50U);  // exactly once each: the idempotent producer dropped resends
  std::vector<int> idx;
  for (const auto& m : got) idx.push_back(std::stoi(m.record_index));
  for (int i = 0; i < 50; ++i) EXPECT_EQ(idx[i], i);
}

TEST(KafkaMock, BrokerDownIsARetryableErrorAndTheBatchArrivesOnceAfter) {
  MockCluster cluster(1);
  auto out = MakeKafkaOutput(Config(cluster.bootstraps(), {{"timeout", "2"}}));
  ASSERT_TRUE(out.ok()) << out.error();
  ASSERT_TRUE((*out)->Prepare().ok());
  rd_kafka_mock_broker_set_down(cluster.get(), 1);
  const auto a = SampleAggregate("a", 7);
  const Item items[] = {AggregateItem(a)};
  const Status down = (*out)->Deliver(items);
  ASSERT_FALSE(down.ok());
  EXPECT_NE(down.error_kind(), ErrorKind::kInvalid) << down.error();
  EXPECT_NE(down.error().find(cluster.bootstraps()), std::string::npos) << down.error();
  EXPECT_FALSE((*out)->Prepare().ok());
  rd_kafka_mock_broker_set_up(cluster.get(), 1);
  ASSERT_TRUE((*out)->Prepare().ok());
  const Status up = (*out)->Deliver(items);
  ASSERT_TRUE(up.ok()) << up.error();
  EXPECT_EQ(Consume(cluster.bootstraps(), "dmarc_aggregate", 7).size(), 7U);
}

TEST(KafkaMock, AMessageOverTheSizeLimitIsRefusedAsInvalidAndNothingIsSent) {
  MockCluster cluster(1);
  auto out = MakeKafkaOutput(Config(cluster.bootstraps(), {{"message_max_bytes", "10000"}}));
  ASSERT_TRUE(out.ok()) << out.error();
  auto a = SampleAggregate("big", 3);
  a.records[2].identifiers.header_from = std::string(20000, 'x');
  const Item items[] = {AggregateItem(a)};
  const Status st = (*out)->Deliver(items);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error_kind(), ErrorKind::kInvalid);
  EXPECT_NE(st.error().find("output.k.message_max_bytes"), std::string::npos) << st.error();
  EXPECT_TRUE(Consume(cluster.bootstraps(), "dmarc_aggregate", 0).empty());
}

}  // namespace
}  // namespace dmarc::outputs
