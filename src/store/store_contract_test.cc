// The contract every ReportStore implementation must keep (see store.h). Each back end adds
// itself to kBackends: SQLite and PostgreSQL (on the suite's shared server) run these same tests.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "archive/archive.h"
#include "base/text.h"
#include "base/time.h"
#include "pipeline/extract.h"
#include "pipeline/stream_store.h"
#include "sinks/parsedmarc_format.h"
#include "sinks/report_json.h"
#include "store/advisor.h"
#include "store/advisor_scenario.h"
#include "store/dashboard.h"
#include "store/sealed_token.h"
#include "store/sender_index.h"
#include "store/senders.h"
#include "store/senders_scenario.h"
#include "store/sha256.h"
#include "store/store.h"
#include "testing/postgres.h"
#include "testing/sqlite_damage.h"
#include "testing/sqlite_schema_undo.h"
#include "testing/test_util.h"

namespace dmarc::store {
namespace {

namespace fs = std::filesystem;
using dmarc::testing::ReadFile;

namespace {
// What the sqlite3 command prints for sql on the store file at path.
std::string SqliteCli(const std::string& path, const std::string& sql) {
  const std::string out = path + ".out";
  EXPECT_EQ(std::system(("sqlite3 '" + path + "' \"" + sql + "\" >'" + out + "'").c_str()), 0);
  std::string text = ReadFile(out);
  std::filesystem::remove(out);
  return text;
}
}  // namespace
using dmarc::testing::TestData;

struct Backend {
  std::string name;
  // Returns a URL for a new, empty store.
  std::function<std::string(const std::string& test_name)> fresh_url;
};

const Backend kBackends[] = {
    {"sqlite",
     [](const std::string& test) {
       const fs::path dir = fs::temp_directory_path() / ("dmarc-store-" + std::to_string(getpid()));
       fs::create_directories(dir);
       const fs::path file = dir / (test + ".db");
       for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
       return "sqlite:" + file.string();
     }},
    {"postgres", [](const std::string& test) { return testing::SharedPostgresDatabase(test); }},
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

std::vector<model::AggregateReport> Samples(const std::vector<std::string>& names) {
  std::vector<model::AggregateReport> out;
  for (const auto& name : names) {
    const std::string path = TestData("real/parsedmarc-samples/" + name);
    auto extracted = pipeline::ExtractReports(ReadFile(path), path, {});
    EXPECT_EQ(extracted.reports.size(), 1u) << name;
    for (auto& f : extracted.reports) out.push_back(std::move(f.aggregate));
  }
  return out;
}

std::string Json(const model::AggregateReport& r) {
  std::string s;
  sinks::AppendAggregateJson(r, s, false);
  return s;
}

Batch BatchOf(const std::vector<model::AggregateReport>& reports) {
  Batch b;
  for (const auto& r : reports) b.aggregates.push_back({"test", &r});
  return b;
}

// The batch of these reports, each with a "raw XML" (its JSON, gzip-compressed as stores before
// zstd kept it: any bytes do for the store) kept in raw, which must outlive the batch.
Batch BatchWithRaw(const std::vector<model::AggregateReport>& reports,
                   std::vector<std::string>& raw) {
  raw.clear();
  Batch b = BatchOf(reports);
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const std::string json = Json(reports[i]);
    raw.push_back(archive::Gzip(json).value());
    b.aggregates[i].raw_xml_packed = raw.back();
    b.aggregates[i].raw_xml_size = json.size();
    b.aggregates[i].raw_xml_encoding = "gzip";
  }
  return b;
}

class StoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  std::unique_ptr<ReportStore> OpenFresh() {
    url_ = GetParam().fresh_url(::testing::UnitTest::GetInstance()->current_test_info()->name());
    return Reopen();
  }
  std::unique_ptr<ReportStore> Reopen(OpenOptions options = {}) {
    auto s = OpenStore(url_, options);
    EXPECT_TRUE(s.ok()) << s.error();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::string url_;
};

const std::vector<std::string> kDistinct = {
    "aggregate/rfc9990-sample.xml",
    "aggregate/rfc9990-example.net!example.com!1700000000!1700086399.xml",
    "aggregate/empty_reason.xml",
    "aggregate/ikea.com!example.de!1538690400!1538776800.xml",
    "aggregate/invalid_xml.xml",
    "aggregate_invalid/report_with_upper_cased_pass.xml",
    "extract_report/nice-input.xml",
    "aggregate/usssa.com!example.com!1538784000!1538870399.xml",
    "aggregate/old_draft_from_wiki.xml",
    "aggregate/twilight.eml",
};

TEST_P(StoreContract, ExportGivesBackExactlyWhatWasStored) {
  auto st = OpenFresh();
  const auto reports = Samples(kDistinct);
  auto r = st->Store(BatchOf(reports));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->new_reports, reports.size());
  std::vector<std::string> exported;
  auto n = st->ForEachAggregate(
      {}, [&](model::AggregateReport&& rep) { exported.push_back(Json(rep)); });
  ASSERT_TRUE(n.ok()) << n.error();
  ASSERT_EQ(exported.size(), reports.size());
  for (std::size_t i = 0; i < reports.size(); ++i) {
    EXPECT_EQ(exported[i], Json(reports[i])) << kDistinct[i];
  }
}

std::vector<std::string> ExportAll(ReportStore& st);

// The samples, the first record of the first given every shape of DKIM, SPF and override
// results: several of each, in an order that is not sorted, human results absent, empty and with
// quotes, a backslash and non-ASCII letters, an override without a type and one without a comment.
std::vector<model::AggregateReport> SamplesWithEveryResultShape() {
  auto reports = Samples(kDistinct);
  model::Record& rec = reports.at(0).records.at(0);
  rec.dkim = {{"z.example", "s1", "pass", std::nullopt},
              {"b.example", "s\"2\\", "fail", "bad \"key\" \u2014 \u00fc\t"},
              {"c.example", "", "none", ""}};
  rec.spf = {{"b.example", "mfrom", "pass", "ok"}, {"a.example", "helo", "softfail", std::nullopt}};
  rec.policy_evaluated.policy_override_reasons = {{"forwarded", std::nullopt},
                                                  {std::nullopt, "comment only"}};
  return reports;
}

TEST_P(StoreContract, RecordsGiveBackEveryShapeOfTheirResults) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  const auto reports = SamplesWithEveryResultShape();
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  const std::vector<std::string> exported = ExportAll(*st);
  ASSERT_EQ(exported.size(), reports.size());
  for (std::size_t i = 0; i < reports.size(); ++i) EXPECT_EQ(exported[i], Json(reports[i]));
  // The dashboard's report page reads them too.
  auto q = OpenDashboard(url_);
  ASSERT_TRUE(q.ok()) << q.error();
  auto page = (*q)->Records({}, {});
  ASSERT_TRUE(page.ok()) << page.error();
  const model::Record& want = reports[0].records[0];
  const auto it = std::find_if(page->rows.begin(), page->rows.end(),
                               [](const RecordRow& r) { return r.dkim.size() == 3; });
  ASSERT_NE(it, page->rows.end());
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(it->dkim[i].domain, want.dkim[i].domain);
    EXPECT_EQ(it->dkim[i].selector, want.dkim[i].selector);
    EXPECT_EQ(it->dkim[i].human_result, want.dkim[i].human_result);
  }
  ASSERT_EQ(it->spf.size(), 2u);
  EXPECT_EQ(it->spf[1].scope, "helo");
  EXPECT_EQ(it->spf[1].human_result, std::nullopt);
  ASSERT_EQ(it->policy_override_reasons.size(), 2u);
  EXPECT_EQ(it->policy_override_reasons[0].comment, std::nullopt);
  EXPECT_EQ(it->policy_override_reasons[1].type, std::nullopt);
  EXPECT_EQ(it->policy_override_reasons[1].comment, "comment only");
}

// SQLite migration 14: a store written before it, with the results in tables of their own, gives
// the same reports back once migrated; each record's JSON columns hold exactly what the writer
// writes now, and the tables are gone.
TEST(SqliteMigration, ResultsInTablesOfTheirOwnMoveIntoTheirRecords) {
  const std::string url = kBackends[0].fresh_url("ResultsInTablesOfTheirOwnMoveIntoTheirRecords");
  const std::string file = url.substr(std::string_view("sqlite:").size());
  const auto reports = SamplesWithEveryResultShape();
  const std::string columns = "SELECT id, dkim, spf, overrides FROM aggregate_records ORDER BY id";
  {
    auto st = OpenStore(url, {});
    ASSERT_TRUE(st.ok()) << st.error();
    ASSERT_TRUE((*st)->Store(BatchOf(reports)).ok());
  }
  const std::string written = SqliteCli(file, columns);
  ASSERT_NE(written.find("comment only"), std::string::npos);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, testing::kUndoDailyMessagesView, nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_exec(db, testing::kUndoAuthResultsInRecords, nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 13", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  std::size_t dkim_results = 0;
  for (const auto& r : reports) {
    for (const auto& rec : r.records) dkim_results += rec.dkim.size();
  }
  EXPECT_EQ(SqliteCli(file, "SELECT count(*) FROM aggregate_dkim"),
            std::to_string(dkim_results) + "\n");
  {
    auto st = OpenStore(url, {});
    ASSERT_TRUE(st.ok()) << st.error();
    const std::vector<std::string> exported = ExportAll(**st);
    ASSERT_EQ(exported.size(), reports.size());
    for (std::size_t i = 0; i < reports.size(); ++i) EXPECT_EQ(exported[i], Json(reports[i]));
  }
  EXPECT_EQ(SqliteCli(file, columns), written);
  EXPECT_EQ(SqliteCli(file,
                      "SELECT count(*) FROM sqlite_master WHERE name IN ('aggregate_dkim',"
                      " 'aggregate_spf', 'aggregate_overrides')"),
            "0\n");
}

// SQLite migration 15: daily_messages, a table the writer kept beside daily_results, becomes a
// view of daily_results. A store written before it (its table filled from the records) reads
// the same rows once migrated, and a batch stored after the migration adds to them as the table
// did.
TEST(SqliteMigration, DailyMessagesReadTheSameAsAViewOfDailyResults) {
  const std::string url = kBackends[0].fresh_url("DailyMessagesReadTheSameAsAViewOfDailyResults");
  const std::string file = url.substr(std::string_view("sqlite:").size());
  auto reports = SamplesWithEveryResultShape();
  // A row of daily_messages summed over records that pass DMARC and records that do not.
  auto& recs = reports.at(0).records;
  model::Record passing = recs.at(0), failing = recs.at(0);
  passing.alignment.dmarc = true;
  failing.alignment.dmarc = false;
  failing.count = 7;
  recs.push_back(passing);
  recs.push_back(failing);
  const std::string rows = "SELECT * FROM daily_messages ORDER BY 1, 2, 3, 4";
  {
    auto st = OpenStore(url, {});
    ASSERT_TRUE(st.ok()) << st.error();
    ASSERT_TRUE((*st)->Store(BatchOf(reports)).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, testing::kUndoDailyMessagesView, nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 14", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const std::string table = SqliteCli(file, rows);
  ASSERT_EQ(SqliteCli(file, "SELECT type FROM sqlite_master WHERE name = 'daily_messages'"),
            "table\n");
  ASSERT_NE(SqliteCli(file,
                      "SELECT count(*) FROM daily_messages WHERE dmarc_pass > 0 AND"
                      " dmarc_pass < messages"),
            "0\n");
  {
    auto st = OpenStore(url, {});
    ASSERT_TRUE(st.ok()) << st.error();
  }
  EXPECT_EQ(SqliteCli(file, "SELECT type FROM sqlite_master WHERE name = 'daily_messages'"),
            "view\n");
  EXPECT_EQ(SqliteCli(file, rows), table);
  // The same reports under other ids: every row's sums double.
  auto again = reports;
  for (auto& r : again) r.report_metadata.report_id += "-again";
  {
    auto st = OpenStore(url, {});
    ASSERT_TRUE(st.ok()) << st.error();
    ASSERT_TRUE((*st)->Store(BatchOf(again)).ok());
  }
  EXPECT_EQ(SqliteCli(file,
                      "SELECT day, domain, header_from, disposition, records / 2,"
                      " messages / 2, dmarc_pass / 2 FROM daily_messages ORDER BY 1, 2, 3, 4"),
            table);
}

// Export reads reports in batches and their records by the days of their period: reports
// whose records are dated outside it (as a writer may store them) and more reports than one
// batch come back whole and in order.
TEST_P(StoreContract, ExportGivesBackManyReportsAndRecordsDatedOutsideTheirPeriod) {
  auto st = OpenFresh();
  auto base = Samples({"aggregate/twilight.eml"})[0];
  base.records.push_back(base.records[0]);
  base.records.back().source.ip_address = "192.0.2.99";
  std::vector<model::AggregateReport> reports(1200, base);
  for (std::size_t i = 0; i < reports.size(); ++i) {
    auto& m = reports[i].report_metadata;
    m.report_id = "id-" + std::to_string(i);
    // Every 100th report is moved 40 days (another month) but not its records; one record of
    // every 7th is dated a year before its report.
    if (i % 100 == 0) {
      m.begin += 40 * kSecondsPerDay;
      m.end += 40 * kSecondsPerDay;
    }
    if (i % 7 == 0) reports[i].records[1].interval_begin -= 365 * kSecondsPerDay;
  }
  for (std::size_t from = 0; from < reports.size(); from += 400) {
    std::vector<model::AggregateReport> part(reports.begin() + from, reports.begin() + from + 400);
    auto r = st->Store(BatchOf(part));
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->new_reports, 400u);
  }
  const auto exported = ExportAll(*st);
  ASSERT_EQ(exported.size(), reports.size());
  for (std::size_t i = 0; i < reports.size(); ++i) {
    ASSERT_EQ(exported[i], Json(reports[i])) << i;
  }
  Filter moved;
  moved.from = FloorDay(base.report_metadata.begin + 40 * kSecondsPerDay);
  moved.to = moved.from;
  std::vector<std::string> got;
  ASSERT_TRUE(st->ForEachAggregate(moved, [&](model::AggregateReport&& r) {
                  got.push_back(r.report_metadata.report_id);
                }).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"id-0", "id-100", "id-200", "id-300", "id-400", "id-500",
                                           "id-600", "id-700", "id-800", "id-900", "id-1000",
                                           "id-1100"}));
}

TEST_P(StoreContract, DuplicatesAreCountedNotStored) {
  auto st = OpenFresh();
  const auto reports = Samples({"aggregate/empty_reason.xml", "aggregate/empty_reason.xml"});
  auto first = st->Store(BatchOf(reports));  // the same report twice in one batch
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(first->new_reports, 1u);
  EXPECT_EQ(first->duplicate_reports, 1u);
  auto again = st->Store(BatchOf({reports[0]}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->new_reports, 0u);
  EXPECT_EQ(again->duplicate_reports, 1u);
  EXPECT_EQ(again->new_records, 0u);
  auto stats = st->QueryStats({});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->reports, 1u);
  EXPECT_EQ(stats->messages, reports[0].MessageCount());
}

TEST_P(StoreContract, SameIdOverAnotherRangeIsAnotherReport) {
  auto st = OpenFresh();
  auto reports = Samples({"aggregate/empty_reason.xml"});
  model::AggregateReport next_day = reports[0];
  next_day.report_metadata.begin += kSecondsPerDay;
  next_day.report_metadata.end += kSecondsPerDay;
  model::AggregateReport other_org = reports[0];
  other_org.report_metadata.org_name = "another.example";
  model::AggregateReport other_domain = reports[0];
  other_domain.policy_published.domain = "example.org";
  auto r = st->Store(BatchOf({reports[0], next_day, other_org, other_domain}));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->new_reports, 4u);
  EXPECT_EQ(r->duplicate_reports, 0u);
}

TEST_P(StoreContract, StatsAgreeWithTheReports) {
  auto st = OpenFresh();
  const auto reports = Samples(kDistinct);
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  // Expected totals computed from the parsed reports themselves.
  std::uint64_t records = 0, messages = 0, pass = 0;
  std::map<std::string, std::uint64_t> by_disposition, by_domain;
  std::set<std::string> ips;
  for (const auto& rep : reports) {
    for (const auto& rec : rep.records) {
      ++records;
      messages += rec.count;
      if (rec.alignment.dmarc) pass += rec.count;
      by_disposition[rec.policy_evaluated.disposition] += rec.count;
      by_domain[rec.identifiers.header_from] += rec.count;
      ips.insert(rec.source.ip_address);
    }
  }
  auto s = st->QueryStats({});
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->reports, reports.size());
  EXPECT_EQ(s->records, records);
  EXPECT_EQ(s->messages, messages);
  EXPECT_EQ(s->dmarc_pass, pass);
  EXPECT_EQ(s->dmarc_fail, messages - pass);
  EXPECT_EQ(s->by_disposition, by_disposition);
  EXPECT_EQ(s->by_domain, by_domain);
  EXPECT_EQ(s->source_ips, ips.size());
  EXPECT_EQ(s->rejected_inputs, 0u);
}

TEST_P(StoreContract, FiltersByDomainAndDays) {
  auto st = OpenFresh();
  const auto reports = Samples(kDistinct);
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  Filter by_domain;
  by_domain.domain = "example.de";
  auto s = st->QueryStats(by_domain);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->reports, 1u);  // the ikea.com report
  EXPECT_EQ(s->messages, 1u);
  std::size_t exported = 0;
  ASSERT_TRUE(st->ForEachAggregate(by_domain, [&](model::AggregateReport&& r) {
                  EXPECT_EQ(r.policy_published.domain, "example.de");
                  ++exported;
                }).ok());
  EXPECT_EQ(exported, 1u);

  // The 4-day report (2019-11-28 15:35 → 2019-12-02 16:38) split per day: only 2019-11-29 in range.
  Filter day;
  day.from = ParseDate("2019-11-29");
  day.to = ParseDate("2019-11-29");
  auto d = st->QueryStats(day);
  ASSERT_TRUE(d.ok());
  std::uint64_t expected = 0;
  for (const auto& rep : reports) {
    for (const auto& rec : rep.records) {
      if (FloorDay(rec.interval_begin) == *day.from) expected += rec.count;
    }
  }
  EXPECT_EQ(d->messages, expected);
  EXPECT_EQ(d->messages, 1u);

  Filter nothing;
  nothing.from = ParseDate("2030-01-01");
  auto none = st->QueryStats(nothing);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->reports, 0u);
  EXPECT_EQ(none->messages, 0u);
  EXPECT_TRUE(none->by_domain.empty());
}

TEST_P(StoreContract, RejectionsAreKeptOnceWithTheirBytes) {
  auto st = OpenFresh();
  const std::string raw(3000, 'x');
  Batch b;
  b.rejections.push_back(
      {1700000000, "bad.xml", "not well-formed XML", Sha256Hex(raw), raw.size(), raw});
  b.rejections.push_back(
      {1700000000, "bad.xml[entry]", "truncated", Sha256Hex(raw), raw.size(), raw});
  auto r = st->Store(b);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->rejections, 2u);
  auto again = st->Store(b);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->rejections, 0u);
  auto list = st->Rejections();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].origin, "bad.xml");
  EXPECT_EQ((*list)[0].raw, raw);
  EXPECT_EQ((*list)[0].sha256, Sha256Hex(raw));
  EXPECT_EQ((*list)[0].size, raw.size());
  auto stats = st->QueryStats({});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->rejected_inputs, 2u);
}

TEST_P(StoreContract, RawBytesAreBoundedByTheLimit) {
  auto st = OpenFresh();
  st.reset();
  OpenOptions small;
  small.max_raw_bytes = 100;
  auto limited = Reopen(small);
  const std::string raw(5000, 'y');
  Batch b;
  b.rejections.push_back({1, "big.bin", "garbage", Sha256Hex(raw), raw.size(), raw});
  ASSERT_TRUE(limited->Store(b).ok());
  auto list = limited->Rejections();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].raw.size(), 100u);
  EXPECT_EQ((*list)[0].size, 5000u);
}

// The same item can be rejected first with fewer bytes kept (its input's budget was spent) and
// later with more: the store keeps the longer copy, not the first one it saw.
TEST_P(StoreContract, ALongerCopyOfARejectedItemCompletesTheShorterOne) {
  auto st = OpenFresh();
  const std::string raw(3000, 'z');
  Batch first;
  first.rejections.push_back(
      {1, "a.mbox[message 9]", "no report", Sha256Hex(raw), raw.size(), raw.substr(0, 10)});
  ASSERT_TRUE(st->Store(first).ok());
  Batch second;
  second.rejections.push_back({2, "b.eml", "no report", Sha256Hex(raw), raw.size(), raw});
  ASSERT_TRUE(st->Store(second).ok());
  Batch shorter;
  shorter.rejections.push_back(
      {3, "c.eml", "no report", Sha256Hex(raw), raw.size(), raw.substr(0, 5)});
  ASSERT_TRUE(st->Store(shorter).ok());
  auto list = st->Rejections();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  for (const auto& r : *list) EXPECT_EQ(r.raw, raw) << r.origin;
}

TEST_P(StoreContract, ReopeningKeepsDataAndSchema) {
  auto st = OpenFresh();
  const auto reports = Samples({"aggregate/empty_reason.xml"});
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  st.reset();
  auto again = Reopen();
  auto s = again->QueryStats({});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->reports, 1u);
}

std::vector<std::string> ExportAll(ReportStore& st) {
  std::vector<std::string> out;
  auto n = st.ForEachAggregate({}, [&](model::AggregateReport&& rep) { out.push_back(Json(rep)); });
  EXPECT_TRUE(n.ok()) << n.error();
  return out;
}

// Queries that show every rollup row of a store (addresses by text: their ids differ between
// stores), for comparing two stores.
std::vector<std::string> RollupQueries() {
  return {
      "SELECT * FROM daily_results ORDER BY 1,2,3,4,5,6,7",
      "SELECT d.day, d.domain, s.ip, d.messages, d.records, d.dmarc_pass, d.spf_aligned,"
      " d.dkim_aligned FROM daily_sources d JOIN source_ips s ON s.id = d.ip ORDER BY 1,2,3",
      "SELECT * FROM daily_messages ORDER BY 1,2,3,4",
      "SELECT t.domain, s.ip, t.records, t.messages, t.dmarc_pass, t.spf_aligned,"
      " t.dkim_aligned FROM source_totals t JOIN source_ips s ON s.id = t.ip ORDER BY 1,2",
      "SELECT s.ip, t.records, t.messages, t.dmarc_pass, t.spf_aligned, t.dkim_aligned"
      " FROM ip_totals t JOIN source_ips s ON s.id = t.ip ORDER BY 1",
      "SELECT r.report_id, t.messages, t.dmarc_pass FROM report_totals t JOIN"
      " aggregate_reports r ON r.id = t.report ORDER BY 1",
      "SELECT r.report_id, x.size, x.encoding, x.bytes FROM aggregate_raw x JOIN aggregate_reports "
      "r"
      " ON r.id = x.report ORDER BY 1",
      "SELECT count(*) FROM aggregate_raw WHERE report NOT IN (SELECT id FROM aggregate_reports)",
  };
}

TEST_P(StoreContract, PurgeLeavesWhatAStoreOfTheNewerReportsHolds) {
  const auto reports = Samples(kDistinct);
  // A cutoff between the oldest and the newest samples.
  std::vector<std::int64_t> ends;
  for (const auto& r : reports) ends.push_back(r.report_metadata.end);
  std::sort(ends.begin(), ends.end());
  const std::int64_t cutoff = ends[ends.size() / 2];
  std::vector<model::AggregateReport> kept;
  std::size_t old_records = 0;
  for (const auto& r : reports) {
    if (r.report_metadata.end >= cutoff) {
      kept.push_back(r);
    } else {
      old_records += r.records.size();
    }
  }
  ASSERT_GT(kept.size(), 0u);
  ASSERT_LT(kept.size(), reports.size());

  url_ = GetParam().fresh_url("PurgeExpected");
  const std::string expected_url = url_;
  auto expected = Reopen();
  std::vector<std::string> kept_raw, all_raw;
  ASSERT_TRUE(expected->Store(BatchWithRaw(kept, kept_raw)).ok());
  auto st = OpenFresh();
  ASSERT_TRUE(st->Store(BatchWithRaw(reports, all_raw)).ok());

  const std::string old_raw(2000, 'o'), shared_raw(1000, 's');
  Batch rej;
  rej.rejections.push_back({cutoff - 10, "old.bin", "garbage", Sha256Hex(old_raw), 2000, old_raw});
  rej.rejections.push_back(
      {cutoff - 10, "old-shared.bin", "garbage", Sha256Hex(shared_raw), 1000, shared_raw});
  rej.rejections.push_back(
      {cutoff + 10, "new-shared.bin", "garbage", Sha256Hex(shared_raw), 1000, shared_raw});
  ASSERT_TRUE(st->Store(rej).ok());

  // What a purge would remove, counted without removing anything (vacuum --dry-run).
  const Filter everything{std::nullopt, 0, 4102444800};
  auto counted = st->CountPurge(cutoff);
  ASSERT_TRUE(counted.ok()) << counted.error();
  EXPECT_EQ(static_cast<std::size_t>(st->QueryStats(everything)->reports), reports.size());
  auto purged = st->Purge(cutoff);
  ASSERT_TRUE(purged.ok()) << purged.error();
  EXPECT_EQ(purged->aggregate_reports, reports.size() - kept.size());
  EXPECT_EQ(purged->aggregate_records, old_records);
  EXPECT_EQ(purged->rejected_inputs, 2u);
  EXPECT_EQ(counted->aggregate_reports, purged->aggregate_reports);
  EXPECT_EQ(counted->aggregate_records, purged->aggregate_records);
  EXPECT_EQ(counted->failure_reports, purged->failure_reports);
  EXPECT_EQ(counted->smtp_tls_reports, purged->smtp_tls_reports);
  EXPECT_EQ(counted->rejected_inputs, purged->rejected_inputs);

  EXPECT_EQ(ExportAll(*st), ExportAll(*expected));
  // Totals over any range equal those of the store that never had the old reports.
  const Filter all{std::nullopt, 0, 4102444800};
  auto got = st->QueryStats(all);
  auto want = expected->QueryStats(all);
  ASSERT_TRUE(got.ok() && want.ok());
  EXPECT_EQ(got->reports, want->reports);
  EXPECT_EQ(got->records, want->records);
  EXPECT_EQ(got->messages, want->messages);
  EXPECT_EQ(got->dmarc_pass, want->dmarc_pass);
  EXPECT_EQ(got->by_disposition, want->by_disposition);
  EXPECT_EQ(got->by_domain, want->by_domain);
  EXPECT_EQ(got->source_ips, want->source_ips);
  // The dashboard's rollups too, row for row (addresses by text: their ids differ).
  const std::vector<std::string> rollups = RollupQueries();
  // The all-domains totals per address are the per-domain ones added up, after the purge as
  // after every store.
  const std::string per_ip =
      "SELECT ip, records, messages, dmarc_pass, spf_aligned, dkim_aligned FROM ip_totals"
      " ORDER BY ip";
  const std::string per_ip_summed =
      "SELECT ip, sum(records), sum(messages), sum(dmarc_pass), sum(spf_aligned),"
      " sum(dkim_aligned) FROM source_totals GROUP BY ip ORDER BY ip";
  const bool sqlite = GetParam().name == "sqlite";
  auto query = [&](const std::string& url, const std::string& sql) {
    return sqlite ? SqliteCli(SqlitePathFromUrl(url).value(), sql + ";")
                  : testing::PsqlUrl(url, sql) + "\n";
  };
  auto dump = [&](const std::string& url) {
    std::string out;
    for (const auto& q : rollups) out += query(url, q) + "--\n";
    return out;
  };
  const std::string want_rollups = dump(expected_url);
  EXPECT_GT(query(expected_url, rollups[0]).size(), 1u);  // not an empty store
  EXPECT_EQ(dump(url_), want_rollups);
  for (const std::string& u : {url_, expected_url}) {
    const std::string got_per_ip = query(u, per_ip);
    EXPECT_GT(got_per_ip.size(), 1u);
    // sum() of BIGINT is NUMERIC on PostgreSQL: printed alike.
    EXPECT_EQ(got_per_ip, query(u, per_ip_summed));
  }
  auto list = st->Rejections();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].origin, "new-shared.bin");
  EXPECT_EQ((*list)[0].raw, shared_raw);  // the bytes a newer rejection shares stay

  // Nothing more to purge; storing again after a purge works and counts as new.
  auto again = st->Purge(cutoff);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->aggregate_reports, 0u);
  auto restored = st->Store(BatchOf(reports));
  ASSERT_TRUE(restored.ok()) << restored.error();
  EXPECT_EQ(restored->new_reports, reports.size() - kept.size());
  EXPECT_TRUE(st->Compact().ok());
  EXPECT_GT(st->SizeOnDisk(), 0u);
}

TEST_P(StoreContract, PurgeGoesThroughManyBatchesAndCompactShrinksTheFile) {
  auto st = OpenFresh();
  const auto base = Samples({"aggregate/twilight.eml"})[0];
  std::vector<model::AggregateReport> many(450, base);
  for (std::size_t i = 0; i < many.size(); ++i) {
    many[i].report_metadata.report_id = "id-" + std::to_string(i);
  }
  model::AggregateReport recent = base;
  recent.report_metadata.report_id = "recent";
  recent.report_metadata.begin = 4000000000;
  recent.report_metadata.end = 4000086399;
  many.push_back(recent);
  ASSERT_TRUE(st->Store(BatchOf(many)).ok());
  ASSERT_TRUE(st->Compact().ok());
  const auto before = st->SizeOnDisk();
  auto purged = st->Purge(3000000000);
  ASSERT_TRUE(purged.ok()) << purged.error();
  EXPECT_EQ(purged->aggregate_reports, 450u);
  ASSERT_TRUE(st->Compact().ok());
  if (GetParam().name == "sqlite") {
    EXPECT_LT(st->SizeOnDisk(), before);  // VACUUM rewrote the file
  } else {
    // PostgreSQL's VACUUM makes the space of removed rows reusable without locking the tables
    // (what it gives back to the file system at once is the purged months: see PgPurge), and
    // ANALYZE refreshes the planner's statistics.
    EXPECT_GT(before, 0u);
    for (const char* table : {"aggregate_reports", "daily_sources", "source_totals"}) {
      EXPECT_EQ(
          testing::PsqlUrl(url_, std::string("SELECT last_vacuum IS NOT NULL, last_analyze IS NOT"
                                             " NULL FROM pg_stat_user_tables WHERE relname = '") +
                                     table + "'"),
          "t|t")
          << table;
    }
  }
  auto s = st->QueryStats({});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->reports, 1u);
  EXPECT_EQ(s->messages, recent.MessageCount());
}

// Removes the folder the SQLite back end's stores were made in.
class CleanUp : public ::testing::Environment {
 public:
  void TearDown() override {
    fs::remove_all(fs::temp_directory_path() / ("dmarc-store-" + std::to_string(getpid())));
  }
};
const auto* const kCleanUp = ::testing::AddGlobalTestEnvironment(new CleanUp);

TEST_P(StoreContract, AggregatesStoredTellsDuplicatesInAdvance) {
  auto st = OpenFresh();
  const auto reports = Samples({"aggregate/empty_reason.xml", "extract_report/nice-input.xml"});
  Batch first;
  first.aggregates.push_back({"test", &reports[0]});
  ASSERT_TRUE(st->Store(first));
  auto known = st->AggregatesStored({&reports[0], &reports[1]});
  ASSERT_TRUE(known) << known.error();
  EXPECT_EQ(*known, (std::vector<bool>{true, false}));
}

// The workers' check (any thread, a connection of its own) sees what the store committed, and
// extraction then skips compressing the XML of a report already stored.
TEST_P(StoreContract, StoredCheckSkipsCompressingDuplicates) {
  auto st = OpenFresh();
  const auto check = st->AggregateStoredCheck();
  ASSERT_TRUE(check);
  const std::string path = TestData("real/parsedmarc-samples/aggregate/empty_reason.xml");
  pipeline::ExtractOptions options;
  options.keep_raw_xml = true;
  options.already_stored = check;
  auto before = pipeline::ExtractReports(ReadFile(path), path, options);
  ASSERT_EQ(before.reports.size(), 1u);
  EXPECT_FALSE(before.reports[0].raw_xml_packed.empty());
  EXPECT_GT(before.reports[0].raw_xml_size, 0u);
  Batch batch;
  batch.aggregates.push_back({"test", &before.reports[0].aggregate});
  ASSERT_TRUE(st->Store(batch));
  bool seen_elsewhere = false;
  std::thread([&] { seen_elsewhere = check(before.reports[0].aggregate); }).join();
  EXPECT_TRUE(seen_elsewhere);
  auto again = pipeline::ExtractReports(ReadFile(path), path, options);
  ASSERT_EQ(again.reports.size(), 1u);
  EXPECT_TRUE(again.reports[0].raw_xml_packed.empty());
  EXPECT_EQ(again.reports[0].raw_xml_size, 0u);
  const auto other = Samples({"extract_report/nice-input.xml"});
  EXPECT_FALSE(check(other[0]));
}

// Reports parsed as a stream (their records and XML read back from spools as they are stored,
// issue #14) are stored as the same reports parsed whole: what export gives back, the totals
// and daily rollups, the XML as received; storing them again counts duplicates.
TEST_P(StoreContract, StreamedReportsAreStoredLikeReportsHeldWhole) {
  auto st = OpenFresh();
  pipeline::ExtractOptions options;
  options.keep_raw_xml = true;
  options.stream_bytes = 1;  // every report
  options.stream_sink = [](const std::string&) {
    return std::make_unique<pipeline::StoredStream>(pipeline::StoredStream::Options{});
  };
  std::vector<pipeline::Extracted> inputs;
  std::vector<std::string> xml;  // each report's XML as received
  for (const auto& name : kDistinct) {
    const std::string path = TestData("real/parsedmarc-samples/" + name);
    inputs.push_back(pipeline::ExtractReports(ReadFile(path), path, options));
    ASSERT_EQ(inputs.back().streamed.size(), 1u) << name;
    ASSERT_TRUE(inputs.back().reports.empty()) << name;
    pipeline::ExtractOptions whole;
    whole.keep_raw_xml = true;
    auto found = pipeline::ExtractReports(ReadFile(path), path, whole);
    ASSERT_EQ(found.reports.size(), 1u) << name;
    xml.push_back(archive::Unzstd(found.reports[0].raw_xml_packed, SIZE_MAX).value());
  }
  Batch batch;
  std::size_t records = 0;
  for (auto& in : inputs) {
    auto* s = dynamic_cast<pipeline::StoredStream*>(in.streamed[0].sink.get());
    ASSERT_NE(s, nullptr);
    EXPECT_GT(s->RawXmlPackedBytes(), 0u);
    batch.aggregates.push_back({in.streamed[0].origin, &s->header(), {}, s->raw_xml_size(), s});
    records += s->RecordCount();
  }
  auto r = st->Store(batch);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->new_reports, kDistinct.size());
  EXPECT_EQ(r->new_records, records);
  const auto reports = Samples(kDistinct);
  std::vector<std::string> exported;
  ASSERT_TRUE(st->ForEachAggregate(
      {}, [&](model::AggregateReport&& rep) { exported.push_back(Json(rep)); }));
  ASSERT_EQ(exported.size(), reports.size());
  for (std::size_t i = 0; i < reports.size(); ++i) {
    EXPECT_EQ(exported[i], Json(reports[i])) << kDistinct[i];
  }
  // The same totals as a store of the reports held whole.
  // (A name of its own in its first characters: PostgreSQL's are cut short.)
  auto whole_store = OpenStore(GetParam().fresh_url("Whole"), {});
  ASSERT_TRUE(whole_store.ok()) << whole_store.error();
  ASSERT_TRUE((*whole_store)->Store(BatchOf(reports)).ok());
  auto stats = st->QueryStats({});
  auto whole_stats = (*whole_store)->QueryStats({});
  ASSERT_TRUE(stats.ok() && whole_stats.ok());
  EXPECT_EQ(stats->records, whole_stats->records);
  EXPECT_EQ(stats->messages, whole_stats->messages);
  EXPECT_EQ(stats->dmarc_pass, whole_stats->dmarc_pass);
  EXPECT_EQ(stats->by_disposition, whole_stats->by_disposition);
  EXPECT_EQ(stats->by_domain, whole_stats->by_domain);
  EXPECT_EQ(stats->source_ips, whole_stats->source_ips);
  // The XML as received, written into the store a piece at a time.
  auto dash = OpenDashboard(url_);
  ASSERT_TRUE(dash.ok()) << dash.error();
  auto list = (*dash)->Reports({}, {});
  ASSERT_TRUE(list.ok()) << list.error();
  std::multiset<std::string> raws, expected(xml.begin(), xml.end());
  for (const auto& row : list->rows) {
    auto raw = (*dash)->ReportRaw(row.id);
    ASSERT_TRUE(raw.ok()) << raw.error();
    raws.insert(raw->first);
  }
  EXPECT_EQ(raws, expected);
  // Again: duplicates, read from the start of their spools.
  auto again = st->Store(batch);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->duplicate_reports, kDistinct.size());
  EXPECT_EQ(again->new_records, 0u);
}

TEST_P(StoreContract, IpInfoCacheKeepsAnswersUntilTheyExpire) {
  auto st = OpenFresh();
  IpInfoRow a{"192.0.2.1", "name",    "mail.example.com", "example.com", "US",
              64500,       "AS name", "example.net",      1000,          2000};
  IpInfoRow b{"192.0.2.2",  "no_name",    std::nullopt, std::nullopt, std::nullopt,
              std::nullopt, std::nullopt, std::nullopt, 1000,         1500};
  ASSERT_TRUE(st->PutIpInfo({a, b}));
  auto got = st->GetIpInfo({"192.0.2.1", "192.0.2.2", "192.0.2.3"}, 1200);
  ASSERT_TRUE(got) << got.error();
  ASSERT_EQ(got->size(), 2u);
  std::map<std::string, IpInfoRow> by_ip;
  for (auto& r : *got) by_ip[r.ip] = r;
  EXPECT_EQ(by_ip.at("192.0.2.1").reverse_dns, "mail.example.com");
  EXPECT_EQ(by_ip.at("192.0.2.1").asn, 64500);
  EXPECT_EQ(by_ip.at("192.0.2.1").expires_at, 2000);
  EXPECT_EQ(by_ip.at("192.0.2.2").status, "no_name");
  EXPECT_FALSE(by_ip.at("192.0.2.2").reverse_dns);
  // Expired entries are not returned; a newer answer replaces the old one.
  got = st->GetIpInfo({"192.0.2.1", "192.0.2.2"}, 1600);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  b.expires_at = 5000;
  b.status = "failed";
  ASSERT_TRUE(st->PutIpInfo({b}));
  auto st2 = Reopen();
  got = st2->GetIpInfo({"192.0.2.2"}, 1600);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].status, "failed");

  // Address details beside the DNS answer: kept when the answer is refreshed, and an address
  // without an answer gets a row that is not one.
  model::Source detail;
  detail.ip_address = "192.0.2.2";
  detail.country = "DE";
  detail.asn = 3320;
  model::Source fresh;
  fresh.ip_address = "192.0.2.7";
  fresh.country = "FR";
  ASSERT_TRUE(st2->PutSourceInfo({detail, fresh}));
  b.expires_at = 6000;
  b.status = "name";
  b.reverse_dns = "mx.example.de";
  ASSERT_TRUE(st2->PutIpInfo({b}));
  got = st2->GetIpInfo({"192.0.2.2", "192.0.2.7"}, 1600);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);  // 192.0.2.7 has details but no DNS answer
  EXPECT_EQ((*got)[0].reverse_dns, "mx.example.de");
  EXPECT_EQ((*got)[0].country, "DE");
  EXPECT_EQ((*got)[0].asn, 3320);
}

// A writer skips addresses whose details it wrote the same before (SQLite: most of a batch's,
// in a long import): details put again after another writer, or a DNS answer, changed them are
// written again, and changed details replace the old ones.
TEST_P(StoreContract, AddressDetailsPutAgainAfterAnotherWriteAreWrittenAgain) {
  auto st = OpenFresh();
  auto other = Reopen();
  model::Source detail;
  detail.ip_address = "192.0.2.2";
  detail.country = "DE";
  detail.asn = 3320;
  IpInfoRow answer{"192.0.2.2",  "name",       "mx.example.de", std::nullopt, "AT",
                   std::nullopt, std::nullopt, std::nullopt,    1000,         6000};
  auto country = [&](ReportStore& s) -> std::string {
    auto got = s.GetIpInfo({"192.0.2.2"}, 1600);
    EXPECT_TRUE(got) << got.error();
    if (!got || got->size() != 1 || !(*got)[0].country) return "(none)";
    return *(*got)[0].country;
  };
  ASSERT_TRUE(st->PutSourceInfo({detail}));
  ASSERT_TRUE(other->PutIpInfo({answer}));  // another connection
  EXPECT_EQ(country(*st), "AT");
  ASSERT_TRUE(st->PutSourceInfo({detail}));
  EXPECT_EQ(country(*other), "DE");
  ASSERT_TRUE(st->PutIpInfo({answer}));  // the same connection
  ASSERT_TRUE(st->PutSourceInfo({detail}));
  EXPECT_EQ(country(*other), "DE");
  detail.country = "FR";
  ASSERT_TRUE(st->PutSourceInfo({detail}));
  EXPECT_EQ(country(*other), "FR");
  detail.country.reset();  // absent now: written as absent
  ASSERT_TRUE(st->PutSourceInfo({detail}));
  EXPECT_EQ(country(*other), "(none)");
}

TEST_P(StoreContract, SourcesNotEnrichedOrStaleAreFoundAndUpdated) {
  auto st = OpenFresh();
  const auto reports = Samples({"aggregate/empty_reason.xml", "extract_report/nice-input.xml"});
  Batch old_batch, new_batch;
  old_batch.aggregates.push_back({"test", &reports[0]});
  old_batch.sources_enriched_at = 1000;
  new_batch.aggregates.push_back({"test", &reports[1]});  // never enriched
  ASSERT_TRUE(st->Store(old_batch));
  ASSERT_TRUE(st->Store(new_batch));
  std::set<std::string> old_ips, new_ips;
  for (const auto& rec : reports[0].records) old_ips.insert(rec.source.ip_address);
  for (const auto& rec : reports[1].records) new_ips.insert(rec.source.ip_address);

  auto ips = st->SourceIpsToEnrich(500);  // only the never-enriched
  ASSERT_TRUE(ips) << ips.error();
  EXPECT_EQ(std::set<std::string>(ips->begin(), ips->end()), new_ips);
  ips = st->SourceIpsToEnrich(2000);  // both: the first batch is stale by then
  ASSERT_TRUE(ips);
  std::set<std::string> all = old_ips;
  all.insert(new_ips.begin(), new_ips.end());
  EXPECT_EQ(std::set<std::string>(ips->begin(), ips->end()), all);

  std::vector<model::Source> sources;
  for (const auto& ip : all) {
    model::Source s;
    s.ip_address = ip;
    s.reverse_dns = "host.example.com";
    s.base_domain = "example.com";
    s.country = "DE";
    s.name = "Example";
    s.type = "ISP";
    s.asn = 64500;
    sources.push_back(s);
  }
  auto changed = st->UpdateSources(sources, 3000, 500);  // the stale-at-2000 batch is kept
  ASSERT_TRUE(changed) << changed.error();
  EXPECT_EQ(*changed, reports[1].records.size());
  ips = st->SourceIpsToEnrich(2000);
  ASSERT_TRUE(ips);
  EXPECT_EQ(std::set<std::string>(ips->begin(), ips->end()), old_ips);
  std::vector<model::AggregateReport> stored;
  ASSERT_TRUE(st->ForEachAggregate(
      {}, [&](model::AggregateReport&& r) { stored.push_back(std::move(r)); }));
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_FALSE(stored[0].records[0].source.reverse_dns);
  for (const auto& rec : stored[1].records) {
    EXPECT_EQ(rec.source.reverse_dns, "host.example.com");
    EXPECT_EQ(rec.source.country, "DE");
    EXPECT_EQ(rec.source.asn, 64500);
    EXPECT_EQ(rec.source.name, "Example");
  }
}

// Sealed refresh tokens: kept per (kind, identity), replaced, absent rows are nullopt, and what the
// store holds opens only with the key it was sealed under and only in its own row.
TEST_P(StoreContract, SealedTokensRoundTripAndOpenOnlyWithTheirKeyInTheirRow) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  const fs::path dir = fs::temp_directory_path() / ("dmarc-seal-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string key_file = (dir / (GetParam().name + ".key")).string();
  fs::remove(key_file);
  auto key = ReadTokenKey(key_file, /*create=*/true);
  ASSERT_TRUE(key.ok()) << key.error();
  EXPECT_EQ(fs::status(key_file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto again = ReadTokenKey(key_file, false);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(*again, *key) << "the key made is the key read";
  const std::string token = "0.AR8A-refresh-token-secret";
  const std::string id = "tenant client dmarc@example.com";
  auto row = SealToken(*key, "graph", id, token, "alice", 100);
  ASSERT_TRUE(row.ok()) << row.error();
  EXPECT_EQ(row->ciphertext.find(token), std::string::npos);
  ASSERT_TRUE(st->SaveSealedToken(*row).ok());
  auto none = st->SealedToken("graph", "tenant client other@example.com");
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_FALSE(*none);
  auto other_kind = st->SealedToken("imap", id);
  ASSERT_TRUE(other_kind.ok());
  EXPECT_FALSE(*other_kind);

  st = Reopen();
  ASSERT_TRUE(st);
  auto got = st->SealedToken("graph", id);
  ASSERT_TRUE(got.ok()) << got.error();
  ASSERT_TRUE(*got);
  EXPECT_EQ((*got)->saved_by, "alice");
  EXPECT_EQ((*got)->saved_at, 100);
  auto opened = OpenSealedToken(*key, key_file, **got);
  ASSERT_TRUE(opened.ok()) << opened.error();
  EXPECT_EQ(*opened, token);

  // A rotated token replaces the row.
  auto rotated = SealToken(*key, "graph", id, token + "-rotated", "fetch", 200);
  ASSERT_TRUE(rotated.ok());
  ASSERT_TRUE(st->SaveSealedToken(*rotated).ok());
  got = st->SealedToken("graph", id);
  ASSERT_TRUE(got.ok() && *got);
  EXPECT_EQ((*got)->saved_by, "fetch");
  EXPECT_EQ(OpenSealedToken(*key, key_file, **got).value(), token + "-rotated");

  // Another key: an error naming the key file, never the token.
  TokenKey wrong = *key;
  wrong[0] ^= 1;
  auto refused = OpenSealedToken(wrong, key_file, **got);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error_kind(), ErrorKind::kAuth);
  EXPECT_NE(refused.error().find(key_file), std::string::npos) << refused.error();
  EXPECT_EQ(refused.error().find("refresh-token-secret"), std::string::npos);
  // The same ciphertext moved to another row does not open.
  SealedTokenRow moved = **got;
  moved.identity = "tenant client other@example.com";
  ASSERT_TRUE(st->SaveSealedToken(moved).ok());
  auto moved_back = st->SealedToken("graph", moved.identity);
  ASSERT_TRUE(moved_back.ok() && *moved_back);
  EXPECT_FALSE(OpenSealedToken(*key, key_file, **moved_back).ok());
  EXPECT_EQ(st->SaveSealedToken({"graph", "", "00", "00", "x", 1}).error_kind(),
            ErrorKind::kInvalid);

  // A key file others may read is refused, and so is one that is not 32 bytes of hex.
  fs::permissions(key_file, fs::perms::group_read, fs::perm_options::add);
  auto readable = ReadTokenKey(key_file, false);
  ASSERT_FALSE(readable.ok());
  EXPECT_NE(readable.error().find("may be read by others"), std::string::npos) << readable.error();
  fs::permissions(key_file, fs::perms::group_read, fs::perm_options::remove);
  { std::ofstream(key_file) << "abcd\n"; }
  EXPECT_EQ(ReadTokenKey(key_file, false).error_kind(), ErrorKind::kInvalid);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::ValuesIn(kBackends),
                         [](const auto& p) { return p.param.name; });

struct OtherReports {
  std::vector<pipeline::FoundFailure> failures;
  std::vector<pipeline::FoundSmtpTls> smtp_tls;
};

OtherReports FailureAndTlsSamples() {
  OtherReports out;
  for (const char* dir : {"failure", "smtp_tls"}) {
    for (const auto& e : fs::directory_iterator(TestData("real/parsedmarc-samples/") + dir)) {
      auto got = pipeline::ExtractReports(ReadFile(e.path().string()), e.path().string(), {});
      EXPECT_TRUE(got.rejections.empty()) << e.path();
      for (auto& f : got.failures) out.failures.push_back(std::move(f));
      for (auto& t : got.smtp_tls) out.smtp_tls.push_back(std::move(t));
    }
  }
  return out;
}

Batch BatchOf(const OtherReports& o) {
  Batch b;
  for (const auto& f : o.failures) b.failures.push_back({f.origin, &f.report});
  for (const auto& t : o.smtp_tls) b.smtp_tls.push_back({t.origin, &t.report});
  return b;
}

TEST_P(StoreContract, FailureAndSmtpTlsReportsComeBackAndDeduplicate) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  const OtherReports o = FailureAndTlsSamples();
  ASSERT_EQ(o.failures.size(), 5u);
  ASSERT_EQ(o.smtp_tls.size(), 4u);
  auto r = st->Store(BatchOf(o));
  ASSERT_TRUE(r.ok()) << r.error();
  // The LinkedIn sample with LF and with CRLF line ends is one report.
  EXPECT_EQ(r->new_failures, 4u);
  EXPECT_EQ(r->duplicate_failures, 1u);
  EXPECT_EQ(r->new_smtp_tls, 4u);
  auto again = st->Store(BatchOf(o));
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->new_failures, 0u);
  EXPECT_EQ(again->duplicate_failures, 5u);
  EXPECT_EQ(again->new_smtp_tls, 0u);
  EXPECT_EQ(again->duplicate_smtp_tls, 4u);

  std::set<std::string> stored_failures, stored_tls;
  for (const auto& f : o.failures) stored_failures.insert(sinks::FailureToJson(f.report).dump());
  for (const auto& t : o.smtp_tls) stored_tls.insert(sinks::SmtpTlsToJson(t.report).dump());
  std::set<std::string> got_failures, got_tls;
  auto n = st->ForEachFailure(
      {}, [&](model::FailureReport&& f) { got_failures.insert(sinks::FailureToJson(f).dump()); });
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 4u);
  auto m = st->ForEachSmtpTls(
      {}, [&](model::SmtpTlsReport&& t) { got_tls.insert(sinks::SmtpTlsToJson(t).dump()); });
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(got_tls, stored_tls);
  for (const auto& g : got_failures) EXPECT_EQ(stored_failures.count(g), 1u) << g;

  auto stats = st->QueryStats({});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->failure_reports, 4u);
  EXPECT_EQ(stats->smtp_tls_reports, 4u);
  EXPECT_EQ(stats->reports, 0u);

  // Filters: the reported domain and arrival day; the policy domain and begin day.
  Filter f;
  f.domain = "example.com";
  auto ex = st->QueryStats(f);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->failure_reports, 2u);   // LinkedIn and Exim
  EXPECT_EQ(ex->smtp_tls_reports, 2u);  // mail.ru and smtp_tls.json
  f.from = ParseDate("2025-04-07");
  f.to = ParseDate("2025-04-07");
  std::size_t exim = 0;
  auto e = st->ForEachFailure(f, [&](model::FailureReport&& report) {
    EXPECT_EQ(report.source.ip_address, "203.0.113.68");
    ++exim;
  });
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(exim, 1u);
}

// A report from lists.example with n records: address 10.1.(i / 100).(i % 100), i + 1 messages,
// and a stored source name of five kinds whose texts hold LIKE's wildcards and its escape.
model::AggregateReport ListsReport(const model::AggregateReport& like, int n) {
  model::AggregateReport r = like;
  r.report_metadata.org_name = "Lists Org";
  r.report_metadata.report_id = "lists-report-1";
  r.policy_published.domain = "lists.example";
  const model::Record first = like.records.at(0);
  r.records.clear();
  const char* names[] = {"Acme_Mail", "Acme%Relay", "acmexmail", "back\\slash", "Other"};
  for (int i = 0; i < n; ++i) {
    model::Record rec = first;
    rec.source = {};
    rec.source.ip_address = fmt::format("10.1.{}.{}", i / 100, i % 100);
    rec.source.name = names[i % 5];
    rec.count = static_cast<std::uint64_t>(i + 1);
    rec.identifiers.header_from = "lists.example";
    rec.identifiers.envelope_from = std::nullopt;
    rec.identifiers.envelope_to = std::nullopt;
    r.records.push_back(std::move(rec));
  }
  return r;
}

TEST_P(StoreContract, ListsCountPageAndSearchExactly) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  auto samples = Samples(kDistinct);
  samples.push_back(ListsReport(samples[0], 250));
  ASSERT_TRUE(st->Store(BatchOf(samples)).ok());
  Batch rejected;
  for (const char* origin : {"a_b.xml", "axb.xml", "c%d.xml"}) {
    const std::string raw = origin;
    rejected.rejections.push_back({1700000000, raw, "not XML", Sha256Hex(raw), raw.size(), raw});
  }
  const OtherReports other = FailureAndTlsSamples();
  Batch others = BatchOf(other);
  ASSERT_TRUE(st->Store(rejected).ok());
  ASSERT_TRUE(st->Store(others).ok());
  auto stats = st->QueryStats({});
  ASSERT_TRUE(stats.ok());
  auto opened = OpenDashboard(url_);
  ASSERT_TRUE(opened.ok()) << opened.error();
  DashboardQueries& dash = **opened;
  auto page = [](std::size_t offset, std::size_t limit, std::string search = {}) {
    return ListPage{.offset = offset, .limit = limit, .search = std::move(search)};
  };

  // Sources by address: every address counted, pages that continue each other.
  auto first = dash.Sources({}, "ip", page(0, 100));
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(first->total, static_cast<std::int64_t>(stats->source_ips));
  EXPECT_GT(first->total, 250);
  ASSERT_EQ(first->rows.size(), 100u);
  auto second = dash.Sources({}, "ip", page(100, 100));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->total, first->total);
  ASSERT_EQ(second->rows.size(), 100u);
  EXPECT_GE(first->rows.back().sums.messages, second->rows.front().sums.messages);
  std::set<std::string> seen;
  for (const auto* p : {&*first, &*second}) {
    for (const auto& row : p->rows) EXPECT_TRUE(seen.insert(row.key.value_or("-")).second);
  }
  auto last = dash.Sources({}, "ip", page(static_cast<std::size_t>(first->total) - 3, 100));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->rows.size(), 3u);
  auto beyond = dash.Sources({}, "ip", page(100000, 100));
  ASSERT_TRUE(beyond.ok());
  EXPECT_TRUE(beyond->rows.empty());
  EXPECT_EQ(beyond->total, first->total);
  // A search on the address: 10.1.2.0 to 10.1.2.49, largest first.
  auto found = dash.Sources({}, "ip", page(10, 100, "10.1.2."));
  ASSERT_TRUE(found.ok()) << found.error();
  EXPECT_EQ(found->total, 50);
  ASSERT_EQ(found->rows.size(), 40u);
  EXPECT_EQ(found->rows.front().key, "10.1.2.39");
  EXPECT_EQ(found->rows.front().sums.messages, 240);

  // Grouped from the records as stored (a header-from filter): the names, wildcards as text.
  DashboardFilter lists;
  lists.header_from = "lists.example";
  for (const auto& [search, want] :
       std::vector<std::pair<std::string, std::string>>{{"ACME_MAIL", "Acme_Mail"},
                                                        {"e_m", "Acme_Mail"},
                                                        {"e%r", "Acme%Relay"},
                                                        {"k\\s", "back\\slash"},
                                                        {"XM", "acmexmail"}}) {
    auto s = dash.Sources(lists, "service", page(0, 100, search));
    ASSERT_TRUE(s.ok()) << s.error();
    EXPECT_EQ(s->total, 1) << search;
    ASSERT_EQ(s->rows.size(), 1u) << search;
    EXPECT_EQ(s->rows[0].key, want) << search;
  }
  auto services = dash.Sources(lists, "service", page(1, 2));
  ASSERT_TRUE(services.ok());
  EXPECT_EQ(services->total, 5);
  EXPECT_EQ(services->rows.size(), 2u);

  // Records: the same search, counted exactly; pages of the matching rows.
  auto all = dash.Records({}, page(0, 10));
  ASSERT_TRUE(all.ok()) << all.error();
  EXPECT_EQ(all->total, static_cast<std::int64_t>(stats->records));
  for (const auto& [search, want] :
       std::vector<std::pair<std::string, std::int64_t>>{{"acme_mail", 50},
                                                         {"E_M", 50},
                                                         {"e%r", 50},
                                                         {"k\\s", 50},
                                                         {"acme", 150},
                                                         {"10.1.1.", 100},
                                                         {"lists-report", 250},
                                                         {"%", 50},
                                                         {"no such text", 0}}) {
    auto r = dash.Records(lists, page(45, 10, search));
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->total, want) << search;
    EXPECT_EQ(r->rows.size(), std::min<std::size_t>(10, want > 45 ? want - 45 : 0)) << search;
  }
  // Without a search the total comes from the daily rollups where the filter allows: it is the
  // number of rows the same filter lists, whatever the filter.
  std::vector<DashboardFilter> filters(9);
  filters[1].range.domain = samples[0].policy_published.domain;
  filters[2].header_from = "lists.example";
  filters[3].only_failing = true;
  for (const auto& r : samples) {  // a header-from with failing records
    for (const auto& rec : r.records) {
      if (!rec.alignment.dmarc && !filters[4].header_from) {
        filters[4].header_from = rec.identifiers.header_from;
      }
    }
  }
  ASSERT_TRUE(filters[4].header_from);
  filters[4].only_failing = true;
  filters[5].range.from = FloorDay(samples[0].report_metadata.begin);
  filters[5].range.to = *filters[5].range.from + 86400;
  filters[6].header_from = "no-such.example";
  filters[7].org_name = samples[0].report_metadata.org_name;
  filters[8].source_group = "ip";
  filters[8].source_value = "10.1.2.45";
  for (std::size_t i = 0; i < filters.size(); ++i) {
    auto listed = dash.Records(filters[i], page(0, 1000000));
    ASSERT_TRUE(listed.ok()) << listed.error();
    EXPECT_EQ(listed->total, static_cast<std::int64_t>(listed->rows.size())) << "filter " << i;
    if (i != 6) {
      EXPECT_GT(listed->total, 0) << "filter " << i;
    }
  }

  auto biggest = dash.Records(lists, page(0, 1, "acme_mail"));
  ASSERT_TRUE(biggest.ok());
  ASSERT_EQ(biggest->rows.size(), 1u);
  EXPECT_EQ(biggest->rows[0].source_ip, "10.1.2.45");  // i = 245: the largest Acme_Mail

  // Reports.
  auto reports = dash.Reports({}, page(1, 2));
  ASSERT_TRUE(reports.ok());
  EXPECT_EQ(reports->total, static_cast<std::int64_t>(stats->reports));
  EXPECT_EQ(reports->rows.size(), 2u);
  auto lists_org = dash.Reports({}, page(0, 10, "LISTS ORG"));
  ASSERT_TRUE(lists_org.ok());
  EXPECT_EQ(lists_org->total, 1);
  ASSERT_EQ(lists_org->rows.size(), 1u);
  EXPECT_EQ(lists_org->rows[0].report_id, "lists-report-1");

  // Rejected inputs.
  auto rejections = dash.Rejections({}, page(1, 1));
  ASSERT_TRUE(rejections.ok()) << rejections.error();
  EXPECT_EQ(rejections->total, 3);
  EXPECT_EQ(rejections->rows.size(), 1u);
  auto a_b = dash.Rejections({}, page(0, 10, "a_b"));
  ASSERT_TRUE(a_b.ok());
  EXPECT_EQ(a_b->total, 1);
  ASSERT_EQ(a_b->rows.size(), 1u);
  EXPECT_EQ(a_b->rows[0].origin, "a_b.xml");

  // Failure reports.
  auto failures = dash.FailureReports({}, page(3, 2));
  ASSERT_TRUE(failures.ok()) << failures.error();
  EXPECT_EQ(failures->total, 4);
  EXPECT_EQ(failures->rows.size(), 1u);
  auto exim = dash.FailureReports({}, page(0, 10, "203.0.113.68"));
  ASSERT_TRUE(exim.ok());
  EXPECT_EQ(exim->total, 1);
  ASSERT_EQ(exim->rows.size(), 1u);
  EXPECT_EQ(exim->rows[0].source_ip, "203.0.113.68");
}

// The dashboard's domain picker lists every domain of every kind of report once, in order; one
// failure report comes back whole by its id, and an unknown id is not found.
TEST_P(StoreContract, DashboardListsTheDomainsAndGivesOneFailureReport) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  const OtherReports o = FailureAndTlsSamples();
  const auto aggregates = Samples({kDistinct[0], kDistinct[3], kDistinct[7]});
  ASSERT_TRUE(st->Store(BatchOf(o)).ok());
  ASSERT_TRUE(st->Store(BatchOf(aggregates)).ok());
  std::set<std::string> expected;
  for (const auto& f : o.failures) expected.insert(f.report.reported_domain);
  for (const auto& t : o.smtp_tls) {
    for (const auto& p : t.report.policies) expected.insert(p.policy_domain);
  }
  for (const auto& a : aggregates) expected.insert(a.policy_published.domain);
  auto dash = OpenDashboard(url_);
  ASSERT_TRUE(dash.ok()) << dash.error();
  auto names = (*dash)->DomainNames(1000);
  ASSERT_TRUE(names.ok()) << names.error();
  EXPECT_EQ(*names, std::vector<std::string>(expected.begin(), expected.end()));
  auto two = (*dash)->DomainNames(2);
  ASSERT_TRUE(two.ok()) << two.error();
  EXPECT_EQ(*two, std::vector<std::string>(expected.begin(), std::next(expected.begin(), 2)));

  auto rows = (*dash)->FailureReports({}, ListPage{.offset = 0, .limit = 100, .search = {}});
  ASSERT_TRUE(rows.ok()) << rows.error();
  ASSERT_EQ(rows->rows.size(), 4u);
  for (const auto& r : rows->rows) {
    auto one = (*dash)->FailureReport(r.id);
    ASSERT_TRUE(one.ok()) << one.error();
    EXPECT_EQ(one->id, r.id);
    EXPECT_EQ(one->arrival, r.arrival);
    EXPECT_EQ(one->reported_domain, r.reported_domain);
    EXPECT_EQ(one->source_ip, r.source_ip);
    EXPECT_EQ(one->feedback_type, r.feedback_type);
    EXPECT_EQ(one->origin, r.origin);
    EXPECT_EQ(one->data_json, r.data_json);
  }
  auto none = (*dash)->FailureReport(rows->rows.front().id + 1000);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error_kind(), ErrorKind::kNotFound);
}

// ---- Ingest status (store/ingest_status.h) ----

SourceState SampleSourceState(const std::string& name) {
  SourceState s;
  s.name = name;
  s.kind = "imap";
  s.state = std::string(kSourcePolling);
  s.updated_at = 1700000100;
  s.poll_started_at = 1700000000;
  s.inputs_total = 19;
  s.inputs_done = 5;
  return s;
}

TEST_P(StoreContract, IngestSourceRowsAreReplacedAndTheirCountsAdded) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  auto empty = st->QueryIngestStatus(10);
  ASSERT_TRUE(empty.ok()) << empty.error();
  EXPECT_TRUE(empty->sources.empty());
  EXPECT_FALSE(empty->has_reports);
  EXPECT_EQ(empty->enrichment_backlog, 0u);
  EXPECT_TRUE(empty->rejections.empty());

  SourceState b = SampleSourceState("imap://dmarc@mail.example.com:993/INBOX");
  SourceCounts add;
  add.mails_stored = 3;
  add.mails_invalid = 1;
  add.aggregate_new = 2;
  add.aggregate_duplicate = 1;
  add.failure_new = 4;
  add.failure_duplicate = 5;
  add.smtp_tls_new = 6;
  add.smtp_tls_duplicate = 7;
  add.records = 8;
  add.rejections = 9;
  ASSERT_TRUE(st->RecordSourceState(b, add).ok());
  SourceState a = SampleSourceState("directory:inbox");
  a.kind = "directory";
  ASSERT_TRUE(st->RecordSourceState(a, {}).ok());

  // The second write replaces every field (NULLs too) and adds to the counts; another writer's
  // counts (a second connection) are added as well.
  b.state = std::string(kSourceError);
  b.poll_started_at.reset();
  b.poll_ended_at = 1700000200;
  b.next_poll_at = 1700000260;
  b.last_error = "imap://dmarc@mail.example.com:993/INBOX: connect: Connection refused";
  b.last_error_at = 1700000200;
  b.inputs_done = 19;
  b.mails_left = 2;
  ASSERT_TRUE(st->RecordSourceState(b, add).ok());
  auto other = Reopen();
  ASSERT_TRUE(other);
  SourceCounts one;
  one.mails_stored = 1;
  ASSERT_TRUE(other->RecordSourceState(b, one).ok());

  auto got = st->QueryIngestStatus(10);
  ASSERT_TRUE(got.ok()) << got.error();
  ASSERT_EQ(got->sources.size(), 2u);
  EXPECT_EQ(got->sources[0], a);  // by name
  SourceState want = b;
  want.counts = add;
  want.counts.Add(add);
  want.counts.mails_stored += 1;
  EXPECT_EQ(got->sources[1], want);
  EXPECT_EQ(got->sources[1].counts.smtp_tls_duplicate, 14u);
}

TEST_P(StoreContract, IngestSourceTextsAreCutToTheirBoundsAsUtf8) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  SourceState s = SampleSourceState("maildir:/" + std::string(600, 'x'));
  std::string error;
  for (int i = 0; i < 700; ++i) error += "\xc3\xa9";  // é: 1400 bytes
  s.last_error = error + "\xff";                      // and a byte that is not UTF-8
  ASSERT_TRUE(st->RecordSourceState(s, {}).ok());
  auto got = st->QueryIngestStatus(0);
  ASSERT_TRUE(got.ok()) << got.error();
  ASSERT_EQ(got->sources.size(), 1u);
  EXPECT_EQ(got->sources[0].name.size(), kMaxSourceNameBytes);
  ASSERT_TRUE(got->sources[0].last_error);
  EXPECT_EQ(*got->sources[0].last_error, error.substr(0, kMaxSourceErrorBytes));
  EXPECT_TRUE(IsValidUtf8(*got->sources[0].last_error));
  // An odd bound falls inside a character: the row keeps the whole characters before it.
  s.last_error = "a" + error;
  ASSERT_TRUE(st->RecordSourceState(s, {}).ok());
  got = st->QueryIngestStatus(0);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->sources[0].last_error->size(), kMaxSourceErrorBytes - 1);
  EXPECT_TRUE(IsValidUtf8(*got->sources[0].last_error));
}

TEST_P(StoreContract, IngestStatusCountsTheEnrichmentBacklogAndShowsTheNewestRejections) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  const auto reports = Samples({"aggregate/empty_reason.xml", "extract_report/nice-input.xml"});
  Batch enriched, pending;
  enriched.aggregates.push_back({"test", &reports[0]});
  enriched.sources_enriched_at = 1000;
  pending.aggregates.push_back({"test", &reports[1]});  // never enriched
  for (int i = 0; i < 3; ++i) {
    pending.rejections.push_back(
        {1700000000 + i, "mail.eml[part " + std::to_string(i) + "]", "not a report", "", 7, "x"});
    pending.rejections.back().sha256 = Sha256Hex("x" + std::to_string(i));
  }
  ASSERT_TRUE(st->Store(enriched).ok());
  ASSERT_TRUE(st->Store(pending).ok());
  std::set<std::string> pending_ips;
  for (const auto& rec : reports[1].records) pending_ips.insert(rec.source.ip_address);

  auto got = st->QueryIngestStatus(2);
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_TRUE(got->has_reports);
  EXPECT_EQ(got->enrichment_backlog, pending_ips.size());
  EXPECT_EQ(got->enrichment_backlog_records, reports[1].records.size());
  ASSERT_EQ(got->rejections.size(), 2u);  // the newest two, newest first
  EXPECT_EQ(got->rejections[0].origin, "mail.eml[part 2]");
  EXPECT_EQ(got->rejections[1].origin, "mail.eml[part 1]");
  EXPECT_EQ(got->rejections[0].reason, "not a report");
  EXPECT_EQ(got->rejections[0].received_at, 1700000002);
  EXPECT_EQ(got->rejections[0].size, 7u);
  EXPECT_GT(got->rejections[0].id, got->rejections[1].id);

  // Once enriched from DNS, an address leaves the backlog.
  std::vector<model::Source> sources;
  for (const auto& ip : pending_ips) {
    model::Source s;
    s.ip_address = ip;
    s.reverse_dns = "host.example.com";
    sources.push_back(s);
  }
  ASSERT_TRUE(st->UpdateSources(sources, 3000, 500).ok());
  got = st->QueryIngestStatus(2);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->enrichment_backlog, 0u);
  EXPECT_EQ(got->enrichment_backlog_records, 0u);
}

TEST(Sha256, KnownDigest) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(OpenStore, RejectsUnknownUrls) {
  auto s = OpenStore("mysql://localhost/db", {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("unsupported store URL"), std::string::npos);
}

// The store holds reports and failure samples: its file, its -wal and -shm files and a folder
// made for it are private whatever the umask.
TEST(OpenStore, TheStoreFilesAndItsFolderArePrivateWhateverTheUmask) {
  const fs::path dir = fs::temp_directory_path() / ("dmarc-private-" + std::to_string(getpid()));
  fs::remove_all(dir);
  const std::string file = (dir / "data" / "reports.db").string();
  const mode_t old_umask = ::umask(0);
  auto s = OpenStore(file, {});
  ASSERT_TRUE(s.ok()) << s.error();
  Batch b;
  b.rejections.push_back({1, "x", "y", Sha256Hex("z"), 1, "z"});
  ASSERT_TRUE((*s)->Store(b).ok());
  ::umask(old_umask);
  const auto rw = fs::perms::owner_read | fs::perms::owner_write;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    ASSERT_TRUE(fs::exists(file + suffix)) << suffix;
    EXPECT_EQ(fs::status(file + suffix).permissions(), rw) << suffix;
  }
  EXPECT_EQ(fs::status(dir).permissions(), fs::perms::owner_all);
  EXPECT_EQ(fs::status(dir / "data").permissions(), fs::perms::owner_all);
  s->reset();
  fs::remove_all(dir);
}

TEST(OpenStore, RefusesANewerSchema) {
  const fs::path file =
      fs::temp_directory_path() / ("dmarc-newer-" + std::to_string(getpid()) + ".db");
  fs::remove(file);
  {
    auto s = OpenStore(file.string(), {});
    ASSERT_TRUE(s.ok()) << s.error();
  }
  ASSERT_EQ(std::system(("sqlite3 " + file.string() + " 'PRAGMA user_version=99'").c_str()), 0);
  auto s = OpenStore(file.string(), {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("newer"), std::string::npos);
  fs::remove(file);
}

// A new store is made with 16 KiB pages (import is faster with them, docs/benchmarks.md); a store
// made before with SQLite's 4 KiB keeps them, and is written and read as before.
TEST(OpenStore, ANewStoreHasLargePagesAStoreMadeBeforeKeepsItsOwn) {
  const auto reports =
      Samples({"aggregate/empty_reason.xml", "aggregate/!example.com!1538204542!1538463818.xml"});
  for (const int made_with : {0, 4096}) {
    const fs::path file = fs::temp_directory_path() / ("dmarc-pages-" + std::to_string(getpid()) +
                                                       "-" + std::to_string(made_with) + ".db");
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
    if (made_with != 0) {
      SqliteCli(file.string(), "PRAGMA page_size=" + std::to_string(made_with) +
                                   "; PRAGMA journal_mode=WAL; CREATE TABLE before (x);");
    }
    {
      auto st = OpenStore(file.string(), {});
      ASSERT_TRUE(st.ok()) << st.error();
      ASSERT_TRUE((*st)->Store(BatchOf(reports)).ok());
    }
    const std::string expected = std::to_string(made_with != 0 ? made_with : 16384) + "\n";
    EXPECT_EQ(SqliteCli(file.string(), "PRAGMA page_size"), expected) << made_with;
    {
      auto st = OpenStore(file.string(), {});
      ASSERT_TRUE(st.ok()) << st.error();
      const std::vector<std::string> exported = ExportAll(**st);
      ASSERT_EQ(exported.size(), reports.size()) << made_with;
      for (std::size_t i = 0; i < reports.size(); ++i) EXPECT_EQ(exported[i], Json(reports[i]));
    }
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
  }
}

// /healthz said "ok" whatever the store's state: a damaged file answered the trivial query it
// ran. Health now reports the damage the background integrity check finds, fast and without
// the path; CheckIntegrity finds it at once.
TEST(SqliteHealth, ADamagedStoreIsReported) {
  const fs::path file =
      fs::temp_directory_path() / ("dmarc-health-" + std::to_string(getpid()) + ".db");
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
  const auto reports =
      Samples({"aggregate/empty_reason.xml", "aggregate/!example.com!1538204542!1538463818.xml"});
  {
    auto st = OpenStore(file.string(), {});
    ASSERT_TRUE(st.ok()) << st.error();
    ASSERT_TRUE((*st)->Store(BatchOf(reports)).ok());
    EXPECT_TRUE((*st)->CheckIntegrity().ok());
    EXPECT_TRUE((*st)->Health().ok());
  }
  dmarc::testing::DamageSqliteTable(file.string(), "aggregate_records");
  auto st = OpenStore(file.string(), {});
  ASSERT_TRUE(st.ok()) << st.error();
  auto now = (*st)->CheckIntegrity();
  ASSERT_FALSE(now.ok());
  EXPECT_NE(now.error().find("damaged"), std::string::npos) << now.error();
  // Health answers at once with the last verdict; the check it starts ends soon on this small
  // store.
  Result<bool> health = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (health.ok() && std::chrono::steady_clock::now() < deadline) {
    const auto t0 = std::chrono::steady_clock::now();
    health = (*st)->Health();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
    if (health.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(health.ok()) << "no damage reported within 30 s";
  EXPECT_EQ(health.error(), "the store is damaged (integrity check failed)");
  for (const auto& r : {now, health}) {
    EXPECT_EQ(r.error().find(file.string()), std::string::npos) << r.error();
    EXPECT_EQ(r.error().find("SELECT"), std::string::npos) << r.error();
  }
  st->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
}

TEST(SqlitePurge, FailureAndSmtpTlsReportsGoWithTheirChildren) {
  const fs::path file =
      fs::temp_directory_path() / ("dmarc-purge-" + std::to_string(getpid()) + ".db");
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
  auto st = OpenStore(file.string(), {});
  ASSERT_TRUE(st.ok()) << st.error();
  auto sql = [&](const std::string& q) { return SqliteCli(file.string(), q); };
  sql("INSERT INTO failure_reports (arrival_ts, data, origin, imported_at) VALUES"
      " (100, '{}', 'a', 1), (300, '{}', 'b', 1);"
      "INSERT INTO smtp_tls_reports (id, organization_name, report_id, begin_ts, end_ts, origin,"
      " imported_at) VALUES (1, 'o', 'old', 0, 150, 'x', 1), (2, 'o', 'new', 200, 350, 'y', 1);"
      "INSERT INTO smtp_tls_policies (id, report, policy_domain, policy_type,"
      " successful_session_count, failed_session_count) VALUES (10, 1, 'd', 'sts', 1, 1),"
      " (20, 2, 'd', 'sts', 1, 1);"
      "INSERT INTO smtp_tls_failure_details (policy, position, result_type,"
      " failed_session_count) VALUES (10, 0, 'x', 1), (20, 0, 'y', 1);");
  auto purged = (*st)->Purge(200);
  ASSERT_TRUE(purged.ok()) << purged.error();
  EXPECT_EQ(purged->failure_reports, 1u);
  EXPECT_EQ(purged->smtp_tls_reports, 1u);
  EXPECT_EQ(sql("SELECT group_concat(origin) FROM failure_reports;"
                "SELECT group_concat(report_id) FROM smtp_tls_reports;"
                "SELECT group_concat(id) FROM smtp_tls_policies;"
                "SELECT group_concat(result_type) FROM smtp_tls_failure_details;"),
            "b\nnew\n20\ny\n");
  st = MakeError("closed");
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
}

TEST(SqliteRawXml, StoredCompressedOnceComesBackIdenticalAndGoesWithItsReport) {
  const fs::path file =
      fs::temp_directory_path() / ("dmarc-rawxml-" + std::to_string(getpid()) + ".db");
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
  const std::string dir = TestData("real/parsedmarc-samples/aggregate/");
  const std::string plain = dir + "rfc9990-sample.xml";
  const std::string gz = dir + "fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz";
  pipeline::ExtractOptions options;
  options.keep_raw_xml = true;
  std::vector<pipeline::Extracted> inputs;
  for (const auto& path : {plain, gz})
    inputs.push_back(pipeline::ExtractReports(ReadFile(path), path, options));
  ASSERT_EQ(inputs[0].reports.size(), 1u);
  ASSERT_EQ(inputs[1].reports.size(), 1u);
  // parse does not keep it.
  EXPECT_TRUE(
      pipeline::ExtractReports(ReadFile(plain), plain, {}).reports[0].raw_xml_packed.empty());
  auto gunzipped = archive::Gunzip(ReadFile(gz), Limits{});
  ASSERT_TRUE(gunzipped.ok()) << gunzipped.error();
  const std::string fastmail_xml = gunzipped->data;

  Batch batch;
  for (const auto& in : inputs) {
    for (const auto& f : in.reports)
      batch.aggregates.push_back({f.origin, &f.aggregate, f.raw_xml_packed, f.raw_xml_size});
  }
  auto st = OpenStore(file.string(), {});
  ASSERT_TRUE(st.ok()) << st.error();
  ASSERT_TRUE((*st)->Store(batch).ok());
  auto again = (*st)->Store(batch);  // duplicates: nothing more stored
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->duplicate_reports, 2u);
  auto sql = [&](const std::string& q) { return SqliteCli(file.string(), q); };
  EXPECT_EQ(sql("SELECT count(*), count(DISTINCT report), min(encoding), max(encoding) FROM"
                " aggregate_raw;"),
            "2|2|zstd|zstd\n");
  // Compressed: the stored bytes are a Zstandard frame smaller than the XML.
  EXPECT_EQ(sql("SELECT count(*) FROM aggregate_raw WHERE hex(substr(bytes, 1, 4)) = '28B52FFD'"
                " AND length(bytes) < size;"),
            "2\n");

  auto dash = OpenDashboard("sqlite:" + file.string());
  ASSERT_TRUE(dash.ok()) << dash.error();
  std::map<std::string, std::int64_t> ids;  // origin -> report id
  for (const auto& path : {plain, gz}) {
    ids[path] = std::stoll(sql("SELECT id FROM aggregate_reports WHERE origin = '" + path + "';"));
  }
  ASSERT_EQ(ids.size(), 2u);
  // As received: the file itself, and the gzip member decompressed (not re-serialised).
  auto raw = (*dash)->ReportRaw(ids[plain]);
  ASSERT_TRUE(raw.ok()) << raw.error();
  EXPECT_EQ(raw->first, ReadFile(plain));
  EXPECT_EQ(raw->second, fmt::format("report-{}.xml", ids[plain]));
  raw = (*dash)->ReportRaw(ids[gz]);
  ASSERT_TRUE(raw.ok()) << raw.error();
  EXPECT_EQ(raw->first, fastmail_xml);
  auto report = (*dash)->Report(ids[plain]);
  ASSERT_TRUE(report.ok()) << report.error();
  ASSERT_TRUE(report->raw_xml.has_value());
  EXPECT_EQ(static_cast<std::size_t>(report->raw_xml->size), ReadFile(plain).size());
  EXPECT_FALSE((*dash)->ReportRaw(999).ok());

  // Purging the older report (the RFC sample, 1979) takes its XML; the newer keeps its own.
  auto purged = (*st)->Purge(1000000000);
  ASSERT_TRUE(purged.ok()) << purged.error();
  EXPECT_EQ(purged->aggregate_reports, 1u);
  EXPECT_EQ(sql("SELECT count(*) FROM aggregate_raw WHERE report NOT IN"
                " (SELECT id FROM aggregate_reports);"
                "SELECT count(*) FROM aggregate_raw;"),
            "0\n1\n");
  EXPECT_FALSE((*dash)->ReportRaw(ids[plain]).ok());
  EXPECT_TRUE((*dash)->ReportRaw(ids[gz]).ok());

  // XML kept gzip-compressed, as stores before zstd kept it, reads back the same; an unknown
  // encoding is an error that names it.
  model::AggregateReport older = inputs[0].reports[0].aggregate;
  older.report_metadata.report_id += "-gzip";
  const std::string plain_xml = ReadFile(plain);
  const std::string gzipped = archive::Gzip(plain_xml).value();
  Batch old_batch;
  old_batch.aggregates.push_back({"old", &older, gzipped, plain_xml.size()});
  old_batch.aggregates.back().raw_xml_encoding = "gzip";
  ASSERT_TRUE((*st)->Store(old_batch).ok());
  const std::string old_id =
      std::to_string(std::stoll(sql("SELECT id FROM aggregate_reports WHERE origin = 'old';")));
  EXPECT_EQ(sql("SELECT encoding FROM aggregate_raw WHERE report = " + old_id), "gzip\n");
  raw = (*dash)->ReportRaw(std::stoll(old_id));
  ASSERT_TRUE(raw.ok()) << raw.error();
  EXPECT_EQ(raw->first, plain_xml);
  sql("UPDATE aggregate_raw SET encoding = 'brotli' WHERE report = " + old_id);
  raw = (*dash)->ReportRaw(std::stoll(old_id));
  ASSERT_FALSE(raw.ok());
  EXPECT_NE(raw.error().find("unknown encoding \"brotli\""), std::string::npos) << raw.error();
  dash = MakeError("closed");
  st = MakeError("closed");
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
}

// ---- PostgreSQL only: what the SQLite tests above check through the file, through psql ----

// A copy of the empty_reason sample with this id, period and records dated at its begin.
model::AggregateReport Dated(const model::AggregateReport& base, const std::string& id,
                             std::int64_t begin, std::int64_t end) {
  model::AggregateReport r = base;
  r.report_metadata.report_id = id;
  r.report_metadata.begin = begin;
  r.report_metadata.end = end;
  for (auto& rec : r.records) {
    rec.interval_begin = begin;
    rec.interval_end = end;
  }
  return r;
}

// The partitions of aggregate_records whose lower bound is `lo` (0 or 1).
std::string PartitionsFrom(const std::string& url, std::int64_t lo) {
  return testing::PsqlUrl(url,
                          "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                          " WHERE i.inhparent = 'aggregate_records'::regclass"
                          " AND replace(pg_get_expr(c.relpartbound, c.oid), '''', '')"
                          " LIKE '%FROM (" +
                              std::to_string(lo) + ")%'");
}

// Everything a reader sees of the store at url equals what it sees of the store at want_url.
void ExpectSameStores(const std::string& url, const std::string& want_url) {
  auto got = OpenStore(url, {});
  auto want = OpenStore(want_url, {});
  ASSERT_TRUE(got.ok() && want.ok());
  EXPECT_EQ(ExportAll(**got), ExportAll(**want));
  const Filter all{std::nullopt, 0, 4102444800};
  auto a = (*got)->QueryStats(all);
  auto b = (*want)->QueryStats(all);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->reports, b->reports);
  EXPECT_EQ(a->records, b->records);
  EXPECT_EQ(a->messages, b->messages);
  EXPECT_EQ(a->by_domain, b->by_domain);
  EXPECT_EQ(a->source_ips, b->source_ips);
  for (const auto& q : RollupQueries()) {
    EXPECT_EQ(testing::PsqlUrl(url, q), testing::PsqlUrl(want_url, q)) << q;
  }
}

constexpr std::int64_t kJan2023 = 1672531200, kJan10 = 1673308800, kJan20 = 1674172800,
                       kFeb15 = 1676419200, kMar01 = 1677628800, kMar10 = 1678406400;

// Retention drops a month of purged reports whole (DROP of its partition, no DELETE of its
// rows), and the store is then that of the reports kept, rollups included.
TEST(PgPurge, AMonthOfPurgedReportsIsDroppedWhole) {
  const auto base = Samples({"aggregate/empty_reason.xml"})[0];
  const auto jan = Dated(base, "jan", kJan10, kJan10 + 86399);
  const auto jan2 = Dated(base, "jan-2", kJan20, kJan20 + 86399);
  const auto mar = Dated(base, "mar", kMar10, kMar10 + 86399);
  const std::string url = testing::SharedPostgresDatabase("PgPurgeMonth");
  const std::string want_url = testing::SharedPostgresDatabase("PgPurgeMonthWant");
  auto st = OpenStore(url, {});
  auto want = OpenStore(want_url, {});
  ASSERT_TRUE(st.ok() && want.ok());
  ASSERT_TRUE((*st)->Store(BatchOf({jan, mar, jan2})).ok());
  ASSERT_TRUE((*want)->Store(BatchOf({mar})).ok());
  ASSERT_EQ(PartitionsFrom(url, kJan2023), "1");
  ASSERT_EQ(PartitionsFrom(url, kMar01), "1");

  const auto size = (*st)->SizeOnDisk();
  auto purged = (*st)->Purge(kFeb15);
  ASSERT_TRUE(purged.ok()) << purged.error();
  EXPECT_LT((*st)->SizeOnDisk(), size);  // the month's files are gone, no VACUUM needed
  EXPECT_EQ(purged->aggregate_reports, 2u);
  EXPECT_EQ(purged->aggregate_records, jan.records.size() + jan2.records.size());
  EXPECT_EQ(PartitionsFrom(url, kJan2023), "0");  // dropped
  EXPECT_EQ(PartitionsFrom(url, kMar01), "1");
  ExpectSameStores(url, want_url);

  // The month is made again when an old report arrives later, by this store and by another.
  auto again = (*st)->Store(BatchOf({jan}));
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->new_reports, 1u);
  auto other = OpenStore(url, {});
  ASSERT_TRUE(other.ok());
  auto later = (*other)->Store(BatchOf({jan2}));
  ASSERT_TRUE(later.ok()) << later.error();
  EXPECT_EQ(later->new_reports, 1u);
  ASSERT_TRUE((*want)->Store(BatchOf({jan, jan2})).ok());
  EXPECT_EQ(PartitionsFrom(url, kJan2023), "1");
  auto stats = (*st)->QueryStats({});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->reports, 3u);
  EXPECT_EQ(stats->messages, 3 * base.MessageCount());
}

// A month that also holds a record of a kept report (one that ends after the cutoff) is not
// dropped: the purged reports' rows go one by one, the kept one stays whole.
TEST(PgPurge, AMonthWithARecordOfAKeptReportStays) {
  const auto base = Samples({"aggregate/empty_reason.xml"})[0];
  const auto jan = Dated(base, "jan", kJan10, kJan10 + 86399);
  const auto mar = Dated(base, "mar", kMar10, kMar10 + 86399);
  auto span = Dated(base, "span", kJan20, kMar01);  // its records are dated Jan 20
  const std::string url = testing::SharedPostgresDatabase("PgPurgeKept");
  const std::string want_url = testing::SharedPostgresDatabase("PgPurgeKeptWant");
  auto st = OpenStore(url, {});
  auto want = OpenStore(want_url, {});
  ASSERT_TRUE(st.ok() && want.ok());
  ASSERT_TRUE((*st)->Store(BatchOf({jan, span, mar})).ok());
  ASSERT_TRUE((*want)->Store(BatchOf({span, mar})).ok());
  auto purged = (*st)->Purge(kFeb15);
  ASSERT_TRUE(purged.ok()) << purged.error();
  EXPECT_EQ(purged->aggregate_reports, 1u);
  EXPECT_EQ(purged->aggregate_records, jan.records.size());
  EXPECT_EQ(PartitionsFrom(url, kJan2023), "1");
  EXPECT_EQ(testing::PsqlUrl(url, "SELECT count(*) FROM aggregate_records WHERE day < " +
                                      std::to_string(kFeb15)),
            std::to_string(span.records.size()));
  ExpectSameStores(url, want_url);
}

TEST(PgPurge, FailureAndSmtpTlsReportsGoWithTheirChildren) {
  const std::string url = testing::SharedPostgresDatabase("PgPurgeOther");
  auto st = OpenStore(url, {});
  ASSERT_TRUE(st.ok()) << st.error();
  for (const char* sql :
       {"INSERT INTO failure_reports (arrival_ts, data, origin, imported_at) VALUES"
        " (100, '{}', 'a', 1), (300, '{}', 'b', 1)",
        "INSERT INTO smtp_tls_reports (id, organization_name, report_id, begin_ts, end_ts, origin,"
        " imported_at) VALUES (1, 'o', 'old', 0, 150, 'x', 1), (2, 'o', 'new', 200, 350, 'y', 1)",
        "INSERT INTO smtp_tls_policies (id, report, policy_domain, policy_type,"
        " successful_session_count, failed_session_count) VALUES (10, 1, 'd', 'sts', 1, 1),"
        " (20, 2, 'd', 'sts', 1, 1)",
        "INSERT INTO smtp_tls_failure_details (policy, position, result_type,"
        " failed_session_count) VALUES (10, 0, 'x', 1), (20, 0, 'y', 1)"}) {
    testing::PsqlUrl(url, sql);
  }
  auto purged = (*st)->Purge(200);
  ASSERT_TRUE(purged.ok()) << purged.error();
  EXPECT_EQ(purged->failure_reports, 1u);
  EXPECT_EQ(purged->smtp_tls_reports, 1u);
  EXPECT_EQ(testing::PsqlUrl(url, "SELECT string_agg(origin, ',') FROM failure_reports"), "b");
  EXPECT_EQ(testing::PsqlUrl(url, "SELECT string_agg(report_id, ',') FROM smtp_tls_reports"),
            "new");
  EXPECT_EQ(testing::PsqlUrl(url, "SELECT string_agg(id::text, ',') FROM smtp_tls_policies"), "20");
  EXPECT_EQ(
      testing::PsqlUrl(url, "SELECT string_agg(result_type, ',') FROM smtp_tls_failure_details"),
      "y");
}

// The PostgreSQL twin of SqliteHealth: records removed behind the store's back (as a damaged or
// lost partition would) are found by CheckIntegrity at once and by Health's background check,
// without SQL or the server's address in either answer; with amcheck installed, the store's
// indexes are verified too (and a sound store passes).
TEST(PgHealth, ADamagedStoreIsReported) {
  const std::string url = testing::SharedPostgresDatabase("PgHealth");
  const auto reports =
      Samples({"aggregate/empty_reason.xml", "aggregate/!example.com!1538204542!1538463818.xml"});
  {
    auto st = OpenStore(url, {});
    ASSERT_TRUE(st.ok()) << st.error();
    ASSERT_TRUE((*st)->Store(BatchOf(reports)).ok());
    auto now = (*st)->CheckIntegrity();
    EXPECT_TRUE(now.ok()) << now.error();
    EXPECT_TRUE((*st)->Health().ok());
    testing::PsqlUrl(url, "CREATE EXTENSION amcheck");
    now = (*st)->CheckIntegrity();
    EXPECT_TRUE(now.ok()) << now.error();
    // A schema this program does not know is reported at once.
    // (The program's version is the number of its migrations: read, not written here, so the
    // test holds when migrations are added.)
    const std::string version = testing::PsqlUrl(url, "SELECT version FROM dmarc_report_schema");
    ASSERT_FALSE(version.empty());
    testing::PsqlUrl(url, "UPDATE dmarc_report_schema SET version = 99");
    auto health = (*st)->Health();
    ASSERT_FALSE(health.ok());
    EXPECT_EQ(health.error(), "the store's schema version is 99, not " + version);
    testing::PsqlUrl(url, "UPDATE dmarc_report_schema SET version = " + version);
  }
  testing::PsqlUrl(url,
                   "DELETE FROM aggregate_records WHERE id = (SELECT min(id) FROM"
                   " aggregate_records)");
  auto st = OpenStore(url, {});
  ASSERT_TRUE(st.ok()) << st.error();
  auto now = (*st)->CheckIntegrity();
  ASSERT_FALSE(now.ok());
  EXPECT_NE(now.error().find("damaged"), std::string::npos) << now.error();
  Result<bool> health = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (health.ok() && std::chrono::steady_clock::now() < deadline) {
    const auto t0 = std::chrono::steady_clock::now();
    health = (*st)->Health();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
    if (health.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(health.ok()) << "no damage reported within 30 s";
  EXPECT_EQ(health.error(), "the store is damaged (integrity check failed)");
  const std::string port = std::to_string(testing::PostgresPortAndDb(url).first);
  for (const auto& r : {now, health}) {
    EXPECT_EQ(r.error().find(port), std::string::npos) << r.error();
    EXPECT_EQ(r.error().find("SELECT"), std::string::npos) << r.error();
  }
}

// Failure reports stored before their source's DNS answer (run stores first, asks DNS after) are
// found by SourceIpsToEnrich and get the answer from UpdateSources, once; an update without an
// answer (enriched_at 0) leaves them to be asked again.
TEST_P(StoreContract, FailureReportsStoredWithoutNamesGetThemLater) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  OtherReports o = FailureAndTlsSamples();
  ASSERT_GE(o.failures.size(), 2u);
  o.smtp_tls.clear();
  std::set<std::string> ips;
  for (auto& f : o.failures) {
    f.report.source = model::Source{};
    f.report.source.ip_address = "192.0.2." + std::to_string(ips.size() + 10);
    ips.insert(f.report.source.ip_address);
  }
  Batch later = BatchOf(o);  // the first report: named at ingest
  later.failures.resize(1);
  later.sources_enriched_at = 1700000000;
  ASSERT_TRUE(st->Store(later).ok());
  Batch deferred = BatchOf(o);
  deferred.failures.erase(deferred.failures.begin());
  ASSERT_TRUE(st->Store(deferred).ok());

  const std::string named_at_ingest = o.failures[0].report.source.ip_address;
  ips.erase(named_at_ingest);
  auto asked = st->SourceIpsToEnrich(0);
  ASSERT_TRUE(asked.ok()) << asked.error();
  EXPECT_EQ(std::set<std::string>(asked->begin(), asked->end()), ips);

  std::vector<model::Source> answers;
  for (const auto& ip : ips) {
    model::Source s;
    s.ip_address = ip;
    s.reverse_dns = "host-" + ip + ".example.net";
    s.base_domain = "example.net";
    answers.push_back(s);
  }
  auto none = st->UpdateSources(answers, 0, 1);  // no DNS answer: nothing marked
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_EQ(*none, 0u);
  auto named = st->UpdateSources(answers, 1700000100, 1);
  ASSERT_TRUE(named.ok()) << named.error();
  EXPECT_EQ(*named, ips.size());
  auto again = st->SourceIpsToEnrich(0);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_TRUE(again->empty());

  std::size_t seen = 0;
  ASSERT_TRUE(st->ForEachFailure({std::nullopt, 0, 4102444800}, [&](model::FailureReport&& r) {
                  ++seen;
                  if (r.source.ip_address == named_at_ingest) {
                    EXPECT_FALSE(r.source.reverse_dns);
                  } else {
                    EXPECT_EQ(r.source.reverse_dns, "host-" + r.source.ip_address + ".example.net");
                    EXPECT_EQ(r.source.base_domain, "example.net");
                  }
                  EXPECT_FALSE(r.reported_domain.empty());
                }).ok());
  EXPECT_EQ(seen, o.failures.size());
}

// ---- One reporter under the names it sends (store/reporter_key.h) ----

// Copies of the empty_reason sample from reporters named as real ones write themselves.
std::vector<model::AggregateReport> NamedReporters(const std::vector<std::string>& names) {
  const auto base = Samples({"aggregate/empty_reason.xml"});
  std::vector<model::AggregateReport> out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out.push_back(Dated(base[0], "named-" + std::to_string(i), 1700000000 + 86400 * i,
                        1700086399 + 86400 * i));
    out.back().report_metadata.org_name = names[i];
  }
  return out;
}

// The reporters list, the reporter filter and the reporter count agree on "Google",
// "google.com" and "GOOGLE Inc." being one reporter.
void ExpectGoogleIsOneReporter(const std::string& url) {
  auto dash = OpenDashboard(url);
  ASSERT_TRUE(dash.ok()) << dash.error();
  auto reporters = (*dash)->Reporters({});
  ASSERT_TRUE(reporters.ok()) << reporters.error();
  ASSERT_EQ(reporters->size(), 2u);
  EXPECT_EQ((*reporters)[0].org_name, "GOOGLE Inc.");  // the first name in byte order
  EXPECT_EQ((*reporters)[0].reports, 3);
  EXPECT_EQ((*reporters)[1].org_name, "Yahoo");
  EXPECT_EQ((*reporters)[1].reports, 1);
  for (const char* name : {"google.com", "Google", "GOOGLE Inc.", "mail.google.com"}) {
    DashboardFilter f;
    f.org_name = name;
    auto reports = (*dash)->Reports(f, {});
    ASSERT_TRUE(reports.ok()) << reports.error();
    EXPECT_EQ(reports->total, 3) << name;
    auto records = (*dash)->Records(f, {});
    ASSERT_TRUE(records.ok()) << records.error();
    std::set<std::string> ids;
    for (const auto& r : records->rows) ids.insert(r.report_id);
    EXPECT_EQ(ids, (std::set<std::string>{"named-0", "named-1", "named-2"})) << name;
  }
  auto overview = (*dash)->Overview({});
  ASSERT_TRUE(overview.ok()) << overview.error();
  EXPECT_EQ(overview->totals.reports, 4);
  EXPECT_EQ(overview->totals.reporters, 2);
}

TEST_P(StoreContract, ReporterNamesDifferingInCaseOrSuffixAreOneReporter) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  const auto reports = NamedReporters({"Google", "google.com", "GOOGLE Inc.", "Yahoo"});
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  ExpectGoogleIsOneReporter(url_);
}

// Reports written without their reporter key (before the key existed: migration 9 / 3 adds the
// column empty) get it when a writer opens the store.
TEST_P(StoreContract, ReportsStoredBeforeTheReporterKeyGetItWhenMigrated) {
  {
    auto st = OpenFresh();
    ASSERT_TRUE(st);
    const auto reports = NamedReporters({"Google", "google.com", "GOOGLE Inc.", "Yahoo"});
    ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  }
  const std::string undo = "UPDATE aggregate_reports SET reporter_key = NULL";
  if (std::string_view(GetParam().name) == "sqlite") {
    const std::string file = url_.substr(std::string_view("sqlite:").size());
    ASSERT_EQ(std::system(("sqlite3 " + file + " '" + undo + "'").c_str()), 0);
  } else {
    testing::PsqlUrl(url_, undo);
    ASSERT_EQ(testing::PsqlUrl(url_,
                               "SELECT count(*) FROM aggregate_reports WHERE reporter_key"
                               " IS NULL"),
              "4");
  }
  ASSERT_TRUE(Reopen());
  ExpectGoogleIsOneReporter(url_);
}

// ---- The outbox of the outputs (docs/outputs.md) ----

// The JSON of an outbox entry's report, to compare with what was stored.
std::string EntryJson(const OutboxEntry& e) {
  std::string s;
  if (e.kind == OutboxKind::kAggregate) sinks::AppendAggregateJson(e.aggregate, s, false);
  if (e.kind == OutboxKind::kFailure) sinks::AppendFailureJson(e.failure, s, false);
  if (e.kind == OutboxKind::kSmtpTls) sinks::AppendSmtpTlsJson(e.smtp_tls, s, false);
  return s;
}

std::vector<std::int64_t> Ids(const std::vector<OutboxEntry>& entries) {
  std::vector<std::int64_t> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  return ids;
}

OutboxState StateOf(ReportStore& st, const std::string& name) {
  auto all = st.QueryOutbox();
  EXPECT_TRUE(all.ok()) << all.error();
  for (const auto& o : all.ok() ? *all : std::vector<OutboxState>{}) {
    if (o.name == name) return o;
  }
  return {};
}

TEST_P(StoreContract, NewReportsAreQueuedOncePerOutputInTheOrderStored) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  const auto first = Samples({kDistinct[0], kDistinct[1]});
  const auto second = Samples({kDistinct[2]});
  const OtherReports other = FailureAndTlsSamples();
  ASSERT_FALSE(other.failures.empty());
  ASSERT_FALSE(other.smtp_tls.empty());
  // Stored before any output exists: never queued.
  ASSERT_TRUE(st->Store(BatchOf(Samples({kDistinct[3]}))).ok());
  st->SetOutboxOutputs({"es", "hook"});
  ASSERT_TRUE(st->Store(BatchOf(first)).ok());
  Batch mixed = BatchOf(other);
  for (const auto& r : second) mixed.aggregates.push_back({"test", &r});
  ASSERT_TRUE(st->Store(mixed).ok());
  // Duplicates change nothing, the outbox included.
  ASSERT_TRUE(st->Store(BatchOf(first)).ok());
  std::vector<std::string> want;
  for (const auto& r : first) want.push_back(Json(r));
  for (const auto& r : second) want.push_back(Json(r));
  // The samples repeat some failure reports: what was stored (one of each) is queued.
  ASSERT_TRUE(st->ForEachFailure({}, [&](model::FailureReport&& f) {
                  std::string s;
                  sinks::AppendFailureJson(f, s, false);
                  want.push_back(s);
                }).ok());
  ASSERT_TRUE(st->ForEachSmtpTls({}, [&](model::SmtpTlsReport&& t) {
                  std::string s;
                  sinks::AppendSmtpTlsJson(t, s, false);
                  want.push_back(s);
                }).ok());
  for (const std::string name : {"es", "hook"}) {
    auto next = st->OutboxNext(name, 1000, 1'000'000);
    ASSERT_TRUE(next.ok()) << next.error();
    std::vector<std::string> got;
    for (std::size_t i = 0; i < next->size(); ++i) {
      EXPECT_FALSE((*next)[i].purged);
      if (i > 0) {
        EXPECT_GT((*next)[i].id, (*next)[i - 1].id);
      }
      got.push_back(EntryJson((*next)[i]));
    }
    EXPECT_EQ(got, want) << name;
    EXPECT_EQ(StateOf(*st, name).backlog, want.size());
  }
  auto none = st->OutboxNext("other", 10, 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreContract, SettlingRemovesDeliveredEntriesAndFailuresKeepThemAcrossReopen) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  st->SetOutboxOutputs({"hook"});
  const auto reports = Samples({kDistinct[0], kDistinct[1], kDistinct[2]});
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  auto next = st->OutboxNext("hook", 2, 1'000'000);
  ASSERT_TRUE(next.ok()) << next.error();
  ASSERT_EQ(next->size(), 2u);
  OutboxOutcome failed{
      .ids = Ids(*next), .now = 1000, .error = "hook: refused", .next_attempt_at = 1010};
  ASSERT_TRUE(st->OutboxSettle("hook", failed).ok());
  failed.now = 1010;
  failed.next_attempt_at = 1030;
  ASSERT_TRUE(st->OutboxSettle("hook", failed).ok());
  st = Reopen();
  ASSERT_TRUE(st);
  OutboxState s = StateOf(*st, "hook");
  EXPECT_EQ(s.backlog, 3u);
  EXPECT_EQ(s.consecutive_failures, 2u);
  EXPECT_EQ(s.failures, 2u);
  EXPECT_EQ(s.next_attempt_at, 1030);
  EXPECT_EQ(s.last_error, "hook: refused");
  EXPECT_EQ(s.last_error_at, 1010);
  EXPECT_EQ(s.last_success_at, 0);
  next = st->OutboxNext("hook", 2, 1'000'000);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 2u);
  const OutboxOutcome ok{.ids = Ids(*next), .now = 1030, .settled = true, .delivered = 2};
  ASSERT_TRUE(st->OutboxSettle("hook", ok).ok());
  s = StateOf(*st, "hook");
  EXPECT_EQ(s.backlog, 1u);
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_EQ(s.delivered, 2u);
  EXPECT_EQ(s.last_success_at, 1030);
  EXPECT_EQ(s.next_attempt_at, 0);
  EXPECT_EQ(s.last_error, "hook: refused");  // kept until the next error
  next = st->OutboxNext("hook", 10, 1'000'000);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ(EntryJson(next->front()), Json(reports[2]));
  const OutboxOutcome dropped{.ids = Ids(*next),
                              .now = 1040,
                              .settled = true,
                              .dropped = 1,
                              .error = "hook: 400 Bad Request"};
  ASSERT_TRUE(st->OutboxSettle("hook", dropped).ok());
  s = StateOf(*st, "hook");
  EXPECT_EQ(s.backlog, 0u);
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_EQ(s.last_success_at, 1030);
  EXPECT_EQ(s.last_error_at, 1040);
}

TEST_P(StoreContract, OutboxReadsStopAtTheRecordBoundButGiveAtLeastOneReport) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  st->SetOutboxOutputs({"hook"});
  const auto reports = Samples({kDistinct[0], kDistinct[1], kDistinct[2]});
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  auto one = st->OutboxNext("hook", 10, 1);
  ASSERT_TRUE(one.ok()) << one.error();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(EntryJson(one->front()), Json(reports[0]));
  const std::size_t two_reports = reports[0].records.size() + reports[1].records.size();
  auto two = st->OutboxNext("hook", 10, two_reports);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
}

TEST_P(StoreContract, ExportToQueuesWhatTheFilterSelectsForOneOutput) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  const auto reports = Samples(kDistinct);
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  const OtherReports other = FailureAndTlsSamples();
  ASSERT_TRUE(st->Store(BatchOf(other)).ok());
  const std::string domain = reports[1].policy_published.domain;
  Filter by_domain;
  by_domain.domain = domain;
  std::vector<std::string> want;
  ASSERT_TRUE(st->ForEachAggregate(by_domain, [&](model::AggregateReport&& r) {
                  want.push_back(Json(r));
                }).ok());
  ASSERT_FALSE(want.empty());
  auto added = st->OutboxEnqueue("es", by_domain, {.failure = false, .smtp_tls = false});
  ASSERT_TRUE(added.ok()) << added.error();
  EXPECT_EQ(*added, want.size());
  auto next = st->OutboxNext("es", 1000, 1'000'000);
  ASSERT_TRUE(next.ok());
  std::vector<std::string> got;
  for (const auto& e : *next) got.push_back(EntryJson(e));
  EXPECT_EQ(got, want);
  auto all = st->OutboxEnqueue("all", Filter{}, {});
  ASSERT_TRUE(all.ok());
  auto stats = st->QueryStats({});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(*all, stats->reports + stats->failure_reports + stats->smtp_tls_reports);
  EXPECT_EQ(StateOf(*st, "hook").name, "");  // an output never queued for is not listed
}

TEST_P(StoreContract, AnEntryWhoseReportWasPurgedSaysSo) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  st->SetOutboxOutputs({"hook"});
  const auto reports = Samples({kDistinct[0], kDistinct[1]});
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  const std::int64_t cutoff =
      std::max(reports[0].report_metadata.end, reports[1].report_metadata.end) + 1;
  ASSERT_TRUE(st->Purge(cutoff).ok());
  auto next = st->OutboxNext("hook", 10, 10);
  ASSERT_TRUE(next.ok()) << next.error();
  ASSERT_EQ(next->size(), 2u);
  EXPECT_TRUE((*next)[0].purged);
  EXPECT_TRUE((*next)[1].purged);
}
// A report queued twice for one output (export --to run twice) is read back for both entries,
// and a batch mixing the kinds keeps its order.
TEST_P(StoreContract, AReportQueuedTwiceIsReadBackForEachEntry) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  const auto reports = Samples({kDistinct[0], kDistinct[1]});
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  ASSERT_TRUE(st->Store(BatchOf(FailureAndTlsSamples())).ok());
  for (int pass = 0; pass < 2; ++pass) {
    auto added = st->OutboxEnqueue("es", Filter{}, {});
    ASSERT_TRUE(added.ok()) << added.error();
  }
  auto next = st->OutboxNext("es", 1000, 1'000'000);
  ASSERT_TRUE(next.ok()) << next.error();
  ASSERT_EQ(next->size() % 2, 0u);
  const std::size_t half = next->size() / 2;
  ASSERT_GT(half, reports.size());  // aggregate, failure and SMTP TLS reports
  for (std::size_t i = 0; i < half; ++i) {
    EXPECT_FALSE((*next)[i].purged);
    EXPECT_EQ((*next)[i].kind, (*next)[i + half].kind);
    EXPECT_EQ(EntryJson((*next)[i]), EntryJson((*next)[i + half])) << i;
  }
  EXPECT_EQ(EntryJson((*next)[0]), Json(reports[0]));
}

TEST_P(StoreContract, ClearingAnOutputForgetsItsQueueAndStateAndKeepsTheOthers) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  st->SetOutboxOutputs({"gone", "kept"});
  const auto reports = Samples({kDistinct[0], kDistinct[1]});
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  const OutboxOutcome failed{.ids = {}, .now = 1000, .error = "gone: refused"};
  ASSERT_TRUE(st->OutboxSettle("gone", failed).ok());
  ASSERT_EQ(StateOf(*st, "gone").backlog, 2u);
  auto cleared = st->OutboxClear("gone");
  ASSERT_TRUE(cleared.ok()) << cleared.error();
  EXPECT_EQ(*cleared, 2u);
  EXPECT_EQ(StateOf(*st, "gone").name, "");  // no longer listed
  auto next = st->OutboxNext("gone", 10, 1'000'000);
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(next->empty());
  EXPECT_EQ(StateOf(*st, "kept").backlog, 2u);  // the other output and the reports stay
  auto stats = st->QueryStats({});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->reports, reports.size());
  auto again = st->OutboxClear("gone");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
}

// ---- Sender inventory and statuses (store/senders.h) ----

const Sender* FindSender(const std::vector<Sender>& senders, const std::string& key) {
  for (const auto& s : senders) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

// The generated scenario's senders come out grouped, counted and suggested as it says.
TEST_P(StoreContract, SenderInventoryOfTheScenarioHasItsKnownAnswers) {
  namespace sc = senders_scenario;
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  const auto reports = sc::Reports();
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  InventoryOptions opts{sc::kDomain, sc::kNow, "", ""};
  auto inv = SenderInventory(*st, opts);
  ASSERT_TRUE(inv.ok()) << inv.error();
  ASSERT_EQ(inv->size(), 4u);
  // Most messages first.
  EXPECT_EQ((*inv)[0].key, "Mailchimp");
  EXPECT_EQ((*inv)[1].key, "SendGrid");
  EXPECT_EQ((*inv)[2].key, "AS64500");
  EXPECT_EQ((*inv)[3].key, "smallhost.example");
  const Sender& mc = (*inv)[0];
  EXPECT_EQ(mc.kind, "service");
  EXPECT_EQ(mc.type, "Marketing");
  EXPECT_EQ(mc.messages, 150u);
  EXPECT_EQ(mc.messages_last_30d, 100u);
  EXPECT_EQ(mc.messages_prior_30d, 50u);
  EXPECT_EQ(mc.dkim_aligned, 150u);
  EXPECT_EQ(mc.spf_aligned, 0u);
  EXPECT_EQ(mc.dmarc_pass, 150u);
  EXPECT_EQ(mc.ip_count, 2u);
  EXPECT_EQ(mc.ips, (std::vector<std::string>{"198.2.128.1", "198.2.128.2"}));
  EXPECT_EQ(mc.dkim_domains, (std::vector<std::string>{"example.com", "mcsv.net"}));
  EXPECT_EQ(mc.dkim_selectors, (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(mc.spf_domains, (std::vector<std::string>{"mcsv.net"}));
  EXPECT_EQ(mc.first_seen, sc::kNow - 40 * sc::kDay);
  EXPECT_EQ(mc.last_seen, sc::kNow - 10 * sc::kDay + sc::kDay - 1);
  EXPECT_EQ(mc.suggested, "approved");
  EXPECT_EQ(mc.status, "unknown");
  const Sender& sg = (*inv)[1];
  EXPECT_EQ(sg.kind, "service");
  EXPECT_EQ(sg.messages, 40u);
  EXPECT_EQ(sg.dkim_aligned, 0u);
  EXPECT_EQ(sg.dkim_domains, (std::vector<std::string>{"sendgrid.net"}));
  EXPECT_EQ(sg.suggested, "unknown");
  const Sender& spoof = (*inv)[2];
  EXPECT_EQ(spoof.kind, "asn");
  EXPECT_EQ(spoof.messages, 7u);
  EXPECT_EQ(spoof.dmarc_pass, 0u);
  EXPECT_EQ(spoof.suggested, "unknown");
  EXPECT_TRUE(spoof.dkim_domains.empty());
  const Sender& once = (*inv)[3];
  EXPECT_EQ(once.kind, "base_domain");
  EXPECT_EQ(once.messages, 1u);
  EXPECT_EQ(once.messages_last_30d + once.messages_prior_30d, 0u);
  EXPECT_EQ(once.first_seen, sc::kNow - 70 * sc::kDay);
  EXPECT_EQ(once.suggested, "approved");
  // The other domain's sender is not there, and has its own inventory.
  EXPECT_EQ(FindSender(*inv, "elsewhere.example"), nullptr);
  auto other = SenderInventory(*st, {"other.example", sc::kNow, "", ""});
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0].key, "elsewhere.example");
  // Search: by a listed value (an address) and by key.
  auto found = SenderInventory(*st, {sc::kDomain, sc::kNow, "203.0.113", ""});
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].key, "AS64500");
}

// The dashboard's cache keeps a domain's sender index while the store's aggregate data stays
// the same: a status change, or another connection, reuses it (the status shows at once); a new
// report builds it anew; each domain and list of forwarders has its own.
TEST_P(StoreContract, SenderIndexCacheKeepsAnIndexUntilTheReportsChange) {
  namespace sc = senders_scenario;
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  auto reports = sc::Reports();
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  SenderIndexCache cache;
  const Forwarders& builtin = Forwarders::BuiltIn();
  auto first = cache.Get(*st, sc::kDomain, builtin);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE((*first)->version.has_value());
  EXPECT_EQ(cache.builds(), 1u);
  auto again = cache.Get(*st, sc::kDomain, builtin);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), first->get());

  ASSERT_TRUE(st->SetSenderStatus({sc::kDomain, "SendGrid", "approved", "tester", sc::kNow}).ok());
  auto other_connection = Reopen();
  ASSERT_TRUE(other_connection);
  auto kept = cache.Get(*other_connection, sc::kDomain, builtin);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->get(), first->get());
  EXPECT_EQ(cache.builds(), 1u);
  const InventoryOptions opts{sc::kDomain, sc::kNow, "", ""};
  auto inv = SenderInventory(*other_connection, **kept, opts);
  ASSERT_TRUE(inv.ok());
  ASSERT_NE(FindSender(*inv, "SendGrid"), nullptr);
  EXPECT_EQ(FindSender(*inv, "SendGrid")->status, "approved");
  const std::uint64_t mailchimp = FindSender(*inv, "Mailchimp")->messages;

  // The first report again under another id: its Mailchimp mail counts twice.
  std::uint64_t added = 0;
  model::AggregateReport copy = reports[0];
  copy.report_metadata.report_id += "-again";
  for (const auto& r : copy.records) {
    if (IdentifySender(r).key == "Mailchimp") added += r.count;
  }
  ASSERT_GT(added, 0u);
  ASSERT_TRUE(st->Store(BatchOf({copy})).ok());
  // The server's refresh builds it before a request asks; then nothing is behind.
  auto refreshed = cache.Refresh(*other_connection);
  ASSERT_TRUE(refreshed.ok()) << refreshed.error();
  EXPECT_EQ(*refreshed, 1u);
  EXPECT_EQ(cache.builds(), 2u);
  EXPECT_EQ(*cache.Refresh(*st), 0u);
  auto fresh = cache.Get(*other_connection, sc::kDomain, builtin);
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(fresh->get(), first->get());
  EXPECT_EQ(cache.builds(), 2u);
  inv = SenderInventory(*other_connection, **fresh, opts);
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(FindSender(*inv, "Mailchimp")->messages, mailchimp + added);
  // The same as without the cache.
  auto direct = SenderInventory(*st, opts);
  ASSERT_TRUE(direct.ok());
  ASSERT_EQ(direct->size(), inv->size());
  for (std::size_t i = 0; i < inv->size(); ++i) {
    EXPECT_EQ((*direct)[i].key, (*inv)[i].key);
    EXPECT_EQ((*direct)[i].messages, (*inv)[i].messages);
    EXPECT_EQ((*direct)[i].status, (*inv)[i].status);
  }

  auto other_domain = cache.Get(*st, "other.example", builtin);
  ASSERT_TRUE(other_domain.ok());
  EXPECT_EQ((*other_domain)->senders.size(), 1u);
  Forwarders user = builtin;
  auto other_list = cache.Get(*st, sc::kDomain, user);
  ASSERT_TRUE(other_list.ok());
  EXPECT_NE(other_list->get(), fresh->get());
  EXPECT_EQ(cache.builds(), 4u);
}

// Statuses are kept per (domain, sender) with who and when, replaced, reset, filtered on, and
// survive reopening; bad ones are refused.
TEST_P(StoreContract, SenderStatusesAreSetReplacedAndReset) {
  namespace sc = senders_scenario;
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  const auto reports = sc::Reports();
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  ASSERT_TRUE(st->SetSenderStatus({sc::kDomain, "Mailchimp", "approved", "alice", 100}).ok());
  ASSERT_TRUE(st->SetSenderStatus({sc::kDomain, "AS64500", "approved", "bob", 200}).ok());
  ASSERT_TRUE(st->SetSenderStatus({sc::kDomain, "AS64500", "unapproved", "carol", 300}).ok());
  ASSERT_TRUE(st->SetSenderStatus({"other.example", "Mailchimp", "forwarder", "dave", 400}).ok());
  ASSERT_TRUE(st->SetSenderStatus({sc::kDomain, "SendGrid", "approved", "erin", 500}).ok());
  ASSERT_TRUE(st->SetSenderStatus({sc::kDomain, "SendGrid", "unknown", "erin", 600}).ok());
  EXPECT_EQ(st->SetSenderStatus({sc::kDomain, "X", "trusted", "x", 1}).error_kind(),
            ErrorKind::kInvalid);
  EXPECT_EQ(
      st->SetSenderStatus({sc::kDomain, std::string(256, 'a'), "approved", "x", 1}).error_kind(),
      ErrorKind::kInvalid);
  EXPECT_EQ(st->SetSenderStatus({"", "X", "approved", "x", 1}).error_kind(), ErrorKind::kInvalid);
  st = Reopen();
  ASSERT_TRUE(st);
  auto rows = st->SenderStatuses(sc::kDomain);
  ASSERT_TRUE(rows.ok()) << rows.error();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].sender, "AS64500");
  EXPECT_EQ((*rows)[0].status, "unapproved");
  EXPECT_EQ((*rows)[0].changed_by, "carol");
  EXPECT_EQ((*rows)[0].changed_at, 300);
  EXPECT_EQ((*rows)[1].sender, "Mailchimp");
  EXPECT_EQ((*rows)[1].status, "approved");
  auto inv = SenderInventory(*st, {sc::kDomain, sc::kNow, "", ""});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(FindSender(*inv, "Mailchimp")->status, "approved");
  ASSERT_TRUE(FindSender(*inv, "Mailchimp")->status_row);
  EXPECT_EQ(FindSender(*inv, "Mailchimp")->status_row->changed_by, "alice");
  EXPECT_EQ(FindSender(*inv, "AS64500")->status, "unapproved");
  EXPECT_EQ(FindSender(*inv, "SendGrid")->status, "unknown");
  auto unknown = SenderInventory(*st, {sc::kDomain, sc::kNow, "", "unknown"});
  ASSERT_TRUE(unknown.ok());
  ASSERT_EQ(unknown->size(), 2u);
  EXPECT_EQ((*unknown)[0].key, "SendGrid");
  EXPECT_EQ((*unknown)[1].key, "smallhost.example");
  auto other = st->SenderStatuses("other.example");
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0].status, "forwarder");
}

// The aggregate version (ReportStore::AggregateVersion) moves with every commit that changes what
// ForEachAggregate reads (a new report, a copy, enrichment of records, a purge) and with no
// other; every connection to the store reads the same number.
TEST_P(StoreContract, AggregateVersionChangesWithAggregateDataOnly) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  auto version = [](ReportStore& s) -> std::int64_t {
    auto v = s.AggregateVersion();
    EXPECT_TRUE(v.ok()) << v.error();
    EXPECT_TRUE(v.ok() && v->has_value()) << s.Describe() << " keeps no aggregate version";
    return v.ok() && v->has_value() ? **v : -1;
  };
  const std::int64_t empty = version(*st);
  ASSERT_NE(empty, -1);

  // Writes of anything else leave it.
  ASSERT_TRUE(st->SetSenderStatus({"example.com", "Mailchimp", "approved", "alice", 100}).ok());
  ASSERT_TRUE(st->RecordSourceState(SampleSourceState("directory:inbox"), {}).ok());
  ASSERT_TRUE(st->SaveSealedToken({"graph", "tenant client a@example.com", "00", "00", "a", 1}));
  IpInfoRow info{"192.0.2.1", "name",    "mail.example.com", "example.com", "US",
                 64500,       "AS name", "ex.net",           1000,          2000};
  ASSERT_TRUE(st->PutIpInfo({info}));
  const OtherReports o = FailureAndTlsSamples();
  ASSERT_FALSE(o.failures.empty());
  auto others = st->Store(BatchOf(o));  // failure and SMTP TLS reports only
  ASSERT_TRUE(others.ok()) << others.error();
  EXPECT_GT(others->new_failures, 0u);
  EXPECT_EQ(version(*st), empty);

  // A new aggregate report moves it, a duplicate does not; another connection reads the same.
  const auto reports = Samples({"aggregate/empty_reason.xml"});
  ASSERT_FALSE(reports[0].records.empty());
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());
  const std::int64_t stored = version(*st);
  EXPECT_NE(stored, empty);
  auto dup = st->Store(BatchOf(reports));
  ASSERT_TRUE(dup.ok()) << dup.error();
  EXPECT_EQ(dup->duplicate_reports, 1u);
  EXPECT_EQ(version(*st), stored);
  auto other = Reopen();
  ASSERT_TRUE(other);
  EXPECT_EQ(version(*other), stored);

  // Enrichment of the stored records moves it (seen by the other connection at once);
  // enrichment that finds nothing to update does not.
  model::Source source;
  source.ip_address = reports[0].records[0].source.ip_address;
  source.reverse_dns = "host.example.com";
  source.base_domain = "example.com";
  source.country = "DE";
  auto changed = st->UpdateSources({source}, 3000, 2000);
  ASSERT_TRUE(changed.ok()) << changed.error();
  ASSERT_GT(*changed, 0u);
  const std::int64_t enriched = version(*other);
  EXPECT_NE(enriched, stored);
  EXPECT_EQ(version(*st), enriched);
  changed = st->UpdateSources({source}, 3000, 2000);  // enriched at 3000: not before 2000
  ASSERT_TRUE(changed.ok()) << changed.error();
  EXPECT_EQ(*changed, 0u);
  EXPECT_EQ(version(*st), enriched);

  // A copy (migrate) into another store moves the target's.
  auto target = OpenStore(GetParam().fresh_url("AggregateVersionCopy"), {});
  ASSERT_TRUE(target.ok()) << target.error();
  const std::int64_t target_empty = version(**target);
  ASSERT_TRUE(st->ForEachCopy(100, [&](CopyBatch&& b) -> Result<bool> {
    DMARC_TRY((*target)->StoreCopy(b));
    return true;
  }));
  EXPECT_NE(version(**target), target_empty);

  // A purge that removes nothing leaves it; one that removes the report moves it.
  auto purged = st->Purge(1);
  ASSERT_TRUE(purged.ok()) << purged.error();
  EXPECT_EQ(purged->aggregate_reports, 0u);
  EXPECT_EQ(version(*st), enriched);
  purged = st->Purge(reports[0].report_metadata.end + 1);
  ASSERT_TRUE(purged.ok()) << purged.error();
  EXPECT_EQ(purged->aggregate_reports, 1u);
  const std::int64_t after_purge = version(*st);
  EXPECT_NE(after_purge, enriched);
  EXPECT_NE(after_purge, stored);
  EXPECT_EQ(version(*other), after_purge);
  st = Reopen();
  ASSERT_TRUE(st);
  EXPECT_EQ(version(*st), after_purge);
}

// ---- Enforcement advisor (store/advisor.h) ----

namespace ad = advisor_scenario;

// Stores the advisor scenario (and `extra`) and gives the senders these statuses.
void FillAdvisorStore(ReportStore& st,
                      const std::vector<std::pair<std::string, std::string>>& statuses,
                      std::vector<model::AggregateReport> extra = {}) {
  auto reports = ad::Reports();
  for (auto& r : extra) reports.push_back(std::move(r));
  ASSERT_TRUE(st.Store(BatchOf(reports)).ok());
  for (const auto& [sender, status] : statuses) {
    ASSERT_TRUE(st.SetSenderStatus({ad::kDomain, sender, status, "test", 1}).ok());
  }
}

const SenderOutcome* FindOutcome(const Advice& a, const std::string& key) {
  for (const auto& s : a.senders) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

double PercentOf(std::uint64_t part, std::uint64_t whole) {
  return 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

// With its senders approved, rejected and marked a forwarder, the scenario's mail of the last
// 30 days splits into passing, forwarded and failing mail as built; the simulation, the score,
// the rule and what to fix follow.
TEST_P(StoreContract, AdvisorSplitsTheScenariosMailAndSaysWhatToFix) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  FillAdvisorStore(*st, {{"Mailchimp", "approved"},
                         {"outbound.example", "approved"},
                         {"badguy.example", "unapproved"},
                         {"forwarder.example", "forwarder"}});
  auto a = Advise(*st, {ad::kDomain, ad::kNow, 30});
  ASSERT_TRUE(a.ok()) << a.error();
  ASSERT_TRUE(a->policy);
  EXPECT_EQ(a->policy->p, "none");
  EXPECT_EQ(a->policy->pct, "100");
  EXPECT_EQ(a->policy->adkim, "r");
  EXPECT_EQ(a->policy->report_begin, ad::kNow - 2 * ad::kDay);  // the newest: 2 days ago
  EXPECT_EQ(a->since, ad::kNow - 30 * ad::kDay);
  // Every sender of the period, most messages first; Mailchimp's old mail is outside.
  std::vector<std::string> keys;
  for (const auto& s : a->senders) keys.push_back(s.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"outbound.example", "Mailchimp", "forwarder.example",
                                            "google.com", "relay.example", "AS64500",
                                            "lists.example.org", "uni.example", "badguy.example",
                                            "isp.example", "smallhost.example"}));
  const std::uint64_t all = ad::kMcAligned + ad::kMcUnaligned + ad::kOwn + ad::kOwnForwarded +
                            ad::kList + ad::kForwarder + ad::kSpoof + ad::kBad + ad::kOnce +
                            ad::kGroups + ad::kListServer + ad::kSurvived + ad::kResidential;
  EXPECT_EQ(a->messages, all);
  EXPECT_EQ(a->dmarc_pass, ad::kMcAligned + ad::kOwn + ad::kOnce);
  const std::uint64_t forwarded = ad::kOwnForwarded + ad::kList + ad::kForwarder + ad::kGroups +
                                  ad::kListServer + ad::kSurvived;
  EXPECT_EQ(a->forwarded, forwarded);
  EXPECT_EQ(a->failing, ad::kMcUnaligned + ad::kSpoof + ad::kBad + ad::kResidential);
  const SenderOutcome* mc = FindOutcome(*a, "Mailchimp");
  ASSERT_NE(mc, nullptr);
  EXPECT_EQ(mc->status, "approved");
  EXPECT_EQ(mc->messages, ad::kMcAligned + ad::kMcUnaligned);
  EXPECT_EQ(mc->dmarc_pass, ad::kMcAligned);
  EXPECT_EQ(mc->dmarc_fail, ad::kMcUnaligned);
  EXPECT_EQ(mc->failing, ad::kMcUnaligned);
  EXPECT_EQ(mc->forwarded, 0u);
  const SenderOutcome* own = FindOutcome(*a, "outbound.example");
  ASSERT_NE(own, nullptr);
  EXPECT_EQ(own->forwarded, ad::kOwnForwarded);  // the override reason "forwarded"
  EXPECT_EQ(own->failing, 0u);
  EXPECT_EQ(FindOutcome(*a, "lists.example.org")->forwarded, ad::kList);       // mailing_list
  EXPECT_EQ(FindOutcome(*a, "forwarder.example")->forwarded, ad::kForwarder);  // the status
  EXPECT_EQ(FindOutcome(*a, "google.com")->forwarded, ad::kGroups);            // Google Groups
  EXPECT_EQ(FindOutcome(*a, "uni.example")->forwarded, ad::kListServer);       // lists.*
  EXPECT_EQ(FindOutcome(*a, "relay.example")->forwarded, ad::kSurvived);       // DKIM survived
  EXPECT_EQ(FindOutcome(*a, "AS64500")->failing, ad::kSpoof);
  EXPECT_EQ(FindOutcome(*a, "isp.example")->failing, ad::kResidential);  // stays spoofing
  EXPECT_EQ(FindOutcome(*a, "isp.example")->forwarded, 0u);
  EXPECT_EQ(FindOutcome(*a, "smallhost.example")->suggested, "approved");
  EXPECT_EQ(FindOutcome(*a, "elsewhere.example"), nullptr);
  // Senders that send from known forwarders are suggested as forwarders, in the advice and in
  // the inventory alike, which names the forwarder.
  EXPECT_EQ(FindOutcome(*a, "google.com")->suggested, "forwarder");
  EXPECT_EQ(FindOutcome(*a, "uni.example")->suggested, "forwarder");
  EXPECT_EQ(FindOutcome(*a, "isp.example")->suggested, "unknown");
  auto inv = SenderInventory(*st, {ad::kDomain, ad::kNow, "", ""});
  ASSERT_TRUE(inv.ok()) << inv.error();
  for (const auto& [key, name] : {std::pair{"google.com", "Google Groups"},
                                  std::pair{"uni.example", "Mailing list server"}}) {
    auto it = std::find_if(inv->begin(), inv->end(), [&](const Sender& x) { return x.key == key; });
    ASSERT_NE(it, inv->end()) << key;
    EXPECT_EQ(it->suggested, "forwarder") << key;
    EXPECT_EQ(it->known_forwarder, name) << key;
    EXPECT_EQ(it->forwarder_messages, it->messages) << key;
  }

  // The score: approved senders' mail that passed.
  EXPECT_EQ(a->approved_messages, ad::kMcAligned + ad::kMcUnaligned + ad::kOwn + ad::kOwnForwarded);
  EXPECT_EQ(a->approved_pass, ad::kMcAligned + ad::kOwn);
  ASSERT_TRUE(a->readiness);
  EXPECT_DOUBLE_EQ(*a->readiness, PercentOf(a->approved_pass, a->approved_messages));

  // The simulation.
  const Simulation& sim = a->simulation;
  EXPECT_EQ(sim.approved_blocked, ad::kMcUnaligned);
  ASSERT_EQ(sim.approved.size(), 1u);
  EXPECT_EQ(sim.approved[0].key, "Mailchimp");
  EXPECT_EQ(sim.approved[0].messages, ad::kMcUnaligned);
  ASSERT_EQ(sim.approved[0].causes.size(), 1u);
  EXPECT_EQ(sim.approved[0].causes[0].Text(), ad::kMcCause);
  EXPECT_EQ(sim.forwarded_hit, forwarded);
  // Each forwarded sender with why it counts as forwarded.
  std::vector<std::string> why;
  for (const auto& f : sim.forwarded) {
    ASSERT_EQ(f.reasons.size(), 1u) << f.key;
    EXPECT_EQ(f.reasons[0].messages, f.messages);
    why.push_back(f.key + " " + f.reasons[0].reason + " " + f.reasons[0].detail);
  }
  EXPECT_EQ(why, (std::vector<std::string>{
                     "forwarder.example sender_status forwarder",
                     "google.com known_forwarder Google Groups (mailing_list)",
                     "relay.example dkim_survived d=example.com",
                     "lists.example.org override mailing_list",
                     "uni.example known_forwarder Mailing list server (mailing_list)",
                     "outbound.example override forwarded",
                 }));
  EXPECT_EQ(sim.forwarded[2].reasons[0].Text(),
            "the DKIM signature (d=example.com) survived, from another organisation's address");
  EXPECT_EQ(sim.spoofing_blocked, ad::kSpoof + ad::kBad + ad::kResidential);
  ASSERT_EQ(sim.unapproved.size(), 3u);
  EXPECT_EQ(sim.unapproved[0].key, "AS64500");
  EXPECT_EQ(sim.unapproved[0].status, "unknown");
  EXPECT_EQ(sim.unapproved[0].causes[0].Text(), ad::kSpoofCause);
  EXPECT_EQ(sim.unapproved[1].key, "badguy.example");
  EXPECT_EQ(sim.unapproved[1].status, "unapproved");
  EXPECT_EQ(sim.unapproved[1].causes[0].Text(), ad::kBadCause);
  EXPECT_EQ(sim.unapproved[2].key, "isp.example");
  EXPECT_TRUE(sim.unapproved[2].reasons.empty());
  EXPECT_EQ(sim.unapproved[2].causes[0].Text(), ad::kResidentialCause);
  EXPECT_EQ(sim.note, "");

  // p=none below 98 %: fix first, Mailchimp's unaligned DKIM.
  EXPECT_LT(*a->readiness, kReadyForQuarantinePercent);
  EXPECT_EQ(a->recommendation.rule, "fix_first");
  EXPECT_EQ(a->recommendation.action, "fix first: Mailchimp");
  EXPECT_EQ(a->recommendation.senders, std::vector<std::string>{"Mailchimp"});
  EXPECT_NE(a->recommendation.evidence.find(
                fmt::format("({} of {} messages)", a->approved_pass, a->approved_messages)),
            std::string::npos)
      << a->recommendation.evidence;
  EXPECT_NE(a->recommendation.evidence.find("p=quarantine needs 98.0 %"), std::string::npos);
  ASSERT_EQ(a->fixes.size(), 1u);
  EXPECT_EQ(a->fixes[0].sender, "Mailchimp");
  EXPECT_EQ(a->fixes[0].messages, ad::kMcUnaligned);
  EXPECT_EQ(a->fixes[0].ip_count, 1u);
  EXPECT_EQ(a->fixes[0].cause, ad::kMcCause);
  EXPECT_EQ(a->fixes[0].remedy, ad::kMcRemedy);
  EXPECT_EQ(a->fixes[0].text, fmt::format("Mailchimp: {} messages from 1 address: {}: {}",
                                          ad::kMcUnaligned, ad::kMcCause, ad::kMcRemedy));
}

// Without approved senders the advice is to approve them, naming the suggested ones; without
// mail in the period there is no advice.
TEST_P(StoreContract, AdvisorAsksToApproveSendersFirst) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  FillAdvisorStore(*st, {});
  auto a = Advise(*st, {ad::kDomain, ad::kNow, 30});
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_FALSE(a->readiness);
  EXPECT_EQ(a->recommendation.rule, "approve_senders");
  EXPECT_EQ(a->recommendation.action, "approve your senders first");
  EXPECT_EQ(a->recommendation.senders,
            (std::vector<std::string>{"outbound.example", "Mailchimp", "smallhost.example"}));
  // Suggested: aligned DKIM for at least 90 % of all their stored mail (Mailchimp's old mail
  // counts), most messages of the period first.
  EXPECT_NE(
      a->recommendation.evidence.find(
          "suggested from their aligned DKIM: outbound.example, Mailchimp, smallhost.example"),
      std::string::npos)
      << a->recommendation.evidence;
  // Nobody approved: every failing, not forwarded message would be stopped as spoofing.
  EXPECT_EQ(a->simulation.approved_blocked, 0u);
  EXPECT_EQ(a->simulation.forwarded_hit,
            ad::kOwnForwarded + ad::kList + ad::kGroups + ad::kListServer + ad::kSurvived);
  EXPECT_EQ(a->simulation.spoofing_blocked,
            ad::kMcUnaligned + ad::kForwarder + ad::kSpoof + ad::kBad + ad::kResidential);
  EXPECT_TRUE(a->fixes.empty());

  auto later = Advise(*st, {ad::kDomain, ad::kNow + 60 * ad::kDay, 30});
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->messages, 0u);
  EXPECT_EQ(later->recommendation.rule, "no_data");
  ASSERT_TRUE(later->policy);  // still the newest report's
  auto none = Advise(*st, {"nothing.example", ad::kNow, 30});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->policy);
  EXPECT_EQ(none->recommendation.rule, "no_data");
}

// Failing mail from a subdomain of the policy domain is simulated too, and said to be.
TEST_P(StoreContract, AdvisorSaysWhenSubdomainsMailIsSimulated) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  model::AggregateReport sub = ad::PolicyReport("none", "100");
  sub.report_metadata.report_id = "subdomain";
  model::Record& r = sub.records.front();
  r.identifiers.header_from = "news.example.com";
  r.count = 9;
  ad::Aligned(r, false, false);
  r.source.base_domain = "elsewhere.example";
  FillAdvisorStore(*st, {{"outbound.example", "approved"}}, {sub});
  auto a = Advise(*st, {ad::kDomain, ad::kNow, 30});
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->simulation.subdomain_messages, 9u);
  const Simulation& sim = a->simulation;
  EXPECT_EQ(sim.note,
            "9 of these messages are from subdomains of example.com, which follow sp (sp=none) "
            "rather than p: the counts include them, and the proposed record's effect applies "
            "sp=none to them");
  // The next step from p=none, the published sp kept: the subdomain's spoofing is delivered.
  EXPECT_EQ(sim.proposed.Text(), "p=quarantine; sp=none");
  ASSERT_GT(sim.spoofing_blocked, 9u);
  EXPECT_EQ(sim.spoofing_effect.quarantined, sim.spoofing_blocked - 9);
  EXPECT_EQ(sim.spoofing_effect.rejected, 0u);
  EXPECT_EQ(sim.approved_effect.quarantined, sim.approved_blocked);
  EXPECT_EQ(sim.forwarded_effect.quarantined, sim.forwarded_hit);
  // Proposed records: sp applies to the subdomain, p (when no sp) to all, t=y one step less.
  auto with = [&](const char* record) {
    AdviceOptions opts{ad::kDomain, ad::kNow, 30};
    opts.proposed = ParseProposedPolicy(record).value();
    auto advice = Advise(*st, opts);
    EXPECT_TRUE(advice.ok());
    return advice.ok() ? advice->simulation : Simulation{};
  };
  Simulation s = with("v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com");
  EXPECT_EQ(s.spoofing_effect.rejected, sim.spoofing_blocked - 9);
  EXPECT_EQ(s.spoofing_effect.quarantined, 9u);
  EXPECT_EQ(s.approved_effect.rejected, sim.approved_blocked);
  EXPECT_EQ(s.forwarded_effect.rejected, sim.forwarded_hit);
  s = with("p=reject");
  EXPECT_EQ(s.spoofing_effect.rejected, sim.spoofing_blocked);
  EXPECT_NE(s.note.find("applies its p (it has no sp) to them"), std::string::npos) << s.note;
  s = with("p=reject; sp=quarantine; t=y");
  EXPECT_EQ(s.spoofing_effect.quarantined, sim.spoofing_blocked - 9);
  EXPECT_EQ(s.spoofing_effect.rejected, 0u);
  EXPECT_NE(s.note.find("t=y: receivers apply one step less"), std::string::npos) << s.note;
  s = with("p=none; sp=reject; np=none");
  EXPECT_EQ(s.spoofing_effect.rejected, 9u);
  EXPECT_EQ(s.spoofing_effect.quarantined, 0u);
  EXPECT_NE(s.note.find("np=none applies to subdomains that do not exist in DNS"),
            std::string::npos)
      << s.note;
  // The scenario alone has no subdomain mail.
  url_ = GetParam().fresh_url("AdvisorNoSubdomain");
  auto plain = Reopen();
  ASSERT_TRUE(plain);
  FillAdvisorStore(*plain, {});
  auto b = Advise(*plain, {ad::kDomain, ad::kNow, 30});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->simulation.subdomain_messages, 0u);
  EXPECT_EQ(b->simulation.note, "");
}

// Each rule of docs/senders.md from the published policy (a newer report) and the score.
TEST_P(StoreContract, AdvisorRecommendsByThePublishedPolicyAndTheScore) {
  struct Case {
    std::string p, pct;
    std::vector<std::string> approved;
    std::string rule, action;
  };
  const std::vector<Case> cases{
      {"none", "100", {"outbound.example"}, "move_to_quarantine", "move to p=quarantine"},
      {"quarantine", "50", {"outbound.example"}, "raise_pct", "raise pct to 100 (p=quarantine)"},
      {"quarantine",
       "100",
       {"outbound.example"},
       "fix_first",
       "fix first: the approved senders' forwarded mail (see the simulation)"},
      {"quarantine", "100", {"smallhost.example"}, "move_to_reject", "move to p=reject"},
      {"reject", "100", {"smallhost.example"}, "keep_reject", "keep p=reject"},
      {"reject", "50", {"smallhost.example"}, "raise_pct", "raise pct to 100 (p=reject)"},
      {"reject", "100", {"outbound.example", "Mailchimp"}, "fix_first", "fix first: Mailchimp"},
      {"quarantine", "50", {"outbound.example", "Mailchimp"}, "fix_first", "fix first: Mailchimp"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.p + " pct=" + c.pct + " " + c.approved.front());
    std::vector<std::pair<std::string, std::string>> statuses{{"forwarder.example", "forwarder"}};
    for (const auto& s : c.approved) statuses.emplace_back(s, "approved");
    url_ = GetParam().fresh_url("AdvisorRule" + std::to_string(i));
    auto st = Reopen();
    ASSERT_TRUE(st);
    FillAdvisorStore(*st, statuses, {ad::PolicyReport(c.p, c.pct)});
    auto a = Advise(*st, {ad::kDomain, ad::kNow, 30});
    ASSERT_TRUE(a.ok()) << a.error();
    ASSERT_TRUE(a->policy);
    EXPECT_EQ(a->policy->p, c.p);
    EXPECT_EQ(a->recommendation.rule, c.rule) << a->recommendation.evidence;
    EXPECT_EQ(a->recommendation.action, c.action);
    EXPECT_EQ(a->simulation.note.empty(), c.pct == "100");
    if (c.rule == "fix_first") {
      // The score the next step needs: 98 % for quarantine at pct=100, else 99.5 % for reject.
      const bool to_full = c.p == "quarantine" && c.pct != "100";
      EXPECT_NE(a->recommendation.evidence.find(to_full ? "p=quarantine at pct=100 needs 98.0 %"
                                                        : "p=reject needs 99.5 %"),
                std::string::npos)
          << a->recommendation.evidence;
    }
    // Advice as of the day before: the policy report had not begun yet.
    auto before = Advise(*st, {ad::kDomain, ad::kNow - ad::kDay, 30});
    ASSERT_TRUE(before.ok());
    ASSERT_TRUE(before->policy);
    EXPECT_EQ(before->policy->p, "none");
    EXPECT_EQ(before->policy->report_begin, ad::kNow - 2 * ad::kDay);
    if (c.approved.front() == "outbound.example" && c.approved.size() == 1) {
      // The policy report's message is outbound.example's too; its forwarded mail fails.
      EXPECT_DOUBLE_EQ(*a->readiness, PercentOf(ad::kOwn + 1, ad::kOwn + 1 + ad::kOwnForwarded));
      EXPECT_EQ(a->simulation.approved_blocked, 0u);
      EXPECT_EQ(a->simulation.spoofing_blocked,
                ad::kMcUnaligned + ad::kSpoof + ad::kBad + ad::kResidential);
    }
  }
}

// The user's forwarders file adds to the bundled list and removes from it: with forwarder.example
// added (and no status), its mail is forwarded by the list; with "lists.*" removed, the list
// server's mail is spoofing.
TEST_P(StoreContract, AdvisorReadsTheUsersForwardersFile) {
  auto st = OpenFresh();
  ASSERT_TRUE(st);
  FillAdvisorStore(*st, {{"outbound.example", "approved"}});
  Forwarders user = Forwarders::BuiltIn();
  ASSERT_TRUE(user.Add("forwarder.example\tOur alumni forwarder\tforwarder\n"
                       "lists.*\tremoved\tnone\n",
                       "user")
                  .ok());
  AdviceOptions opts{ad::kDomain, ad::kNow, 30};
  opts.forwarders = &user;
  auto a = Advise(*st, opts);
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(FindOutcome(*a, "forwarder.example")->forwarded, ad::kForwarder);
  EXPECT_EQ(FindOutcome(*a, "uni.example")->failing, ad::kListServer);
  EXPECT_EQ(FindOutcome(*a, "google.com")->forwarded, ad::kGroups);  // still bundled
  const Simulation& sim = a->simulation;
  EXPECT_EQ(sim.forwarded_hit,
            ad::kOwnForwarded + ad::kList + ad::kForwarder + ad::kGroups + ad::kSurvived);
  EXPECT_EQ(sim.spoofing_blocked,
            ad::kMcUnaligned + ad::kSpoof + ad::kBad + ad::kResidential + ad::kListServer);
  ASSERT_FALSE(sim.forwarded.empty());
  EXPECT_EQ(sim.forwarded[0].key, "forwarder.example");
  ASSERT_EQ(sim.forwarded[0].reasons.size(), 1u);
  EXPECT_EQ(sim.forwarded[0].reasons[0].Text(),
            "a known forwarder: Our alumni forwarder (forwarder)");
}

// A record to simulate is read as a user types it; what is wrong is named.
TEST(AdvisorProposal, ReadsTheTagsOfARecordAndNamesWhatIsWrong) {
  auto p = ParseProposedPolicy(" v=DMARC1;P=Reject ; sp = none;rua=mailto:d@example.com; t=y;");
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->p, "reject");
  EXPECT_EQ(p->sp, "none");
  EXPECT_EQ(p->np, "");
  EXPECT_TRUE(p->testing);
  EXPECT_EQ(p->Text(), "p=reject; sp=none; t=y");
  EXPECT_EQ(ParseProposedPolicy("p=quarantine; np=reject; t=n")->Text(), "p=quarantine; np=reject");
  EXPECT_EQ(ParseProposedPolicy("sp=none").error(), "p: the record must have a p tag");
  EXPECT_EQ(ParseProposedPolicy("p=block").error(), "p: none, quarantine or reject, not \"block\"");
  EXPECT_EQ(ParseProposedPolicy("p=none; t=maybe").error(), "t: y or n, not \"maybe\"");
  EXPECT_EQ(ParseProposedPolicy("p=none; reject").error(), "\"reject\" is not TAG=VALUE");
  EXPECT_EQ(ParseProposedPolicy("p=none; " + std::string(2000, ' ')).error(),
            "the record is longer than 1024 bytes");
  // The next step from what is published.
  EXPECT_EQ(DefaultProposal(std::nullopt).Text(), "p=quarantine");
  PublishedPolicy published{"quarantine", "none", "50", "reject", "r", "r", 0, "x"};
  EXPECT_EQ(DefaultProposal(published).Text(), "p=reject; sp=none; np=reject");
  published.p = "reject";
  published.sp = "bogus";
  EXPECT_EQ(DefaultProposal(published).Text(), "p=reject; np=reject");
}

// The causes and remedies in words, from a failing record's authentication results.
TEST(AdvisorCause, NamesWhatFailedAndWhatToDo) {
  model::Record r = ad::Rec(ad::kNow, "192.0.2.1", 1, 1);
  FailCause none = CauseOfFailure(r, ad::kDomain);
  EXPECT_EQ(none.Text(), "no DKIM signature; no SPF result");
  EXPECT_EQ(none.remedy, "turn on DKIM signing with d=example.com at the sender");
  // The own domain's SPF fails (the envelope result wins over HELO's): add the addresses.
  r.spf = {{"mx.example.com", "helo", "pass", {}}, {ad::kDomain, "mfrom", "softfail", {}}};
  r.dkim = {{ad::kDomain, "s1", "fail", {}}};
  FailCause own = CauseOfFailure(r, ad::kDomain);
  EXPECT_EQ(own.Text(),
            "DKIM signature of d=example.com fails (fail); SPF softfail for example.com");
  EXPECT_EQ(own.remedy,
            "fix DKIM signing: publish the key of selector s1 at example.com; or add the sender's "
            "addresses to the SPF record of example.com");
  // A subdomain in From, signed for the parent under adkim=s: the receiver found it unaligned.
  r.identifiers.header_from = "news.example.com";
  r.dkim = {{ad::kDomain, "s1", "pass", {}}};
  r.spf = {};
  EXPECT_EQ(CauseOfFailure(r, ad::kDomain).dkim,
            "DKIM signs with d=example.com, not news.example.com");
  r.dkim = {{"NEWS.example.com", "s1", "pass", {}}};
  EXPECT_EQ(CauseOfFailure(r, ad::kDomain).dkim,
            "DKIM passes for d=NEWS.example.com but the receiver found it not aligned");
}

}  // namespace
}  // namespace dmarc::store
