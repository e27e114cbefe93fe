#include <ctime>
#include <map>

#include "pipeline/enrich_batch.h"
#include "pipeline/ingest.h"
#include "pipeline/stream_store.h"

namespace dmarc::pipeline {

namespace {

// The sink of a streamed report when it waits for the store (Ingest's sinks); null otherwise.
StoredStream* Waiting(const StreamedReport& s) { return dynamic_cast<StoredStream*>(s.sink.get()); }

// Distinct addresses recorded at a time by RecordStreamedSources.
constexpr std::size_t kSourcesPerPut = 20'000;

// Per address of a streamed report, what the dashboard shows of it (as EnrichBeforeStore records
// it for reports held whole): its records are read back from the spool, before the batch's
// transaction, a few thousand distinct addresses at a time.
void RecordStreamedSources(store::ReportStore& st, StoredStream& s, enrich::LookupStats& total) {
  std::map<std::string, model::Source> distinct;
  auto put = [&] {
    std::vector<model::Source> sources;
    sources.reserve(distinct.size());
    for (auto& [ip, src] : distinct) sources.push_back(std::move(src));
    distinct.clear();
    if (auto r = st.PutSourceInfo(sources); !r) {
      total.warnings.push_back("cannot record address details: " + r.error());
      return false;
    }
    return true;
  };
  std::vector<model::Record> records;
  Status read = s.Rewind();
  while (read) {
    read = s.NextRecords(records, store::kStreamRecordsPerRead);
    if (!read || records.empty()) break;
    for (auto& rec : records) distinct.try_emplace(rec.source.ip_address, std::move(rec.source));
    if (distinct.size() >= kSourcesPerPut && !put()) return;
  }
  if (!read) {
    total.warnings.push_back("cannot record address details: " + read.error());
    return;
  }
  if (!distinct.empty()) put();
}

}  // namespace

Result<store::BatchResult> StoreResults(store::ReportStore& st, std::vector<InputResult>& inputs,
                                        enrich::Enricher* enricher,
                                        enrich::LookupStats* enrich_total) {
  store::Batch batch;
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  enrich::LookupStats ignored;
  enrich::LookupStats& total = enrich_total ? *enrich_total : ignored;
  if (enricher) {
    std::vector<model::AggregateReport*> reports;
    std::vector<model::FailureReport*> failures;
    bool enriched = true;  // by the workers, every input that has sources
    for (auto& in : inputs) {
      for (auto& f : in.extracted.reports) reports.push_back(&f.aggregate);
      for (auto& f : in.extracted.failures) failures.push_back(&f.report);
      if (in.enriched) {
        Accumulate(in.enrichment, total);
      } else if (!in.extracted.reports.empty() || !in.extracted.failures.empty()) {
        enriched = false;
      }
    }
    // Inputs not enriched by the workers are enriched here (all of the batch's reports once:
    // enriching again what a worker did changes nothing).
    batch.sources_enriched_at =
        EnrichBeforeStore(*enricher, st, reports, failures, now, &total, enriched);
  }
  for (auto& in : inputs) {
    // Aggregate reports in input order: those held whole, and those streamed among them.
    auto streamed = in.extracted.streamed.begin();
    auto add_streamed_before = [&](std::size_t position) {
      for (; streamed != in.extracted.streamed.end() && streamed->position <= position;
           ++streamed) {
        StoredStream* s = Waiting(*streamed);
        if (!s) continue;
        batch.aggregates.push_back({streamed->origin, &s->header(), {}, s->raw_xml_size(), s});
        Accumulate(s->enrichment(), total);
        for (const auto& note : s->notes())
          total.warnings.push_back(streamed->origin + ": " + note);
        if (enricher) RecordStreamedSources(st, *s, total);
      }
    };
    for (std::size_t i = 0; i < in.extracted.reports.size(); ++i) {
      add_streamed_before(i);
      const auto& f = in.extracted.reports[i];
      batch.aggregates.push_back({f.origin, &f.aggregate, f.raw_xml_packed, f.raw_xml_size});
    }
    add_streamed_before(SIZE_MAX);
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
