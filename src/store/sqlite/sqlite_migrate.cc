// The SQLite store's side of copying a whole store (`dmarc-report migrate`): everything stored,
// read back with what Store keeps beside each item (ForEachCopy), and copies written keeping it
// (StoreCopy).
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "sinks/report_json.h"
#include "store/sqlite/sqlite_read_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace dmarc::store::sqlite_impl {

namespace {

// Steps st until done, calling row() for each row and flush() whenever `batch` holds batch_size
// items and at the end; stops when flush says so.
template <class Row, class Flush>
Result<bool> ReadRows(Statement& st, std::size_t batch_size, const CopyBatch& batch, Row row,
                      Flush flush) {
  for (;;) {
    auto stepped = st.Step();
    if (!stepped) return MakeError(stepped.error());
    if (!*stepped) break;
    DMARC_TRY(row());
    if (batch.Size() >= batch_size) {
      bool go_on = false;
      DMARC_TRY_ASSIGN(go_on, flush());
      if (!go_on) return false;
    }
  }
  return flush();
}

// Hands the batch over (if it holds anything); false when the visitor asks to stop.
using Flush = std::function<Result<bool>()>;
// Reads one kind of what is stored into the batch, flushing it as it fills; false when the copy
// stops there.
using CopyKind = Result<bool> (*)(sqlite::Database& db, std::size_t batch_size, CopyBatch& batch,
                                  const Flush& flush);

// The aggregate report of the current row of q.reports with its records, origin, import time,
// raw XML (extras) and its records' enrichment times (enriched).
Result<AggregateCopy> ReadAggregateCopy(AggregateQueries& q, sqlite::Statement& extras,
                                        sqlite::Statement& enriched) {
  AggregateCopy c;
  c.report = ReadAggregateReport(q.reports);
  const std::int64_t first = q.reports.OptInt(23).value_or(0);
  const std::int64_t last = first + q.reports.Int(24);
  DMARC_TRY(ReadAggregateRecords(q, c.report));
  extras.Bind(1, q.reports.Int(0));
  auto row = extras.Step();
  if (!row) return MakeError(row.error());
  if (*row) {
    c.origin = extras.Text(0);
    c.imported_at = extras.Int(1);
    if (!extras.IsNull(3)) {
      c.raw_xml_size = static_cast<std::uint64_t>(extras.Int(2));
      c.raw_xml_packed = extras.Blob(3);
      c.raw_xml_encoding = extras.Text(4);
    }
  }
  extras.Reset();
  enriched.Bind(1, first).Bind(2, last);
  for (;;) {
    auto e = enriched.Step();
    if (!e) return MakeError(e.error());
    if (!*e) break;
    c.sources_enriched_at.push_back(enriched.Int(0));
  }
  enriched.Reset();
  c.sources_enriched_at.resize(c.report.records.size(), 0);
  return c;
}

// Aggregate reports, with origin, import time, raw XML and their records' enrichment times.
Result<bool> CopyAggregates(sqlite::Database& db, std::size_t batch_size, CopyBatch& batch,
                            const Flush& flush) {
  auto q = PrepareAggregateQueries(db, Filter{});
  if (!q) return MakeError(q.error());
  const auto all = DayRange(Filter{});
  q->reports.Bind(1, all.first).Bind(2, all.second);
  auto extras = db.Prepare(
      "SELECT r.origin, r.imported_at, w.size, w.bytes, w.encoding FROM aggregate_reports r"
      " LEFT JOIN aggregate_raw w ON w.report = r.id WHERE r.id = ?1");
  auto enriched = db.Prepare(
      "SELECT coalesce(source_enriched_at, 0) FROM aggregate_records WHERE id >= ?1 AND id < ?2"
      " ORDER BY id");
  if (!extras || !enriched) return MakeError("cannot prepare the copy's queries");
  auto row = [&]() -> Result<bool> {
    AggregateCopy c;
    DMARC_TRY_ASSIGN(c, ReadAggregateCopy(*q, *extras, *enriched));
    batch.aggregates.push_back(std::move(c));
    return true;
  };
  return ReadRows(q->reports, batch_size, batch, row, flush);
}

Result<bool> CopyFailures(sqlite::Database& db, std::size_t batch_size, CopyBatch& batch,
                          const Flush& flush) {
  auto failures =
      db.Prepare("SELECT data, arrival_ts, origin, imported_at FROM failure_reports ORDER BY id");
  if (!failures) return MakeError(failures.error());
  auto row = [&]() -> Result<bool> {
    auto j = nlohmann::ordered_json::parse(failures->View(0), nullptr,
                                           /*allow_exceptions=*/false);
    auto report = sinks::FailureFromJson(j);
    if (!report) return MakeError(report.error());
    report->arrival_ts = failures->Int(1);
    batch.failures.push_back({failures->Text(2), failures->Int(3), std::move(report).value()});
    return true;
  };
  return ReadRows(*failures, batch_size, batch, row, flush);
}

Result<bool> CopySmtpTls(sqlite::Database& db, std::size_t batch_size, CopyBatch& batch,
                         const Flush& flush) {
  auto tls = db.Prepare(
      "SELECT id, organization_name, report_id, begin_ts, end_ts, contact_info, errors,"
      " origin, imported_at FROM smtp_tls_reports ORDER BY id");
  auto policies = db.Prepare(
      "SELECT id, policy_domain, policy_type, policy_strings, mx_host_patterns,"
      " successful_session_count, failed_session_count FROM smtp_tls_policies"
      " WHERE report = ?1 ORDER BY id");
  auto details = db.Prepare(
      "SELECT result_type, failed_session_count, sending_mta_ip, receiving_ip,"
      " receiving_mx_hostname, receiving_mx_helo, additional_info_uri, failure_reason_code"
      " FROM smtp_tls_failure_details WHERE policy = ?1 ORDER BY position");
  if (!tls || !policies || !details) return MakeError("cannot prepare the copy's queries");
  auto row = [&]() -> Result<bool> {
    SmtpTlsCopy c;
    model::SmtpTlsReport& r = c.report;
    r.organization_name = tls->Text(1);
    r.report_id = tls->Text(2);
    r.begin = tls->Int(3);
    r.end = tls->Int(4);
    r.contact_info = tls->OptText(5);
    r.errors = JsonStrings(tls->OptText(6));
    c.origin = tls->Text(7);
    c.imported_at = tls->Int(8);
    DMARC_TRY(ReadSmtpTlsPolicies(*policies, *details, tls->Int(0), r));
    batch.smtp_tls.push_back(std::move(c));
    return true;
  };
  return ReadRows(*tls, batch_size, batch, row, flush);
}

Result<bool> CopyRejections(sqlite::Database& db, std::size_t batch_size, CopyBatch& batch,
                            const Flush& flush) {
  auto rejected = db.Prepare(
      "SELECT i.received_at, i.origin, i.reason, i.sha256, b.size, b.raw FROM rejected_inputs i"
      " JOIN rejected_blobs b ON b.sha256 = i.sha256 ORDER BY i.id");
  if (!rejected) return MakeError(rejected.error());
  auto row = [&]() -> Result<bool> {
    batch.rejections.push_back({rejected->Int(0), rejected->Text(1), rejected->Text(2),
                                rejected->Text(3), static_cast<std::uint64_t>(rejected->Int(4)),
                                rejected->Blob(5)});
    return true;
  };
  return ReadRows(*rejected, batch_size, batch, row, flush);
}

Result<bool> CopyIpInfo(sqlite::Database& db, std::size_t batch_size, CopyBatch& batch,
                        const Flush& flush) {
  auto ip = db.Prepare(
      "SELECT ip, status, reverse_dns, base_domain, country, asn, as_name, as_domain,"
      " resolved_at, expires_at, name, type FROM ip_info_cache ORDER BY ip");
  if (!ip) return MakeError(ip.error());
  auto row = [&]() -> Result<bool> {
    IpInfoCopy c;
    c.info = {ip->Text(0),   ip->Text(1),    ip->OptText(2), ip->OptText(3), ip->OptText(4),
              ip->OptInt(5), ip->OptText(6), ip->OptText(7), ip->Int(8),     ip->Int(9)};
    c.name = ip->OptText(10);
    c.type = ip->OptText(11);
    batch.ip_info.push_back(std::move(c));
    return true;
  };
  return ReadRows(*ip, batch_size, batch, row, flush);
}

}  // namespace

Result<std::size_t> SqliteStore::ForEachCopy(
    std::size_t batch_size, const std::function<Result<bool>(CopyBatch&&)>& visit) {
  if (batch_size == 0) batch_size = 1;
  return InReadTransaction([&]() -> Result<std::size_t> {
    std::size_t n = 0;
    CopyBatch batch;
    const Flush flush = [&]() -> Result<bool> {
      if (batch.Size() == 0) return true;
      n += batch.Size();
      auto go_on = visit(std::move(batch));
      batch = CopyBatch{};
      return go_on;
    };
    // Each kind in turn; when visit asks to stop, the kinds after it are not read.
    for (CopyKind copy : {CopyAggregates, CopyFailures, CopySmtpTls, CopyRejections, CopyIpInfo}) {
      bool go_on = false;
      DMARC_TRY_ASSIGN(go_on, copy(db_, batch_size, batch, flush));
      if (!go_on) return n;
    }
    return n;
  });
}

Result<BatchResult> SqliteStore::StoreCopy(const CopyBatch& copy) {
  const Batch batch = BatchOfCopies(copy);
  // The whole bytes the source kept, whatever this store's own limit for new rejections.
  const std::size_t max_raw = options_.max_raw_bytes;
  options_.max_raw_bytes = std::numeric_limits<std::size_t>::max();
  pending_ip_ids_.clear();
  auto result = InWriteTransaction([&]() -> Result<BatchResult> {
    BatchResult r;
    DMARC_TRY_ASSIGN(r, StoreInTransaction(batch));
    DMARC_TRY(FixCopiedTimes(copy, batch.sources_enriched_at));
    DMARC_TRY(StoreIpInfoCopies(copy.ip_info));
    return r;
  });
  options_.max_raw_bytes = max_raw;
  if (result) ip_ids_.merge(pending_ip_ids_);
  return result;
}

Result<bool> SqliteStore::FixCopiedTimes(const CopyBatch& copy, std::int64_t enriched_at) {
  auto report = db_.Prepare(
      "UPDATE aggregate_reports SET imported_at = ?6 WHERE org_name = ?1 AND report_id = ?2"
      " AND domain = ?3 AND begin_ts = ?4 AND end_ts = ?5 RETURNING first_record");
  auto record = db_.Prepare("UPDATE aggregate_records SET source_enriched_at = ?2 WHERE id = ?1");
  auto failure = db_.Prepare("UPDATE failure_reports SET imported_at = ?2 WHERE dedup_key = ?1");
  auto tls = db_.Prepare(
      "UPDATE smtp_tls_reports SET imported_at = ?5 WHERE organization_name = ?1 AND"
      " report_id = ?2 AND begin_ts = ?3 AND end_ts = ?4");
  if (!report || !record || !failure || !tls) return MakeError("cannot prepare the copy's updates");
  for (const auto& a : copy.aggregates) {
    const auto& m = a.report.report_metadata;
    report->Bind(1, m.org_name)
        .Bind(2, m.report_id)
        .Bind(3, a.report.policy_published.domain)
        .Bind(4, m.begin)
        .Bind(5, m.end)
        .Bind(6, a.imported_at);
    auto row = report->Step();
    if (!row) return MakeError(row.error());
    const std::optional<std::int64_t> first = *row ? report->OptInt(0) : std::nullopt;
    while (*row) {  // run the statement to its end
      row = report->Step();
      if (!row) return MakeError(row.error());
    }
    report->Reset();
    if (!first) continue;
    for (std::size_t i = 0; i < a.sources_enriched_at.size(); ++i) {
      const std::int64_t t = a.sources_enriched_at[i];
      if (t == enriched_at) continue;
      record->Bind(1, *first + static_cast<std::int64_t>(i))
          .Bind(2, t ? std::optional<std::int64_t>(t) : std::nullopt);
      DMARC_TRY(record->Run());
    }
  }
  for (const auto& f : copy.failures) {
    const std::string key = FailureDedupKey(f.report);
    failure->Bind(1, key).Bind(2, f.imported_at);
    DMARC_TRY(failure->Run());
  }
  for (const auto& t : copy.smtp_tls) {
    tls->Bind(1, t.report.organization_name)
        .Bind(2, t.report.report_id)
        .Bind(3, t.report.begin)
        .Bind(4, t.report.end)
        .Bind(5, t.imported_at);
    DMARC_TRY(tls->Run());
  }
  return true;
}

Result<bool> SqliteStore::StoreIpInfoCopies(const std::vector<IpInfoCopy>& rows) {
  if (rows.empty()) return true;
  auto s = db_.Prepare(
      "INSERT INTO ip_info_cache (ip, status, reverse_dns, base_domain, country, asn, as_name,"
      " as_domain, resolved_at, expires_at, name, type)"
      " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
      " ON CONFLICT (ip) DO UPDATE SET status = excluded.status,"
      " reverse_dns = excluded.reverse_dns, base_domain = excluded.base_domain,"
      " country = excluded.country, asn = excluded.asn, as_name = excluded.as_name,"
      " as_domain = excluded.as_domain, resolved_at = excluded.resolved_at,"
      " expires_at = excluded.expires_at, name = excluded.name, type = excluded.type");
  if (!s) return MakeError(s.error());
  for (const auto& c : rows) {
    const IpInfoRow& r = c.info;
    s->Bind(1, r.ip)
        .Bind(2, r.status)
        .Bind(3, r.reverse_dns)
        .Bind(4, r.base_domain)
        .Bind(5, r.country)
        .Bind(6, r.asn)
        .Bind(7, r.as_name)
        .Bind(8, r.as_domain)
        .Bind(9, r.resolved_at)
        .Bind(10, r.expires_at)
        .Bind(11, c.name)
        .Bind(12, c.type);
    DMARC_TRY(s->Run());
  }
  return true;
}

}  // namespace dmarc::store::sqlite_impl
