// Counters and gauges with labels, rendered in the Prometheus text exposition format (0.0.4),
// for `/metrics` of the dashboard server. Thread-safe: any thread may update, any may render.
//
// The program's own metrics are registered once in Default() and reached through Program():
//   dmarc_report_mails_fetched_total{source}            mails read from a source
//   dmarc_report_reports_total{type}                    new reports stored (aggregate, failure,
//                                                       smtp_tls)
//   dmarc_report_duplicate_reports_total{type}          reports already in the store
//   dmarc_report_rejected_inputs_total{source}          inputs that held no usable report
//   dmarc_report_fetch_errors_total{source}             failed fetch rounds (connection, ...)
//   dmarc_report_dns_lookups_total                      DNS queries sent by enrichment
//   dmarc_report_dns_cache_hits_total                   answers taken from the cache instead
//   dmarc_report_output_failures_total{output}          failed delivery attempts, and reports
//                                                       an output refused for good
//   dmarc_report_output_delivered_total{output}         reports an output delivered
//   dmarc_report_output_backlog{output}                 reports waiting in the outbox
//   dmarc_report_output_failing{output}                 1 while the last attempts failed
//   dmarc_report_output_last_success_timestamp_seconds{output}
//   dmarc_report_last_successful_fetch_timestamp_seconds{source}
//   dmarc_report_store_size_bytes                       the store's files on disk
//   dmarc_report_purged_reports_total                   reports removed by retention
//   dmarc_report_smtp_total{result}                     the SMTP receiver: mails accepted,
//                                                       recipients/mails/connections refused
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dmarc::metrics {

enum class Type { kCounter, kGauge };

// One metric name with its help text, type and label names; one value per label combination.
class Family {
 public:
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names);

  // Label values in the order of the label names. A counter only goes up: a negative Add is
  // ignored. At most kMaxSeries combinations are kept; values for further ones are dropped.
  void Add(const std::vector<std::string>& label_values, double delta = 1);
  void Set(const std::vector<std::string>& label_values, double value);  // gauges
  double Get(const std::vector<std::string>& label_values) const;

  const std::string& name() const { return name_; }
  void Render(std::string& out) const;

  static constexpr std::size_t kMaxSeries = 1000;

 private:
  double* Slot(const std::vector<std::string>& label_values);  // with mutex_ held

  std::string name_, help_;
  Type type_;
  std::vector<std::string> label_names_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, double> values_;
};

class Registry {
 public:
  // Registers a family, or returns the one registered under that name.
  Family& Counter(const std::string& name, const std::string& help,
                  std::vector<std::string> label_names = {});
  Family& Gauge(const std::string& name, const std::string& help,
                std::vector<std::string> label_names = {});
  // Called at each Render before anything is written (e.g. to measure the store's size).
  void OnRender(std::function<void()> update);

  std::string Render() const;

 private:
  Family& Get(const std::string& name, const std::string& help, Type type,
              std::vector<std::string> label_names);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Family>> families_;  // in registration order
  std::vector<std::function<void()>> updates_;
};

Registry& Default();

// The program's metrics (see the list above), registered in Default().
struct ProgramMetrics {
  Family& mails_fetched;
  Family& reports;
  Family& duplicates;
  Family& rejected;
  Family& fetch_errors;
  Family& dns_lookups;
  Family& dns_cache_hits;
  Family& output_failures;
  Family& last_fetch;
  Family& store_size;
  Family& purged_reports;
  Family& output_delivered;
  Family& output_backlog;
  Family& output_failing;
  Family& output_last_success;
  Family& smtp;
};
ProgramMetrics& Program();

// Default().Render(): the body of GET /metrics (Content-Type: text/plain; version=0.0.4).
std::string RenderPrometheus();

// Prometheus text escaping: label values escape \ " and newline; help text \ and newline.
std::string EscapeLabelValue(const std::string& v);
std::string FormatValue(double v);

}  // namespace dmarc::metrics
