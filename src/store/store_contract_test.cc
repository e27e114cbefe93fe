// The contract every ReportStore implementation must keep (see store.h). Each back end adds
// itself to kBackends; PostgreSQL will run these same tests.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "base/time.h"
#include "pipeline/extract.h"
#include "sinks/parsedmarc_format.h"
#include "store/sha256.h"
#include "store/store.h"
#include "testing/test_util.h"

namespace dmarc::store {
namespace {

namespace fs = std::filesystem;
using dmarc::testing::ReadFile;
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
};

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
  auto expected = Reopen();
  ASSERT_TRUE(expected->Store(BatchOf(kept)).ok());
  auto st = OpenFresh();
  ASSERT_TRUE(st->Store(BatchOf(reports)).ok());

  const std::string old_raw(2000, 'o'), shared_raw(1000, 's');
  Batch rej;
  rej.rejections.push_back({cutoff - 10, "old.bin", "garbage", Sha256Hex(old_raw), 2000, old_raw});
  rej.rejections.push_back(
      {cutoff - 10, "old-shared.bin", "garbage", Sha256Hex(shared_raw), 1000, shared_raw});
  rej.rejections.push_back(
      {cutoff + 10, "new-shared.bin", "garbage", Sha256Hex(shared_raw), 1000, shared_raw});
  ASSERT_TRUE(st->Store(rej).ok());

  auto purged = st->Purge(cutoff);
  ASSERT_TRUE(purged.ok()) << purged.error();
  EXPECT_EQ(purged->aggregate_reports, reports.size() - kept.size());
  EXPECT_EQ(purged->aggregate_records, old_records);
  EXPECT_EQ(purged->rejected_inputs, 2u);

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
  EXPECT_LT(st->SizeOnDisk(), before);
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

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::ValuesIn(kBackends),
                         [](const auto& p) { return p.param.name; });

TEST(Sha256, KnownDigest) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(OpenStore, RejectsUnknownUrls) {
  auto s = OpenStore("mysql://localhost/db", {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("unsupported store URL"), std::string::npos);
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

TEST(SqlitePurge, FailureAndSmtpTlsReportsGoWithTheirChildren) {
  const fs::path file =
      fs::temp_directory_path() / ("dmarc-purge-" + std::to_string(getpid()) + ".db");
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
  auto st = OpenStore(file.string(), {});
  ASSERT_TRUE(st.ok()) << st.error();
  auto sql = [&](const std::string& q) {
    const std::string out = (file.string() + ".out");
    EXPECT_EQ(std::system(("sqlite3 " + file.string() + " \"" + q + "\" >" + out).c_str()), 0);
    std::string text = ReadFile(out);
    fs::remove(out);
    return text;
  };
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

}  // namespace
}  // namespace dmarc::store
