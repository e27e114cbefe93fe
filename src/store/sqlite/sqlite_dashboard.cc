// The SQLite DashboardQueries: prepared statements only; column names in SQL come from fixed
// tables in this file, never from a request.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "archive/archive.h"
#include "base/time.h"
#include "store/dashboard.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_store.h"

namespace dmarc::store {

namespace {

using nlohmann::json;
using sqlite::Database;
using sqlite::Statement;

struct SourceGroup {
  const char* name;
  const char* column;
};
constexpr std::array<SourceGroup, 6> kSourceGroups = {{
    {"service", "source_name"},
    {"base_domain", "source_base_domain"},
    {"ptr", "source_reverse_dns"},
    {"ip", "source_ip"},
    {"asn", "source_asn"},
    {"country", "source_country"},
}};

// Bound parameter numbers shared by every records query.
enum Param { kFrom = 1, kTo, kDomain, kHeaderFrom, kSourceValue, kOrg, kLimit, kOffset };

// WHERE clause over aggregate_records aliased `r`.
std::string RecordWhere(const DashboardFilter& f) {
  std::string w = " WHERE r.day >= ?1 AND r.day < ?2";
  if (f.range.domain) w += " AND r.domain = ?3";
  if (f.only_failing) w += " AND r.dmarc_aligned = 0";
  if (f.header_from) w += " AND r.header_from = ?4";
  if (f.source_group && f.source_value) {
    if (const char* col = SourceGroupColumn(*f.source_group)) {
      // A plain equality lets SQLite use the index on source_ip; "" means unknown.
      w += f.source_value->empty() ? fmt::format(" AND (r.{0} IS NULL OR r.{0} = ?5)", col)
                                   : fmt::format(" AND r.{} = ?5", col);
    }
  }
  if (f.org_name) w += " AND r.report IN (SELECT id FROM aggregate_reports WHERE org_name = ?6)";
  return w;
}

// WHERE clause over daily_sources aliased `r` (no header-from, drill-down or reporter there).
std::string SourcesWhere(const DashboardFilter& f) {
  std::string w = " WHERE r.day >= ?1 AND r.day < ?2";
  if (f.range.domain) w += " AND r.domain = ?3";
  if (f.only_failing) w += " AND r.messages > r.dmarc_pass";
  return w;
}

// Without a drill-down or a reporter, the daily rollups hold every number the totals, days and
// dispositions need; RecordWhere's columns have the same names there.
bool Rollup(const DashboardFilter& f) { return !f.source_group && !f.org_name; }

struct Facts {
  const char* table;     // aliased r
  const char* messages;  // column of messages
  const char* records;   // the number of records a row stands for
};
Facts FactsFor(const DashboardFilter& f) {
  return Rollup(f) ? Facts{"daily_results", "r.messages", "r.records"}
                   : Facts{"aggregate_records", "r.count", "1"};
}

// WHERE clause over aggregate_reports aliased `a`.
std::string ReportWhere(const DashboardFilter& f) {
  // Without days, no condition on them: a scan of the reports beats the index on begin_ts.
  std::string w =
      f.range.from || f.range.to ? " WHERE a.begin_ts >= ?1 AND a.begin_ts < ?2" : " WHERE 1";
  if (f.range.domain) w += " AND a.domain = ?3";
  if (f.org_name) w += " AND a.org_name = ?6";
  if (f.only_failing) {  // reports with messages that failed DMARC, from their totals
    w += " AND EXISTS (SELECT 1 FROM report_totals x WHERE x.report = a.id AND"
         " x.messages > x.dmarc_pass)";
  }
  return w;
}

void BindFilter(Statement& s, const DashboardFilter& f) {
  const auto [from, to] = DayRange(f.range);
  s.Bind(kFrom, from).Bind(kTo, to);
  if (f.range.domain) s.Bind(kDomain, *f.range.domain);
  if (f.header_from) s.Bind(kHeaderFrom, *f.header_from);
  if (f.source_value) s.Bind(kSourceValue, *f.source_value);
  if (f.org_name) s.Bind(kOrg, *f.org_name);
}

json OptText(const Statement& s, int col) {
  return s.IsNull(col) ? json(nullptr) : json(s.Text(col));
}
json OptInt(const Statement& s, int col) {
  return s.IsNull(col) ? json(nullptr) : json(s.Int(col));
}
std::string Day(std::int64_t t) { return FormatUtcDate(t); }

class SqliteDashboard final : public DashboardQueries {
 public:
  explicit SqliteDashboard(Database db) : db_(std::move(db)) {}

  Result<nlohmann::json> Overview(const DashboardFilter& filter) override {
    return InSnapshot([&]() -> Result<json> {
      json out;
      json totals, top, countries;
      json daily = json::array(), dispositions = json::object();
      if (Rollup(filter) && !filter.header_from) {
        IpTotals ips;
        DMARC_TRY_ASSIGN(ips, SumsPerIp(filter));
        DMARC_TRY_ASSIGN(top, GroupIps(ips, "ip", 10));
        DMARC_TRY_ASSIGN(countries, GroupIps(ips, "country", 50));
        DMARC_TRY_ASSIGN(totals, Totals(filter, ips.size(), &daily, &dispositions));
      } else {
        DMARC_TRY_ASSIGN(top, Sources(filter, "ip", 10));
        DMARC_TRY_ASSIGN(countries, Sources(filter, "country", 50));
        DMARC_TRY_ASSIGN(totals, Totals(filter, std::nullopt, &daily, &dispositions));
      }
      out["totals"] = std::move(totals);
      out["daily"] = std::move(daily);
      out["by_disposition"] = std::move(dispositions);
      out["top_sources"] = std::move(top["rows"]);
      out["countries"] = std::move(countries["rows"]);
      out["previous"] = nullptr;
      if (filter.range.from && filter.range.to) {
        DashboardFilter prev = filter;
        const std::int64_t days = (*filter.range.to - *filter.range.from) / kSecondsPerDay + 1;
        prev.range.from = *filter.range.from - days * kSecondsPerDay;
        prev.range.to = *filter.range.from - kSecondsPerDay;
        json p;
        DMARC_TRY_ASSIGN(p, Totals(prev));
        p["from"] = Day(*prev.range.from);
        p["to"] = Day(*prev.range.to);
        out["previous"] = std::move(p);
      }
      return out;
    });
  }

  Result<nlohmann::json> Sources(const DashboardFilter& filter, std::string_view group,
                                 std::size_t limit) override {
    const char* col = SourceGroupColumn(group);
    if (!col) return MakeError(fmt::format("unknown source group \"{}\"", group));
    if (!filter.org_name && !filter.header_from) {
      if (!filter.source_group) return SourcesByIp(filter, group, limit);
      // A drill-down from one group of addresses (a service, a country, ...) to another: the
      // per-address rollups of the addresses in that group, as the grouping found them.
      if (filter.source_value && SourceGroupColumn(*filter.source_group)) {
        DashboardFilter all = filter;
        all.source_group.reset();
        all.source_value.reset();
        IpTotals ips;
        DMARC_TRY_ASSIGN(ips, SumsPerIp(all));
        DMARC_TRY(KeepGroup(ips, *filter.source_group, *filter.source_value));
        return GroupIps(ips, group, limit);
      }
    }
    json rows = json::array();
    // The first value of each descriptive column names the group (all IPs of a service share
    // its name; an IP has one PTR name, country and AS).
    DMARC_TRY(Rows(
        fmt::format("SELECT r.{0}, count(DISTINCT r.source_ip), sum(r.count),"
                    " sum(r.count * r.dmarc_aligned), sum(r.count * r.spf_aligned),"
                    " sum(r.count * r.dkim_aligned), count(*), max(r.source_name),"
                    " max(r.source_type), max(r.source_reverse_dns),"
                    " max(r.source_country), max(r.source_asn), max(r.source_as_name),"
                    " max(r.source_base_domain)"
                    " FROM aggregate_records r{1} GROUP BY r.{0} ORDER BY 3 DESC"
                    " LIMIT ?7",
                    col, RecordWhere(filter)),
        filter,
        [&](Statement& s) {
          json row = {{"key", OptText(s, 0)},      {"ips", s.Int(1)},
                      {"messages", s.Int(2)},      {"dmarc_pass", s.Int(3)},
                      {"spf_aligned", s.Int(4)},   {"dkim_aligned", s.Int(5)},
                      {"records", s.Int(6)},       {"name", OptText(s, 7)},
                      {"type", OptText(s, 8)},     {"reverse_dns", OptText(s, 9)},
                      {"country", OptText(s, 10)}, {"asn", OptInt(s, 11)},
                      {"as_name", OptText(s, 12)}, {"base_domain", OptText(s, 13)}};
          if (group == "asn" && !s.IsNull(0)) row["key"] = std::to_string(s.Int(0));
          rows.push_back(std::move(row));
        },
        static_cast<std::int64_t>(limit)));
    return json{{"group", group}, {"rows", std::move(rows)}};
  }

  Result<nlohmann::json> Records(const DashboardFilter& filter, std::size_t limit) override {
    return InSnapshot([&]() -> Result<json> {
      json rows = json::array();
      DMARC_TRY(Rows(
          "SELECT r.id, r.report, a.org_name, a.report_id, r.interval_begin, r.interval_end,"
          " r.source_ip, r.source_reverse_dns, r.source_country, r.source_name,"
          " r.source_base_domain, r.source_asn, r.count, r.disposition, r.policy_dkim,"
          " r.policy_spf, r.dmarc_aligned, r.spf_aligned, r.dkim_aligned, r.header_from,"
          " r.envelope_from, r.envelope_to, r.domain FROM aggregate_records r"
          " JOIN aggregate_reports a ON a.id = r.report" +
              RecordWhere(filter) + " ORDER BY r.count DESC, r.id LIMIT ?7",
          filter, [&](Statement& s) { rows.push_back(RecordJson(s, true)); },
          static_cast<std::int64_t>(limit)));
      for (auto& row : rows) {
        const std::int64_t id = row["id"].get<std::int64_t>();
        DMARC_TRY(AddAuthResults(row, id, id + 1));
      }
      return json{{"rows", std::move(rows)}, {"limit", limit}};
    });
  }

  Result<nlohmann::json> Domains(const DashboardFilter& filter) override {
    return InSnapshot([&]() -> Result<json> {
      json header_from = json::array();
      const Facts facts = FactsFor(filter);
      DMARC_TRY(Rows(fmt::format("SELECT r.header_from, sum({0}), sum({0} * r.dmarc_aligned),"
                                 " sum({0} * r.spf_aligned), sum({0} * r.dkim_aligned), 0,"
                                 " r.domain FROM {1} r{2} GROUP BY r.header_from, r.domain"
                                 " ORDER BY 2 DESC",
                                 facts.messages, facts.table, RecordWhere(filter)),
                     filter, [&](Statement& s) {
                       header_from.push_back({{"header_from", s.Text(0)},
                                              {"messages", s.Int(1)},
                                              {"dmarc_pass", s.Int(2)},
                                              {"spf_aligned", s.Int(3)},
                                              {"dkim_aligned", s.Int(4)},

                                              {"policy_domain", s.Text(6)}});
                     }));
      json policies = json::array();
      DMARC_TRY(
          Rows("SELECT a.domain, a.p, a.sp, a.pct, a.adkim, a.aspf, a.np, a.fo,"
               " min(a.begin_ts), max(a.end_ts), count(*) FROM aggregate_reports a" +
                   ReportWhere(filter) +
                   " GROUP BY a.domain, a.p, a.sp, a.pct, a.adkim, a.aspf, a.np, a.fo"
                   " ORDER BY a.domain, min(a.begin_ts)",
               filter, [&](Statement& s) {
                 policies.push_back({{"domain", s.Text(0)},
                                     {"p", s.Text(1)},
                                     {"sp", s.Text(2)},
                                     {"pct", OptText(s, 3)},
                                     {"adkim", s.Text(4)},
                                     {"aspf", s.Text(5)},
                                     {"np", OptText(s, 6)},
                                     {"fo", OptText(s, 7)},
                                     {"first_seen", Day(s.Int(8))},
                                     {"last_seen", Day(s.Int(9))},
                                     {"reports", s.Int(10)}});
               }));
      return json{{"header_from", std::move(header_from)}, {"policies", std::move(policies)}};
    });
  }

  Result<nlohmann::json> Reporters(const DashboardFilter& filter) override {
    json rows = json::array();
    DMARC_TRY(
        Rows("SELECT a.org_name, max(a.org_email), count(*), sum(a.record_count),"
             " min(a.begin_ts), max(a.end_ts), count(DISTINCT a.domain),"
             " coalesce(sum(t.messages), 0), coalesce(sum(t.dmarc_pass), 0)"
             " FROM aggregate_reports a LEFT JOIN report_totals t ON t.report = a.id" +
                 ReportWhere(filter) + " GROUP BY a.org_name ORDER BY 3 DESC",
             filter, [&](Statement& s) {
               rows.push_back({{"org_name", s.Text(0)},
                               {"org_email", s.Text(1)},
                               {"reports", s.Int(2)},
                               {"records", s.Int(3)},
                               {"first_seen", Day(s.Int(4))},
                               {"last_seen", Day(s.Int(5))},
                               {"domains", s.Int(6)},
                               {"messages", s.Int(7)},
                               {"dmarc_pass", s.Int(8)}});
             }));
    return json{{"rows", std::move(rows)}};
  }

  Result<nlohmann::json> Reports(const DashboardFilter& filter, std::size_t limit,
                                 std::size_t offset) override {
    return InSnapshot([&]() -> Result<json> {
      json rows = json::array();
      std::int64_t total = 0;
      DMARC_TRY(Rows("SELECT count(*) FROM aggregate_reports a" + ReportWhere(filter), filter,
                     [&](Statement& s) { total = s.Int(0); }));
      DMARC_TRY(Rows(
          "SELECT a.id, a.org_name, a.report_id, a.domain, a.begin_ts, a.end_ts, a.record_count,"
          " coalesce(t.messages, 0), coalesce(t.dmarc_pass, 0), a.p"
          " FROM aggregate_reports a LEFT JOIN report_totals t ON t.report = a.id" +
              ReportWhere(filter) + " ORDER BY a.begin_ts DESC, a.id DESC LIMIT ?7 OFFSET ?8",
          filter,
          [&](Statement& s) {
            rows.push_back({{"id", s.Int(0)},
                            {"org_name", s.Text(1)},
                            {"report_id", s.Text(2)},
                            {"domain", s.Text(3)},
                            {"begin", FormatUtc(s.Int(4))},
                            {"end", FormatUtc(s.Int(5))},
                            {"records", s.Int(6)},
                            {"messages", s.Int(7)},
                            {"dmarc_pass", s.Int(8)},
                            {"p", s.Text(9)}});
          },
          static_cast<std::int64_t>(limit), static_cast<std::int64_t>(offset)));
      return json{{"total", total}, {"offset", offset}, {"limit", limit}, {"rows", rows}};
    });
  }

  Result<nlohmann::json> Report(std::int64_t id) override {
    return InSnapshot([&]() -> Result<json> {
      auto s = db_.Prepare(
          "SELECT id, org_name, org_email, org_extra_contact_info, report_id, begin_ts, end_ts,"
          " domain, xml_schema, generator, errors, adkim, aspf, p, sp, pct, fo, np, testing,"
          " discovery_method, origin, imported_at, coalesce(first_record, 0), record_count,"
          " x.size, length(x.bytes)"
          " FROM aggregate_reports a LEFT JOIN aggregate_raw x ON x.report = a.id WHERE a.id = ?1");
      if (!s) return MakeError(s.error());
      s->Bind(1, id);
      auto row = s->Step();
      if (!row) return MakeError(row.error());
      if (!*row) return MakeError(ErrorKind::kNotFound, fmt::format("no aggregate report {}", id));
      json policy = {{"domain", s->Text(7)},       {"adkim", s->Text(11)},
                     {"aspf", s->Text(12)},        {"p", s->Text(13)},
                     {"sp", s->Text(14)},          {"pct", OptText(*s, 15)},
                     {"fo", OptText(*s, 16)},      {"np", OptText(*s, 17)},
                     {"testing", OptText(*s, 18)}, {"discovery_method", OptText(*s, 19)}};
      json errors = json::parse(s->Text(10), nullptr, false);
      json out = {
          {"id", s->Int(0)},
          {"org_name", s->Text(1)},
          {"org_email", s->Text(2)},
          {"org_extra_contact_info", OptText(*s, 3)},
          {"report_id", s->Text(4)},
          {"begin", FormatUtc(s->Int(5))},
          {"end", FormatUtc(s->Int(6))},
          {"xml_schema", s->Text(8)},
          {"generator", OptText(*s, 9)},
          {"errors", errors.is_discarded() ? json::array() : errors},
          {"policy_published", std::move(policy)},
          {"origin", s->Text(20)},
          {"imported_at", FormatUtc(s->Int(21))},
          {"raw_xml", s->IsNull(24) ? json(nullptr)
                                    : json{{"size", s->Int(24)}, {"stored_bytes", s->Int(25)}}}};
      const std::int64_t first = s->Int(22), last = first + s->Int(23);
      json rows = json::array();
      auto rs = db_.Prepare(
          "SELECT r.id, r.report, '', '', r.interval_begin, r.interval_end, r.source_ip,"
          " r.source_reverse_dns, r.source_country, r.source_name, r.source_base_domain,"
          " r.source_asn, r.count, r.disposition, r.policy_dkim, r.policy_spf, r.dmarc_aligned,"
          " r.spf_aligned, r.dkim_aligned, r.header_from, r.envelope_from, r.envelope_to,"
          " r.domain FROM aggregate_records r WHERE r.id >= ?1 AND r.id < ?2 ORDER BY r.id");
      if (!rs) return MakeError(rs.error());
      rs->Bind(1, first).Bind(2, last);
      DMARC_TRY(Each(*rs, [&](Statement& st) { rows.push_back(RecordJson(st, false)); }));
      for (auto& r : rows) {
        const std::int64_t rid = r["id"].get<std::int64_t>();
        DMARC_TRY(AddAuthResults(r, rid, rid + 1));
      }
      out["records"] = std::move(rows);
      return out;
    });
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
    if (s->Text(0) != "gzip") {
      return MakeError(fmt::format("report {}: unknown encoding \"{}\"", id, s->Text(0)));
    }
    // What the store wrote: bounded by its recorded size, whatever the ratio.
    Limits limits;
    limits.max_decompressed_bytes = static_cast<std::size_t>(std::max<std::int64_t>(s->Int(1), 0));
    limits.max_compression_ratio = SIZE_MAX;
    auto xml = archive::Gunzip(s->Blob(2), limits);
    if (!xml) return MakeError(fmt::format("report {}: stored XML: {}", id, xml.error()));
    return std::pair{std::move(xml->data), fmt::format("report-{}.xml", id)};
  }

  Result<nlohmann::json> Rejections(const DashboardFilter& filter, std::size_t limit) override {
    json rows = json::array();
    const auto [from, to] = DayRange(filter.range);
    auto s = db_.Prepare(
        "SELECT i.id, i.received_at, i.origin, i.reason, i.sha256, b.size, length(b.raw)"
        " FROM rejected_inputs i JOIN rejected_blobs b ON b.sha256 = i.sha256"
        " WHERE i.received_at >= ?1 AND i.received_at < ?2 ORDER BY i.id DESC LIMIT ?3");
    if (!s) return MakeError(s.error());
    s->Bind(1, from).Bind(2, to).Bind(3, static_cast<std::int64_t>(limit));
    DMARC_TRY(Each(*s, [&](Statement& st) {
      rows.push_back({{"id", st.Int(0)},
                      {"received_at", FormatUtc(st.Int(1))},
                      {"origin", st.Text(2)},
                      {"reason", st.Text(3)},
                      {"sha256", st.Text(4)},
                      {"size", st.Int(5)},
                      {"stored_bytes", st.Int(6)}});
    }));
    return json{{"rows", std::move(rows)}};
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

  Result<nlohmann::json> FailureReports(const DashboardFilter& filter, bool with_samples,
                                        std::size_t limit) override {
    json rows = json::array();
    const auto [from, to] = DayRange(filter.range);
    auto s = db_.Prepare(
        std::string("SELECT id, arrival_ts, reported_domain, source_ip, feedback_type, data,"
                    " origin FROM failure_reports WHERE arrival_ts >= ?1 AND arrival_ts < ?2") +
        (filter.range.domain ? " AND reported_domain = ?3" : "") +
        " ORDER BY arrival_ts DESC, id DESC LIMIT ?4");
    if (!s) return MakeError(s.error());
    s->Bind(1, from).Bind(2, to).Bind(4, static_cast<std::int64_t>(limit));
    if (filter.range.domain) s->Bind(3, *filter.range.domain);
    DMARC_TRY(Each(*s, [&](Statement& st) {
      json data = json::parse(st.Text(5), nullptr, false);
      if (data.is_discarded() || !data.is_object()) data = json::object();
      if (!with_samples) {
        for (const char* key : {"sample", "parsed_sample", "sample_headers_only"}) {
          data.erase(key);
        }
      }
      rows.push_back({{"id", st.Int(0)},
                      {"arrival", FormatUtc(st.Int(1))},
                      {"reported_domain", OptText(st, 2)},
                      {"source_ip", OptText(st, 3)},
                      {"feedback_type", OptText(st, 4)},
                      {"origin", st.Text(6)},
                      {"data", std::move(data)}});
    }));
    return json{{"rows", std::move(rows)}, {"samples_shown", with_samples}};
  }

  Result<nlohmann::json> SmtpTls(const DashboardFilter& filter) override {
    return InSnapshot([&]() -> Result<json> {
      const auto [from, to] = DayRange(filter.range);
      const std::string where = std::string(" WHERE t.begin_ts >= ?1 AND t.begin_ts < ?2") +
                                (filter.range.domain ? " AND p.policy_domain = ?3" : "");
      auto query = [&](const std::string& sql, auto each) -> Result<bool> {
        auto s = db_.Prepare(sql);
        if (!s) return MakeError(s.error());
        s->Bind(1, from).Bind(2, to);
        if (filter.range.domain) s->Bind(3, *filter.range.domain);
        return Each(*s, each);
      };
      json daily = json::array(), types = json::array(), policies = json::array();
      DMARC_TRY(
          query("SELECT t.begin_ts - (t.begin_ts % 86400), sum(p.successful_session_count),"
                " sum(p.failed_session_count) FROM smtp_tls_reports t JOIN"
                " smtp_tls_policies p ON p.report = t.id" +
                    where + " GROUP BY 1 ORDER BY 1",
                [&](Statement& s) {
                  daily.push_back(
                      {{"day", Day(s.Int(0))}, {"successful", s.Int(1)}, {"failed", s.Int(2)}});
                }));
      DMARC_TRY(
          query("SELECT t.begin_ts - (t.begin_ts % 86400), f.result_type,"
                " sum(f.failed_session_count) FROM smtp_tls_reports t JOIN"
                " smtp_tls_policies p ON p.report = t.id JOIN smtp_tls_failure_details f ON"
                " f.policy = p.id" +
                    where + " GROUP BY 1, 2 ORDER BY 1, 2",
                [&](Statement& s) {
                  types.push_back(
                      {{"day", Day(s.Int(0))}, {"result_type", s.Text(1)}, {"failed", s.Int(2)}});
                }));
      DMARC_TRY(
          query("SELECT p.policy_domain, p.policy_type, p.mx_host_patterns,"
                " sum(p.successful_session_count), sum(p.failed_session_count),"
                " count(DISTINCT t.id), group_concat(DISTINCT t.organization_name)"
                " FROM smtp_tls_reports t JOIN smtp_tls_policies p ON p.report = t.id" +
                    where + " GROUP BY 1, 2, 3 ORDER BY 5 DESC, 4 DESC",
                [&](Statement& s) {
                  policies.push_back({{"policy_domain", s.Text(0)},
                                      {"policy_type", s.Text(1)},
                                      {"mx_host_patterns", OptText(s, 2)},
                                      {"successful", s.Int(3)},
                                      {"failed", s.Int(4)},
                                      {"reports", s.Int(5)},
                                      {"reporters", OptText(s, 6)}});
                }));
      return json{{"daily", std::move(daily)},
                  {"failure_types", std::move(types)},
                  {"policies", std::move(policies)}};
    });
  }

 private:
  template <class F>
  static Result<bool> Each(Statement& s, F&& f) {
    for (;;) {
      auto row = s.Step();
      if (!row) return MakeError(row.error());
      if (!*row) return true;
      f(s);
    }
  }

  template <class F>
  Result<bool> Rows(const std::string& sql, const DashboardFilter& filter, F&& f,
                    std::optional<std::int64_t> limit = std::nullopt,
                    std::optional<std::int64_t> offset = std::nullopt) {
    auto s = db_.Prepare(sql);
    if (!s) return MakeError(s.error());
    BindFilter(*s, filter);
    if (limit) s->Bind(kLimit, *limit);
    if (offset) s->Bind(kOffset, *offset);
    return Each(*s, f);
  }

  // Runs reads in one transaction so all numbers of an answer come from one snapshot.
  template <class F>
  Result<json> InSnapshot(F&& f) {
    if (in_snapshot_) return f();
    DMARC_TRY(db_.Exec("BEGIN"));
    in_snapshot_ = true;
    auto r = f();
    in_snapshot_ = false;
    (void)db_.Exec("COMMIT");
    return r;
  }

  // What enrichment knows of an address (its row in ip_info_cache). The texts are in one buffer
  // (texts_), so reading every address allocates once per buffer growth, not once per value.
  enum Field { kReverseDns, kBaseDomain, kCountry, kAsName, kName, kType, kFields };
  struct Address {
    bool known = false;  // has a row
    bool has_asn = false;
    std::uint8_t present = 0;  // bit f: field f has a value
    std::int64_t asn = 0;
    std::array<std::uint64_t, kFields> at{};  // offsets in texts_
    std::array<std::uint32_t, kFields> size{};
  };

  std::optional<std::string_view> TextOf(const Address* a, Field f) const {
    if (!a || !(a->present & (1u << f))) return std::nullopt;
    return std::string_view(texts_).substr(a->at[f], a->size[f]);
  }

  json DescribeAddress(const Address* a) const {
    auto text = [&](Field f) {
      auto t = TextOf(a, f);
      return t ? json(std::string(*t)) : json(nullptr);
    };
    return json{{"reverse_dns", text(kReverseDns)},
                {"base_domain", text(kBaseDomain)},
                {"country", text(kCountry)},
                {"asn", a && a->has_asn ? json(a->asn) : json(nullptr)},
                {"as_name", text(kAsName)},
                {"name", text(kName)},
                {"type", text(kType)}};
  }

  // Reads what is known of every address, by source_ips id, unless the store is unchanged since
  // the last read (PRAGMA data_version changes with every commit of another connection): the
  // views grouped by an address's service, country, ... need all of it, and reading it costs
  // more than the sums themselves. Two scans in address order, merged (no lookup per address).
  Result<bool> LoadAddresses() {
    auto pragma = db_.Prepare("PRAGMA data_version");
    if (!pragma) return MakeError(pragma.error());
    std::int64_t version = -1;
    DMARC_TRY(Each(*pragma, [&](Statement& s) { version = s.Int(0); }));
    if (version == addresses_version_) return true;
    addresses_.clear();
    texts_.clear();
    addresses_version_ = -1;
    auto numbers = db_.Prepare("SELECT ip, id FROM source_ips ORDER BY ip");
    if (!numbers) return MakeError(numbers.error());
    auto details = db_.Prepare(
        "SELECT ip, reverse_dns, base_domain, country, asn, as_name, name, type"
        " FROM ip_info_cache ORDER BY ip");
    if (!details) return MakeError(details.error());
    bool more_details = false;
    DMARC_TRY_ASSIGN(more_details, details->Step());
    for (;;) {
      bool more = false;
      DMARC_TRY_ASSIGN(more, numbers->Step());
      if (!more) break;
      const std::string_view ip = numbers->View(0);
      while (more_details && details->View(0) < ip) {
        DMARC_TRY_ASSIGN(more_details, details->Step());
      }
      if (!more_details || details->View(0) != ip) continue;
      const Statement& d = *details;
      const auto id = static_cast<std::size_t>(std::max<std::int64_t>(numbers->Int(1), 0));
      if (id >= addresses_.size()) addresses_.resize(id + 1);
      Address& a = addresses_[id];
      a.known = true;
      a.has_asn = !d.IsNull(4);
      a.asn = d.Int(4);
      // Columns of the fields, in Field order.
      static constexpr std::array<int, kFields> kColumns = {1, 2, 3, 5, 6, 7};
      for (int f = 0; f < kFields; ++f) {
        if (d.IsNull(kColumns[f])) continue;
        const std::string_view text = d.View(kColumns[f]);
        a.present |= static_cast<std::uint8_t>(1u << f);
        a.at[f] = texts_.size();
        a.size[f] = static_cast<std::uint32_t>(text.size());
        texts_.append(text);
      }
    }
    addresses_version_ = version;
    return true;
  }

  const Address* AddressOf(std::int64_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= addresses_.size()) return nullptr;
    const Address& a = addresses_[static_cast<std::size_t>(id)];
    return a.known ? &a : nullptr;
  }

  struct IpSums {
    std::int64_t messages = 0, dmarc_pass = 0, spf_aligned = 0, dkim_aligned = 0, records = 0;
  };
  using IpTotals = std::unordered_map<std::int64_t, IpSums>;  // source_ips id → sums

  // FROM and WHERE of the per-address rollup that answers filter (which has no header-from,
  // drill-down or reporter): without days, the all-days rollups (one row per address, and per
  // policy domain with a domain); else the daily one.
  static std::string PerAddressFrom(const DashboardFilter& filter) {
    if (filter.range.from || filter.range.to) return " FROM daily_sources r" + SourcesWhere(filter);
    std::string sql = filter.range.domain ? " FROM source_totals r WHERE r.domain = ?3"
                                          : " FROM ip_totals r WHERE 1";
    if (filter.only_failing) sql += " AND r.messages > r.dmarc_pass";
    return sql;
  }

  // Per source IP sums from the per-IP daily rollup, added up here (a hash map is faster than
  // SQLite's sorted GROUP BY over every day and IP). Failing records are never aligned: only
  // their messages count.
  Result<IpTotals> SumsPerIp(const DashboardFilter& filter) {
    IpTotals out;
    const bool failing = filter.only_failing;
    DMARC_TRY(
        Rows("SELECT r.ip, r.messages, r.dmarc_pass, r.spf_aligned, r.dkim_aligned,"
             " r.records" +
                 PerAddressFrom(filter),
             filter, [&](Statement& s) {
               IpSums& t = out[s.Int(0)];
               if (failing) {
                 t.messages += s.Int(1) - s.Int(2);
                 return;
               }
               t.messages += s.Int(1);
               t.dmarc_pass += s.Int(2);
               t.spf_aligned += s.Int(3);
               t.dkim_aligned += s.Int(4);
               t.records += s.Int(5);
             }));
    return out;
  }

  // Sources grouped by IP or by an attribute of the IP from the enrichment cache, largest first.
  Result<json> GroupIps(const IpTotals& ips, std::string_view group, std::size_t limit) {
    struct Group {
      json row;
      IpSums sums;
      std::int64_t ips = 0;
    };
    // Columns: ip, reverse_dns, base_domain, country, asn, as_name, name, type.
    auto describe = [&](Statement& s) {
      return json{{"reverse_dns", OptText(s, 1)}, {"base_domain", OptText(s, 2)},
                  {"country", OptText(s, 3)},     {"asn", OptInt(s, 4)},
                  {"as_name", OptText(s, 5)},     {"name", OptText(s, 6)},
                  {"type", OptText(s, 7)}};
    };
    auto finish = [](Group& g) {
      g.row["ips"] = g.ips;
      g.row["messages"] = g.sums.messages;
      g.row["dmarc_pass"] = g.sums.dmarc_pass;
      g.row["spf_aligned"] = g.sums.spf_aligned;
      g.row["dkim_aligned"] = g.sums.dkim_aligned;
      g.row["records"] = g.sums.records;
      return std::move(g.row);
    };
    auto add = [](Group& g, const IpSums& t) {
      ++g.ips;
      g.sums.messages += t.messages;
      g.sums.dmarc_pass += t.dmarc_pass;
      g.sums.spf_aligned += t.spf_aligned;
      g.sums.dkim_aligned += t.dkim_aligned;
      g.sums.records += t.records;
    };
    std::vector<Group> groups;
    if (group == "ip") {
      std::vector<std::pair<std::int64_t, const IpSums*>> order;
      order.reserve(ips.size());
      for (const auto& [id, t] : ips) order.emplace_back(id, &t);
      const std::size_t n = std::min(limit, order.size());
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                        [](const auto& a, const auto& b) {
                          return a.second->messages != b.second->messages
                                     ? a.second->messages > b.second->messages
                                     : a.first < b.first;
                        });
      auto lookup = db_.Prepare(
          "SELECT s.ip, c.reverse_dns, c.base_domain, c.country, c.asn, c.as_name, c.name, c.type"
          " FROM source_ips s LEFT JOIN ip_info_cache c ON c.ip = s.ip WHERE s.id = ?1");
      if (!lookup) return MakeError(lookup.error());
      for (std::size_t i = 0; i < n; ++i) {
        lookup->Bind(1, order[i].first);
        auto row = lookup->Step();
        if (!row) return MakeError(row.error());
        Group g;
        g.row = *row ? describe(*lookup) : json::object();
        g.row["key"] = *row ? json(lookup->Text(0)) : json(nullptr);
        lookup->Reset();
        add(g, *order[i].second);
        groups.push_back(std::move(g));
      }
    } else {
      DMARC_TRY(LoadAddresses());
      std::map<std::string, Group> by_key;  // "" for unknown, else "=" + key
      std::map<std::string, std::pair<std::int64_t, const Address*>> describer;  // most messages
      std::string key;
      for (const auto& [id, t] : ips) {
        const Address* a = AddressOf(id);
        auto value = GroupValue(a, group);
        key = value ? "=" + *value : std::string();
        add(by_key[key], t);
        if (!a) continue;
        auto [d, fresh] = describer.try_emplace(key, t.messages, a);
        if (!fresh && t.messages > d->second.first) d->second = {t.messages, a};
      }
      for (auto& [k, g] : by_key) {
        auto d = describer.find(k);
        g.row = d == describer.end() ? DescribeAddress(nullptr) : DescribeAddress(d->second.second);
        g.row["key"] = k.empty() ? json(nullptr) : json(k.substr(1));
      }
      for (auto& [k, g] : by_key) groups.push_back(std::move(g));
      std::stable_sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) {
        return a.sums.messages > b.sums.messages;
      });
      if (groups.size() > limit) groups.resize(limit);
    }
    json rows = json::array();
    for (auto& g : groups) rows.push_back(finish(g));
    return json{{"group", group}, {"rows", std::move(rows)}};
  }

  // The value an address has in a group other than "ip" (nullopt: unknown).
  std::optional<std::string> GroupValue(const Address* a, std::string_view group) const {
    if (!a) return std::nullopt;
    if (group == "asn") return a->has_asn ? std::optional(std::to_string(a->asn)) : std::nullopt;
    auto text = TextOf(a, group == "ptr"           ? kReverseDns
                          : group == "base_domain" ? kBaseDomain
                          : group == "country"     ? kCountry
                                                   : kName);
    return text ? std::optional<std::string>(*text) : std::nullopt;
  }

  // Keeps the addresses of ips whose value in group is value ("" keeps those with none).
  Result<bool> KeepGroup(IpTotals& ips, std::string_view group, const std::string& value) {
    if (group == "ip") {
      auto s = db_.Prepare("SELECT id FROM source_ips WHERE ip = ?1");
      if (!s) return MakeError(s.error());
      s->Bind(1, value);
      std::int64_t id = -1;
      DMARC_TRY(Each(*s, [&](Statement& st) { id = st.Int(0); }));
      std::erase_if(ips, [&](const auto& ip) { return ip.first != id; });
      return true;
    }
    DMARC_TRY(LoadAddresses());
    std::erase_if(ips, [&](const auto& ip) {
      return GroupValue(AddressOf(ip.first), group).value_or(std::string()) != value;
    });
    return true;
  }

  Result<json> SourcesByIp(const DashboardFilter& filter, std::string_view group,
                           std::size_t limit) {
    IpTotals ips;
    DMARC_TRY_ASSIGN(ips, SumsPerIp(filter));
    return GroupIps(ips, group, limit);
  }

  // known_sources: the number of distinct source IPs when the caller has counted them. With daily
  // and dispositions, also messages per day and per disposition, from the same pass over the
  // facts in range.
  Result<json> Totals(const DashboardFilter& filter,
                      std::optional<std::size_t> known_sources = std::nullopt,
                      json* daily = nullptr, json* dispositions = nullptr) {
    const Facts f = FactsFor(filter);
    std::int64_t records = 0, messages = 0, pass = 0, spf = 0, dkim = 0;
    std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> days;  // messages, passing
    std::vector<std::pair<std::string, std::int64_t>> by_disposition;    // a handful of values
    DMARC_TRY(Rows(fmt::format("SELECT r.day, r.disposition, r.dmarc_aligned, r.spf_aligned,"
                               " r.dkim_aligned, {}, {} FROM {} r{}",
                               f.records, f.messages, f.table, RecordWhere(filter)),
                   filter, [&](Statement& s) {
                     const std::int64_t m = s.Int(6);
                     const bool passed = s.Int(2) != 0;
                     records += s.Int(5);
                     messages += m;
                     if (passed) pass += m;
                     if (s.Int(3) != 0) spf += m;
                     if (s.Int(4) != 0) dkim += m;
                     if (daily) {
                       auto& day = days[s.Int(0)];
                       day.first += m;
                       if (passed) day.second += m;
                     }
                     if (dispositions) {
                       const std::string_view name = s.View(1);
                       auto it = std::find_if(by_disposition.begin(), by_disposition.end(),
                                              [&](const auto& d) { return d.first == name; });
                       if (it == by_disposition.end()) {
                         by_disposition.emplace_back(name, m);
                       } else {
                         it->second += m;
                       }
                     }
                   }));
    json t = {{"records", records}, {"messages", messages},
              {"dmarc_pass", pass}, {"dmarc_fail", messages - pass},
              {"spf_aligned", spf}, {"dkim_aligned", dkim}};
    if (daily) {
      for (const auto& [day, m] : days) {
        daily->push_back({{"day", Day(day)},
                          {"messages", m.first},
                          {"dmarc_pass", m.second},
                          {"dmarc_fail", m.first - m.second}});
      }
    }
    if (dispositions) {
      for (const auto& [name, m] : by_disposition) (*dispositions)[name] = m;
    }
    if (known_sources) {
      t["sources"] = *known_sources;
    } else if (!Rollup(filter) || filter.header_from) {
      DMARC_TRY(
          Rows("SELECT count(DISTINCT r.source_ip) FROM aggregate_records r" + RecordWhere(filter),
               filter, [&](Statement& s) { t["sources"] = s.Int(0); }));
    } else {  // from the per-address rollups, in a hash set (faster than a sorted DISTINCT)
      std::unordered_set<std::int64_t> ips;
      DMARC_TRY(Rows("SELECT r.ip" + PerAddressFrom(filter), filter,
                     [&](Statement& s) { ips.insert(s.Int(0)); }));
      t["sources"] = ips.size();
    }
    DMARC_TRY(Rows("SELECT count(*), count(DISTINCT a.org_name) FROM aggregate_reports a" +
                       ReportWhere(filter),
                   filter, [&](Statement& s) {
                     t["reports"] = s.Int(0);
                     t["reporters"] = s.Int(1);
                   }));
    return t;
  }

  // Columns as selected by Records() and Report().
  static json RecordJson(const Statement& s, bool with_report) {
    json j = {{"id", s.Int(0)},
              {"report", s.Int(1)},
              {"interval_begin", FormatUtc(s.Int(4))},
              {"interval_end", FormatUtc(s.Int(5))},
              {"source_ip", s.Text(6)},
              {"reverse_dns", OptText(s, 7)},
              {"country", OptText(s, 8)},
              {"name", OptText(s, 9)},
              {"base_domain", OptText(s, 10)},
              {"asn", OptInt(s, 11)},
              {"count", s.Int(12)},
              {"disposition", s.Text(13)},
              {"policy_dkim", s.Text(14)},
              {"policy_spf", s.Text(15)},
              {"dmarc_aligned", s.Int(16) != 0},
              {"spf_aligned", s.Int(17) != 0},
              {"dkim_aligned", s.Int(18) != 0},
              {"header_from", s.Text(19)},
              {"envelope_from", OptText(s, 20)},
              {"envelope_to", OptText(s, 21)},
              {"policy_domain", s.Text(22)}};
    if (with_report) {
      j["org_name"] = s.Text(2);
      j["report_id"] = s.Text(3);
    }
    return j;
  }

  // Adds dkim, spf and overrides arrays to record row `row` (records first .. last-1).
  Result<bool> AddAuthResults(json& row, std::int64_t first, std::int64_t last) {
    json dkim = json::array(), spf = json::array(), overrides = json::array();
    // Called once per record shown: each statement is prepared once and kept.
    std::size_t next = 0;
    auto run = [&](const char* sql, auto each) -> Result<bool> {
      std::optional<Statement>& s = auth_statements_[next++];
      if (!s) {
        auto prepared = db_.Prepare(sql);
        if (!prepared) return MakeError(prepared.error());
        s.emplace(std::move(prepared).value());
      }
      s->Bind(1, first).Bind(2, last);
      auto done = Each(*s, each);
      s->Reset();
      return done;
    };
    DMARC_TRY(
        run("SELECT domain, selector, result, human_result FROM aggregate_dkim WHERE"
            " record >= ?1 AND record < ?2 ORDER BY record, position",
            [&](Statement& s) {
              dkim.push_back({{"domain", s.Text(0)},
                              {"selector", s.Text(1)},
                              {"result", s.Text(2)},
                              {"human_result", OptText(s, 3)}});
            }));
    DMARC_TRY(
        run("SELECT domain, scope, result, human_result FROM aggregate_spf WHERE"
            " record >= ?1 AND record < ?2 ORDER BY record, position",
            [&](Statement& s) {
              spf.push_back({{"domain", s.Text(0)},
                             {"scope", s.Text(1)},
                             {"result", s.Text(2)},
                             {"human_result", OptText(s, 3)}});
            }));
    DMARC_TRY(
        run("SELECT type, comment FROM aggregate_overrides WHERE record >= ?1 AND"
            " record < ?2 ORDER BY record, position",
            [&](Statement& s) {
              overrides.push_back({{"type", OptText(s, 0)}, {"comment", OptText(s, 1)}});
            }));
    row["dkim"] = std::move(dkim);
    row["spf"] = std::move(spf);
    row["policy_override_reasons"] = std::move(overrides);
    return true;
  }

  Database db_;
  bool in_snapshot_ = false;
  std::vector<Address> addresses_;       // by source_ips id (dense): what is known
  std::string texts_;                    // their texts
  std::int64_t addresses_version_ = -1;  // data_version they were read at
  std::array<std::optional<Statement>, 3> auth_statements_;  // of AddAuthResults
};

}  // namespace

const char* SourceGroupColumn(std::string_view group) {
  for (const auto& g : kSourceGroups) {
    if (group == g.name) return g.column;
  }
  return nullptr;
}

Result<std::unique_ptr<DashboardQueries>> OpenDashboard(const std::string& url) {
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
