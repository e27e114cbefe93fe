// The PostgreSQL store's ingest status (store/ingest_status.h): the table ingest_sources, the
// enrichment backlog and the newest rejected inputs; the same answers as SQLite's.
#include <string>

#include "store/ingest_status_sql.h"
#include "store/pg/pg_store_impl.h"

namespace dmarc::store::pg_impl {

namespace {

std::vector<SourceState> ReadSourceRows(const Rows& rows) {
  std::vector<SourceState> out;
  for (int i = 0; i < rows.size(); ++i) {
    SourceState st;
    st.name = rows.Text(i, 0);
    st.kind = rows.Text(i, 1);
    st.state = rows.Text(i, 2);
    st.updated_at = rows.Int(i, 3);
    st.poll_started_at = rows.OptInt(i, 4);
    st.poll_ended_at = rows.OptInt(i, 5);
    st.next_poll_at = rows.OptInt(i, 6);
    st.last_error = rows.OptText(i, 7);
    st.last_error_at = rows.OptInt(i, 8);
    st.inputs_total = static_cast<std::uint64_t>(rows.Int(i, 9));
    st.inputs_done = static_cast<std::uint64_t>(rows.Int(i, 10));
    st.mails_left = static_cast<std::uint64_t>(rows.Int(i, 11));
    int col = kIngestSourceFields;
    for (std::uint64_t* c : CountFields(st.counts)) {
      *c = static_cast<std::uint64_t>(rows.Int(i, col++));
    }
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace

Result<bool> PgStore::RecordSourceState(const SourceState& given, const SourceCounts& add) {
  const SourceState st = BoundedSourceState(given);
  SourceCounts counts = add;
  const std::string sql = IngestSourceUpsert('$');
  Params p;
  p.Add(st.name).Add(st.kind).Add(st.state).Add(st.updated_at);
  p.Add(st.poll_started_at).Add(st.poll_ended_at).Add(st.next_poll_at);
  p.Add(st.last_error).Add(st.last_error_at).Add(st.inputs_total);
  p.Add(st.inputs_done).Add(st.mails_left);
  for (const std::uint64_t* c : CountFields(counts)) p.Add(*c);
  return InTransaction<bool>([&]() -> Result<bool> {
    auto r = conn_.Query(sql, p);
    if (!r) return std::move(r).error_value();
    return true;
  });
}

Result<IngestStatus> PgStore::QueryIngestStatus(std::size_t max_rejections) {
  return InTransaction<IngestStatus>(
      [&]() -> Result<IngestStatus> {
        IngestStatus out;
        auto s = conn_.Query("SELECT " + std::string(kIngestSourceColumns) +
                                 " FROM ingest_sources ORDER BY name COLLATE \"C\" LIMIT $1",
                             Params().Add(static_cast<std::int64_t>(kMaxStatusSources)));
        if (!s) return std::move(s).error_value();
        out.sources = ReadSourceRows(*s);
        // The partial index aggregate_records_not_enriched holds exactly these records.
        auto b = conn_.Query(
            "SELECT count(DISTINCT source_ip), count(*) FROM aggregate_records"
            " WHERE source_enriched_at IS NULL");
        if (!b) return std::move(b).error_value();
        out.enrichment_backlog = static_cast<std::uint64_t>(b->Int(0, 0));
        out.enrichment_backlog_records = static_cast<std::uint64_t>(b->Int(0, 1));
        auto h = conn_.Query(
            "SELECT (EXISTS (SELECT 1 FROM aggregate_reports) OR EXISTS (SELECT 1 FROM"
            " failure_reports) OR EXISTS (SELECT 1 FROM smtp_tls_reports))::int");
        if (!h) return std::move(h).error_value();
        out.has_reports = h->Int(0, 0) != 0;
        auto r = conn_.Query(
            "SELECT i.id, i.received_at, i.origin, i.reason, b.size FROM rejected_inputs i"
            " JOIN rejected_blobs b ON b.sha256 = i.sha256 ORDER BY i.id DESC LIMIT $1",
            Params().Add(static_cast<std::int64_t>(max_rejections)));
        if (!r) return std::move(r).error_value();
        for (int i = 0; i < r->size(); ++i) {
          out.rejections.push_back({r->Int(i, 0), r->Int(i, 1), r->Text(i, 2), r->Text(i, 3),
                                    static_cast<std::uint64_t>(r->Int(i, 4))});
        }
        return out;
      },
      /*read_only=*/true);
}

}  // namespace dmarc::store::pg_impl
