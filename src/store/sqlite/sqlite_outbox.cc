// The SQLite store's outbox of the outputs (docs/outputs.md): entries queued with each new report
// in Store's transaction, read back in order with their reports, settled after each delivery
// attempt, and the per-output state `dmarc-report outputs` shows.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>

#include "sinks/report_json.h"
#include "store/sqlite/sqlite_read_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace dmarc::store::sqlite_impl {

namespace {

// The reports an outbox entry points at, read by row id (prepared once per OutboxNext).
struct ReportReaders {
  AggregateQueries aggregate;
  Statement failure, tls_report, tls_policies, tls_details;
};

Result<ReportReaders> PrepareReaders(Database& db) {
  ReportReaders r;
  DMARC_TRY_ASSIGN(r.aggregate, PrepareAggregateQueries(db, Filter{}, " WHERE id = ?1"));
  DMARC_TRY_ASSIGN(r.failure,
                   db.Prepare("SELECT data, arrival_ts FROM failure_reports WHERE id = ?1"));
  DMARC_TRY_ASSIGN(r.tls_report,
                   db.Prepare("SELECT organization_name, report_id, begin_ts, end_ts,"
                              " contact_info, errors FROM smtp_tls_reports WHERE id = ?1"));
  DMARC_TRY_ASSIGN(r.tls_policies,
                   db.Prepare("SELECT id, policy_domain, policy_type, policy_strings,"
                              " mx_host_patterns, successful_session_count, failed_session_count"
                              " FROM smtp_tls_policies WHERE report = ?1 ORDER BY id"));
  DMARC_TRY_ASSIGN(
      r.tls_details,
      db.Prepare("SELECT result_type, failed_session_count, sending_mta_ip,"
                 " receiving_ip, receiving_mx_hostname, receiving_mx_helo,"
                 " additional_info_uri, failure_reason_code"
                 " FROM smtp_tls_failure_details WHERE policy = ?1 ORDER BY position"));
  return r;
}

// Reads the report of entry e (kind and row set) into it; false when it is no longer stored.
Result<bool> ReadEntryReport(ReportReaders& r, std::int64_t row, OutboxEntry& e) {
  if (e.kind == OutboxKind::kAggregate) {
    Statement& s = r.aggregate.reports;
    s.Reset();
    s.Bind(1, row);
    bool found = false;
    DMARC_TRY_ASSIGN(found, s.Step());
    if (!found) return false;
    e.aggregate = ReadAggregateReport(s);
    DMARC_TRY(ReadAggregateRecords(r.aggregate, e.aggregate));
    return true;
  }
  if (e.kind == OutboxKind::kFailure) {
    r.failure.Reset();
    r.failure.Bind(1, row);
    bool found = false;
    DMARC_TRY_ASSIGN(found, r.failure.Step());
    if (!found) return false;
    auto j = nlohmann::ordered_json::parse(r.failure.Text(0), nullptr, false);
    DMARC_TRY_ASSIGN(e.failure, sinks::FailureFromJson(j));
    e.failure.arrival_ts = r.failure.Int(1);
    return true;
  }
  Statement& s = r.tls_report;
  s.Reset();
  s.Bind(1, row);
  bool found = false;
  DMARC_TRY_ASSIGN(found, s.Step());
  if (!found) return false;
  model::SmtpTlsReport& t = e.smtp_tls;
  t.organization_name = s.Text(0);
  t.report_id = s.Text(1);
  t.begin = s.Int(2);
  t.end = s.Int(3);
  t.contact_info = s.OptText(4);
  t.errors = JsonStrings(s.OptText(5));
  DMARC_TRY(ReadSmtpTlsPolicies(r.tls_policies, r.tls_details, row, t));
  return true;
}

// The conditions of OutboxEnqueue per kind (?2, ?3: the day range; ?4: the domain).
constexpr std::string_view kEnqueueAggregate =
    "INSERT INTO outbox (output, kind, report, enqueued_at) SELECT ?1, 0, id, ?5"
    " FROM aggregate_reports WHERE begin_ts >= ?2 AND begin_ts < ?3"
    " AND (?4 IS NULL OR domain = ?4) ORDER BY id";
constexpr std::string_view kEnqueueFailure =
    "INSERT INTO outbox (output, kind, report, enqueued_at) SELECT ?1, 1, id, ?5"
    " FROM failure_reports WHERE arrival_ts >= ?2 AND arrival_ts < ?3"
    " AND (?4 IS NULL OR reported_domain = ?4) ORDER BY id";
constexpr std::string_view kEnqueueSmtpTls =
    "INSERT INTO outbox (output, kind, report, enqueued_at) SELECT ?1, 2, r.id, ?5"
    " FROM smtp_tls_reports r WHERE begin_ts >= ?2 AND begin_ts < ?3 AND (?4 IS NULL OR"
    " EXISTS (SELECT 1 FROM smtp_tls_policies p WHERE p.report = r.id AND"
    " p.policy_domain = ?4)) ORDER BY r.id";

// ?1 name, ?2 settled, ?3 now, ?4 delivered, ?5 dropped, ?6 error, ?7 next attempt.
constexpr std::string_view kSettleStateSql =
    "UPDATE output_state SET"
    " last_success_at = CASE WHEN ?2 AND ?4 > 0 THEN ?3 ELSE last_success_at END,"
    " consecutive_failures = CASE WHEN ?2 THEN 0 ELSE consecutive_failures + 1 END,"
    " failures = failures + CASE WHEN ?2 THEN 0 ELSE 1 END,"
    " next_attempt_at = CASE WHEN ?2 THEN 0 ELSE ?7 END,"
    " delivered = delivered + ?4, dropped = dropped + ?5,"
    " last_error = CASE WHEN ?6 <> '' THEN ?6 ELSE last_error END,"
    " last_error_at = CASE WHEN ?6 <> '' THEN ?3 ELSE last_error_at END"
    " WHERE name = ?1";

constexpr std::string_view kOutboxStateSql =
    "SELECT n.name, (SELECT count(*) FROM outbox o WHERE o.output = n.name),"
    " coalesce((SELECT enqueued_at FROM outbox o WHERE o.output = n.name ORDER BY id LIMIT 1),"
    " 0), coalesce(st.last_success_at, 0), coalesce(st.last_error_at, 0),"
    " coalesce(st.last_error, ''), coalesce(st.consecutive_failures, 0),"
    " coalesce(st.next_attempt_at, 0), coalesce(st.delivered, 0), coalesce(st.failures, 0),"
    " coalesce(st.dropped, 0)"
    " FROM (SELECT name FROM output_state UNION SELECT DISTINCT output FROM outbox) n"
    " LEFT JOIN output_state st ON st.name = n.name ORDER BY n.name";

OutboxState ReadOutboxState(const Statement& s) {
  OutboxState o;
  o.name = s.Text(0);
  o.backlog = static_cast<std::uint64_t>(s.Int(1));
  o.oldest_enqueued_at = s.Int(2);
  o.last_success_at = s.Int(3);
  o.last_error_at = s.Int(4);
  o.last_error = s.Text(5);
  o.consecutive_failures = static_cast<std::uint64_t>(s.Int(6));
  o.next_attempt_at = s.Int(7);
  o.delivered = static_cast<std::uint64_t>(s.Int(8));
  o.failures = static_cast<std::uint64_t>(s.Int(9));
  o.dropped = static_cast<std::uint64_t>(s.Int(10));
  return o;
}

}  // namespace

Result<SqliteStore::ReportRows> SqliteStore::LastReportRows() {
  ReportRows rows;
  auto s_r = db_.Prepare(
      "SELECT (SELECT coalesce(max(id), 0) FROM"
      " aggregate_reports), (SELECT coalesce(max(id), 0) FROM"
      " failure_reports), (SELECT coalesce(max(id), 0) FROM"
      " smtp_tls_reports)");
  if (!s_r) return std::move(s_r).error_value();
  auto& s = *s_r;
  DMARC_TRY(s.Step());
  rows.aggregate = s.Int(0);
  rows.failure = s.Int(1);
  rows.smtp_tls = s.Int(2);
  return rows;
}

Result<bool> SqliteStore::EnqueueNewReports(const ReportRows& before, std::int64_t now) {
  if (OutboxOutputs().empty()) return true;
  auto s_r = db_.Prepare(
      "INSERT INTO outbox (output, kind, report, enqueued_at)"
      " SELECT ?1, 0, id, ?5 FROM aggregate_reports WHERE id > ?2"
      " UNION ALL SELECT ?1, 1, id, ?5 FROM failure_reports WHERE id > ?3"
      " UNION ALL SELECT ?1, 2, id, ?5 FROM smtp_tls_reports WHERE id > ?4"
      " ORDER BY 2, 3");
  if (!s_r) return std::move(s_r).error_value();
  auto& s = *s_r;
  for (const auto& name : OutboxOutputs()) {
    s.Bind(1, name).Bind(2, before.aggregate).Bind(3, before.failure).Bind(4, before.smtp_tls);
    s.Bind(5, now);
    DMARC_TRY(s.Run());
  }
  return true;
}

Result<std::vector<OutboxEntry>> SqliteStore::OutboxNext(const std::string& output,
                                                         std::size_t max_items,
                                                         std::size_t max_records) {
  return InReadTransaction([&]() -> Result<std::vector<OutboxEntry>> {
    auto s_r = db_.Prepare(
        "SELECT id, kind, report, enqueued_at FROM outbox"
        " WHERE output = ?1 ORDER BY id LIMIT ?2");
    if (!s_r) return std::move(s_r).error_value();
    auto& s = *s_r;
    s.Bind(1, output).Bind(2, static_cast<std::int64_t>(max_items));
    auto readers_r = PrepareReaders(db_);
    if (!readers_r) return std::move(readers_r).error_value();
    auto& readers = *readers_r;
    std::vector<OutboxEntry> out;
    std::size_t records = 0;
    for (;;) {
      bool row = false;
      DMARC_TRY_ASSIGN(row, s.Step());
      if (!row || (!out.empty() && records >= max_records)) break;
      OutboxEntry e;
      e.id = s.Int(0);
      e.kind = static_cast<OutboxKind>(std::clamp<std::int64_t>(s.Int(1), 0, 2));
      e.enqueued_at = s.Int(3);
      bool found = false;
      DMARC_TRY_ASSIGN(found, ReadEntryReport(readers, s.Int(2), e));
      e.purged = !found;
      records += e.aggregate.records.size();
      out.push_back(std::move(e));
    }
    return out;
  });
}

Result<bool> SqliteStore::OutboxSettle(const std::string& output, const OutboxOutcome& o) {
  return InWriteTransaction([&]() -> Result<bool> {
    auto state_r = db_.Prepare(
        "INSERT INTO output_state (name) VALUES (?1)"
        " ON CONFLICT DO NOTHING");
    if (!state_r) return std::move(state_r).error_value();
    auto& state = *state_r;
    DMARC_TRY(state.Bind(1, output).Run());
    if (o.settled) {
      auto del_r = db_.Prepare("DELETE FROM outbox WHERE output = ?1 AND id = ?2");
      if (!del_r) return std::move(del_r).error_value();
      auto& del = *del_r;
      for (const std::int64_t id : o.ids) DMARC_TRY(del.Bind(1, output).Bind(2, id).Run());
    }
    auto upd_r = db_.Prepare(kSettleStateSql);
    if (!upd_r) return std::move(upd_r).error_value();
    auto& upd = *upd_r;
    upd.Bind(1, output).Bind(2, std::int64_t{o.settled}).Bind(3, o.now);
    upd.Bind(4, static_cast<std::int64_t>(o.delivered))
        .Bind(5, static_cast<std::int64_t>(o.dropped));
    upd.Bind(6, o.error).Bind(7, o.next_attempt_at);
    DMARC_TRY(upd.Run());
    return true;
  });
}

Result<std::size_t> SqliteStore::OutboxEnqueue(const std::string& output, const Filter& filter,
                                               const OutboxKinds& kinds) {
  const auto days = DayRange(filter);
  const std::int64_t from = days.first, to = days.second;
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  return InWriteTransaction([&]() -> Result<std::size_t> {
    std::size_t added = 0;
    auto run = [&](std::string_view sql) -> Result<bool> {
      auto s_r = db_.Prepare(sql);
      if (!s_r) return std::move(s_r).error_value();
      auto& s = *s_r;
      s.Bind(1, output).Bind(2, from).Bind(3, to).Bind(4, filter.domain).Bind(5, now);
      DMARC_TRY(s.Run());
      added += static_cast<std::size_t>(db_.Changes());
      return true;
    };
    if (kinds.aggregate) DMARC_TRY(run(kEnqueueAggregate));
    if (kinds.failure) DMARC_TRY(run(kEnqueueFailure));
    if (kinds.smtp_tls) DMARC_TRY(run(kEnqueueSmtpTls));
    return added;
  });
}

Result<std::vector<OutboxState>> SqliteStore::QueryOutbox() {
  return InReadTransaction([&]() -> Result<std::vector<OutboxState>> {
    auto s_r = db_.Prepare(kOutboxStateSql);
    if (!s_r) return std::move(s_r).error_value();
    auto& s = *s_r;
    std::vector<OutboxState> out;
    for (;;) {
      bool row = false;
      DMARC_TRY_ASSIGN(row, s.Step());
      if (!row) break;
      out.push_back(ReadOutboxState(s));
    }
    return out;
  });
}

Result<std::size_t> SqliteStore::OutboxClear(const std::string& output) {
  return InWriteTransaction([&]() -> Result<std::size_t> {
    auto del_r = db_.Prepare("DELETE FROM outbox WHERE output = ?1");
    if (!del_r) return std::move(del_r).error_value();
    DMARC_TRY(del_r->Bind(1, output).Run());
    const auto removed = static_cast<std::size_t>(db_.Changes());
    auto state_r = db_.Prepare("DELETE FROM output_state WHERE name = ?1");
    if (!state_r) return std::move(state_r).error_value();
    DMARC_TRY(state_r->Bind(1, output).Run());
    return removed;
  });
}

}  // namespace dmarc::store::sqlite_impl
