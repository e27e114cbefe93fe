#include <ctime>

#include "pipeline/enrich_batch.h"
#include "pipeline/ingest.h"

namespace dmarc::pipeline {

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
  for (auto& in : inputs) {
    for (const auto& f : in.extracted.reports) {
      batch.aggregates.push_back({f.origin, &f.aggregate, f.raw_xml_gzip, f.raw_xml_size});
    }
    for (const auto& f : in.extracted.failures) batch.failures.push_back({f.origin, &f.report});
    for (const auto& f : in.extracted.smtp_tls) batch.smtp_tls.push_back({f.origin, &f.report});
    for (auto& r : in.extracted.rejections) {
      // Moved, not copied: a batch of rejections holds each kept byte once.
      batch.rejections.push_back({now, r.origin, r.reason, r.sha256, r.size, std::move(r.raw)});
      r.raw.clear();
    }
  }
  return st.Store(batch);
}

}  // namespace dmarc::pipeline
