// The PostgreSQL store's reads: stats (from the rollups), export of the stored reports (ForEach*),
// the rejections and the aggregate version, with the same answers as the SQLite store
// (sqlite_read.cc). Each runs in one read-only REPEATABLE READ transaction, so it sees one snapshot
// while writers commit.
//
// Exports stream: reports are read in batches (keyset on id), and the records of a batch with
// one query `report = ANY(batch) AND day BETWEEN first day AND last day of the batch`, so only
// the monthly partitions of those days are read, through their (report) index. A report whose
// records are not all in that range (its record_count says so) has them read again without it.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/time.h"
#include "sinks/report_json.h"
#include "store/auth_json.h"
#include "store/pg/pg_read_rows.h"
#include "store/pg/pg_store_impl.h"

namespace dmarc::store::pg_impl {

namespace {

// Reports per batch of an export, and at most this many records per batch (a larger report is
// a batch of its own): bounds what one query result holds in memory.
constexpr int kReportBatch = 500;
constexpr std::int64_t kRecordBatch = 20'000;
// Failure and SMTP TLS reports per query of an export.
constexpr int kOtherBatch = 500;

// Runs a query returning one number; params hold $1 = from, $2 = to and, when given, $3.
Result<std::uint64_t> CountOf(Connection& conn, const std::string& sql, const Params& params) {
  auto rows = conn.Query(sql, params);
  if (!rows) return std::move(rows).error_value();
  return static_cast<std::uint64_t>(rows->Int(0, 0));
}

Params RangeParams(std::int64_t from, std::int64_t to, const std::optional<std::string>& domain) {
  Params p;
  p.Add(from).Add(to);
  if (domain) p.Add(*domain);
  return p;
}

Result<bool> ReadStats(Connection& conn, const Filter& filter, Stats& stats) {
  const auto days = DayRange(filter);
  const std::int64_t from = days.first, to = days.second;
  const std::string domain_clause = filter.domain ? " AND domain = $3" : "";
  const Params params = RangeParams(from, to, filter.domain);
  DMARC_TRY_ASSIGN(stats.reports, CountOf(conn,
                                          "SELECT count(*) FROM aggregate_reports WHERE"
                                          " begin_ts >= $1 AND begin_ts < $2" +
                                              domain_clause,
                                          params));
  {
    auto rows = conn.Query(
        "SELECT disposition, header_from, sum(records)::bigint, sum(messages)::bigint,"
        " sum(dmarc_pass)::bigint FROM daily_messages WHERE day >= $1 AND day < $2" +
            domain_clause + " GROUP BY disposition, header_from",
        params);
    if (!rows) return std::move(rows).error_value();
    for (int i = 0; i < rows->size(); ++i) {
      const auto records = static_cast<std::uint64_t>(rows->Int(i, 2));
      const auto messages = static_cast<std::uint64_t>(rows->Int(i, 3));
      const auto pass = static_cast<std::uint64_t>(rows->Int(i, 4));
      stats.records += records;
      stats.messages += messages;
      stats.dmarc_pass += pass;
      stats.by_disposition[rows->Text(i, 0)] += messages;
      stats.by_domain[rows->Text(i, 1)] += messages;
    }
    stats.dmarc_fail = stats.messages - stats.dmarc_pass;
  }
  // Without filters, every IP ever seen is in range: count the interned table.
  if (!filter.domain && !filter.from && !filter.to) {
    DMARC_TRY_ASSIGN(stats.source_ips, CountOf(conn, "SELECT count(*) FROM source_ips", {}));
  } else {
    DMARC_TRY_ASSIGN(stats.source_ips, CountOf(conn,
                                               "SELECT count(DISTINCT ip) FROM daily_sources WHERE"
                                               " day >= $1 AND day < $2" +
                                                   domain_clause,
                                               params));
  }
  DMARC_TRY_ASSIGN(
      stats.failure_reports,
      CountOf(conn,
              std::string("SELECT count(*) FROM failure_reports WHERE arrival_ts >= $1 AND"
                          " arrival_ts < $2") +
                  (filter.domain ? " AND reported_domain = $3" : ""),
              params));
  DMARC_TRY_ASSIGN(
      stats.smtp_tls_reports,
      CountOf(conn,
              std::string("SELECT count(*) FROM smtp_tls_reports r WHERE begin_ts >= $1 AND"
                          " begin_ts < $2") +
                  (filter.domain ? " AND EXISTS (SELECT 1 FROM smtp_tls_policies p WHERE"
                                   " p.report = r.id AND p.policy_domain = $3)"
                                 : ""),
              params));
  // Rejected inputs have no domain: only the date range applies.
  DMARC_TRY_ASSIGN(stats.rejected_inputs, CountOf(conn,
                                                  "SELECT count(*) FROM rejected_inputs WHERE"
                                                  " received_at >= $1 AND received_at < $2",
                                                  RangeParams(from, to, std::nullopt)));
  return true;
}

}  // namespace

// A JSON array of strings as stored for lists; empty when NULL or not an array.
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

Result<bool> ReadSmtpTlsFailureDetails(
    Connection& conn, const std::vector<std::int64_t>& policy_ids,
    const std::unordered_map<std::int64_t, model::SmtpTlsPolicy*>& policy_of) {
  auto details = conn.Query(
      "SELECT policy, result_type, failed_session_count, sending_mta_ip, receiving_ip,"
      " receiving_mx_hostname, receiving_mx_helo, additional_info_uri, failure_reason_code"
      " FROM smtp_tls_failure_details WHERE policy = ANY($1::bigint[]) ORDER BY policy, position",
      Params().AddArray(policy_ids));
  if (!details) return std::move(details).error_value();
  for (int i = 0; i < details->size(); ++i) {
    model::SmtpTlsFailureDetails d;
    d.result_type = details->Text(i, 1);
    d.failed_session_count = static_cast<std::uint64_t>(details->Int(i, 2));
    d.sending_mta_ip = details->OptText(i, 3);
    d.receiving_ip = details->OptText(i, 4);
    d.receiving_mx_hostname = details->OptText(i, 5);
    d.receiving_mx_helo = details->OptText(i, 6);
    d.additional_info_uri = details->OptText(i, 7);
    d.failure_reason_code = details->OptText(i, 8);
    policy_of.at(details->Int(i, 0))->failure_details.push_back(std::move(d));
  }
  return true;
}

// ---- Aggregate export ----

const char* const kReportColumns =
    "id, org_name, org_email, org_extra_contact_info, report_id, begin_ts, end_ts, domain,"
    " xml_schema, xml_namespace, generator, timespan_requires_normalization,"
    " original_timespan_seconds, errors, adkim, aspf, p, sp, pct, fo, np, testing,"
    " discovery_method, record_count";

const char* const kRecordColumns =
    "report, interval_begin, interval_end, normalized_timespan, source_ip, source_country,"
    " source_reverse_dns, source_base_domain, source_name, source_type, source_asn,"
    " source_as_name, source_as_domain, count, spf_aligned, dkim_aligned, dmarc_aligned,"
    " disposition, policy_dkim, policy_spf, header_from, envelope_from, envelope_to, dkim, spf,"
    " overrides";

// The report of row i (kReportColumns), without its records.
Result<model::AggregateReport> ReadAggregateReport(const Rows& rows, int i) {
  model::AggregateReport r;
  auto& m = r.report_metadata;
  auto& p = r.policy_published;
  m.org_name = rows.Text(i, 1);
  m.org_email = rows.Text(i, 2);
  m.org_extra_contact_info = rows.OptText(i, 3);
  m.report_id = rows.Text(i, 4);
  m.begin = rows.Int(i, 5);
  m.end = rows.Int(i, 6);
  p.domain = rows.Text(i, 7);
  r.xml_schema = rows.Text(i, 8);
  r.xml_namespace = rows.OptText(i, 9);
  m.generator = rows.OptText(i, 10);
  m.timespan_requires_normalization = rows.Int(i, 11) != 0;
  m.original_timespan_seconds = rows.Int(i, 12);
  auto errors = nlohmann::json::parse(rows.View(i, 13), nullptr, /*allow_exceptions=*/false);
  if (!errors.is_array()) return MakeError(ErrorKind::kIo, "a report's errors are not a list");
  for (const auto& e : errors) {
    if (e.is_string()) m.errors.push_back(e.get<std::string>());
  }
  p.adkim = rows.Text(i, 14);
  p.aspf = rows.Text(i, 15);
  p.p = rows.Text(i, 16);
  p.sp = rows.Text(i, 17);
  p.pct = rows.OptText(i, 18);
  p.fo = rows.OptText(i, 19);
  p.np = rows.OptText(i, 20);
  p.testing = rows.OptText(i, 21);
  p.discovery_method = rows.OptText(i, 22);
  return r;
}

// The record of row i (kRecordColumns), with its DKIM, SPF and override results.
Result<model::Record> ReadRecord(const Rows& rows, int i) {
  model::Record rec;
  rec.interval_begin = rows.Int(i, 1);
  rec.interval_end = rows.Int(i, 2);
  rec.normalized_timespan = rows.Int(i, 3) != 0;
  auto& s = rec.source;
  s.ip_address = rows.Text(i, 4);
  s.country = rows.OptText(i, 5);
  s.reverse_dns = rows.OptText(i, 6);
  s.base_domain = rows.OptText(i, 7);
  s.name = rows.OptText(i, 8);
  s.type = rows.OptText(i, 9);
  s.asn = rows.OptInt(i, 10);
  s.as_name = rows.OptText(i, 11);
  s.as_domain = rows.OptText(i, 12);
  rec.count = static_cast<std::uint64_t>(rows.Int(i, 13));
  rec.alignment = {rows.Int(i, 14) != 0, rows.Int(i, 15) != 0, rows.Int(i, 16) != 0};
  rec.policy_evaluated.disposition = rows.Text(i, 17);
  rec.policy_evaluated.dkim = rows.Text(i, 18);
  rec.policy_evaluated.spf = rows.Text(i, 19);
  rec.identifiers.header_from = rows.Text(i, 20);
  rec.identifiers.envelope_from = rows.OptText(i, 21);
  rec.identifiers.envelope_to = rows.OptText(i, 22);
  const auto column = [&](int col) {
    return rows.IsNull(i, col) ? std::string_view() : rows.View(i, col);
  };
  DMARC_TRY(ReadDkimJson(column(23), rec.dkim));
  DMARC_TRY(ReadSpfJson(column(24), rec.spf));
  DMARC_TRY(ReadOverridesJson(column(25), rec.policy_evaluated.policy_override_reasons));
  return rec;
}

namespace {

// One report of a batch being read.
struct PendingReport {
  std::int64_t id = 0;
  std::int64_t record_count = 0;
  model::AggregateReport report;
};

// Reads the records of the reports in by_id with the query's extra condition `where` and its
// params ($1: the reports' ids), appending them in id order to their reports.
Result<bool> ReadRecordsOf(Connection& conn,
                           std::unordered_map<std::int64_t, PendingReport*>& by_id,
                           const std::string& where, const Params& params) {
  auto rows = conn.Query(std::string("SELECT ") + kRecordColumns +
                             " FROM aggregate_records WHERE report = ANY($1::bigint[])" + where +
                             " ORDER BY report, id",
                         params);
  if (!rows) return std::move(rows).error_value();
  for (int i = 0; i < rows->size(); ++i) {
    auto it = by_id.find(rows->Int(i, 0));
    if (it == by_id.end()) continue;
    auto rec = ReadRecord(*rows, i);
    if (!rec) return std::move(rec).error_value();
    it->second->report.records.push_back(std::move(rec).value());
  }
  return true;
}

// Fills the records of a batch of reports: one query over the batch's days (partition pruning),
// then, for a report that has fewer than its record_count (a record dated outside its period),
// its records again without the day range.
Result<bool> ReadBatchRecords(Connection& conn, std::vector<PendingReport>& batch) {
  std::vector<std::int64_t> ids;
  std::unordered_map<std::int64_t, PendingReport*> by_id;
  std::int64_t first_day = 0, last_day = 0;
  for (auto& p : batch) {
    if (p.record_count <= 0) continue;
    const auto& m = p.report.report_metadata;
    const std::int64_t lo = FloorDay(m.begin), hi = FloorDay(std::max(m.begin, m.end));
    if (ids.empty() || lo < first_day) first_day = lo;
    if (ids.empty() || hi > last_day) last_day = hi;
    ids.push_back(p.id);
    by_id[p.id] = &p;
  }
  if (ids.empty()) return true;
  Params params;
  params.AddArray(ids).Add(first_day).Add(last_day);
  DMARC_TRY(ReadRecordsOf(conn, by_id, " AND day BETWEEN $2 AND $3", params));
  std::vector<std::int64_t> again;
  std::unordered_map<std::int64_t, PendingReport*> again_by_id;
  for (auto& p : batch) {
    if (static_cast<std::int64_t>(p.report.records.size()) < p.record_count) {
      p.report.records.clear();
      again.push_back(p.id);
      again_by_id[p.id] = &p;
    }
  }
  if (again.empty()) return true;
  Params all;
  all.AddArray(again);
  return ReadRecordsOf(conn, again_by_id, "", all);
}

}  // namespace

Result<Stats> PgStore::QueryStats(const Filter& filter) {
  return InTransaction<Stats>(
      [&]() -> Result<Stats> {
        Stats stats;
        DMARC_TRY(ReadStats(conn_, filter, stats));
        return stats;
      },
      /*read_only=*/true);
}

Result<std::size_t> PgStore::ForEachAggregate(
    const Filter& filter, const std::function<void(model::AggregateReport&&)>& visit) {
  const auto days = DayRange(filter);
  const std::int64_t from = days.first, to = days.second;
  // Outside the transaction's body: a retry (lost connection) goes on after the last report
  // visited instead of visiting reports twice.
  std::int64_t last_id = 0;
  std::size_t n = 0;
  return InTransaction<std::size_t>(
      [&]() -> Result<std::size_t> {
        for (;;) {
          Params params;
          params.Add(from).Add(to).Add(last_id).Add(kReportBatch);
          if (filter.domain) params.Add(*filter.domain);
          auto rows =
              conn_.Query(std::string("SELECT ") + kReportColumns +
                              " FROM aggregate_reports WHERE begin_ts >= $1 AND"
                              " begin_ts < $2 AND id > $3" +
                              (filter.domain ? " AND domain = $5" : "") + " ORDER BY id LIMIT $4",
                          params);
          if (!rows) return std::move(rows).error_value();
          if (rows->size() == 0) return n;
          // Batches of whole reports, up to kRecordBatch records each (at least one report).
          for (int i = 0; i < rows->size();) {
            std::vector<PendingReport> batch;
            std::int64_t records = 0;
            for (; i < rows->size(); ++i) {
              const std::int64_t count = rows->Int(i, 23);
              if (!batch.empty() && records + count > kRecordBatch) break;
              auto r = ReadAggregateReport(*rows, i);
              if (!r) return std::move(r).error_value();
              batch.push_back({rows->Int(i, 0), count, std::move(r).value()});
              records += count;
            }
            DMARC_TRY(ReadBatchRecords(conn_, batch));
            for (auto& p : batch) {
              visit(std::move(p.report));
              last_id = p.id;
              ++n;
            }
          }
          if (rows->size() < kReportBatch) return n;
        }
      },
      /*read_only=*/true);
}

Result<std::optional<std::int64_t>> PgStore::AggregateVersion() {
  return InTransaction<std::optional<std::int64_t>>(
      [&]() -> Result<std::optional<std::int64_t>> {
        auto r = conn_.Query("SELECT value FROM change_counters WHERE name = 'aggregate'");
        if (!r) return std::move(r).error_value();
        if (r->size() == 0) {
          return MakeError(label_ + ": the change counter 'aggregate' is missing");
        }
        return std::optional<std::int64_t>(r->Int(0, 0));
      },
      /*read_only=*/true);
}

Result<std::size_t> PgStore::ForEachFailure(
    const Filter& filter, const std::function<void(model::FailureReport&&)>& visit) {
  const auto days = DayRange(filter);
  const std::int64_t from = days.first, to = days.second;
  std::int64_t last_id = 0;
  std::size_t n = 0;
  return InTransaction<std::size_t>(
      [&]() -> Result<std::size_t> {
        for (;;) {
          Params params;
          params.Add(from).Add(to).Add(last_id).Add(kOtherBatch);
          if (filter.domain) params.Add(*filter.domain);
          auto rows = conn_.Query(
              std::string("SELECT id, data, arrival_ts FROM failure_reports WHERE arrival_ts >= $1"
                          " AND arrival_ts < $2 AND id > $3") +
                  (filter.domain ? " AND reported_domain = $5" : "") + " ORDER BY id LIMIT $4",
              params);
          if (!rows) return std::move(rows).error_value();
          for (int i = 0; i < rows->size(); ++i) {
            auto j = nlohmann::ordered_json::parse(rows->View(i, 1), nullptr,
                                                   /*allow_exceptions=*/false);
            auto report = sinks::FailureFromJson(j);
            if (!report) return std::move(report).error_value();
            report->arrival_ts = rows->Int(i, 2);
            visit(std::move(report).value());
            last_id = rows->Int(i, 0);
            ++n;
          }
          if (rows->size() < kOtherBatch) return n;
        }
      },
      /*read_only=*/true);
}

namespace {

// One batch of an SMTP TLS export being read: the reports in id order, then their policies and
// the policies' failure details.
struct SmtpTlsBatch {
  std::vector<std::int64_t> ids;
  std::vector<model::SmtpTlsReport> reports;
  std::unordered_map<std::int64_t, std::size_t> index;  // report id → position
  std::vector<std::int64_t> policy_ids;
  std::unordered_map<std::int64_t, model::SmtpTlsPolicy*> policy_of;
};

// Up to kOtherBatch SMTP TLS reports after last_id whose begin is in [from, to) (and with a
// policy for the filter's domain, if any), in id order.
Result<Rows> QuerySmtpTlsReports(Connection& conn, const Filter& filter, std::int64_t from,
                                 std::int64_t to, std::int64_t last_id) {
  Params params;
  params.Add(from).Add(to).Add(last_id).Add(kOtherBatch);
  if (filter.domain) params.Add(*filter.domain);
  return conn.Query(std::string("SELECT id, organization_name, report_id, begin_ts, end_ts,"
                                " contact_info, errors FROM smtp_tls_reports r WHERE begin_ts >= $1"
                                " AND begin_ts < $2 AND id > $3") +
                        (filter.domain ? " AND EXISTS (SELECT 1 FROM smtp_tls_policies p WHERE"
                                         " p.report = r.id AND p.policy_domain = $5)"
                                       : "") +
                        " ORDER BY id LIMIT $4",
                    params);
}

// The reports of the rows of QuerySmtpTlsReports, without their policies.
SmtpTlsBatch ReadSmtpTlsReports(const Rows& reports) {
  SmtpTlsBatch batch;
  for (int i = 0; i < reports.size(); ++i) {
    model::SmtpTlsReport r;
    r.organization_name = reports.Text(i, 1);
    r.report_id = reports.Text(i, 2);
    r.begin = reports.Int(i, 3);
    r.end = reports.Int(i, 4);
    r.contact_info = reports.OptText(i, 5);
    r.errors = JsonStrings(reports.OptText(i, 6));
    batch.ids.push_back(reports.Int(i, 0));
    batch.index[batch.ids.back()] = batch.reports.size();
    batch.reports.push_back(std::move(r));
  }
  return batch;
}

// Adds the policies of the batch's reports in stored order, and notes where each one is.
Result<bool> ReadSmtpTlsPolicies(Connection& conn, SmtpTlsBatch& batch) {
  auto policies = conn.Query(
      "SELECT id, report, policy_domain, policy_type, policy_strings, mx_host_patterns,"
      " successful_session_count, failed_session_count FROM smtp_tls_policies"
      " WHERE report = ANY($1::bigint[]) ORDER BY report, id",
      Params().AddArray(batch.ids));
  if (!policies) return std::move(policies).error_value();
  for (int i = 0; i < policies->size(); ++i) {
    model::SmtpTlsReport& r = batch.reports[batch.index.at(policies->Int(i, 1))];
    model::SmtpTlsPolicy p;
    p.policy_domain = policies->Text(i, 2);
    p.policy_type = policies->Text(i, 3);
    p.policy_strings = JsonStrings(policies->OptText(i, 4));
    p.mx_host_patterns = JsonStrings(policies->OptText(i, 5));
    p.successful_session_count = static_cast<std::uint64_t>(policies->Int(i, 6));
    p.failed_session_count = static_cast<std::uint64_t>(policies->Int(i, 7));
    r.policies.push_back(std::move(p));
    batch.policy_ids.push_back(policies->Int(i, 0));
  }
  // Pointers only once every policy is in place (the vectors no longer grow).
  std::unordered_map<std::int64_t, std::size_t> seen;  // report → policies placed
  for (int i = 0; i < policies->size(); ++i) {
    const std::int64_t report = policies->Int(i, 1);
    model::SmtpTlsReport& r = batch.reports[batch.index.at(report)];
    batch.policy_of[policies->Int(i, 0)] = &r.policies[seen[report]++];
  }
  return true;
}

// The whole reports of the rows of QuerySmtpTlsReports: with their policies and failure details.
Result<SmtpTlsBatch> ReadSmtpTlsBatch(Connection& conn, const Rows& reports) {
  SmtpTlsBatch batch = ReadSmtpTlsReports(reports);
  DMARC_TRY(ReadSmtpTlsPolicies(conn, batch));
  if (!batch.policy_ids.empty()) {
    DMARC_TRY(ReadSmtpTlsFailureDetails(conn, batch.policy_ids, batch.policy_of));
  }
  return batch;
}

}  // namespace

Result<std::size_t> PgStore::ForEachSmtpTls(
    const Filter& filter, const std::function<void(model::SmtpTlsReport&&)>& visit) {
  const auto days = DayRange(filter);
  const std::int64_t from = days.first, to = days.second;
  std::int64_t last_id = 0;
  std::size_t n = 0;
  return InTransaction<std::size_t>(
      [&]() -> Result<std::size_t> {
        for (;;) {
          auto reports = QuerySmtpTlsReports(conn_, filter, from, to, last_id);
          if (!reports) return std::move(reports).error_value();
          if (reports->size() == 0) return n;
          SmtpTlsBatch batch;
          DMARC_TRY_ASSIGN(batch, ReadSmtpTlsBatch(conn_, *reports));
          for (std::size_t i = 0; i < batch.reports.size(); ++i) {
            visit(std::move(batch.reports[i]));
            last_id = batch.ids[i];
            ++n;
          }
          if (reports->size() < kOtherBatch) return n;
        }
      },
      /*read_only=*/true);
}

Result<std::vector<RejectedInput>> PgStore::Rejections() {
  return InTransaction<std::vector<RejectedInput>>(
      [&]() -> Result<std::vector<RejectedInput>> {
        auto rows = conn_.Query(
            "SELECT i.received_at, i.origin, i.reason, i.sha256, b.size, b.raw FROM"
            " rejected_inputs i JOIN rejected_blobs b ON b.sha256 = i.sha256 ORDER BY i.id");
        if (!rows) return std::move(rows).error_value();
        std::vector<RejectedInput> out;
        out.reserve(static_cast<std::size_t>(rows->size()));
        for (int i = 0; i < rows->size(); ++i) {
          out.push_back({rows->Int(i, 0), rows->Text(i, 1), rows->Text(i, 2), rows->Text(i, 3),
                         static_cast<std::uint64_t>(rows->Int(i, 4)), rows->Bytes(i, 5)});
        }
        return out;
      },
      /*read_only=*/true);
}

}  // namespace dmarc::store::pg_impl
