// The SQLite store's reads: stats (from the rollups), export of the stored reports (ForEach*),
// the rejections, which reports are stored already and the aggregate version. Each runs in one
// read transaction, so it sees one snapshot while a writer commits.
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sinks/report_json.h"
#include "store/auth_json.h"
#include "store/sqlite/sqlite_read_rows.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace dmarc::store::sqlite_impl {

namespace {

// Runs a query returning one number, with ?1 = from, ?2 = to and, when domain is given,
// ?3 = the domain.
Result<std::uint64_t> CountOf(Database& db, const std::string& sql, std::int64_t from,
                              std::int64_t to, const std::optional<std::string>& domain) {
  auto s = db.Prepare(sql);
  if (!s) return MakeError(s.error());
  s->Bind(1, from).Bind(2, to);
  if (domain) s->Bind(3, *domain);
  DMARC_TRY(s->Step());
  return static_cast<std::uint64_t>(s->Int(0));
}

// Adds the daily_messages rollup of the range (and domain clause) to stats.
Result<bool> AddDailyMessages(Database& db, const std::string& domain_clause, std::int64_t from,
                              std::int64_t to, const Filter& filter, Stats& stats) {
  auto s = db.Prepare(
      "SELECT disposition, header_from, sum(records), sum(messages), sum(dmarc_pass) FROM"
      " daily_messages WHERE day >= ?1 AND day < ?2" +
      domain_clause + " GROUP BY disposition, header_from");
  if (!s) return MakeError(s.error());
  s->Bind(1, from).Bind(2, to);
  if (filter.domain) s->Bind(3, *filter.domain);
  for (;;) {
    auto row = s->Step();
    if (!row) return MakeError(row.error());
    if (!*row) break;
    const auto records = static_cast<std::uint64_t>(s->Int(2));
    const auto messages = static_cast<std::uint64_t>(s->Int(3));
    const auto pass = static_cast<std::uint64_t>(s->Int(4));
    stats.records += records;
    stats.messages += messages;
    stats.dmarc_pass += pass;
    stats.by_disposition[s->Text(0)] += messages;
    stats.by_domain[s->Text(1)] += messages;
  }
  stats.dmarc_fail = stats.messages - stats.dmarc_pass;
  return true;
}

Result<bool> ReadStats(Database& db, const Filter& filter, Stats& stats) {
  // Plain variables, not a structured binding: lambdas capture them (clang 14 cannot).
  const auto days = DayRange(filter);
  const std::int64_t from = days.first, to = days.second;
  const std::string domain_clause = filter.domain ? " AND domain = ?3" : "";
  const std::optional<std::string> none;
  DMARC_TRY_ASSIGN(stats.reports, CountOf(db,
                                          "SELECT count(*) FROM aggregate_reports WHERE"
                                          " begin_ts >= ?1 AND begin_ts < ?2" +
                                              domain_clause,
                                          from, to, filter.domain));
  DMARC_TRY(AddDailyMessages(db, domain_clause, from, to, filter, stats));
  // Without filters, every IP ever seen is in range: count the interned table.
  if (!filter.domain && !filter.from && !filter.to) {
    auto s = db.Prepare("SELECT count(*) FROM source_ips");
    if (!s) return MakeError(s.error());
    DMARC_TRY(s->Step());
    stats.source_ips = static_cast<std::uint64_t>(s->Int(0));
  } else {
    DMARC_TRY_ASSIGN(stats.source_ips, CountOf(db,
                                               "SELECT count(DISTINCT ip) FROM daily_sources WHERE"
                                               " day >= ?1 AND day < ?2" +
                                                   domain_clause,
                                               from, to, filter.domain));
  }
  DMARC_TRY_ASSIGN(
      stats.failure_reports,
      CountOf(db,
              std::string("SELECT count(*) FROM failure_reports WHERE arrival_ts >= ?1 AND"
                          " arrival_ts < ?2") +
                  (filter.domain ? " AND reported_domain = ?3" : ""),
              from, to, filter.domain));
  DMARC_TRY_ASSIGN(
      stats.smtp_tls_reports,
      CountOf(db,
              std::string("SELECT count(*) FROM smtp_tls_reports r WHERE begin_ts >= ?1 AND"
                          " begin_ts < ?2") +
                  (filter.domain ? " AND EXISTS (SELECT 1 FROM smtp_tls_policies p WHERE"
                                   " p.report = r.id AND p.policy_domain = ?3)"
                                 : ""),
              from, to, filter.domain));
  // Rejected inputs have no domain: only the date range applies.
  DMARC_TRY_ASSIGN(stats.rejected_inputs, CountOf(db,
                                                  "SELECT count(*) FROM rejected_inputs WHERE"
                                                  " received_at >= ?1 AND received_at < ?2",
                                                  from, to, none));
  return true;
}

}  // namespace

Result<AggregateQueries> PrepareAggregateQueries(Database& db, const Filter& filter,
                                                 std::string_view where) {
  AggregateQueries q;
  const std::string condition = where.empty()
                                    ? std::string(" WHERE begin_ts >= ?1 AND begin_ts < ?2") +
                                          (filter.domain ? " AND domain = ?3" : "")
                                    : std::string(where);
  auto reports = db.Prepare(
      std::string("SELECT id, org_name, org_email, org_extra_contact_info, report_id, begin_ts,"
                  " end_ts, domain, xml_schema, xml_namespace, generator,"
                  " timespan_requires_normalization, original_timespan_seconds, errors, adkim,"
                  " aspf, p, sp, pct, fo, np, testing, discovery_method, first_record,"
                  " record_count FROM aggregate_reports") +
      condition + " ORDER BY id");
  if (!reports) return MakeError(reports.error());
  auto records = db.Prepare(
      "SELECT id, interval_begin, interval_end, normalized_timespan, source_ip,"
      " source_country, source_reverse_dns, source_base_domain, source_name, source_type,"
      " source_asn, source_as_name, source_as_domain, count, spf_aligned, dkim_aligned,"
      " dmarc_aligned, disposition, policy_dkim, policy_spf, header_from, envelope_from,"
      " envelope_to, dkim, spf, overrides FROM aggregate_records WHERE id >= ?1 AND id < ?2"
      " ORDER BY id");
  if (!records) return MakeError(records.error());
  q.reports = std::move(reports).value();
  q.records = std::move(records).value();
  return q;
}

// The report of the current row of AggregateQueries::reports, without its records.
model::AggregateReport ReadAggregateReport(Statement& reports) {
  model::AggregateReport r;
  auto& m = r.report_metadata;
  auto& p = r.policy_published;
  m.org_name = reports.Text(1);
  m.org_email = reports.Text(2);
  m.org_extra_contact_info = reports.OptText(3);
  m.report_id = reports.Text(4);
  m.begin = reports.Int(5);
  m.end = reports.Int(6);
  p.domain = reports.Text(7);
  r.xml_schema = reports.Text(8);
  r.xml_namespace = reports.OptText(9);
  m.generator = reports.OptText(10);
  m.timespan_requires_normalization = reports.Int(11) != 0;
  m.original_timespan_seconds = reports.Int(12);
  m.errors = nlohmann::json::parse(reports.Text(13)).get<std::vector<std::string>>();
  p.adkim = reports.Text(14);
  p.aspf = reports.Text(15);
  p.p = reports.Text(16);
  p.sp = reports.Text(17);
  p.pct = reports.OptText(18);
  p.fo = reports.OptText(19);
  p.np = reports.OptText(20);
  p.testing = reports.OptText(21);
  p.discovery_method = reports.OptText(22);
  return r;
}

namespace {

// The record of the current row of AggregateQueries::records.
Result<model::Record> ReadRecord(Statement& records) {
  model::Record rec;
  rec.interval_begin = records.Int(1);
  rec.interval_end = records.Int(2);
  rec.normalized_timespan = records.Int(3) != 0;
  auto& s = rec.source;
  s.ip_address = records.Text(4);
  s.country = records.OptText(5);
  s.reverse_dns = records.OptText(6);
  s.base_domain = records.OptText(7);
  s.name = records.OptText(8);
  s.type = records.OptText(9);
  s.asn = records.OptInt(10);
  s.as_name = records.OptText(11);
  s.as_domain = records.OptText(12);
  rec.count = static_cast<std::uint64_t>(records.Int(13));
  rec.alignment = {records.Int(14) != 0, records.Int(15) != 0, records.Int(16) != 0};
  rec.policy_evaluated.disposition = records.Text(17);
  rec.policy_evaluated.dkim = records.Text(18);
  rec.policy_evaluated.spf = records.Text(19);
  rec.identifiers.header_from = records.Text(20);
  rec.identifiers.envelope_from = records.OptText(21);
  rec.identifiers.envelope_to = records.OptText(22);
  DMARC_TRY(ReadDkimJson(records.View(23), rec.dkim));
  DMARC_TRY(ReadSpfJson(records.View(24), rec.spf));
  DMARC_TRY(ReadOverridesJson(records.View(25), rec.policy_evaluated.policy_override_reasons));
  return rec;
}

}  // namespace

// Reads the records of the current report row of q.reports into r.
Result<bool> ReadAggregateRecords(AggregateQueries& q, model::AggregateReport& r) {
  const std::int64_t first = q.reports.OptInt(23).value_or(0);
  const std::int64_t last = first + q.reports.Int(24);  // one past the last record
  q.records.Bind(1, first).Bind(2, last);
  for (;;) {
    auto rr = q.records.Step();
    if (!rr) {
      q.records.Reset();
      return MakeError(rr.error());
    }
    if (!*rr) break;
    auto rec = ReadRecord(q.records);
    if (!rec) {
      q.records.Reset();
      return MakeError(rec.error());
    }
    r.records.push_back(std::move(rec).value());
  }
  q.records.Reset();
  return true;
}

// A JSON array of strings as stored for SMTP TLS lists; empty when NULL or not an array.
std::vector<std::string> JsonStrings(const std::optional<std::string>& text) {
  std::vector<std::string> out;
  if (!text) return out;
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

namespace {

// Adds the failure details of the policy row policy_id to p.
Result<bool> ReadFailureDetails(Statement& details, std::int64_t policy_id,
                                model::SmtpTlsPolicy& p) {
  details.Bind(1, policy_id);
  for (;;) {
    auto dr = details.Step();
    if (!dr) return MakeError(dr.error());
    if (!*dr) break;
    model::SmtpTlsFailureDetails d;
    d.result_type = details.Text(0);
    d.failed_session_count = static_cast<std::uint64_t>(details.Int(1));
    d.sending_mta_ip = details.OptText(2);
    d.receiving_ip = details.OptText(3);
    d.receiving_mx_hostname = details.OptText(4);
    d.receiving_mx_helo = details.OptText(5);
    d.additional_info_uri = details.OptText(6);
    d.failure_reason_code = details.OptText(7);
    p.failure_details.push_back(std::move(d));
  }
  details.Reset();
  return true;
}

}  // namespace

// Adds the policies (with their failure details) of the report row report_id to r.
Result<bool> ReadSmtpTlsPolicies(Statement& policies, Statement& details, std::int64_t report_id,
                                 model::SmtpTlsReport& r) {
  policies.Bind(1, report_id);
  for (;;) {
    auto pr = policies.Step();
    if (!pr) return MakeError(pr.error());
    if (!*pr) break;
    model::SmtpTlsPolicy p;
    p.policy_domain = policies.Text(1);
    p.policy_type = policies.Text(2);
    p.policy_strings = JsonStrings(policies.OptText(3));
    p.mx_host_patterns = JsonStrings(policies.OptText(4));
    p.successful_session_count = static_cast<std::uint64_t>(policies.Int(5));
    p.failed_session_count = static_cast<std::uint64_t>(policies.Int(6));
    DMARC_TRY(ReadFailureDetails(details, policies.Int(0), p));
    r.policies.push_back(std::move(p));
  }
  policies.Reset();
  return true;
}

Result<Stats> SqliteStore::QueryStats(const Filter& filter) {
  Stats stats;
  // Reads run in one transaction so every number comes from the same snapshot.
  DMARC_TRY(db_.Exec("BEGIN"));
  auto r = ReadStats(db_, filter, stats);
  (void)db_.Exec("COMMIT");
  if (!r) return MakeError(r.error());
  return stats;
}

Result<std::size_t> SqliteStore::ForEachAggregate(
    const Filter& filter, const std::function<void(model::AggregateReport&&)>& visit) {
  // Plain variables, not a structured binding: lambdas capture them (clang 14 cannot).
  const auto days = DayRange(filter);
  const std::int64_t from = days.first, to = days.second;
  DMARC_TRY(db_.Exec("BEGIN"));
  auto run = [&]() -> Result<std::size_t> {
    auto q = PrepareAggregateQueries(db_, filter);
    if (!q) return MakeError(q.error());
    q->reports.Bind(1, from).Bind(2, to);
    if (filter.domain) q->reports.Bind(3, *filter.domain);
    std::size_t n = 0;
    for (;;) {
      auto row = q->reports.Step();
      if (!row) return MakeError(row.error());
      if (!*row) break;
      model::AggregateReport r = ReadAggregateReport(q->reports);
      DMARC_TRY(ReadAggregateRecords(*q, r));
      visit(std::move(r));
      ++n;
    }
    return n;
  };
  auto r = run();
  (void)db_.Exec("COMMIT");
  return r;
}

Result<std::optional<std::int64_t>> SqliteStore::AggregateVersion() {
  Statement& s = select_aggregate_version_;
  auto row = s.Step();
  const std::optional<std::int64_t> version =
      row && *row ? std::optional<std::int64_t>(s.Int(0)) : std::nullopt;
  s.Reset();
  if (!row) return MakeError(row.error());
  if (!version) return MakeError(Describe() + ": the change counter 'aggregate' is missing");
  return version;
}

Result<std::size_t> SqliteStore::ForEachFailure(
    const Filter& filter, const std::function<void(model::FailureReport&&)>& visit) {
  // Plain variables, not a structured binding: lambdas capture them (clang 14 cannot).
  const auto days = DayRange(filter);
  const std::int64_t from = days.first, to = days.second;
  return InReadTransaction([&]() -> Result<std::size_t> {
    auto s = db_.Prepare(
        std::string("SELECT data, arrival_ts FROM failure_reports WHERE arrival_ts >= ?1 AND"
                    " arrival_ts < ?2") +
        (filter.domain ? " AND reported_domain = ?3" : "") + " ORDER BY id");
    if (!s) return MakeError(s.error());
    s->Bind(1, from).Bind(2, to);
    if (filter.domain) s->Bind(3, *filter.domain);
    std::size_t n = 0;
    for (;;) {
      auto row = s->Step();
      if (!row) return MakeError(row.error());
      if (!*row) break;
      const std::string data = s->Text(0);
      auto j = nlohmann::ordered_json::parse(data, nullptr, /*allow_exceptions=*/false);
      auto report = sinks::FailureFromJson(j);
      if (!report) return MakeError(report.error());
      report->arrival_ts = s->Int(1);
      visit(std::move(report).value());
      ++n;
    }
    return n;
  });
}

Result<std::size_t> SqliteStore::ForEachSmtpTls(
    const Filter& filter, const std::function<void(model::SmtpTlsReport&&)>& visit) {
  // Plain variables, not a structured binding: lambdas capture them (clang 14 cannot).
  const auto days = DayRange(filter);
  const std::int64_t from = days.first, to = days.second;
  return InReadTransaction([&]() -> Result<std::size_t> {
    auto reports = db_.Prepare(
        std::string("SELECT id, organization_name, report_id, begin_ts, end_ts, contact_info,"
                    " errors FROM smtp_tls_reports r WHERE begin_ts >= ?1 AND begin_ts < ?2") +
        (filter.domain ? " AND EXISTS (SELECT 1 FROM smtp_tls_policies p WHERE p.report = r.id"
                         " AND p.policy_domain = ?3)"
                       : "") +
        " ORDER BY id");
    if (!reports) return MakeError(reports.error());
    auto policies = db_.Prepare(
        "SELECT id, policy_domain, policy_type, policy_strings, mx_host_patterns,"
        " successful_session_count, failed_session_count FROM smtp_tls_policies"
        " WHERE report = ?1 ORDER BY id");
    auto details = db_.Prepare(
        "SELECT result_type, failed_session_count, sending_mta_ip, receiving_ip,"
        " receiving_mx_hostname, receiving_mx_helo, additional_info_uri, failure_reason_code"
        " FROM smtp_tls_failure_details WHERE policy = ?1 ORDER BY position");
    if (!policies || !details) return MakeError("cannot prepare export queries");
    reports->Bind(1, from).Bind(2, to);
    if (filter.domain) reports->Bind(3, *filter.domain);
    std::size_t n = 0;
    for (;;) {
      auto row = reports->Step();
      if (!row) return MakeError(row.error());
      if (!*row) break;
      model::SmtpTlsReport r;
      r.organization_name = reports->Text(1);
      r.report_id = reports->Text(2);
      r.begin = reports->Int(3);
      r.end = reports->Int(4);
      r.contact_info = reports->OptText(5);
      r.errors = JsonStrings(reports->OptText(6));
      DMARC_TRY(ReadSmtpTlsPolicies(*policies, *details, reports->Int(0), r));
      visit(std::move(r));
      ++n;
    }
    return n;
  });
}

Result<std::vector<RejectedInput>> SqliteStore::Rejections() {
  auto s = db_.Prepare(
      "SELECT i.received_at, i.origin, i.reason, i.sha256, b.size, b.raw FROM rejected_inputs i"
      " JOIN rejected_blobs b ON b.sha256 = i.sha256 ORDER BY i.id");
  if (!s) return MakeError(s.error());
  std::vector<RejectedInput> out;
  for (;;) {
    auto row = s->Step();
    if (!row) return MakeError(row.error());
    if (!*row) break;
    out.push_back({s->Int(0), s->Text(1), s->Text(2), s->Text(3),
                   static_cast<std::uint64_t>(s->Int(4)), s->Blob(5)});
  }
  return out;
}

namespace {

constexpr std::string_view kSelectStored =
    "SELECT 1 FROM aggregate_reports WHERE org_name = ?1 AND report_id = ?2 AND domain = ?3"
    " AND begin_ts = ?4 AND end_ts = ?5";

void BindIdentity(Statement& s, const model::AggregateReport& r) {
  const auto& m = r.report_metadata;
  s.Bind(1, m.org_name)
      .Bind(2, m.report_id)
      .Bind(3, r.policy_published.domain)
      .Bind(4, m.begin)
      .Bind(5, m.end);
}

}  // namespace

ReportStore::StoredCheck SqliteStore::AggregateStoredCheck() {
  // Its own connection (WAL: it reads what was committed while this one writes), one thread at
  // a time. A store only in memory has nothing another connection could see.
  struct Check {
    std::mutex mu;
    Database db;
    Statement select;  // finalised before db is closed
  };
  if (path_.empty() || path_ == ":memory:" || path_.starts_with("file:")) return {};
  auto check = std::make_shared<Check>();
  if (!check->db.Open(path_, options_.busy_timeout_ms)) return {};
  auto s = check->db.Prepare(kSelectStored);
  if (!s) return {};
  check->select = std::move(s).value();
  return [check](const model::AggregateReport& r) {
    const std::lock_guard lock(check->mu);
    BindIdentity(check->select, r);
    auto row = check->select.Step();
    check->select.Reset();
    return row && *row;
  };
}

Result<std::vector<bool>> SqliteStore::AggregatesStored(
    const std::vector<const model::AggregateReport*>& reports) {
  auto s = db_.Prepare(kSelectStored);
  if (!s) return MakeError(s.error());
  std::vector<bool> out;
  out.reserve(reports.size());
  DMARC_TRY(db_.Exec("BEGIN"));
  for (const auto* r : reports) {
    BindIdentity(*s, *r);
    auto row = s->Step();
    s->Reset();
    if (!row) {
      (void)db_.Exec("ROLLBACK");
      return MakeError(row.error());
    }
    out.push_back(*row);
  }
  DMARC_TRY(db_.Exec("COMMIT"));
  return out;
}

}  // namespace dmarc::store::sqlite_impl
