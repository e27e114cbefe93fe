// The SQLite store's ingest status (store/ingest_status.h): the table ingest_sources, the
// enrichment backlog and the newest rejected inputs.
#include <string>

#include "store/ingest_status_sql.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace dmarc::store::sqlite_impl {

namespace {

std::int64_t Signed(std::uint64_t v) { return static_cast<std::int64_t>(v); }

// Reads the rows of a statement selecting kIngestSourceColumns.
Result<std::vector<SourceState>> ReadSourceRows(Statement& s) {
  std::vector<SourceState> out;
  for (;;) {
    auto row = s.Step();
    if (!row) return MakeError(row.error());
    if (!*row) break;
    SourceState st;
    st.name = s.Text(0);
    st.kind = s.Text(1);
    st.state = s.Text(2);
    st.updated_at = s.Int(3);
    st.poll_started_at = s.OptInt(4);
    st.poll_ended_at = s.OptInt(5);
    st.next_poll_at = s.OptInt(6);
    st.last_error = s.OptText(7);
    st.last_error_at = s.OptInt(8);
    st.inputs_total = static_cast<std::uint64_t>(s.Int(9));
    st.inputs_done = static_cast<std::uint64_t>(s.Int(10));
    st.mails_left = static_cast<std::uint64_t>(s.Int(11));
    int col = kIngestSourceFields;
    for (std::uint64_t* c : CountFields(st.counts)) *c = static_cast<std::uint64_t>(s.Int(col++));
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace

Result<bool> SqliteStore::RecordSourceState(const SourceState& given, const SourceCounts& add) {
  const SourceState st = BoundedSourceState(given);
  SourceCounts counts = add;
  const std::string sql = IngestSourceUpsert('?');
  return InWriteTransaction([&]() -> Result<bool> {
    auto s = db_.Prepare(sql);
    if (!s) return MakeError(s.error());
    s->Bind(1, st.name).Bind(2, st.kind).Bind(3, st.state).Bind(4, st.updated_at);
    s->Bind(5, st.poll_started_at).Bind(6, st.poll_ended_at).Bind(7, st.next_poll_at);
    s->Bind(8, st.last_error).Bind(9, st.last_error_at).Bind(10, Signed(st.inputs_total));
    s->Bind(11, Signed(st.inputs_done)).Bind(12, Signed(st.mails_left));
    int i = kIngestSourceFields + 1;
    for (const std::uint64_t* c : CountFields(counts)) s->Bind(i++, Signed(*c));
    return s->Run();
  });
}

Result<IngestStatus> SqliteStore::QueryIngestStatus(std::size_t max_rejections) {
  return InReadTransaction([&]() -> Result<IngestStatus> {
    IngestStatus out;
    auto s = db_.Prepare("SELECT " + std::string(kIngestSourceColumns) +
                         " FROM ingest_sources ORDER BY name LIMIT ?1");
    if (!s) return MakeError(s.error());
    s->Bind(1, static_cast<std::int64_t>(kMaxStatusSources));
    auto rows = ReadSourceRows(*s);
    if (!rows) return MakeError(rows.error());
    out.sources = std::move(rows).value();
    // The partial index aggregate_records_not_enriched holds exactly these records.
    auto b = db_.Prepare(
        "SELECT count(DISTINCT source_ip), count(*) FROM aggregate_records"
        " WHERE source_enriched_at IS NULL");
    if (!b) return MakeError(b.error());
    if (auto row = b->Step(); !row) return MakeError(row.error());
    out.enrichment_backlog = static_cast<std::uint64_t>(b->Int(0));
    out.enrichment_backlog_records = static_cast<std::uint64_t>(b->Int(1));
    auto h = db_.Prepare(
        "SELECT EXISTS (SELECT 1 FROM aggregate_reports) OR EXISTS (SELECT 1 FROM"
        " failure_reports) OR EXISTS (SELECT 1 FROM smtp_tls_reports)");
    if (!h) return MakeError(h.error());
    if (auto row = h->Step(); !row) return MakeError(row.error());
    out.has_reports = h->Int(0) != 0;
    auto r = db_.Prepare(
        "SELECT i.id, i.received_at, i.origin, i.reason, b.size FROM rejected_inputs i"
        " JOIN rejected_blobs b ON b.sha256 = i.sha256 ORDER BY i.id DESC LIMIT ?1");
    if (!r) return MakeError(r.error());
    r->Bind(1, static_cast<std::int64_t>(max_rejections));
    for (;;) {
      auto row = r->Step();
      if (!row) return MakeError(row.error());
      if (!*row) break;
      out.rejections.push_back(
          {r->Int(0), r->Int(1), r->Text(2), r->Text(3), static_cast<std::uint64_t>(r->Int(4))});
    }
    return out;
  });
}

}  // namespace dmarc::store::sqlite_impl
