// The PostgreSQL DashboardQueries: the same questions as the SQLite ones (dashboard.h), the same
// answers (the API golden tests run on both). Every value is a parameter; column names in SQL
// come from fixed tables (pg_dashboard_sql.h), never from a request. Each answer is read in one
// read-only snapshot (REPEATABLE READ), again from the start after a lost connection or a
// conflict with a standby's recovery. Texts are ordered as bytes (COLLATE "C", as SQLite does),
// NULLs first ascending, and every order ends with the tie-breakers SQLite's plans imply, so
// both back ends list equal rows alike: SQLite's sort is stable, and it groups rows in the
// direction of the ORDER BY's terms when GROUP BY and ORDER BY have as many terms (else in
// ascending order of the GROUP BY's), so equal rows come in that order of their group keys. Records
// grouped by source live in pg_dashboard_sources.cc, records with their results in
// pg_dashboard_records.cc.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "base/time.h"
#include "store/dashboard.h"
#include "store/dashboard_common.h"
#include "store/pg/pg_dashboard_records.h"
#include "store/pg/pg_dashboard_sources.h"
#include "store/pg/pg_dashboard_sql.h"
#include "store/pg/pg_store.h"
#include "store/pg/pg_store_impl.h"

namespace dmarc::store {

namespace {

using pg::Connection;
using pg::Params;
using pg::Query;
using pg::Rows;

std::int64_t Limit(std::size_t n) {
  return static_cast<std::int64_t>(std::min<std::size_t>(n, INT64_MAX));
}

class PgDashboard final : public DashboardQueries {
 public:
  PgDashboard(Connection conn, OpenOptions options)
      : conn_(std::move(conn)), options_(std::move(options)) {}

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
    return InSnapshot([&] { return sources_.Sources(filter, group, page); });
  }

  Result<Page<RecordRow>> Records(const DashboardFilter& filter, const ListPage& page) override {
    return InSnapshot([&] { return records_.Records(filter, page); });
  }

  Result<DomainsResult> Domains(const DashboardFilter& filter) override {
    return InSnapshot([&]() -> Result<DomainsResult> {
      DomainsResult out;
      const Facts facts = FactsFor(filter);
      Query q;
      const std::string where = pg::RecordWhere(filter, q);
      q.sql = fmt::format(
          "SELECT r.header_from, sum({0})::bigint, sum({0} * r.dmarc_aligned)::bigint,"
          " sum({0} * r.spf_aligned)::bigint, sum({0} * r.dkim_aligned)::bigint, r.domain"
          " FROM {1} r{2} GROUP BY r.header_from, r.domain"
          " ORDER BY 2 DESC, r.header_from COLLATE \"C\", r.domain COLLATE \"C\"",
          facts.messages, facts.table, where);
      DMARC_TRY(Each(q, [&](const Rows& s, int i) {
        out.header_from.push_back(
            {s.Text(i, 0), s.Text(i, 5), {s.Int(i, 1), s.Int(i, 2), s.Int(i, 3), s.Int(i, 4)}});
      }));
      Query p;
      p.sql =
          "SELECT a.domain, a.p, a.sp, a.pct, a.adkim, a.aspf, a.np, a.fo,"
          " min(a.begin_ts), max(a.end_ts), count(*) FROM aggregate_reports a" +
          pg::ReportWhere(filter, p) +
          " GROUP BY a.domain, a.p, a.sp, a.pct, a.adkim, a.aspf, a.np, a.fo"
          " ORDER BY a.domain COLLATE \"C\", min(a.begin_ts), a.p COLLATE \"C\","
          " a.sp COLLATE \"C\", a.pct COLLATE \"C\" NULLS FIRST, a.adkim COLLATE \"C\","
          " a.aspf COLLATE \"C\", a.np COLLATE \"C\" NULLS FIRST, a.fo COLLATE \"C\" NULLS FIRST";
      DMARC_TRY(Each(p, [&](const Rows& s, int i) {
        out.policies.push_back({s.Text(i, 0), s.Text(i, 1), s.Text(i, 2), s.OptText(i, 3),
                                s.Text(i, 4), s.Text(i, 5), s.OptText(i, 6), s.OptText(i, 7),
                                s.Int(i, 8), s.Int(i, 9), s.Int(i, 10)});
      }));
      return out;
    });
  }

  Result<std::vector<ReporterRow>> Reporters(const DashboardFilter& filter) override {
    return InSnapshot([&]() -> Result<std::vector<ReporterRow>> {
      std::vector<ReporterRow> rows;
      // One row per reporter under all its names (store/reporter_key.h), named by the first
      // of them in byte order, equal ones in key order (as SQLite).
      Query q;
      q.sql =
          "SELECT min(a.org_name COLLATE \"C\"), max(a.org_email COLLATE \"C\"), count(*),"
          " sum(a.record_count)::bigint, min(a.begin_ts), max(a.end_ts),"
          " count(DISTINCT a.domain), coalesce(sum(t.messages), 0)::bigint,"
          " coalesce(sum(t.dmarc_pass), 0)::bigint"
          " FROM aggregate_reports a LEFT JOIN report_totals t ON t.report = a.id" +
          pg::ReportWhere(filter, q) +
          " GROUP BY a.reporter_key ORDER BY 3 DESC, a.reporter_key COLLATE \"C\"";
      DMARC_TRY(Each(q, [&](const Rows& s, int i) {
        rows.push_back({s.Text(i, 0), s.Text(i, 1), s.Int(i, 2), s.Int(i, 3), s.Int(i, 4),
                        s.Int(i, 5), s.Int(i, 6), s.Int(i, 7), s.Int(i, 8)});
      }));
      return rows;
    });
  }

  Result<ReportsPage> Reports(const DashboardFilter& filter, const ListPage& page) override {
    return InSnapshot([&]() -> Result<ReportsPage> {
      ReportsPage out;
      auto where = [&](Query& q) {
        return pg::ReportWhere(filter, q) +
               pg::SearchWhere(q, page.search, {"a.org_name", "a.report_id", "a.domain"});
      };
      Query c;
      c.sql = "SELECT count(*) FROM aggregate_reports a" + where(c);
      DMARC_TRY(Each(c, [&](const Rows& s, int i) { out.total = s.Int(i, 0); }));
      Query q;
      q.sql =
          "SELECT a.id, a.org_name, a.report_id, a.domain, a.begin_ts, a.end_ts, a.record_count,"
          " coalesce(t.messages, 0), coalesce(t.dmarc_pass, 0), a.p"
          " FROM aggregate_reports a LEFT JOIN report_totals t ON t.report = a.id" +
          where(q) + " ORDER BY a.begin_ts DESC, a.id DESC LIMIT " + q.Value(Limit(page.limit)) +
          " OFFSET " + q.Value(Limit(page.offset));
      DMARC_TRY(Each(q, [&](const Rows& s, int i) {
        out.rows.push_back({s.Int(i, 0), s.Text(i, 1), s.Text(i, 2), s.Text(i, 3), s.Int(i, 4),
                            s.Int(i, 5), s.Int(i, 6), s.Int(i, 7), s.Int(i, 8), s.Text(i, 9)});
      }));
      return out;
    });
  }

  Result<ReportDetail> Report(std::int64_t id) override {
    return InSnapshot([&] { return records_.Report(id); });
  }

  Result<std::pair<std::string, std::string>> ReportRaw(std::int64_t id) override {
    return InSnapshot([&]() -> Result<std::pair<std::string, std::string>> {
      Params p;
      p.Add(id);
      auto s = conn_.Query("SELECT encoding, size, bytes FROM aggregate_raw WHERE report = $1", p);
      if (!s) return std::move(s).error_value();
      if (s->size() == 0) {
        return MakeError(ErrorKind::kNotFound,
                         fmt::format("no stored XML for aggregate report {}", id));
      }
      auto xml = UnpackRawXml(s->View(0, 0), s->Bytes(0, 2), s->Int(0, 1));
      if (!xml) return MakeError(fmt::format("report {}: stored XML: {}", id, xml.error()));
      return std::pair{std::move(xml).value(), fmt::format("report-{}.xml", id)};
    });
  }

  Result<Page<RejectionRow>> Rejections(const DashboardFilter& filter,
                                        const ListPage& page) override {
    return InSnapshot([&]() -> Result<Page<RejectionRow>> {
      Page<RejectionRow> out;
      const auto days = DayRange(filter.range);
      auto from = [&](Query& q) {
        return fmt::format(
                   " FROM rejected_inputs i JOIN rejected_blobs b ON b.sha256 = i.sha256"
                   " WHERE i.received_at >= {} AND i.received_at < {}",
                   q.Value(days.first), q.Value(days.second)) +
               pg::SearchWhere(q, page.search, {"i.origin", "i.reason", "i.sha256"});
      };
      Query c;
      c.sql = "SELECT count(*)" + from(c);
      DMARC_TRY(Each(c, [&](const Rows& s, int i) { out.total = s.Int(i, 0); }));
      Query q;
      q.sql =
          "SELECT i.id, i.received_at, i.origin, i.reason, i.sha256, b.size,"
          " octet_length(b.raw)" +
          from(q) + " ORDER BY i.id DESC LIMIT " + q.Value(Limit(page.limit)) + " OFFSET " +
          q.Value(Limit(page.offset));
      DMARC_TRY(Each(q, [&](const Rows& s, int i) {
        out.rows.push_back({s.Int(i, 0), s.Int(i, 1), s.Text(i, 2), s.Text(i, 3), s.Text(i, 4),
                            s.Int(i, 5), s.Int(i, 6)});
      }));
      return out;
    });
  }

  Result<std::pair<std::string, std::string>> RejectedRaw(std::int64_t id) override {
    return InSnapshot([&]() -> Result<std::pair<std::string, std::string>> {
      Params p;
      p.Add(id);
      auto s = conn_.Query(
          "SELECT b.raw, i.sha256 FROM rejected_inputs i JOIN rejected_blobs b ON"
          " b.sha256 = i.sha256 WHERE i.id = $1",
          p);
      if (!s) return std::move(s).error_value();
      if (s->size() == 0) {
        return MakeError(ErrorKind::kNotFound, fmt::format("no rejected input {}", id));
      }
      return std::pair{s->Bytes(0, 0), s->Text(0, 1)};
    });
  }

  Result<Page<FailureRow>> FailureReports(const DashboardFilter& filter,
                                          const ListPage& page) override {
    return InSnapshot([&]() -> Result<Page<FailureRow>> {
      Page<FailureRow> out;
      const auto days = DayRange(filter.range);
      auto from = [&](Query& q) {
        std::string w =
            fmt::format(" FROM failure_reports WHERE arrival_ts >= {} AND arrival_ts < {}",
                        q.Value(days.first), q.Value(days.second));
        if (filter.range.domain) w += pg::TextEquals(q, "reported_domain", *filter.range.domain);
        return w + pg::SearchWhere(q, page.search,
                                   {"reported_domain", "source_ip", "feedback_type", "origin"});
      };
      Query c;
      c.sql = "SELECT count(*)" + from(c);
      DMARC_TRY(Each(c, [&](const Rows& s, int i) { out.total = s.Int(i, 0); }));
      Query q;
      q.sql = "SELECT id, arrival_ts, reported_domain, source_ip, feedback_type, origin, data" +
              from(q) + " ORDER BY arrival_ts DESC, id DESC LIMIT " + q.Value(Limit(page.limit)) +
              " OFFSET " + q.Value(Limit(page.offset));
      DMARC_TRY(Each(q, [&](const Rows& s, int i) {
        out.rows.push_back({s.Int(i, 0), s.Int(i, 1), s.OptText(i, 2), s.OptText(i, 3),
                            s.OptText(i, 4), s.Text(i, 5), s.Text(i, 6)});
      }));
      return out;
    });
  }

  Result<FailureRow> FailureReport(std::int64_t id) override {
    return InSnapshot([&]() -> Result<FailureRow> {
      Params p;
      p.Add(id);
      auto s = conn_.Query(
          "SELECT id, arrival_ts, reported_domain, source_ip, feedback_type, origin, data"
          " FROM failure_reports WHERE id = $1",
          p);
      if (!s) return std::move(s).error_value();
      if (s->size() == 0) {
        return MakeError(ErrorKind::kNotFound, fmt::format("no failure report {}", id));
      }
      return FailureRow{s->Int(0, 0),     s->Int(0, 1),  s->OptText(0, 2), s->OptText(0, 3),
                        s->OptText(0, 4), s->Text(0, 5), s->Text(0, 6)};
    });
  }

  Result<SmtpTlsResult> SmtpTls(const DashboardFilter& filter) override {
    return InSnapshot([&] { return SmtpTlsInSnapshot(filter); });
  }

  Result<std::vector<std::string>> DomainNames(std::size_t limit) override {
    return InSnapshot([&]() -> Result<std::vector<std::string>> {
      std::vector<std::string> names;
      Params p;
      p.Add(Limit(limit));
      auto s = conn_.Query(
          "SELECT d FROM (SELECT domain AS d FROM aggregate_reports UNION SELECT"
          " reported_domain FROM failure_reports WHERE reported_domain IS NOT NULL UNION SELECT"
          " policy_domain FROM smtp_tls_policies) u ORDER BY d COLLATE \"C\" LIMIT $1",
          p);
      if (!s) return std::move(s).error_value();
      names.reserve(static_cast<std::size_t>(s->size()));
      for (int i = 0; i < s->size(); ++i) names.push_back(s->Text(i, 0));
      return names;
    });
  }

  // Connects; the first snapshot proves the schema is there.
  Result<bool> Check() {
    return InSnapshot([&]() -> Result<bool> {
      auto r = conn_.Query("SELECT 1 FROM aggregate_reports LIMIT 1");
      if (!r) return std::move(r).error_value();
      return true;
    });
  }

 private:
  // Runs q and calls f(rows, i) for each row.
  template <class F>
  Result<bool> Each(const Query& q, F&& f) {
    auto rows = conn_.Query(q.sql, q.params);
    if (!rows) return std::move(rows).error_value();
    for (int i = 0; i < rows->size(); ++i) f(*rows, i);
    return true;
  }

  // Runs f in one read-only snapshot, again from the start when it fails with a retryable error
  // (a lost connection, a standby's recovery conflict), for up to busy_timeout_ms. Before the
  // snapshot, reads the server's WAL position: what the address details were read at.
  template <class F>
  auto InSnapshot(F&& f) -> decltype(f()) {
    using R = decltype(f());
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms);
    for (int attempt = 1;; ++attempt) {
      conn_.ClearError();
      R r = [&]() -> R {
        auto v = conn_.Query(
            "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
            " ELSE pg_current_wal_insert_lsn() END");
        if (!v) return std::move(v).error_value();
        version_ = v->size() == 1 && !v->IsNull(0, 0) ? v->Text(0, 0) : std::string();
        // Room for the sorts and hashes of an answer in memory (the server's default, 4 MB,
        // sends the larger ones to disk), and the rollups' pages counted as the cached pages
        // they are (the default cost of a random read, 4, makes the planner sort a range of
        // daily_sources rather than read it in key order, three times slower).
        if (auto b = conn_.Exec(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL work_mem = '64MB';"
                " SET LOCAL random_page_cost = 1.1");
            !b) {
          return std::move(b).error_value();
        }
        R out = f();
        if (auto c = conn_.Exec(out ? "COMMIT" : "ROLLBACK"); !c && out) {
          return std::move(c).error_value();
        }
        return out;
      }();
      // Only the server's retryable failures (kBusy) and a lost connection are tried again:
      // the connection's last error may be an older one.
      if (r || (r.error_kind() != ErrorKind::kBusy && conn_.Ok())) return r;
      const auto wait = std::chrono::milliseconds(std::min(1000, 50 << std::min(attempt, 5)));
      if (std::chrono::steady_clock::now() + wait > deadline) return r;
      std::this_thread::sleep_for(wait);
      if (!conn_.Ok()) (void)conn_.Reset();
    }
  }

  // Records, messages and alignment in range; with_days: also messages per day and per
  // disposition, from the same pass over the facts (summed by the server per day, disposition
  // and outcome).
  Result<FactSums> SumFacts(const DashboardFilter& filter, bool with_days) {
    const Facts f = FactsFor(filter);
    FactSums out;
    Query q;
    const std::string where = pg::RecordWhere(filter, q);
    // The rollup's rows are few and summed here (faster than the server's hash of them);
    // records are summed by the server.
    q.sql = Rollup(filter) ? fmt::format(
                                 "SELECT r.day, r.disposition, r.dmarc_aligned, r.spf_aligned,"
                                 " r.dkim_aligned, {}, {} FROM {} r{}",
                                 f.records, f.messages, f.table, where)
                           : fmt::format(
                                 "SELECT r.day, r.disposition, r.dmarc_aligned, r.spf_aligned,"
                                 " r.dkim_aligned, sum({})::bigint, sum({})::bigint FROM {} r{}"
                                 " GROUP BY r.day, r.disposition, r.dmarc_aligned, r.spf_aligned,"
                                 " r.dkim_aligned",
                                 f.records, f.messages, f.table, where);
    DMARC_TRY(Each(q, [&](const Rows& s, int i) {
      out.Add({.day = s.Int(i, 0),
               .disposition = s.View(i, 1),
               .dmarc_pass = s.Int(i, 2) != 0,
               .spf_aligned = s.Int(i, 3) != 0,
               .dkim_aligned = s.Int(i, 4) != 0,
               .records = s.Int(i, 5),
               .messages = s.Int(i, 6)},
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
      Query q;
      q.sql = "SELECT count(DISTINCT r.source_ip) FROM aggregate_records r" +
              pg::RecordWhere(filter, q);
      DMARC_TRY(Each(q, [&](const Rows& s, int i) { t.sources = s.Int(i, 0); }));
    } else {
      Query q;
      // Distinct by hashing (count(DISTINCT) would sort).
      q.sql = "SELECT count(*) FROM (SELECT r.ip" + pg::PerAddressFrom(filter, q, false) +
              " GROUP BY r.ip) d";
      DMARC_TRY(Each(q, [&](const Rows& s, int i) { t.sources = s.Int(i, 0); }));
    }
    Query q;
    q.sql = "SELECT count(*), count(DISTINCT a.reporter_key) FROM aggregate_reports a" +
            pg::ReportWhere(filter, q);
    return Each(q, [&](const Rows& s, int i) {
      t.reports = s.Int(i, 0);
      t.reporters = s.Int(i, 1);
    });
  }

  Result<SmtpTlsResult> SmtpTlsInSnapshot(const DashboardFilter& filter) {
    // Plain variables, not a structured binding: the lambda captures them (clang 14 cannot).
    const auto days = DayRange(filter.range);
    const std::int64_t from = days.first, to = days.second;
    // Each statement numbers its own parameters.
    auto where = [&](Query& q) {
      std::string w =
          fmt::format(" WHERE t.begin_ts >= {} AND t.begin_ts < {}", q.Value(from), q.Value(to));
      if (filter.range.domain) w += pg::TextEquals(q, "p.policy_domain", *filter.range.domain);
      return w;
    };
    SmtpTlsResult out;
    Query d;
    d.sql =
        "SELECT t.begin_ts - (t.begin_ts % 86400), sum(p.successful_session_count)::bigint,"
        " sum(p.failed_session_count)::bigint FROM smtp_tls_reports t JOIN"
        " smtp_tls_policies p ON p.report = t.id" +
        where(d) + " GROUP BY 1 ORDER BY 1";
    DMARC_TRY(Each(d, [&](const Rows& s, int i) {
      out.daily.push_back({s.Int(i, 0), s.Int(i, 1), s.Int(i, 2)});
    }));
    Query f;
    f.sql =
        "SELECT t.begin_ts - (t.begin_ts % 86400), f.result_type,"
        " sum(f.failed_session_count)::bigint FROM smtp_tls_reports t JOIN"
        " smtp_tls_policies p ON p.report = t.id JOIN smtp_tls_failure_details f ON"
        " f.policy = p.id" +
        where(f) + " GROUP BY 1, 2 ORDER BY 1, f.result_type COLLATE \"C\"";
    DMARC_TRY(Each(f, [&](const Rows& s, int i) {
      out.failure_types.push_back({s.Int(i, 0), s.Text(i, 1), s.Int(i, 2)});
    }));
    Query p;
    p.sql =
        "SELECT p.policy_domain, p.policy_type, p.mx_host_patterns,"
        " sum(p.successful_session_count)::bigint, sum(p.failed_session_count)::bigint,"
        " count(DISTINCT t.id), string_agg(DISTINCT t.organization_name COLLATE \"C\", ','"
        " ORDER BY t.organization_name COLLATE \"C\")"
        " FROM smtp_tls_reports t JOIN smtp_tls_policies p ON p.report = t.id" +
        where(p) +
        " GROUP BY 1, 2, 3 ORDER BY 5 DESC, 4 DESC, p.policy_domain COLLATE \"C\","
        " p.policy_type COLLATE \"C\", p.mx_host_patterns COLLATE \"C\" NULLS FIRST";
    DMARC_TRY(Each(p, [&](const Rows& s, int i) {
      out.policies.push_back({s.Text(i, 0), s.Text(i, 1), s.OptText(i, 2), s.Int(i, 3), s.Int(i, 4),
                              s.Int(i, 5), s.OptText(i, 6)});
    }));
    return out;
  }

  Connection conn_;  // first: the query helpers below hold references to it
  OpenOptions options_;
  std::string version_;  // the WAL position read before the current snapshot
  pg::SourceGrouping sources_{conn_, version_};
  pg::RecordQueries records_{conn_};
};

}  // namespace

Result<std::unique_ptr<DashboardQueries>> OpenPgDashboard(const std::string& url,
                                                          const OpenOptions& options) {
  auto conn = pg_impl::Connect(url, options);
  if (!conn) return std::move(conn).error_value();
  auto d = std::make_unique<PgDashboard>(std::move(conn).value(), options);
  DMARC_TRY(d->Check());
  return std::unique_ptr<DashboardQueries>(std::move(d));
}

}  // namespace dmarc::store
