// The SQLite DashboardQueries: prepared statements only; column names in SQL come from fixed
// tables (sqlite_dashboard_sql.h), never from a request. Records grouped by source address live
// in sqlite_dashboard_sources.cc, records with their results in sqlite_dashboard_records.cc.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_set>
#include <vector>

#include "base/time.h"
#include "store/dashboard.h"
#include "store/dashboard_common.h"
#include "store/sqlite/sqlite_dashboard_records.h"
#include "store/sqlite/sqlite_dashboard_sources.h"
#include "store/sqlite/sqlite_dashboard_sql.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_store.h"

namespace dmarc::store {

namespace {

using sqlite::Database;
using sqlite::Each;
using sqlite::Statement;

class SqliteDashboard final : public DashboardQueries {
 public:
  explicit SqliteDashboard(Database db) : db_(std::move(db)) {}

  Result<OverviewResult> Overview(const DashboardFilter& filter) override {
    return InSnapshot([&] {
      return OverviewOf(
          filter, sources_, [&](const DashboardFilter& f, bool days) { return SumFacts(f, days); },
          [&](const DashboardFilter& f, std::optional<std::int64_t> known, Totals& t) {
            return CountSourcesAndReports(f, known, t);
          });
    });
  }

  Result<SourcesResult> Sources(const DashboardFilter& filter, std::string_view group,
                                const ListPage& page) override {
    return sources_.Sources(filter, group, page);
  }

  Result<Page<RecordRow>> Records(const DashboardFilter& filter, const ListPage& page) override {
    return InSnapshot([&] { return records_.Records(filter, page); });
  }

  Result<DomainsResult> Domains(const DashboardFilter& filter) override {
    return InSnapshot([&]() -> Result<DomainsResult> {
      DomainsResult out;
      const Facts facts = FactsFor(filter);
      DMARC_TRY(Rows(fmt::format("SELECT r.header_from, sum({0}), sum({0} * r.dmarc_aligned),"
                                 " sum({0} * r.spf_aligned), sum({0} * r.dkim_aligned),"
                                 " r.domain FROM {1} r{2} GROUP BY r.header_from, r.domain"
                                 " ORDER BY 2 DESC",
                                 facts.messages, facts.table, sqlite::RecordWhere(filter)),
                     filter, [&](Statement& s) {
                       out.header_from.push_back(
                           {s.Text(0), s.Text(5), {s.Int(1), s.Int(2), s.Int(3), s.Int(4)}});
                     }));
      DMARC_TRY(
          Rows("SELECT a.domain, a.p, a.sp, a.pct, a.adkim, a.aspf, a.np, a.fo,"
               " min(a.begin_ts), max(a.end_ts), count(*) FROM aggregate_reports a" +
                   sqlite::ReportWhere(filter) +
                   " GROUP BY a.domain, a.p, a.sp, a.pct, a.adkim, a.aspf, a.np, a.fo"
                   " ORDER BY a.domain, min(a.begin_ts)",
               filter, [&](Statement& s) {
                 out.policies.push_back({s.Text(0), s.Text(1), s.Text(2), s.OptText(3), s.Text(4),
                                         s.Text(5), s.OptText(6), s.OptText(7), s.Int(8), s.Int(9),
                                         s.Int(10)});
               }));
      return out;
    });
  }

  Result<std::vector<ReporterRow>> Reporters(const DashboardFilter& filter) override {
    std::vector<ReporterRow> rows;
    DMARC_TRY(
        // One row per reporter under all its names (store/reporter_key.h), named by the first
        // of them in byte order ("Google" before "google.com").
        Rows("SELECT min(a.org_name), max(a.org_email), count(*), sum(a.record_count),"
             " min(a.begin_ts), max(a.end_ts), count(DISTINCT a.domain),"
             " coalesce(sum(t.messages), 0), coalesce(sum(t.dmarc_pass), 0)"
             " FROM aggregate_reports a LEFT JOIN report_totals t ON t.report = a.id" +
                 sqlite::ReportWhere(filter) +
                 " GROUP BY a.reporter_key ORDER BY 3 DESC, a.reporter_key",
             filter, [&](Statement& s) {
               rows.push_back({s.Text(0), s.Text(1), s.Int(2), s.Int(3), s.Int(4), s.Int(5),
                               s.Int(6), s.Int(7), s.Int(8)});
             }));
    return rows;
  }

  Result<ReportsPage> Reports(const DashboardFilter& filter, const ListPage& page) override {
    return InSnapshot([&]() -> Result<ReportsPage> {
      ReportsPage out;
      const std::string where =
          sqlite::ReportWhere(filter) +
          sqlite::SearchWhere(page.search, {"a.org_name", "a.report_id", "a.domain"});
      DMARC_TRY(Rows(
          "SELECT count(*) FROM aggregate_reports a" + where, filter,
          [&](Statement& s) { out.total = s.Int(0); }, std::nullopt, std::nullopt, page.search));
      DMARC_TRY(Rows(
          "SELECT a.id, a.org_name, a.report_id, a.domain, a.begin_ts, a.end_ts, a.record_count,"
          " coalesce(t.messages, 0), coalesce(t.dmarc_pass, 0), a.p"
          " FROM aggregate_reports a LEFT JOIN report_totals t ON t.report = a.id" +
              where + " ORDER BY a.begin_ts DESC, a.id DESC LIMIT ?7 OFFSET ?8",
          filter,
          [&](Statement& s) {
            out.rows.push_back({s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5),
                                s.Int(6), s.Int(7), s.Int(8), s.Text(9)});
          },
          sqlite::SqlInt(page.limit), sqlite::SqlInt(page.offset), page.search));
      return out;
    });
  }

  Result<ReportDetail> Report(std::int64_t id) override {
    return InSnapshot([&] { return records_.Report(id); });
  }

  Result<std::pair<std::string, std::string>> ReportRaw(std::int64_t id) override {
    auto s = db_.Prepare("SELECT encoding, size, bytes FROM aggregate_raw WHERE report = ?1");
    if (!s) return MakeError(s.error());
    s->Bind(1, id);
    auto row = s->Step();
    if (!row) return MakeError(row.error());
    if (!*row) {
      return MakeError(ErrorKind::kNotFound,
                       fmt::format("no stored XML for aggregate report {}", id));
    }
    auto xml = UnpackRawXml(s->View(0), s->Blob(2), s->Int(1));
    if (!xml) return MakeError(fmt::format("report {}: stored XML: {}", id, xml.error()));
    return std::pair{std::move(xml).value(), fmt::format("report-{}.xml", id)};
  }

  Result<Page<RejectionRow>> Rejections(const DashboardFilter& filter,
                                        const ListPage& page) override {
    return InSnapshot([&]() -> Result<Page<RejectionRow>> {
      Page<RejectionRow> out;
      // The filter's days only: ?1 and ?2 (BindFilter binds them; nothing else of it is used).
      DashboardFilter days;
      days.range.from = filter.range.from;
      days.range.to = filter.range.to;
      const std::string from =
          " FROM rejected_inputs i JOIN rejected_blobs b ON b.sha256 = i.sha256"
          " WHERE i.received_at >= ?1 AND i.received_at < ?2" +
          sqlite::SearchWhere(page.search, {"i.origin", "i.reason", "i.sha256"});
      DMARC_TRY(Rows(
          "SELECT count(*)" + from, days, [&](Statement& s) { out.total = s.Int(0); }, std::nullopt,
          std::nullopt, page.search));
      DMARC_TRY(Rows(
          "SELECT i.id, i.received_at, i.origin, i.reason, i.sha256, b.size, length(b.raw)" + from +
              " ORDER BY i.id DESC LIMIT ?7 OFFSET ?8",
          days,
          [&](Statement& s) {
            out.rows.push_back(
                {s.Int(0), s.Int(1), s.Text(2), s.Text(3), s.Text(4), s.Int(5), s.Int(6)});
          },
          sqlite::SqlInt(page.limit), sqlite::SqlInt(page.offset), page.search));
      return out;
    });
  }

  Result<std::pair<std::string, std::string>> RejectedRaw(std::int64_t id) override {
    auto s = db_.Prepare(
        "SELECT b.raw, i.sha256 FROM rejected_inputs i JOIN rejected_blobs b ON"
        " b.sha256 = i.sha256 WHERE i.id = ?1");
    if (!s) return MakeError(s.error());
    s->Bind(1, id);
    auto row = s->Step();
    if (!row) return MakeError(row.error());
    if (!*row) return MakeError(ErrorKind::kNotFound, fmt::format("no rejected input {}", id));
    return std::pair{s->Blob(0), s->Text(1)};
  }

  Result<Page<FailureRow>> FailureReports(const DashboardFilter& filter,
                                          const ListPage& page) override {
    return InSnapshot([&]() -> Result<Page<FailureRow>> {
      Page<FailureRow> out;
      // The filter's days (?1, ?2) and domain (?3) only.
      DashboardFilter by;
      by.range = filter.range;
      const std::string from =
          std::string(" FROM failure_reports WHERE arrival_ts >= ?1 AND arrival_ts < ?2") +
          (filter.range.domain ? " AND reported_domain = ?3" : "") +
          sqlite::SearchWhere(page.search,
                              {"reported_domain", "source_ip", "feedback_type", "origin"});
      DMARC_TRY(Rows(
          "SELECT count(*)" + from, by, [&](Statement& s) { out.total = s.Int(0); }, std::nullopt,
          std::nullopt, page.search));
      DMARC_TRY(Rows(
          "SELECT id, arrival_ts, reported_domain, source_ip, feedback_type, origin, data" + from +
              " ORDER BY arrival_ts DESC, id DESC LIMIT ?7 OFFSET ?8",
          by,
          [&](Statement& s) {
            out.rows.push_back({s.Int(0), s.Int(1), s.OptText(2), s.OptText(3), s.OptText(4),
                                s.Text(5), s.Text(6)});
          },
          sqlite::SqlInt(page.limit), sqlite::SqlInt(page.offset), page.search));
      return out;
    });
  }

  Result<FailureRow> FailureReport(std::int64_t id) override {
    auto s = db_.Prepare(
        "SELECT id, arrival_ts, reported_domain, source_ip, feedback_type, origin, data"
        " FROM failure_reports WHERE id = ?1");
    if (!s) return MakeError(s.error());
    s->Bind(1, id);
    auto row = s->Step();
    if (!row) return MakeError(row.error());
    if (!*row) return MakeError(ErrorKind::kNotFound, fmt::format("no failure report {}", id));
    return FailureRow{s->Int(0),     s->Int(1),  s->OptText(2), s->OptText(3),
                      s->OptText(4), s->Text(5), s->Text(6)};
  }

  Result<SmtpTlsResult> SmtpTls(const DashboardFilter& filter) override {
    return InSnapshot([&] { return SmtpTlsInSnapshot(filter); });
  }

  Result<std::vector<std::string>> DomainNames(std::size_t limit) override {
    std::vector<std::string> names;
    auto s = db_.Prepare(
        "SELECT domain FROM aggregate_reports UNION SELECT reported_domain FROM failure_reports"
        " WHERE reported_domain IS NOT NULL UNION SELECT policy_domain FROM smtp_tls_policies"
        " ORDER BY 1 LIMIT ?1");
    if (!s) return MakeError(s.error());
    s->Bind(1, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
    DMARC_TRY(Each(*s, [&](Statement& st) { names.push_back(st.Text(0)); }));
    return names;
  }

 private:
  template <class F>
  Result<bool> Rows(const std::string& sql, const DashboardFilter& filter, F&& f,
                    std::optional<std::int64_t> limit = std::nullopt,
                    std::optional<std::int64_t> offset = std::nullopt,
                    std::string_view search = {}) {
    return sqlite::Rows(db_, sql, filter, std::forward<F>(f), limit, offset, search);
  }

  // Runs reads in one transaction so all numbers of an answer come from one snapshot.
  template <class F>
  auto InSnapshot(F&& f) -> decltype(f()) {
    if (in_snapshot_) return f();
    DMARC_TRY(db_.Exec("BEGIN"));
    in_snapshot_ = true;
    auto r = f();
    in_snapshot_ = false;
    (void)db_.Exec("COMMIT");
    return r;
  }

  // Records, messages and alignment in range; with_days: also messages per day and per
  // disposition, from the same pass over the facts.
  Result<FactSums> SumFacts(const DashboardFilter& filter, bool with_days) {
    const Facts f = FactsFor(filter);
    FactSums out;
    DMARC_TRY(Rows(fmt::format("SELECT r.day, r.disposition, r.dmarc_aligned, r.spf_aligned,"
                               " r.dkim_aligned, {}, {} FROM {} r{}",
                               f.records, f.messages, f.table, sqlite::RecordWhere(filter)),
                   filter, [&](Statement& s) {
                     out.Add({.day = s.Int(0),
                              .disposition = s.View(1),
                              .dmarc_pass = s.Int(2) != 0,
                              .spf_aligned = s.Int(3) != 0,
                              .dkim_aligned = s.Int(4) != 0,
                              .records = s.Int(5),
                              .messages = s.Int(6)},
                             with_days);
                   }));
    return out;
  }

  // Distinct source addresses (unless known), reports and reporters in range.
  Result<bool> CountSourcesAndReports(const DashboardFilter& filter,
                                      std::optional<std::int64_t> known_sources, Totals& t) {
    if (known_sources) {
      t.sources = *known_sources;
    } else if (!Rollup(filter) || filter.header_from) {
      DMARC_TRY(Rows("SELECT count(DISTINCT r.source_ip) FROM aggregate_records r" +
                         sqlite::RecordWhere(filter),
                     filter, [&](Statement& s) { t.sources = s.Int(0); }));
    } else {  // from the per-address rollups, in a hash set (faster than a sorted DISTINCT)
      std::unordered_set<std::int64_t> ips;
      DMARC_TRY(Rows("SELECT r.ip" + sqlite::PerAddressFrom(filter), filter,
                     [&](Statement& s) { ips.insert(s.Int(0)); }));
      t.sources = static_cast<std::int64_t>(ips.size());
    }
    return Rows("SELECT count(*), count(DISTINCT a.reporter_key) FROM aggregate_reports a" +
                    sqlite::ReportWhere(filter),
                filter, [&](Statement& s) {
                  t.reports = s.Int(0);
                  t.reporters = s.Int(1);
                });
  }

  Result<SmtpTlsResult> SmtpTlsInSnapshot(const DashboardFilter& filter) {
    // Plain variables, not a structured binding: the lambda captures them (clang 14 cannot).
    const auto days = DayRange(filter.range);
    const std::int64_t from = days.first, to = days.second;
    const std::string where = std::string(" WHERE t.begin_ts >= ?1 AND t.begin_ts < ?2") +
                              (filter.range.domain ? " AND p.policy_domain = ?3" : "");
    auto query = [&](const std::string& sql, auto each) -> Result<bool> {
      auto s = db_.Prepare(sql);
      if (!s) return MakeError(s.error());
      s->Bind(1, from).Bind(2, to);
      if (filter.range.domain) s->Bind(3, *filter.range.domain);
      return Each(*s, each);
    };
    SmtpTlsResult out;
    DMARC_TRY(
        query("SELECT t.begin_ts - (t.begin_ts % 86400), sum(p.successful_session_count),"
              " sum(p.failed_session_count) FROM smtp_tls_reports t JOIN"
              " smtp_tls_policies p ON p.report = t.id" +
                  where + " GROUP BY 1 ORDER BY 1",
              [&](Statement& s) {
                out.daily.push_back({s.Int(0), s.Int(1), s.Int(2)});
              }));
    DMARC_TRY(
        query("SELECT t.begin_ts - (t.begin_ts % 86400), f.result_type,"
              " sum(f.failed_session_count) FROM smtp_tls_reports t JOIN"
              " smtp_tls_policies p ON p.report = t.id JOIN smtp_tls_failure_details f ON"
              " f.policy = p.id" +
                  where + " GROUP BY 1, 2 ORDER BY 1, 2",
              [&](Statement& s) {
                out.failure_types.push_back({s.Int(0), s.Text(1), s.Int(2)});
              }));
    DMARC_TRY(
        query("SELECT p.policy_domain, p.policy_type, p.mx_host_patterns,"
              " sum(p.successful_session_count), sum(p.failed_session_count),"
              " count(DISTINCT t.id), group_concat(DISTINCT t.organization_name)"
              " FROM smtp_tls_reports t JOIN smtp_tls_policies p ON p.report = t.id" +
                  where + " GROUP BY 1, 2, 3 ORDER BY 5 DESC, 4 DESC",
              [&](Statement& s) {
                out.policies.push_back({s.Text(0), s.Text(1), s.OptText(2), s.Int(3), s.Int(4),
                                        s.Int(5), s.OptText(6)});
              }));
    return out;
  }

  Database db_;  // first: the query helpers below hold references to it
  bool in_snapshot_ = false;
  sqlite::SourceGrouping sources_{db_};
  sqlite::RecordQueries records_{db_};
};

}  // namespace

Result<std::unique_ptr<DashboardQueries>> OpenSqliteDashboard(const std::string& url) {
  auto path = SqlitePathFromUrl(url);
  if (!path) return MakeError(path.error());
  Database db;
  if (auto r = db.Open(*path, 5000); !r) {
    return MakeError(fmt::format("cannot open SQLite store {}: {}", *path, r.error()));
  }
  if (auto r = db.Exec("PRAGMA query_only=ON"); !r) return MakeError(r.error());
  return std::unique_ptr<DashboardQueries>(std::make_unique<SqliteDashboard>(std::move(db)));
}

}  // namespace dmarc::store
