// The Splunk HEC output against a local server that checks every request against Splunk's
// documented HTTP Event Collector API (no real Splunk runs here): token header, event objects,
// time, sourcetypes, index/source, the acknowledgement channel, busy and refused answers.
#include "outputs/splunk_hec.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "outputs/http_test_reports.h"
#include "outputs/http_test_servers.h"

namespace dmarc::outputs {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

class TokenFile {
 public:
  explicit TokenFile(const std::string& token) {
    path_ = std::filesystem::temp_directory_path() /
            ("hec-test-" + std::to_string(getpid()) + "-" + std::to_string(++count_));
    std::ofstream(path_) << token << "\n";
  }
  ~TokenFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
  static inline int count_ = 0;
};

std::unique_ptr<Output> Make(const std::string& url, const TokenFile& token,
                             std::map<std::string, std::string> options = {}) {
  OutputConfig c;
  c.name = "splunk";
  c.type = "splunk_hec";
  c.options = std::move(options);
  c.options["url"] = url;
  c.options["token_file"] = token.path();
  auto out = MakeSplunkHecOutput(c);
  EXPECT_TRUE(out) << out.error();
  return out ? std::move(*out) : nullptr;
}

TEST(SplunkHec, SendsParsedmarcEventsWithTheTokenAndIntervalBeginAsTime) {
  FakeSplunkHec hec;
  TokenFile token("hec-token");
  auto out = Make(hec.url(), token, {{"index", "email"}, {"source", "dmarc"}, {"host", "mx1"}});
  const auto agg = SampleAggregate(2);
  const auto failure = SampleFailure();
  const auto tls = SampleSmtpTls();
  auto r =
      out->Deliver(std::vector<Item>{AggregateItem(agg), FailureItem(failure), SmtpTlsItem(tls)});
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(hec.violations().empty()) << hec.violations()[0];
  const auto events = hec.events();
  ASSERT_EQ(events.size(), 4U);
  const auto& a = events[1];
  EXPECT_EQ(a["sourcetype"], "dmarc:aggregate");
  EXPECT_EQ(a["time"], kMay1 + 86400);
  EXPECT_EQ(a["index"], "email");
  EXPECT_EQ(a["source"], "dmarc");
  EXPECT_EQ(a["host"], "mx1");
  const auto& e = a["event"];
  EXPECT_EQ(e["org_name"], "google.com");
  EXPECT_EQ(e["begin_date"], "2024-05-01 00:00:00");
  EXPECT_EQ(e["interval_begin"], "2024-05-02 00:00:00");
  EXPECT_EQ(e["message_count"], 4);
  EXPECT_EQ(e["published_policy"]["p"], "reject");
  EXPECT_EQ(e["published_policy"]["pct"], "100");
  EXPECT_EQ(e["passed_dmarc"], true);
  EXPECT_EQ(e["dkim_aligned"], false);
  EXPECT_EQ(e["source_as_name"], "EXAMPLE-AS");
  EXPECT_EQ(e["dkim_results"][0]["selector"], "s1");
  EXPECT_EQ(e["spf_results"][0]["scope"], "mfrom");

  EXPECT_EQ(events[2]["sourcetype"], "dmarc:failure");
  EXPECT_EQ(events[2]["time"], kMay1 + 36000);
  EXPECT_EQ(events[2]["event"]["source"]["ip_address"], "198.51.100.7");
  EXPECT_EQ(events[2]["event"]["parsed_sample"]["subject"], "Pay: now?");
  EXPECT_EQ(events[3]["sourcetype"], "smtp:tls");
  EXPECT_EQ(events[3]["event"]["organization_name"], "Google Inc.");
  EXPECT_EQ(events[3]["event"]["policies"][0]["failure_details"][0]["result_type"],
            "certificate-expired");
}

TEST(SplunkHec, OpensAnAcknowledgementChannelWhenTheHecAsksAndWaitsForTheAck) {
  FakeSplunkHecOptions o;
  o.ack = true;
  o.ack_after = 3;
  FakeSplunkHec hec(o);
  TokenFile token("hec-token");
  auto out = Make(hec.url(), token);
  const auto agg = SampleAggregate(3);
  auto r = out->Deliver(std::vector<Item>{AggregateItem(agg)});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(hec.events().size(), 3U);
  const auto channels = hec.channels();
  ASSERT_EQ(channels.size(), 1U);
  EXPECT_EQ(channels[0].size(), 36U) << channels[0];  // a GUID
  // The channel is kept for the next requests.
  ASSERT_TRUE(out->Deliver(std::vector<Item>{AggregateItem(agg)}));
  EXPECT_EQ(hec.channels().back(), channels[0]);
  EXPECT_TRUE(hec.violations().empty()) << hec.violations()[0];
}

TEST(SplunkHec, EventsNeverAcknowledgedAreRetryable) {
  FakeSplunkHecOptions o;
  o.ack = true;
  o.ack_after = -1;
  FakeSplunkHec hec(o);
  TokenFile token("hec-token");
  auto out = Make(hec.url(), token,
                  {{"ack_timeout", "1"}, {"channel", "0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba"}});
  const auto agg = SampleAggregate(1);
  auto r = out->Deliver(std::vector<Item>{AggregateItem(agg)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_kind(), ErrorKind::kIo);
  EXPECT_NE(r.error().find("ackId"), std::string::npos) << r.error();
  EXPECT_EQ(hec.channels().at(0), "0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba");
}

TEST(SplunkHec, RefusedTokenBusyServerAndHangsSayWhetherToRetry) {
  FakeSplunkHec hec;
  TokenFile wrong("not-the-token");
  const auto agg = SampleAggregate(1);
  const std::vector<Item> items = {AggregateItem(agg)};
  auto r = Make(hec.url(), wrong)->Deliver(items);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_kind(), ErrorKind::kAuth);
  EXPECT_EQ(r.error().find("not-the-token"), std::string::npos) << r.error();

  TokenFile token("hec-token");
  auto out = Make(hec.url(), token, {{"timeout", "1"}});
  hec.QueueStatuses({503});
  r = out->Deliver(items);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_kind(), ErrorKind::kIo);
  EXPECT_NE(r.error().find("Server is busy"), std::string::npos) << r.error();
  EXPECT_TRUE(hec.events().empty());

  hec.set_delay(std::chrono::milliseconds(2500));
  r = out->Deliver(items);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error_kind(), ErrorKind::kIo);
  hec.set_delay(std::chrono::milliseconds(0));
  r = out->Deliver(items);
  ASSERT_TRUE(r) << r.error();
}

TEST(SplunkHec, LargeDeliveriesAreSplitIntoRequestsUnderTheLimit) {
  FakeSplunkHec hec;
  TokenFile token("hec-token");
  auto out = Make(hec.url(), token, {{"max_batch_bytes", "4096"}});
  std::vector<model::AggregateReport> reports;
  reports.reserve(6);
  for (int i = 0; i < 6; ++i) reports.push_back(SampleAggregate(3, "r" + std::to_string(i)));
  std::vector<Item> items;
  items.reserve(reports.size());
  for (const auto& a : reports) items.push_back(AggregateItem(a));
  ASSERT_TRUE(out->Deliver(items));
  EXPECT_EQ(hec.events().size(), 18U);
  EXPECT_GT(hec.requests(), 2);
  EXPECT_EQ(hec.events().back()["event"]["report_id"], "r5");  // in order
  EXPECT_TRUE(hec.violations().empty());

  // One report larger than the limit is split between its events too.
  FakeSplunkHec one;
  auto split = Make(one.url(), token, {{"max_batch_bytes", "4096"}});
  const auto big = SampleAggregate(40, "big");
  ASSERT_TRUE(split->Deliver(std::vector<Item>{AggregateItem(big)}));
  EXPECT_EQ(one.events().size(), 40U);
  EXPECT_GE(one.requests(), 10);
  for (std::size_t i = 0; i < one.events().size(); ++i) {
    EXPECT_EQ(one.events()[i]["time"], kMay1 + static_cast<std::int64_t>(i) * 86400);
  }
}

TEST(SplunkHec, KeysAreCheckedAndNamed) {
  auto bad = [](std::map<std::string, std::string> options) {
    OutputConfig c;
    c.name = "splunk";
    c.type = "splunk_hec";
    c.options = std::move(options);
    auto r = MakeSplunkHecOutput(c);
    EXPECT_FALSE(r);
    return r ? std::string() : r.error();
  };
  EXPECT_EQ(bad({{"url", "http://x"}}).find("output.splunk.token_file: is required"), 0U);
  EXPECT_EQ(bad({{"url", "http://x"}, {"token", "abc"}}).find("output.splunk.token:"), 0U);
  EXPECT_EQ(
      bad({{"url", "http://x"}, {"token_file", "/nonexistent"}}).find("output.splunk.token_file:"),
      0U);
  TokenFile token("t");
  EXPECT_EQ(bad({{"url", "http://x"}, {"token_file", token.path()}, {"channel", "a\r\nX: y"}})
                .find("output.splunk.channel:"),
            0U);
}

}  // namespace
}  // namespace dmarc::outputs
