#include "metrics/metrics.h"

#include <fmt/format.h>

#include <cmath>

namespace dmarc::metrics {

namespace {

// Help text escapes backslash and newline; label values also the double quote.
std::string Escape(const std::string& v, bool quote) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(const std::string& v) { return Escape(v, true); }

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

Family::Family(std::string name, std::string help, Type type, std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {
  // A family without labels has its one series from the start, so it is rendered as 0.
  if (label_names_.empty()) values_[{}] = 0;
}

double* Family::Slot(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names_.size()) return nullptr;
  auto it = values_.find(label_values);
  if (it != values_.end()) return &it->second;
  if (values_.size() >= kMaxSeries) return nullptr;
  return &values_[label_values];
}

void Family::Add(const std::vector<std::string>& label_values, double delta) {
  if (type_ == Type::kCounter && !(delta >= 0)) return;
  std::lock_guard lock(mutex_);
  if (double* v = Slot(label_values)) *v += delta;
}

void Family::Set(const std::vector<std::string>& label_values, double value) {
  std::lock_guard lock(mutex_);
  if (double* v = Slot(label_values)) *v = value;
}

double Family::Get(const std::vector<std::string>& label_values) const {
  std::lock_guard lock(mutex_);
  auto it = values_.find(label_values);
  return it == values_.end() ? 0 : it->second;
}

void Family::Render(std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, Escape(help_, false), name_,
                     type_ == Type::kCounter ? "counter" : "gauge");
  std::lock_guard lock(mutex_);
  for (const auto& [labels, value] : values_) {
    out += name_;
    if (!labels.empty()) {
      out += '{';
      for (std::size_t i = 0; i < labels.size(); ++i) {
        out +=
            fmt::format("{}{}=\"{}\"", i ? "," : "", label_names_[i], EscapeLabelValue(labels[i]));
      }
      out += '}';
    }
    out += ' ';
    out += FormatValue(value);
    out += '\n';
  }
}

Family& Registry::Get(const std::string& name, const std::string& help, Type type,
                      std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  for (auto& f : families_) {
    if (f->name() == name) return *f;
  }
  families_.push_back(std::make_unique<Family>(name, help, type, std::move(label_names)));
  return *families_.back();
}

Family& Registry::Counter(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names) {
  return Get(name, help, Type::kCounter, std::move(label_names));
}

Family& Registry::Gauge(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names) {
  return Get(name, help, Type::kGauge, std::move(label_names));
}

void Registry::OnRender(std::function<void()> update) {
  std::lock_guard lock(mutex_);
  updates_.push_back(std::move(update));
}

std::string Registry::Render() const {
  std::vector<std::function<void()>> updates;
  {
    std::lock_guard lock(mutex_);
    updates = updates_;
  }
  for (const auto& u : updates) u();
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& f : families_) f->Render(out);
  return out;
}

Registry& Default() {
  static Registry registry;
  return registry;
}

ProgramMetrics& Program() {
  static ProgramMetrics m = [] {
    Registry& r = Default();
    return ProgramMetrics{
        r.Counter("dmarc_report_mails_fetched_total", "Mails read from a source.", {"source"}),
        r.Counter("dmarc_report_reports_total", "New reports stored, by report type.", {"type"}),
        r.Counter("dmarc_report_duplicate_reports_total",
                  "Reports received again and not stored twice, by report type.", {"type"}),
        r.Counter("dmarc_report_rejected_inputs_total",
                  "Inputs (mails, files, attachments) that held no usable report.", {"source"}),
        r.Counter("dmarc_report_fetch_errors_total",
                  "Fetch rounds that failed (connection, login, store), by source.", {"source"}),
        r.Counter("dmarc_report_dns_lookups_total", "DNS queries sent by enrichment."),
        r.Counter("dmarc_report_dns_cache_hits_total",
                  "Enrichment answers taken from the cache instead of DNS."),
        r.Counter("dmarc_report_output_failures_total",
                  "Failed delivery attempts of an output, and reports it refused for good.",
                  {"output"}),
        r.Gauge("dmarc_report_last_successful_fetch_timestamp_seconds",
                "Unix time of the last fetch round that read a source completely.", {"source"}),
        r.Gauge("dmarc_report_store_size_bytes", "Size of the store's files on disk."),
        r.Counter("dmarc_report_purged_reports_total",
                  "Reports removed because they were older than the retention."),
        r.Counter("dmarc_report_output_delivered_total", "Reports an output delivered.",
                  {"output"}),
        r.Gauge("dmarc_report_output_backlog", "Reports waiting in the outbox for an output.",
                {"output"}),
        r.Gauge("dmarc_report_output_failing",
                "1 while an output's last delivery attempts failed, else 0.", {"output"}),
        r.Gauge("dmarc_report_output_last_success_timestamp_seconds",
                "Unix time of an output's last successful delivery.", {"output"}),
        r.Counter("dmarc_report_smtp_total",
                  "The SMTP receiver: mails accepted (spooled), and recipients, mails or "
                  "connections refused.",
                  {"result"}),
    };
  }();
  return m;
}

std::string RenderPrometheus() {
  Program();  // every program metric appears, even before its first update
  return Default().Render();
}

}  // namespace dmarc::metrics
