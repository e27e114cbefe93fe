// Bulk delivery benchmark: 1,000,000 aggregate records (by default) through the Elasticsearch
// output (`MakeElasticsearchOutput`, the real document builder, libcurl and `_bulk` NDJSON) to
// a local receiver in this process that checks the NDJSON framing, counts the documents and
// answers as Elasticsearch does (one item per document). Prints documents/s; target ≥ 100,000
// (docs/benchmarks.md). No Elasticsearch runs here: the number measures this program's side.
#include <httplib.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "outputs/elastic.h"
#include "outputs/http_test_reports.h"

namespace {

using namespace dmarc;  // NOLINT(google-build-using-namespace)

// User + system CPU seconds of this process (the output and the receiver).
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// A `_bulk` endpoint: the body must be action/source line pairs ending with a newline.
class Receiver {
 public:
  Receiver() {
    server_.Post("/_bulk", [this](const httplib::Request& q, httplib::Response& a) {
      std::size_t lines = 0;
      for (char c : q.body) lines += c == '\n' ? 1 : 0;
      if (q.body.empty() || q.body.back() != '\n' || lines % 2 != 0 ||
          q.get_header_value("Content-Type") != "application/x-ndjson") {
        bad_ += 1;
        a.status = 400;
        return;
      }
      const std::size_t docs = lines / 2;
      docs_ += docs;
      std::string answer = R"({"errors":false,"items":[)";
      answer.reserve(answer.size() + docs * 28);
      for (std::size_t i = 0; i < docs; ++i) {
        answer += i ? R"(,{"index":{"status":201}})" : R"({"index":{"status":201}})";
      }
      answer += "]}";
      a.set_content(answer, "application/json");
    });
    server_.set_tcp_nodelay(true);  // as Elasticsearch (Netty) answers
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::size_t docs() const { return docs_; }
  int bad() const { return bad_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<std::size_t> docs_{0};
  std::atomic<int> bad_{0};
};

}  // namespace

// NOLINTNEXTLINE(bugprone-exception-escape): a benchmark; an exception ends it with a message
int main(int argc, char** argv) {
  CLI::App app{"Bulk delivery of aggregate records to a local Elasticsearch-style receiver"};
  std::size_t records = 1000000;
  int per_report = 100;
  int reports_per_delivery = 100;
  std::string batch_docs = "5000";
  app.add_option("--records", records, "records to deliver (one document each)");
  app.add_option("--per-report", per_report, "records per aggregate report");
  app.add_option("--reports-per-delivery", reports_per_delivery, "items per Deliver call");
  app.add_option("--max-batch-docs", batch_docs, "the output's max_batch_docs");
  CLI11_PARSE(app, argc, argv);

  Receiver receiver;
  outputs::OutputConfig config{
      "bench",
      "elasticsearch",
      false,
      {{"url", receiver.url()}, {"max_batch_docs", batch_docs}, {"install_templates", "false"}}};
  auto out = outputs::MakeElasticsearchOutput(config);
  if (!out) {
    std::fprintf(stderr, "%s\n", out.error().c_str());
    return 1;
  }
  // Distinct reports (ids differ), built before the clock starts.
  const std::size_t n_reports = (records + per_report - 1) / per_report;
  std::vector<model::AggregateReport> reports;
  reports.reserve(n_reports);
  for (std::size_t i = 0; i < n_reports; ++i) {
    reports.push_back(outputs::testing::SampleAggregate(per_report, "bench-" + std::to_string(i)));
  }
  std::vector<outputs::Item> items;
  items.reserve(reports.size());
  for (const auto& r : reports) items.push_back(outputs::testing::AggregateItem(r));

  const double cpu_start = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < items.size(); i += reports_per_delivery) {
    const std::size_t n = std::min<std::size_t>(reports_per_delivery, items.size() - i);
    auto r = (*out)->Deliver(std::span(items).subspan(i, n));
    if (!r) {
      std::fprintf(stderr, "delivery failed: %s\n", r.error().c_str());
      return 1;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rate = static_cast<double>(receiver.docs()) / seconds;
  const double cpu = CpuSeconds() - cpu_start;
  std::printf("elastic bulk: %zu documents in %.2f s = %.0f documents/s (%d bad requests)\n",
              receiver.docs(), seconds, rate, receiver.bad());
  std::printf("CPU: %.2f s (output and receiver together) = %.0f documents per CPU second\n", cpu,
              static_cast<double>(receiver.docs()) / cpu);
  std::printf("%s: bulk delivery >= 100,000 documents/s\n",
              rate >= 100000 && receiver.docs() == n_reports * per_report && receiver.bad() == 0
                  ? "PASS"
                  : "FAIL");
  return 0;
}
