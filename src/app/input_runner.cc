#include "app/input_runner.h"

#include <ctime>

#include "app/enrichment.h"
#include "pipeline/inputs.h"
#include "store/sha256.h"

namespace dmarc::app {

InputResult ExtractBuffer(std::string_view bytes, const std::string& label,
                          const pipeline::ExtractOptions& options, std::size_t raw_bytes) {
  InputResult out;
  out.extracted = pipeline::ExtractReports(bytes, label, options);
  if (!out.extracted.rejections.empty()) {
    out.sha256 = store::Sha256Hex(bytes);
    out.size = bytes.size();
    out.head = std::string(bytes.substr(0, raw_bytes));
  }
  return out;
}

InputResult ExtractInput(const std::string& path, const pipeline::ExtractOptions& options,
                         std::size_t raw_bytes) {
  const std::string label = path == "-" ? "<stdin>" : path;
  auto bytes = pipeline::ReadInput(path, options.limits());
  if (!bytes) {
    InputResult out;
    out.extracted.rejections.push_back({label, bytes.error()});
    return out;
  }
  return ExtractBuffer(*bytes, label, options, raw_bytes);
}

Result<store::BatchResult> StoreResults(store::ReportStore& st, std::vector<InputResult>& inputs,
                                        enrich::Enricher* enricher,
                                        enrich::LookupStats* enrich_total) {
  store::Batch batch;
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  if (enricher) {
    std::vector<model::AggregateReport*> reports;
    std::vector<model::FailureReport*> failures;
    for (auto& in : inputs) {
      for (auto& f : in.extracted.reports) reports.push_back(&f.aggregate);
      for (auto& f : in.extracted.failures) failures.push_back(&f.report);
    }
    enrich::LookupStats ignored;
    batch.sources_enriched_at = EnrichBeforeStore(*enricher, st, reports, failures, now,
                                                  enrich_total ? enrich_total : &ignored);
  }
  for (const auto& in : inputs) {
    for (const auto& f : in.extracted.reports) {
      batch.aggregates.push_back({f.origin, &f.aggregate, f.raw_xml_gzip, f.raw_xml_size});
    }
    for (const auto& f : in.extracted.failures) batch.failures.push_back({f.origin, &f.report});
    for (const auto& f : in.extracted.smtp_tls) batch.smtp_tls.push_back({f.origin, &f.report});
    for (const auto& r : in.extracted.rejections) {
      batch.rejections.push_back({now, r.origin, r.reason, in.sha256, in.size, in.head});
    }
  }
  return st.Store(batch);
}

}  // namespace dmarc::app
