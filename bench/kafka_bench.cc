// The Kafka output's throughput: N records (one message each) delivered through
// outputs::MakeKafkaOutput to librdkafka's built-in mock cluster on loopback, in batches of
// reports as the delivery engine hands them over. Prints messages/s and a PASS/FAIL line.
//   dmarc-bench-kafka [--messages 1000000] [--records-per-report 100] [--batch 50]
//                     [--brokers 3] [--target 200000]
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "outputs/kafka.h"
#include "outputs/streams_test_util.h"

namespace {

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

using dmarc::outputs::Item;

struct Args {
  long messages = 1000000;
  int per_report = 100;
  int batch = 50;
  int brokers = 3;
  double target = 200000;
  bool format_only = false;
  std::string linger_ms, compression;  // the output's options; its defaults when empty
};

int Run(const Args& a) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_t* mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(mock_rk, a.brokers);
  rd_kafka_mock_topic_create(mc, "dmarc_aggregate", 6, 1);
  dmarc::outputs::OutputConfig config;
  config.name = "bench";
  config.type = "kafka";
  config.options = {{"brokers", rd_kafka_mock_cluster_bootstraps(mc)}};
  if (!a.linger_ms.empty()) config.options["linger_ms"] = a.linger_ms;
  if (!a.compression.empty()) config.options["compression"] = a.compression;
  auto out = dmarc::outputs::MakeKafkaOutput(config);
  if (!out.ok() || !(*out)->Prepare().ok()) {
    std::fprintf(stderr, "cannot start the Kafka output\n");
    return 2;
  }
  const long reports = a.messages / a.per_report;
  std::vector<dmarc::model::AggregateReport> pool;
  for (long i = 0; i < reports; ++i) {
    pool.push_back(
        dmarc::outputs::testing::SampleAggregate("bench-" + std::to_string(i), a.per_report));
  }
  if (a.format_only) {
    const double c0 = CpuSeconds();
    std::size_t bytes = 0;
    for (const auto& r : pool) {
      for (const auto& m :
           dmarc::outputs::KafkaMessages(dmarc::outputs::testing::AggregateItem(r))) {
        bytes += m.value.size();
      }
    }
    const double s = CpuSeconds() - c0;
    std::printf("   formatting only: %.0f messages per CPU second, %.0f bytes per message\n",
                static_cast<double>(reports * a.per_report) / s,
                static_cast<double>(bytes) / static_cast<double>(reports * a.per_report));
  }
  const double cpu0 = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < reports; i += a.batch) {
    std::vector<Item> items;
    for (long j = i; j < std::min(reports, i + a.batch); ++j) {
      items.push_back(dmarc::outputs::testing::AggregateItem(pool[j]));
    }
    if (const auto st = (*out)->Deliver(items); !st.ok()) {
      std::fprintf(stderr, "delivery failed: %s\n", st.error().c_str());
      return 2;
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rate = static_cast<double>(reports * a.per_report) / secs;
  const double cpu = CpuSeconds() - cpu0;
  std::printf(
      "   %ld messages (%ld reports of %d records, %d reports per batch) to a %d-broker mock "
      "cluster in %.2f s (%.2f CPU s, the mock brokers' included): %.0f messages/s\n",
      reports * a.per_report, reports, a.per_report, a.batch, a.brokers, secs, cpu, rate);
  std::printf("%s  kafka: messages/s delivered (idempotent, acks=all) %.0f (target >= %.0f)\n",
              rate >= a.target ? "PASS" : "FAIL", rate, a.target);
  out->reset();
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(mock_rk);
  return rate >= a.target ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kafka output throughput against librdkafka's mock cluster"};
  Args a;
  app.add_option("--messages", a.messages)->check(CLI::Range(1000L, 100000000L));
  app.add_option("--records-per-report", a.per_report)->check(CLI::Range(1, 10000));
  app.add_option("--batch", a.batch)->check(CLI::Range(1, 100000));
  app.add_option("--brokers", a.brokers)->check(CLI::Range(1, 10));
  app.add_option("--target", a.target);
  app.add_option("--linger-ms", a.linger_ms);
  app.add_option("--compression", a.compression);
  app.add_flag("--format", a.format_only, "also time building the messages alone");
  CLI11_PARSE(app, argc, argv);
  return Run(a);
}
