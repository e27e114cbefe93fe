// The Elasticsearch / OpenSearch / ZincSearch outputs against a local server that checks every
// request against Elasticsearch's documented `_bulk` and `_index_template` APIs (no real
// Elasticsearch runs here): NDJSON framing, index names, ids, auth, per-item errors, 429/503
// answers and a server that hangs.
#include "outputs/elastic.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "outputs/elastic_docs.h"
#include "outputs/http_test_reports.h"
#include "outputs/http_test_servers.h"

namespace dmarc::outputs {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

// A secret in a file of its own, removed with the test.
class SecretFile {
 public:
  explicit SecretFile(const std::string& content) {
    path_ = std::filesystem::temp_directory_path() /
            ("elastic-test-" + std::to_string(getpid()) + "-" + std::to_string(++count_));
    std::ofstream(path_) << content << "\n";
  }
  ~SecretFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
  static inline int count_ = 0;
};

OutputConfig Config(const std::string& url, std::map<std::string, std::string> options = {},
                    const std::string& type = "elasticsearch") {
  OutputConfig c;
  c.name = "es";
  c.type = type;
  c.options = std::move(options);
  c.options["url"] = url;
  return c;
}

std::unique_ptr<Output> Make(const OutputConfig& c) {
  auto out = MakeElasticsearchOutput(c);
  EXPECT_TRUE(out) << out.error();
  return out ? std::move(*out) : nullptr;
}

TEST(Elastic, SendsParsedmarcDocumentsToItsIndexNamesWithTemplatesFirst) {
  FakeElasticsearch es;
  auto out = Make(Config(es.url()));
  ASSERT_TRUE(out);
  auto prepared = out->Prepare();
  ASSERT_TRUE(prepared) << prepared.error();
  const auto agg = SampleAggregate(2);
  const auto failure = SampleFailure();
  const auto tls = SampleSmtpTls();
  const std::vector<Item> items = {AggregateItem(agg), FailureItem(failure), SmtpTlsItem(tls)};
  auto delivered = out->Deliver(items);
  ASSERT_TRUE(delivered) << delivered.error();
  EXPECT_TRUE(es.violations().empty()) << es.violations()[0];

  const auto templates = es.templates();
  ASSERT_EQ(templates.size(), 3U);
  EXPECT_EQ(templates.at("dmarc_aggregate")["index_patterns"][0], "dmarc_aggregate-*");
  EXPECT_EQ(templates.at("dmarc_failure")["index_patterns"][0], "dmarc_failure-*");
  EXPECT_EQ(templates.at("smtp_tls")["index_patterns"][0], "smtp_tls-*");
  const auto& props = templates.at("dmarc_aggregate")["template"]["mappings"]["properties"];
  EXPECT_EQ(props["message_count"]["type"], "long");
  EXPECT_EQ(props["date_begin"]["type"], "date");
  EXPECT_EQ(props["org_name"]["fields"]["keyword"]["type"], "keyword");

  const auto indices = es.indices();
  ASSERT_EQ(indices.size(), 4U);  // two record days, one failure, one SMTP TLS index
  ASSERT_EQ(indices.count("dmarc_aggregate-2024-05-01"), 1U);
  ASSERT_EQ(indices.count("dmarc_aggregate-2024-05-02"), 1U);
  ASSERT_EQ(indices.count("dmarc_failure-2024-05-01"), 1U);
  ASSERT_EQ(indices.count("smtp_tls-2024-05-01"), 1U);
  const auto& doc = indices.at("dmarc_aggregate-2024-05-02").begin()->second;
  EXPECT_EQ(doc["org_name"], "google.com");
  EXPECT_EQ(doc["date_begin"], "2024-05-02T00:00:00Z");
  EXPECT_EQ(doc["date_range"][1], "2024-05-02T23:59:59Z");
  EXPECT_EQ(doc["message_count"], 4);
  EXPECT_EQ(doc["source_asn"], 64501);
  EXPECT_EQ(doc["published_policy"]["pct"], 100);
  EXPECT_EQ(doc["published_policy"]["p"], "reject");
  EXPECT_EQ(doc["dkim_aligned"], false);
  EXPECT_EQ(doc["passed_dmarc"], true);
  EXPECT_EQ(doc["dkim_results_combined"][0], "s1 / example.com / pass");
  EXPECT_EQ(doc["spf_results_combined"][0], "mfrom / bounce.example.com / pass");
  EXPECT_EQ(doc["policy_overrides"][0]["type"], "local_policy");
  EXPECT_EQ(doc["generator"], "gen/1.0");
  EXPECT_FALSE(doc.contains("@timestamp"));

  const auto& f = indices.at("dmarc_failure-2024-05-01").begin()->second;
  EXPECT_EQ(f["arrival_date"], (kMay1 + 36000) * 1000);
  EXPECT_EQ(f["domain"], "example.com");
  EXPECT_EQ(f["delivery_results"], "reject");
  EXPECT_EQ(f["sample"]["headers"]["from"], "Boss <boss@example.com>");
  EXPECT_EQ(f["sample"]["headers"]["received"], json::array({"from a", "from b"}));
  EXPECT_EQ(f["sample"]["filename_safe_subject"], "Pay now");
  EXPECT_EQ(f["sample"]["date"], "2024-05-01T09:59:00Z");
  EXPECT_EQ(f["sample"]["reply_to"][0]["address"], "thief@example.net");
  EXPECT_EQ(f["sample"]["reply_to"][0]["display_name"], "The Thief");

  const auto& t = indices.at("smtp_tls-2024-05-01").begin()->second;
  EXPECT_EQ(t["org_name"], "Google Inc.");
  EXPECT_EQ(t["policies"][0]["failure_details"][0]["failed_session_count"], 2);
  EXPECT_EQ(t["policies_combined"][0], "example.com / sts");
  EXPECT_EQ(t["failure_details_combined"][0],
            "example.com / sts / certificate-expired / 203.0.113.9 / 192.0.2.25 / "
            "mx.example.com");
}

TEST(Elastic, IdsComeFromTheReportSoASecondSendDoesNotDuplicate) {
  FakeElasticsearch es;
  auto out = Make(Config(es.url()));
  ASSERT_TRUE(out);
  const auto agg = SampleAggregate(5);
  const std::vector<Item> items = {AggregateItem(agg)};
  ASSERT_TRUE(out->Deliver(items));
  auto again = Make(Config(es.url()));  // as after a restart
  ASSERT_TRUE(again->Deliver(items));
  EXPECT_EQ(es.documents(), 5U);
  std::set<std::string> ids;
  for (const auto& [index, docs] : es.indices()) {
    for (const auto& [id, doc] : docs) ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 5U);
  EXPECT_EQ(ids.count(elastic::DocumentId(items[0].key, 3)), 1U);
  // Another report's records get other ids.
  EXPECT_NE(elastic::DocumentId("google.com\nr-2\nexample.com", 0),
            elastic::DocumentId(items[0].key, 0));
}

TEST(Elastic, PrefixSuffixAndMonthlyIndexNames) {
  FakeElasticsearch es;
  auto out = Make(Config(
      es.url(), {{"index_prefix", "ops-"}, {"index_suffix", "eu"}, {"monthly_indexes", "true"}}));
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->Prepare());
  const auto agg = SampleAggregate(3);
  const auto tls = SampleSmtpTls();
  ASSERT_TRUE(out->Deliver(std::vector<Item>{AggregateItem(agg), SmtpTlsItem(tls)}));
  const auto indices = es.indices();
  ASSERT_EQ(indices.size(), 2U);
  EXPECT_EQ(indices.at("ops-dmarc_aggregate_eu-2024-05").size(), 3U);
  EXPECT_EQ(indices.count("ops-smtp_tls_eu-2024-05"), 1U);
  EXPECT_EQ(es.templates().at("ops-dmarc_aggregate_eu")["index_patterns"][0],
            "ops-dmarc_aggregate_eu-*");
  EXPECT_TRUE(es.violations().empty());
  // Index names are lower case.
  EXPECT_FALSE(MakeElasticsearchOutput(Config(es.url(), {{"index_prefix", "Ops-"}})));
}

TEST(Elastic, BasicAuthAndApiKeyAreSentAndARefusalIsAnAuthError) {
  FakeElasticsearch::Options o;
  o.user = "elastic";
  o.password = "s3cret-pw";
  o.api_key = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";
  FakeElasticsearch es(o);
  const auto agg = SampleAggregate(1);
  const std::vector<Item> items = {AggregateItem(agg)};

  SecretFile password("s3cret-pw");
  auto basic = Make(Config(es.url(), {{"user", "elastic"}, {"password_file", password.path()}}));
  auto r = basic->Deliver(items);
  EXPECT_TRUE(r) << r.error();

  SecretFile key(o.api_key);
  auto api = Make(Config(es.url(), {{"api_key_file", key.path()}}));
  r = api->Deliver(items);
  EXPECT_TRUE(r) << r.error();

  SecretFile wrong("not-the-password");
  auto refused = Make(Config(es.url(), {{"user", "elastic"}, {"password_file", wrong.path()}}));
  r = refused->Deliver(items);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_kind(), ErrorKind::kAuth);
  EXPECT_EQ(r.error().find("not-the-password"), std::string::npos) << r.error();
  auto prepared = refused->Prepare();
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error_kind(), ErrorKind::kAuth);
  EXPECT_EQ(es.documents(), 1U);
}

TEST(Elastic, PerItemErrorsSayWhetherToRetry) {
  FakeElasticsearch::Options o;
  o.item_status = [](const json& doc) {
    if (doc.value("report_id", "") == "mapping") return 400;
    if (doc.value("report_id", "") == "busy") return 429;
    return 0;
  };
  FakeElasticsearch es(o);
  auto out = Make(Config(es.url()));
  const auto good = SampleAggregate(2, "good");
  const auto mapping = SampleAggregate(1, "mapping");
  const auto busy = SampleAggregate(1, "busy");

  auto r = out->Deliver(std::vector<Item>{AggregateItem(good), AggregateItem(mapping)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_kind(), ErrorKind::kInvalid);
  EXPECT_NE(r.error().find("mapping"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("mapper_parsing_exception"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("1 of 3"), std::string::npos) << r.error();
  EXPECT_EQ(es.documents(), 2U);  // the good ones are in

  // A retryable refusal wins over a mapping error: the batch is sent again.
  r = out->Deliver(std::vector<Item>{AggregateItem(mapping), AggregateItem(busy)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_kind(), ErrorKind::kIo);
  EXPECT_NE(r.error().find("busy"), std::string::npos) << r.error();
}

TEST(Elastic, TooManyRequestsAndUnavailableAreRetryable) {
  FakeElasticsearch es;
  auto out = Make(Config(es.url()));
  const auto agg = SampleAggregate(2);
  const std::vector<Item> items = {AggregateItem(agg)};
  es.QueueStatuses({429, 503});
  auto r = out->Deliver(items);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_kind(), ErrorKind::kIo);
  EXPECT_NE(r.error().find("429"), std::string::npos) << r.error();
  r = out->Deliver(items);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_kind(), ErrorKind::kIo);
  EXPECT_NE(r.error().find("503"), std::string::npos) << r.error();
  EXPECT_EQ(es.documents(), 0U);
  r = out->Deliver(items);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(es.documents(), 2U);
}

TEST(Elastic, AServerThatHangsTimesOut) {
  FakeElasticsearch es;
  es.set_delay(std::chrono::milliseconds(3000));
  auto out = Make(Config(es.url(), {{"timeout", "1"}}));
  const auto agg = SampleAggregate(1);
  const auto start = std::chrono::steady_clock::now();
  auto r = out->Deliver(std::vector<Item>{AggregateItem(agg)});
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_kind(), ErrorKind::kIo);
  EXPECT_LT(took, std::chrono::milliseconds(2500));
  es.set_delay(std::chrono::milliseconds(0));
}

TEST(Elastic, NobodyListeningIsRetryable) {
  int port = 0;
  {
    FakeElasticsearch gone;
    port = gone.port();
  }
  auto out = Make(Config("http://127.0.0.1:" + std::to_string(port)));
  const auto agg = SampleAggregate(1);
  auto r = out->Deliver(std::vector<Item>{AggregateItem(agg)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_kind(), ErrorKind::kIo);
  auto p = out->Prepare();
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error_kind(), ErrorKind::kIo);
}

TEST(Elastic, DataStreamsTakeCreateWithATimestampAndADuplicateIsDelivered) {
  FakeElasticsearch es;
  auto out = Make(Config(es.url(), {{"data_streams", "true"}}, "opensearch"));
  ASSERT_TRUE(out->Prepare());
  EXPECT_TRUE(es.templates().at("dmarc_aggregate").contains("data_stream"));
  EXPECT_EQ(es.templates().at("dmarc_aggregate")["index_patterns"][0], "dmarc_aggregate");
  const auto agg = SampleAggregate(3);
  const std::vector<Item> items = {AggregateItem(agg)};
  ASSERT_TRUE(out->Deliver(items));
  auto again = out->Deliver(items);  // every create answers 409: already there
  ASSERT_TRUE(again) << again.error();
  const auto indices = es.indices();
  ASSERT_EQ(indices.size(), 1U);
  EXPECT_EQ(indices.at("dmarc_aggregate").size(), 3U);
  EXPECT_EQ(indices.at("dmarc_aggregate").begin()->second.count("@timestamp"), 1U);
  EXPECT_TRUE(es.violations().empty()) << es.violations()[0];
}

TEST(Elastic, ZincSearchUsesItsEsPathWithBasicAuthAndNoTemplates) {
  FakeElasticsearch::Options o;
  o.api_prefix = "/es";
  o.user = "admin";
  o.password = "Complexpass#123";
  FakeElasticsearch zinc(o);
  SecretFile password(o.password);
  auto out = Make(
      Config(zinc.url(), {{"user", "admin"}, {"password_file", password.path()}}, "zincsearch"));
  ASSERT_TRUE(out->Prepare());
  const auto agg = SampleAggregate(2);
  auto r = out->Deliver(std::vector<Item>{AggregateItem(agg)});
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(zinc.templates().empty());
  EXPECT_EQ(zinc.documents(), 2U);
  ASSERT_FALSE(zinc.bulk_paths().empty());
  EXPECT_TRUE(zinc.bulk_paths()[0].starts_with("/es/_bulk")) << zinc.bulk_paths()[0];
}

TEST(Elastic, BatchesAreBoundedByDocumentsAndBytes) {
  FakeElasticsearch es;
  auto out = Make(Config(es.url(), {{"max_batch_docs", "3"}}));
  const auto agg = SampleAggregate(10);
  ASSERT_TRUE(out->Deliver(std::vector<Item>{AggregateItem(agg)}));
  EXPECT_EQ(es.requests(), 4);
  EXPECT_EQ(es.documents(), 10U);
  FakeElasticsearch es2;
  auto small = Make(Config(es2.url(), {{"max_batch_bytes", "4096"}}));
  ASSERT_TRUE(small->Deliver(std::vector<Item>{AggregateItem(agg)}));
  EXPECT_GT(es2.requests(), 2);
  EXPECT_EQ(es2.documents(), 10U);
  EXPECT_TRUE(es2.violations().empty());
}

TEST(Elastic, HostileStringsStayValidJson) {
  FakeElasticsearch es;
  auto out = Make(Config(es.url()));
  auto agg = SampleAggregate(1);
  agg.report_metadata.org_name = "evil\"}\n{\"index\":{}}\n\x01\xff\xc3(";
  agg.records[0].identifiers.header_from = std::string("nul\0byte", 8);
  auto r = out->Deliver(std::vector<Item>{AggregateItem(agg)});
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(es.violations().empty()) << es.violations()[0];
  const auto doc = es.indices().begin()->second.begin()->second;
  EXPECT_EQ(doc["org_name"], "evil\"}\n{\"index\":{}}\n\x01\xEF\xBF\xBD\xEF\xBF\xBD(");
  EXPECT_EQ(doc["header_from"], std::string("nul\0byte", 8));
}

// An HTTPS `_bulk` endpoint with a self-signed certificate for 127.0.0.1 (its own CA).
class TlsBulkServer {
 public:
  explicit TlsBulkServer(const std::string& dir)
      : cert_(dir + "/cert.pem"), key_(dir + "/key.pem") {
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
        " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
        key_ + "' -out '" + cert_ + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) return;  // NOLINT(cert-env33-c): fixed command
    server_ = std::make_unique<httplib::SSLServer>(cert_.c_str(), key_.c_str());
    server_->Post("/_bulk", [this](const httplib::Request& q, httplib::Response& a) {
      docs_ += std::count(q.body.begin(), q.body.end(), '\n') / 2;
      a.set_content(R"({"errors":false,"items":[]})", "application/json");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~TlsBulkServer() {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  bool ok() const { return server_ != nullptr && port_ > 0; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  const std::string& cert() const { return cert_; }
  long docs() const { return docs_; }

 private:
  std::string cert_, key_;
  std::unique_ptr<httplib::SSLServer> server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<long> docs_{0};
};

TEST(Elastic, TlsIsVerifiedWithTheConfiguredCaFile) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("elastic-tls-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  {
    TlsBulkServer tls(dir.string());
    ASSERT_TRUE(tls.ok()) << "openssl could not make a certificate";
    const auto agg = SampleAggregate(2);
    const std::vector<Item> items = {AggregateItem(agg)};
    auto unknown_ca = Make(Config(tls.url(), {{"install_templates", "false"}}));
    auto r = unknown_ca->Deliver(items);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error_kind(), ErrorKind::kIo);
    EXPECT_EQ(tls.docs(), 0);

    auto with_ca = Make(Config(tls.url(), {{"ca_file", tls.cert()}}));
    r = with_ca->Deliver(items);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(tls.docs(), 2);

    auto skip = Make(Config(tls.url(), {{"skip_certificate_verification", "true"}}));
    ASSERT_TRUE(skip->Deliver(items));
    EXPECT_EQ(tls.docs(), 4);
  }
  std::filesystem::remove_all(dir);
}

TEST(Elastic, KeysAreCheckedAndNamed) {
  auto bad = [](std::map<std::string, std::string> options,
                const std::string& type = "elasticsearch") {
    OutputConfig c;
    c.name = "es";
    c.type = type;
    c.options = std::move(options);
    auto r = MakeElasticsearchOutput(c);
    EXPECT_FALSE(r);
    return r ? std::string() : r.error();
  };
  EXPECT_EQ(bad({{"url", "http://x"}, {"hosts", "y"}}).find("output.es.hosts:"), 0U);
  EXPECT_EQ(bad({}).find("output.es.url: is required"), 0U);
  EXPECT_EQ(bad({{"url", "ftp://x"}}).find("output.es.url:"), 0U);
  EXPECT_NE(bad({{"url", "http://elastic:pw@x"}}).find("credentials"), std::string::npos);
  EXPECT_EQ(
      bad({{"url", "http://x"}, {"monthly_indexes", "yes"}}).find("output.es.monthly_indexes:"),
      0U);
  EXPECT_EQ(bad({{"url", "http://x"}, {"timeout", "0"}}).find("output.es.timeout:"), 0U);
  EXPECT_EQ(bad({{"url", "http://x"}, {"password_file", "/nonexistent/pw"}})
                .find("output.es.password_file:"),
            0U);
  EXPECT_EQ(bad({{"url", "http://x"}, {"user", "u"}}).find("output.es.password_file:"), 0U);
  EXPECT_EQ(bad({{"url", "http://x"}}, "kafka").find("output.es.type:"), 0U);
  SecretFile key("k");
  SecretFile pw("p");
  EXPECT_EQ(bad({{"url", "http://x"},
                 {"user", "u"},
                 {"password_file", pw.path()},
                 {"api_key_file", key.path()}})
                .find("output.es.api_key_file:"),
            0U);
}

}  // namespace
}  // namespace dmarc::outputs
