// StoredStream: where an aggregate report parsed as a stream waits for the store (import, fetch,
// run; issue #14). The worker that parses the report enriches each batch of records and spools
// it (pipeline/record_spool.h), and compresses the report's XML into a spool of its own as it is
// read; once the input is extracted, the store's thread reads both back while it stores the
// report with the rest of its batch (store::RecordStream). Memory stays at one batch of records
// and the spools' in-memory parts, whatever the report's size.
//
// Enrichment of streamed records runs in the worker, without the store's DNS cache (the store
// belongs to its thread): names come from the enricher's memory and from DNS, and are not
// written to the cache; geolocation and services as for any record.
//
// Thread-safety: one thread at a time (the worker, then the store's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "archive/archive.h"
#include "base/spool.h"
#include "enrich/enrich.h"
#include "parse/aggregate_stream.h"
#include "pipeline/record_spool.h"
#include "store/store.h"

namespace dmarc::pipeline {

class StoredStream final : public parse::AggregateSink, public store::RecordStream {
 public:
  struct Options {
    enrich::Enricher* enricher = nullptr;  // nullptr: records keep their addresses only
    bool keep_raw_xml = true;
    // As ExtractOptions::already_stored: a report the store has keeps no XML (it is dropped).
    std::function<bool(const model::AggregateReport&)> already_stored;
    // Compressed XML kept at most; a larger one is dropped and the fact noted in the log (the
    // store's blobs are bounded: SQLite's at 1 GB).
    std::uint64_t max_raw_xml_packed_bytes = 512u << 20;
  };
  explicit StoredStream(Options options);

  // parse::AggregateSink, called by the worker.
  Status OnHeader(const model::AggregateReport& header) override;
  Status OnRecords(std::vector<model::Record>& records) override;
  Status OnEnd(const std::vector<std::string>& errors) override;
  Status OnRawXml(std::string_view piece) override;

  // store::RecordStream, called by the store's thread.
  std::uint64_t RecordCount() const override { return records_.Count(); }
  std::vector<std::int64_t> Days() const override { return {days_.begin(), days_.end()}; }
  Status Rewind() override;
  Status NextRecords(std::vector<model::Record>& out, std::size_t max) override;
  std::int64_t SourcesEnrichedAt() const override { return enriched_at_; }
  std::uint64_t RawXmlPackedBytes() const override { return raw_ ? raw_->Size() : 0; }
  Result<std::size_t> ReadRawXmlPacked(char* to, std::size_t n) override;

  // The report without its records (its errors complete after OnEnd).
  const model::AggregateReport& header() const { return header_; }
  // Uncompressed bytes of the XML kept (0: none kept).
  std::uint64_t raw_xml_size() const { return raw_ ? raw_xml_size_ : 0; }
  // What the enrichment of its records found.
  const enrich::LookupStats& enrichment() const { return enrichment_; }
  // Notes for the log (the XML not kept, and why).
  const std::vector<std::string>& notes() const { return notes_; }
  // Bytes it holds in memory.
  std::size_t HeldBytes() const;

 private:
  void DropRawXml(const std::string& why);

  Options options_;
  model::AggregateReport header_;
  RecordSpool records_;
  std::set<std::int64_t> days_;
  std::int64_t enriched_at_ = 0;
  bool any_unresolved_ = false;
  enrich::LookupStats enrichment_;
  std::optional<archive::ZstdCompressor> deflater_;
  std::unique_ptr<Spool> raw_;  // compressed XML; null once dropped (or never kept)
  std::uint64_t raw_xml_size_ = 0;
  std::vector<std::string> notes_;
};

}  // namespace dmarc::pipeline
