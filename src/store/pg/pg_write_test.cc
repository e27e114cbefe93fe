// The PostgreSQL write path's own promises, beyond the contract suite (store_contract_test.cc):
// the same batch gives the same counts as SQLite's, however repetitive; texts PostgreSQL refuses
// (NUL, invalid UTF-8) are stored cleaned rather than failing the batch; record days far away
// make no partitions; a partition dropped behind the writer's back is made again; and a batch
// rolled back leaves no source address number behind in the writer's memory.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/time.h"
#include "store/store.h"
#include "testing/postgres.h"
#include "testing/test_util.h"

namespace dmarc::store {
namespace {

namespace fs = std::filesystem;
using dmarc::testing::PsqlUrl;
using dmarc::testing::SharedPostgresDatabase;

std::string TestName() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

std::unique_ptr<ReportStore> Open(const std::string& url) {
  auto s = OpenStore(url, {});
  EXPECT_TRUE(s.ok()) << s.error();
  return s.ok() ? std::move(s).value() : nullptr;
}

model::Record Rec(const std::string& ip, std::int64_t begin, std::uint64_t count) {
  model::Record r;
  r.interval_begin = begin;
  r.interval_end = begin + 86399;
  r.source.ip_address = ip;
  r.count = count;
  r.alignment = {true, false, true};
  r.policy_evaluated.disposition = "none";
  r.policy_evaluated.dkim = "pass";
  r.policy_evaluated.spf = "fail";
  r.identifiers.header_from = "example.com";
  r.dkim.push_back({"example.com", "s1", "pass", std::nullopt});
  r.spf.push_back({"example.com", "mfrom", "fail", "softfail"});
  return r;
}

model::AggregateReport Report(const std::string& id, std::int64_t begin,
                              std::vector<model::Record> records) {
  model::AggregateReport r;
  r.xml_schema = "1.0";
  r.report_metadata.org_name = "org.example";
  r.report_metadata.org_email = "r@org.example";
  r.report_metadata.report_id = id;
  r.report_metadata.begin = begin;
  r.report_metadata.end = begin + 86399;
  r.policy_published.domain = "example.com";
  r.policy_published.p = "none";
  r.policy_published.sp = "none";
  r.records = std::move(records);
  return r;
}

model::FailureReport Failure(const std::string& domain, std::int64_t arrival) {
  model::FailureReport f;
  f.feedback_type = "auth-failure";
  f.arrival_ts = arrival;
  f.reported_domain = domain;
  f.source.ip_address = "198.51.100.7";
  return f;
}

model::SmtpTlsReport Tls(const std::string& id) {
  model::SmtpTlsReport t;
  t.organization_name = "tls.example";
  t.report_id = id;
  t.begin = 1700000000;
  t.end = 1700086399;
  model::SmtpTlsPolicy p;
  p.policy_domain = "example.com";
  p.policy_type = "sts";
  p.policy_strings = {"version: STSv1", "mode: enforce"};
  p.successful_session_count = 10;
  p.failed_session_count = 2;
  p.failure_details.push_back({"certificate-expired", 2, "203.0.113.1", std::nullopt,
                               std::string("mx.example.com"), std::nullopt, std::nullopt,
                               std::nullopt});
  t.policies = {p, p};
  t.policies[1].policy_domain = "example.org";
  return t;
}

void ExpectSameCounts(const BatchResult& a, const BatchResult& b) {
  EXPECT_EQ(a.new_reports, b.new_reports);
  EXPECT_EQ(a.duplicate_reports, b.duplicate_reports);
  EXPECT_EQ(a.new_records, b.new_records);
  EXPECT_EQ(a.rejections, b.rejections);
  EXPECT_EQ(a.new_failures, b.new_failures);
  EXPECT_EQ(a.duplicate_failures, b.duplicate_failures);
  EXPECT_EQ(a.new_smtp_tls, b.new_smtp_tls);
  EXPECT_EQ(a.duplicate_smtp_tls, b.duplicate_smtp_tls);
}

TEST(PgWrite, RepeatsWithinAndAcrossBatchesCountAsOnSqlite) {
  const auto dir = dmarc::testing::FreshTestDir("dmarc-pgwrite");
  auto pg = Open(SharedPostgresDatabase(TestName()));
  auto lite = Open("sqlite:" + (dir / "ref.db").string());
  ASSERT_TRUE(pg && lite);
  const auto a = Report("a", 1700000000, {Rec("192.0.2.1", 1700000000, 3)});
  const auto b =
      Report("b", 1700000000, {Rec("192.0.2.1", 1700000000, 4), Rec("192.0.2.2", 1700090000, 5)});
  const auto f1 = Failure("example.com", 1700000100), f2 = Failure("example.org", 1700000200);
  const auto t1 = Tls("t1"), t2 = Tls("t2");
  Batch batch;
  for (const auto* r : {&a, &b, &a, &b, &a}) batch.aggregates.push_back({"x", r});
  for (const auto* f : {&f1, &f2, &f1}) batch.failures.push_back({"x", f});
  for (const auto* t : {&t1, &t1, &t2}) batch.smtp_tls.push_back({"x", t});
  const RejectedInput r1{1700000000, "mail[1]", "not a report", std::string(64, 'a'), 3, "abc"};
  RejectedInput r2 = r1;
  r2.raw = "abcdef";  // a longer copy of the same bytes
  RejectedInput r3 = r1;
  r3.origin = "mail[2]";
  batch.rejections = {r1, r2, r1, r3};
  for (int round = 0; round < 2; ++round) {
    auto p = pg->Store(batch);
    auto s = lite->Store(batch);
    ASSERT_TRUE(p.ok()) << p.error();
    ASSERT_TRUE(s.ok()) << s.error();
    ExpectSameCounts(*p, *s);
    if (round == 0) {
      EXPECT_EQ(p->new_reports, 2u);
      EXPECT_EQ(p->duplicate_reports, 3u);
      EXPECT_EQ(p->new_records, 3u);
      EXPECT_EQ(p->new_failures, 2u);
      EXPECT_EQ(p->new_smtp_tls, 2u);
      EXPECT_EQ(p->rejections, 2u);
    }
  }
  auto ps = pg->QueryStats({});
  auto ss = lite->QueryStats({});
  ASSERT_TRUE(ps.ok() && ss.ok());
  EXPECT_EQ(ps->messages, ss->messages);
  EXPECT_EQ(ps->records, 3u);
  auto rejections = pg->Rejections();
  ASSERT_TRUE(rejections.ok());
  ASSERT_EQ(rejections->size(), 2u);
  for (const auto& r : *rejections) EXPECT_EQ(r.raw, "abcdef");  // the longer copy
  fs::remove_all(dir);
}

// Migration 8: daily_messages, a table the writer kept beside daily_results, becomes a view of
// daily_results. A store written before it (the table filled from the records, the schema
// version put back) reads the same rows once migrated, with the same column types, and a batch
// stored after the migration adds to them as the table did.
TEST(PgWrite, DailyMessagesReadTheSameAsAViewOfDailyResults) {
  const std::string url = SharedPostgresDatabase(TestName());
  auto a = Report("a", 1700000000,
                  {Rec("192.0.2.1", 1700000000, 3), Rec("192.0.2.2", 1700000000, 4),
                   Rec("192.0.2.3", 1700090000, 5)});
  a.records[1].alignment.dmarc = false;  // one row summed over passing and failing records
  a.records[2].policy_evaluated.disposition = "quarantine";
  const std::string rows =
      "SELECT day, domain, header_from, disposition, records, messages, dmarc_pass,"
      " pg_typeof(records), pg_typeof(dmarc_pass) FROM daily_messages ORDER BY 1, 2, 3, 4";
  {
    auto st = Open(url);
    ASSERT_TRUE(st);
    Batch batch;
    batch.aggregates.push_back({"x", &a});
    ASSERT_TRUE(st->Store(batch).ok());
  }
  PsqlUrl(url,
          "BEGIN; DROP VIEW daily_messages;"
          " CREATE TABLE daily_messages (day BIGINT NOT NULL, domain TEXT NOT NULL,"
          " header_from TEXT NOT NULL, disposition TEXT NOT NULL, records BIGINT NOT NULL,"
          " messages BIGINT NOT NULL, dmarc_pass BIGINT NOT NULL,"
          " PRIMARY KEY (day, domain, header_from, disposition));"
          " INSERT INTO daily_messages SELECT day, domain, header_from, disposition, count(*),"
          " sum(count), sum(count * dmarc_aligned) FROM aggregate_records GROUP BY 1, 2, 3, 4;"
          " UPDATE dmarc_report_schema SET version = 7; COMMIT;");
  ASSERT_EQ(PsqlUrl(url, "SELECT relkind FROM pg_class WHERE relname = 'daily_messages'"), "r");
  const std::string table = PsqlUrl(url, rows);
  ASSERT_NE(table.find("|none|2|7|3|bigint|bigint"), std::string::npos) << table;
  {
    auto st = Open(url);
    ASSERT_TRUE(st);
  }
  EXPECT_EQ(PsqlUrl(url, "SELECT relkind FROM pg_class WHERE relname = 'daily_messages'"), "v");
  EXPECT_EQ(PsqlUrl(url, rows), table);
  auto again = a;
  again.report_metadata.report_id = "a-again";
  {
    auto st = Open(url);
    ASSERT_TRUE(st);
    Batch batch;
    batch.aggregates.push_back({"x", &again});
    ASSERT_TRUE(st->Store(batch).ok());
  }
  EXPECT_EQ(PsqlUrl(url,
                    "SELECT day, domain, header_from, disposition, records / 2,"
                    " messages / 2, dmarc_pass / 2, pg_typeof(records), pg_typeof(dmarc_pass)"
                    " FROM daily_messages ORDER BY 1, 2, 3, 4"),
            table);
}

TEST(PgWrite, TextsPostgresqlRefusesAreStoredCleaned) {
  const std::string url = SharedPostgresDatabase(TestName());
  auto pg = Open(url);
  ASSERT_TRUE(pg);
  const std::string nul("a\0b", 3);
  const std::string bad = "caf\xe9 \xff\xfe";  // Latin-1 and stray bytes
  auto rec = Rec("192.0.2." + nul, 1700000000, 2);
  rec.identifiers.header_from = "ex" + bad + ".com";
  rec.dkim[0].domain = nul + "\t\n\\\"" + bad;
  rec.dkim[0].human_result = std::string("\x01\x1f", 2) + bad;
  rec.policy_evaluated.policy_override_reasons.push_back({nul, bad});
  auto report = Report("id-" + bad + nul, 1700000000, {rec, Rec("192.0.2.9", 1700000000, 1)});
  report.report_metadata.errors.push_back("bad " + bad);
  report.report_metadata.org_name = "org " + bad;
  auto failure = Failure("dom" + bad + nul, 1700000000);
  Batch batch;
  batch.aggregates.push_back({"origin " + bad + nul, &report});
  batch.failures.push_back({"o" + bad, &failure});
  batch.rejections.push_back(
      {1700000000, "file " + bad + nul, "why " + bad, std::string(64, 'c'), 4, nul + bad});
  auto r = pg->Store(batch);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->new_reports, 1u);
  EXPECT_EQ(r->new_records, 2u);
  EXPECT_EQ(r->new_failures, 1u);
  EXPECT_EQ(r->rejections, 1u);
  // The same report again is the same report (its identity is the cleaned one).
  r = pg->Store(batch);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->duplicate_reports, 1u);
  EXPECT_EQ(r->duplicate_failures, 1u);
  EXPECT_EQ(r->rejections, 0u);
  auto stored = pg->AggregatesStored({&report});
  ASSERT_TRUE(stored.ok()) << stored.error();
  EXPECT_EQ(*stored, std::vector<bool>{true});
  // JSON arrays that PostgreSQL reads as such, with the replacement character for the bytes.
  EXPECT_EQ(PsqlUrl(url,
                    "SELECT count(*) FROM aggregate_records WHERE jsonb_array_length(dkim) ="
                    " 1 AND jsonb_array_length(spf) = 1"),
            "2");
  EXPECT_EQ(PsqlUrl(url,
                    "SELECT dkim->0->>'domain' = E'ab\\t\\n\\\\\"caf\\uFFFD \\uFFFD\\uFFFD'"
                    " FROM aggregate_records WHERE overrides IS NOT NULL"),
            "t");
  EXPECT_EQ(PsqlUrl(url,
                    "SELECT overrides->0->>'type' FROM aggregate_records"
                    " WHERE overrides IS NOT NULL"),
            "ab");
  EXPECT_EQ(PsqlUrl(url, "SELECT count(*) FROM source_ips WHERE ip = '192.0.2.ab'"), "1");
  auto stats = pg->QueryStats({});
  ASSERT_TRUE(stats.ok()) << stats.error();
  EXPECT_EQ(stats->messages, 3u);
}

TEST(PgWrite, FarAwayDaysMakeNoPartitionsAndMonthsMakeOneEach) {
  const std::string url = SharedPostgresDatabase(TestName());
  auto pg = Open(url);
  ASSERT_TRUE(pg);
  std::vector<model::Record> records;
  // 300 months before 2010 and 300 from 2060 on (hostile dates), then 5 months of 2024.
  for (int m = 0; m < 300; ++m) {
    records.push_back(Rec("192.0.2.1", DaysFromCivil(1960 + m / 12, 1 + m % 12, 3) * 86400, 1));
    records.push_back(Rec("192.0.2.2", DaysFromCivil(2060 + m / 12, 1 + m % 12, 3) * 86400, 1));
  }
  records.push_back(Rec("192.0.2.3", 253402214400, 1));  // 9999-12-31
  for (int m = 1; m <= 5; ++m) {
    records.push_back(Rec("192.0.2.4", DaysFromCivil(2024, m, 28) * 86400 + 86399, 1));
  }
  const auto report = Report("far", 1700000000, records);
  Batch batch;
  batch.aggregates.push_back({"x", &report});
  auto r = pg->Store(batch);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->new_records, records.size());
  EXPECT_EQ(PsqlUrl(url,
                    "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i"
                    " JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = 'aggregate_records'::regclass"),
            "aggregate_records_202401 aggregate_records_202402 aggregate_records_202403"
            " aggregate_records_202404 aggregate_records_202405 aggregate_records_before_2010"
            " aggregate_records_from_2060");
  EXPECT_EQ(PsqlUrl(url, "SELECT count(*) FROM aggregate_records_before_2010"), "300");
  EXPECT_EQ(PsqlUrl(url, "SELECT count(*) FROM aggregate_records_from_2060"), "301");
}

TEST(PgWrite, APartitionDroppedBehindTheWritersBackIsMadeAgain) {
  const std::string url = SharedPostgresDatabase(TestName());
  auto pg = Open(url);
  ASSERT_TRUE(pg);
  const std::int64_t day = DaysFromCivil(2024, 3, 10) * 86400;
  const auto a = Report("a", day, {Rec("192.0.2.1", day, 1)});
  const auto b = Report("b", day, {Rec("192.0.2.1", day, 2)});
  Batch first, second;
  first.aggregates.push_back({"x", &a});
  second.aggregates.push_back({"x", &b});
  ASSERT_TRUE(pg->Store(first).ok());
  // Another process (retention) drops the month the writer knows of.
  PsqlUrl(url, "DELETE FROM aggregate_reports; DROP TABLE aggregate_records_202403");
  auto r = pg->Store(second);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->new_records, 1u);
  EXPECT_EQ(PsqlUrl(url, "SELECT count(*) FROM aggregate_records_202403"), "1");
}

TEST(PgWrite, ABatchRolledBackLeavesNoAddressNumberBehind) {
  const std::string url = SharedPostgresDatabase(TestName());
  auto pg = Open(url);
  ASSERT_TRUE(pg);
  // A batch that fails after its addresses were numbered (a failure report the server refuses).
  PsqlUrl(url,
          "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION"
          " 'refused'; END$$; CREATE TRIGGER refuse BEFORE INSERT ON failure_reports"
          " FOR EACH ROW EXECUTE FUNCTION refuse()");
  const auto a = Report("a", 1700000000, {Rec("203.0.113.9", 1700000000, 1)});
  const auto f = Failure("example.com", 1700000000);
  Batch failing;
  failing.aggregates.push_back({"x", &a});
  failing.failures.push_back({"x", &f});
  EXPECT_FALSE(pg->Store(failing).ok());
  EXPECT_EQ(PsqlUrl(url, "SELECT count(*) FROM source_ips"), "0");
  PsqlUrl(url, "DROP TRIGGER refuse ON failure_reports");
  // The same address in the next batch gets a number that exists.
  Batch next;
  next.aggregates.push_back({"x", &a});
  auto r = pg->Store(next);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->new_reports, 1u);
  EXPECT_EQ(PsqlUrl(url,
                    "SELECT count(*) FROM daily_sources d JOIN source_ips s ON s.id = d.ip"
                    " AND s.ip = '203.0.113.9'"),
            "1");
  EXPECT_EQ(PsqlUrl(url, "SELECT count(*) FROM ip_totals t JOIN source_ips s ON s.id = t.ip"), "1");
}

}  // namespace
}  // namespace dmarc::store
