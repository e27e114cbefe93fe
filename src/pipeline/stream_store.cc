#include "pipeline/stream_store.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "base/time.h"
#include "pipeline/enrich_batch.h"

namespace dmarc::pipeline {

namespace {

// What the spools keep in memory before they move to temporary files: a batch of records or
// so, a little compressed XML (a batch may hold several streamed reports at once).
constexpr std::size_t kRecordMemoryBytes = 1u << 20;
constexpr std::size_t kRawMemoryBytes = 256u << 10;

}  // namespace

StoredStream::StoredStream(Options options)
    : options_(std::move(options)), records_(kRecordMemoryBytes) {
  if (options_.keep_raw_xml) {
    raw_ = std::make_unique<Spool>(kRawMemoryBytes);
    deflater_.emplace();
  }
}

Status StoredStream::OnHeader(const model::AggregateReport& header) {
  header_ = header;
  header_.records.clear();
  // A report the store has is dropped by it: its XML is not compressed for nothing.
  if (raw_ && options_.already_stored && options_.already_stored(header_)) {
    raw_.reset();
    deflater_.reset();
  }
  // Marked enriched only if every lookup got its DNS answer (as EnrichBeforeStore does).
  const bool dns = options_.enricher && options_.enricher->options().enabled &&
                   !options_.enricher->options().offline;
  enriched_at_ = dns ? static_cast<std::int64_t>(std::time(nullptr)) : 0;
  return Ok();
}

Status StoredStream::OnRecords(std::vector<model::Record>& records) {
  if (options_.enricher) {
    // EnrichReports takes reports: the batch is lent to the header for the call.
    header_.records.swap(records);
    const enrich::LookupStats s = options_.enricher->EnrichReports(
        {&header_}, nullptr, static_cast<std::int64_t>(std::time(nullptr)));
    header_.records.swap(records);
    if (s.unresolved > 0) any_unresolved_ = true;
    Accumulate(s, enrichment_);
  }
  for (const auto& rec : records) days_.insert(FloorDay(rec.interval_begin));
  return records_.Add(records);
}

Status StoredStream::OnEnd(const std::vector<std::string>& errors) {
  header_.report_metadata.errors = errors;
  if (any_unresolved_) enriched_at_ = 0;
  if (deflater_) {
    Status s = deflater_->Finish([this](std::string_view piece) -> Status {
      if (!raw_->Add(piece)) {
        return MakeError(fmt::format("temporary file for a streamed report's XML failed: {}",
                                     std::strerror(errno)));
      }
      return Ok();
    });
    deflater_.reset();
    if (!s) DropRawXml(s.error());
  }
  return Ok();
}

Status StoredStream::OnRawXml(std::string_view piece) {
  if (!deflater_) return Ok();
  raw_xml_size_ += piece.size();
  Status s = deflater_->Feed(piece, [this](std::string_view out) -> Status {
    if (raw_->Size() + out.size() > options_.max_raw_xml_packed_bytes) {
      return MakeError(
          fmt::format("its compressed XML passes {} bytes", options_.max_raw_xml_packed_bytes));
    }
    if (!raw_->Add(out)) {
      return MakeError(fmt::format("temporary file for a streamed report's XML failed: {}",
                                   std::strerror(errno)));
    }
    return Ok();
  });
  if (!s) DropRawXml(s.error());
  return Ok();
}

void StoredStream::DropRawXml(const std::string& why) {
  raw_.reset();
  deflater_.reset();
  notes_.push_back("the report's XML is not kept in the store: " + why);
}

Status StoredStream::Rewind() {
  DMARC_TRY(records_.Rewind());
  if (raw_ && !raw_->Rewind()) {
    return MakeError(fmt::format("temporary file for a streamed report's XML cannot be read: {}",
                                 std::strerror(errno)));
  }
  return Ok();
}

Status StoredStream::NextRecords(std::vector<model::Record>& out, std::size_t max) {
  return records_.Next(out, max);
}

Result<std::size_t> StoredStream::ReadRawXmlPacked(char* to, std::size_t n) {
  if (!raw_) return std::size_t{0};
  const std::size_t got = raw_->Read(to, n);
  if (raw_->ReadFailed()) {
    return MakeError(fmt::format("temporary file for a streamed report's XML cannot be read: {}",
                                 std::strerror(errno)));
  }
  return got;
}

std::size_t StoredStream::HeldBytes() const {
  return records_.MemoryBytes() + (raw_ ? raw_->MemoryBytes() : 0);
}

}  // namespace dmarc::pipeline
