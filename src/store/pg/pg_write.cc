// The PostgreSQL store's write path: Store (one transaction per batch, records by COPY into
// monthly partitions, rollups upserted in key order), AggregatesStored. The rollups and source
// addresses: pg_write_rollups.cc; rejections, failure and SMTP TLS reports: pg_write_other.cc.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <unordered_set>

#include "base/time.h"
#include "store/pg/pg_write_impl.h"
#include "store/pg/pg_write_text.h"
#include "store/reporter_key.h"

namespace dmarc::store::pg_impl {

// ---- Ids and partitions ----

Result<std::vector<std::int64_t>> NextIds(Connection& conn, std::string_view sequence,
                                          std::size_t n) {
  if (n == 0) return std::vector<std::int64_t>{};
  auto rows = conn.Query(fmt::format("SELECT array(SELECT nextval('{}') FROM generate_series(1, "
                                     "$1::bigint))",
                                     sequence),
                         Params().Add(static_cast<std::int64_t>(n)));
  if (!rows) return std::move(rows).error_value();
  std::vector<std::int64_t> ids = ParseIntArray(rows->View(0, 0));
  if (ids.size() != n)
    return MakeError(fmt::format("{}: cannot take ids from {}", conn.label(), sequence));
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::int64_t MonthStart(std::int64_t day) {
  const Civil c = CivilFromDays(FloorDay(day) / kSecondsPerDay);
  return DaysFromCivil(c.y, c.m, 1) * kSecondsPerDay;
}

std::int64_t NextMonthStart(std::int64_t month_start) {
  const Civil c = CivilFromDays(month_start / kSecondsPerDay);
  return c.m == 12 ? DaysFromCivil(c.y + 1, 1, 1) * kSecondsPerDay
                   : DaysFromCivil(c.y, c.m + 1, 1) * kSecondsPerDay;
}

std::string PartitionName(std::int64_t month_start) {
  const Civil c = CivilFromDays(month_start / kSecondsPerDay);
  return fmt::format("aggregate_records_{:04}{:02}", c.y, c.m);
}

Result<bool> PgStore::EnsurePartitions(const Batch& batch) {
  std::set<std::int64_t> months;
  std::int64_t last = -1;  // records of a report mostly share a month: skip the set then
  auto add_day = [&](std::int64_t day) {
    if (day < kFirstPartitionDay || day >= kEndPartitionDay) return;
    const std::int64_t month = MonthStart(day);
    if (month == last) return;
    last = month;
    if (std::find(partitions_.begin(), partitions_.end(), month) == partitions_.end()) {
      months.insert(month);
    }
  };
  for (const auto& item : batch.aggregates) {
    for (const auto& rec : item.report->records) add_day(FloorDay(rec.interval_begin));
    if (item.stream) {
      for (std::int64_t day : item.stream->Days()) add_day(day);
    }
  }
  if (months.empty()) return true;
  std::vector<std::string> names;
  names.reserve(months.size());
  for (std::int64_t m : months) names.push_back(PartitionName(m));
  // In a transaction of its own, retried like the batch's (a lost connection is re-made).
  auto found = InTransaction<std::set<std::string>>(
      [&]() -> Result<std::set<std::string>> {
        auto rows =
            conn_.Query("SELECT n FROM unnest($1::text[]) AS n WHERE to_regclass(n) IS NOT NULL",
                        Params().AddArray(names));
        if (!rows) return std::move(rows).error_value();
        std::set<std::string> out;
        for (int i = 0; i < rows->size(); ++i) out.insert(rows->Text(i, 0));
        return out;
      },
      true);
  if (!found) return std::move(found).error_value();
  const std::set<std::string>& existing = *found;
  for (std::int64_t m : months) {
    if (!existing.contains(PartitionName(m))) DMARC_TRY(CreatePartition(m, NextMonthStart(m)));
    partitions_.push_back(m);
  }
  return true;
}

// CREATE TABLE ... PARTITION OF would lock the whole of aggregate_records (ACCESS EXCLUSIVE)
// and wait for every reader; ATTACH PARTITION takes only SHARE UPDATE EXCLUSIVE, so writers
// copying into other partitions and dashboards reading go on. The new table is empty: the
// CHECK lets the attach skip even its (empty) scan.
Result<bool> PgStore::CreatePartition(std::int64_t month_start, std::int64_t month_end) {
  const std::string name = PartitionName(month_start);
  const std::string q = pg::QuoteIdent(name);
  const std::string sql = fmt::format(
      "CREATE TABLE {0} (LIKE aggregate_records INCLUDING DEFAULTS, CHECK (day >= {1} AND day < "
      "{2}));\n"
      "ALTER TABLE aggregate_records ATTACH PARTITION {0} FOR VALUES FROM ({1}) TO ({2})",
      q, month_start, month_end);
  auto made = InTransaction<bool>([&]() -> Result<bool> {
    auto there = conn_.Query("SELECT to_regclass($1) IS NOT NULL", Params().Add(name));
    if (!there) return std::move(there).error_value();
    if (there->Bool(0, 0)) return true;
    return conn_.Exec(sql);
  });
  if (made) return true;
  // Another writer made it at the same moment: CREATE TABLE then fails on the catalog's unique
  // index although it did not exist when we looked (42P07 duplicate table, 42710 duplicate
  // object: its row type, or 23505 on pg_type), or the attach finds it attached already
  // (42P17). It is there: look again.
  const std::string state = conn_.LastError().sqlstate;
  if (state != "42P07" && state != "42710" && state != "23505" && state != "42P17") return made;
  auto there = conn_.Query("SELECT to_regclass($1) IS NOT NULL", Params().Add(name));
  if (there && there->Bool(0, 0)) return true;
  return made;
}

// ---- Store ----

Result<BatchResult> PgStore::Store(const Batch& batch) {
  for (int attempt = 0;; ++attempt) {
    DMARC_TRY(EnsurePartitions(batch));
    auto r = InTransaction<BatchResult>([&]() -> Result<BatchResult> {
      BatchResult stored;
      DMARC_TRY_ASSIGN(stored, StoreOnce(batch));
      if (stored.new_reports > 0) DMARC_TRY(BumpAggregateVersion());
      return stored;
    });
    if (r) {
      ip_ids_.merge(pending_ip_ids_);
      pending_ip_ids_.clear();
      return r;
    }
    pending_ip_ids_.clear();
    // No partition for a record: one this store knew of was dropped meanwhile (retention in
    // another process). Look again and run the batch once more.
    if (attempt == 0 && conn_.LastError().sqlstate == "23514" && !partitions_.empty()) {
      partitions_.clear();
      continue;
    }
    return r;
  }
}

namespace {

using ReportKey = std::tuple<std::string, std::string, std::string, std::int64_t, std::int64_t>;

constexpr std::string_view kCopyRecords =
    "COPY aggregate_records (report, domain, day, interval_begin, interval_end,"
    " normalized_timespan, source_ip, source_country, source_reverse_dns, source_base_domain,"
    " source_name, source_type, source_asn, source_as_name, source_as_domain, count,"
    " spf_aligned, dkim_aligned, dmarc_aligned, disposition, policy_dkim, policy_spf,"
    " header_from, envelope_from, envelope_to, source_enriched_at, dkim, spf, overrides)"
    " FROM STDIN";

// One record as a line of kCopyRecords.
void AppendRecord(std::string& out, std::int64_t report_row, const std::string& domain,
                  std::int64_t day, const model::Record& rec, std::int64_t enriched_at) {
  const auto& src = rec.source;
  const auto& ev = rec.policy_evaluated;
  auto tab = [&] { out += '\t'; };
  CopyInt(report_row, out);
  tab();
  pg::CopyEscape(domain, out);  // cleaned already
  tab();
  CopyInt(day, out);
  tab();
  CopyInt(rec.interval_begin, out);
  tab();
  CopyInt(rec.interval_end, out);
  tab();
  out += rec.normalized_timespan ? '1' : '0';
  tab();
  CopyText(src.ip_address, out);
  tab();
  CopyOptText(src.country, out);
  tab();
  CopyOptText(src.reverse_dns, out);
  tab();
  CopyOptText(src.base_domain, out);
  tab();
  CopyOptText(src.name, out);
  tab();
  CopyOptText(src.type, out);
  tab();
  CopyOptInt(src.asn, out);
  tab();
  CopyOptText(src.as_name, out);
  tab();
  CopyOptText(src.as_domain, out);
  tab();
  CopyInt(static_cast<std::int64_t>(rec.count), out);
  tab();
  out += rec.alignment.spf ? '1' : '0';
  tab();
  out += rec.alignment.dkim ? '1' : '0';
  tab();
  out += rec.alignment.dmarc ? '1' : '0';
  tab();
  CopyText(ev.disposition, out);
  tab();
  CopyText(ev.dkim, out);
  tab();
  CopyText(ev.spf, out);
  tab();
  CopyText(rec.identifiers.header_from, out);
  tab();
  CopyOptText(rec.identifiers.envelope_from, out);
  tab();
  CopyOptText(rec.identifiers.envelope_to, out);
  tab();
  // NULL when the sources were not enriched from DNS.
  if (enriched_at) {
    CopyInt(enriched_at, out);
  } else {
    pg::CopyNull(out);
  }
  tab();
  CopyDkimJson(rec.dkim, out);
  tab();
  CopySpfJson(rec.spf, out);
  tab();
  CopyOverridesJson(ev.policy_override_reasons, out);
  out += '\n';
}

std::string ErrorsJson(const std::vector<std::string>& errors) {
  return nlohmann::json(errors).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The aggregate reports of a batch by key, as the server compares them; the first of equal
// reports in the batch is the one stored, the others are duplicates (as SQLite's one INSERT
// after another).
struct KeyedReports {
  std::map<ReportKey, std::size_t> by_key;  // key → batch index
  std::vector<std::size_t> unique;          // batch indices of the first of each key, batch order
  std::vector<std::string> domains;         // each report's cleaned policy domain
};

KeyedReports KeyReports(const Batch& batch) {
  KeyedReports out;
  const std::size_t n = batch.aggregates.size();
  out.domains.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const model::AggregateReport& r = *batch.aggregates[i].report;
    const auto& m = r.report_metadata;
    out.domains[i] = Clean(r.policy_published.domain);
    if (out.by_key
            .emplace(
                ReportKey{Clean(m.org_name), Clean(m.report_id), out.domains[i], m.begin, m.end}, i)
            .second) {
      out.unique.push_back(i);
    }
  }
  return out;
}

// The columns of aggregate_reports, one array each, as the INSERT of InsertReports takes them.
struct ReportColumns {
  std::vector<std::int64_t> id, begin, end, trn, ots, count;
  std::vector<std::string> org, email, rid, domain, schema, errors, adkim, aspf, p, sp, origin,
      reporter;
  std::vector<std::optional<std::string>> extra, ns, gen, pct, fo, np, testing, disc;

  void Push(std::int64_t row_id, const ReportKey& key, const StoredAggregate& item) {
    const model::AggregateReport& r = *item.report;
    const auto& m = r.report_metadata;
    const auto& pp = r.policy_published;
    id.push_back(row_id);
    org.push_back(std::get<0>(key));
    email.push_back(Clean(m.org_email));
    extra.push_back(Clean(m.org_extra_contact_info));
    rid.push_back(std::get<1>(key));
    begin.push_back(m.begin);
    end.push_back(m.end);
    domain.push_back(std::get<2>(key));
    schema.push_back(Clean(r.xml_schema));
    ns.push_back(Clean(r.xml_namespace));
    gen.push_back(Clean(m.generator));
    trn.push_back(m.timespan_requires_normalization ? 1 : 0);
    ots.push_back(m.original_timespan_seconds);
    errors.push_back(ErrorsJson(m.errors));
    adkim.push_back(Clean(pp.adkim));
    aspf.push_back(Clean(pp.aspf));
    p.push_back(Clean(pp.p));
    sp.push_back(Clean(pp.sp));
    pct.push_back(Clean(pp.pct));
    fo.push_back(Clean(pp.fo));
    np.push_back(Clean(pp.np));
    testing.push_back(Clean(pp.testing));
    disc.push_back(Clean(pp.discovery_method));
    origin.push_back(Clean(item.origin));
    count.push_back(static_cast<std::int64_t>(item.RecordCount()));
    reporter.push_back(Clean(ReporterKey(m.org_name)));
  }

  void AddTo(Params& params) const {
    params.AddArray(id).AddArray(org).AddArray(email).AddArray(extra).AddArray(rid);
    params.AddArray(begin).AddArray(end).AddArray(domain).AddArray(schema).AddArray(ns);
    params.AddArray(gen).AddArray(trn).AddArray(ots).AddArray(errors).AddArray(adkim);
    params.AddArray(aspf).AddArray(p).AddArray(sp).AddArray(pct).AddArray(fo);
    params.AddArray(np).AddArray(testing).AddArray(disc).AddArray(origin).AddArray(count);
    params.AddArray(reporter);
  }
};

// One INSERT for all the reports, in key order (the lock order); the ids of those inserted
// (not already stored).
Result<std::unordered_set<std::int64_t>> InsertReports(Connection& conn, const Batch& batch,
                                                       const KeyedReports& keyed,
                                                       const std::vector<std::int64_t>& id_of,
                                                       std::int64_t now) {
  ReportColumns cols;
  for (const auto& [key, i] : keyed.by_key) cols.Push(id_of[i], key, batch.aggregates[i]);
  Params params;
  cols.AddTo(params);
  params.Add(now);
  auto inserted_rows = conn.Query(
      "INSERT INTO aggregate_reports (id, org_name, org_email, org_extra_contact_info, report_id,"
      " begin_ts, end_ts, domain, xml_schema, xml_namespace, generator,"
      " timespan_requires_normalization, original_timespan_seconds, errors, adkim, aspf, p, sp,"
      " pct, fo, np, testing, discovery_method, origin, record_count, reporter_key, imported_at)"
      " SELECT t.id, t.org, t.email, t.extra, t.rid, t.b, t.e, t.domain, t.xs, t.ns, t.gen,"
      " t.trn::smallint, t.ots, t.errors, t.adkim, t.aspf, t.p, t.sp, t.pct, t.fo, t.np,"
      " t.testing, t.disc, t.origin, t.cnt::integer, t.rk, $27"
      " FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],"
      " $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[],"
      " $13::bigint[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],"
      " $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[],"
      " $25::bigint[], $26::text[]) AS t(id, org, email, extra, rid, b, e, domain, xs, ns, gen,"
      " trn, ots, errors, adkim, aspf, p, sp, pct, fo, np, testing, disc, origin, cnt, rk)"
      " ON CONFLICT DO NOTHING RETURNING id",
      params);
  if (!inserted_rows) return std::move(inserted_rows).error_value();
  std::unordered_set<std::int64_t> inserted;
  for (int i = 0; i < inserted_rows->size(); ++i) inserted.insert(inserted_rows->Int(i, 0));
  return inserted;
}

constexpr std::size_t kPiece = 1 << 20;  // bytes of COPY data made at a time

// The new reports (batch indices `fresh`, rows id_of) of a batch: their records in one COPY
// (made a piece at a time: a report may hold a million records), added to rollups, then their
// totals. `any_records`: whether they hold any record at all.
Result<bool> StoreRecordsAndTotals(Connection& conn, const Batch& batch,
                                   const std::vector<std::size_t>& fresh,
                                   const std::vector<std::int64_t>& id_of,
                                   const std::vector<std::string>& domains, bool any_records,
                                   PgRollups& rollups) {
  std::vector<std::int64_t> t_report, t_messages, t_pass;
  if (any_records) {
    std::size_t k = 0, next_record = 0;  // where the next piece starts
    std::int64_t messages = 0, pass = 0;
    DMARC_TRY(conn.CopyIn(kCopyRecords, [&](std::string& buf) {
      while (k < fresh.size() && buf.size() < kPiece) {
        const std::size_t i = fresh[k];
        const auto& records = batch.aggregates[i].report->records;
        if (next_record < records.size()) {
          const model::Record& rec = records[next_record++];
          const std::int64_t day = FloorDay(rec.interval_begin);
          AppendRecord(buf, id_of[i], domains[i], day, rec, batch.sources_enriched_at);
          rollups.Add(day, domains[i], rec);
          const auto count = static_cast<std::int64_t>(rec.count);
          messages += count;
          if (rec.alignment.dmarc) pass += count;
          continue;
        }
        t_report.push_back(id_of[i]);
        t_messages.push_back(messages);
        t_pass.push_back(pass);
        messages = pass = 0;
        next_record = 0;
        ++k;
      }
      return k < fresh.size();
    }));
  } else {
    for (std::size_t i : fresh) {
      t_report.push_back(id_of[i]);
      t_messages.push_back(0);
      t_pass.push_back(0);
    }
  }
  DMARC_TRY(
      conn.Query("INSERT INTO report_totals (report, messages, dmarc_pass)"
                 " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])",
                 Params().AddArray(t_report).AddArray(t_messages).AddArray(t_pass)));
  return true;
}

// The records of a new streamed report (row report_row), read from its stream a piece at a time
// into one COPY, added to rollups, then its totals.
Result<bool> StoreStreamedRecords(Connection& conn, const StoredAggregate& item,
                                  std::int64_t report_row, const std::string& domain,
                                  PgRollups& rollups) {
  RecordStream& stream = *item.stream;
  DMARC_TRY(stream.Rewind());
  const std::int64_t enriched_at = stream.SourcesEnrichedAt();
  std::vector<model::Record> records;
  std::size_t next = 0;  // in records
  std::uint64_t copied = 0;
  std::int64_t messages = 0, pass = 0;
  Status read = Ok();
  auto more = [&](std::string& buf) {
    while (buf.size() < kPiece) {
      if (next == records.size()) {
        read = stream.NextRecords(records, kStreamRecordsPerRead);
        next = 0;
        if (!read || records.empty()) return false;
      }
      const model::Record& rec = records[next++];
      const std::int64_t day = FloorDay(rec.interval_begin);
      AppendRecord(buf, report_row, domain, day, rec, enriched_at);
      rollups.Add(day, domain, rec);
      const auto count = static_cast<std::int64_t>(rec.count);
      messages += count;
      if (rec.alignment.dmarc) pass += count;
      ++copied;
    }
    return true;
  };
  if (stream.RecordCount() > 0) DMARC_TRY(conn.CopyIn(kCopyRecords, more));
  if (!read) return MakeError(conn.label() + ": " + read.error());
  if (copied != stream.RecordCount()) {
    return MakeError(fmt::format("{}: the streamed report {} gave {} records, not {}", conn.label(),
                                 item.origin, copied, stream.RecordCount()));
  }
  DMARC_TRY(
      conn.Query("INSERT INTO report_totals (report, messages, dmarc_pass) VALUES ($1, $2, $3)",
                 Params().Add(report_row).Add(messages).Add(pass)));
  return true;
}

// The compressed XML of a new streamed report, hex-encoded into one COPY row a piece at a time.
Result<bool> StoreStreamedRawXml(Connection& conn, const StoredAggregate& item,
                                 std::int64_t report_row) {
  RecordStream& stream = *item.stream;
  bool started = false, ended = false;
  Result<std::size_t> read = std::size_t{0};
  std::string piece(kPiece / 2, '\0'), hex;
  DMARC_TRY(conn.CopyIn("COPY aggregate_raw (report, encoding, size, bytes) FROM STDIN",
                        [&](std::string& buf) {
                          if (!started) {
                            started = true;
                            CopyInt(report_row, buf);
                            buf += '\t';
                            CopyText(item.raw_xml_encoding, buf);
                            buf += '\t';
                            CopyInt(static_cast<std::int64_t>(item.raw_xml_size), buf);
                            buf += '\t';
                            pg::CopyBytes({}, buf);  // the prefix of the hex form
                          }
                          read = stream.ReadRawXmlPacked(piece.data(), piece.size());
                          if (!read) return false;
                          if (*read > 0) {
                            hex.clear();
                            pg::CopyBytes(std::string_view(piece.data(), *read), hex);
                            buf.append(hex, 3);  // without its prefix
                          }
                          if (*read < piece.size()) {
                            buf += '\n';
                            ended = true;
                          }
                          return !ended;
                        }));
  if (!read) return MakeError(conn.label() + ": " + read.error());
  return true;
}

// The raw XML of the new reports (batch indices `fresh`, rows id_of) that kept it, in one COPY.
Result<bool> StoreRawXml(Connection& conn, const Batch& batch,
                         const std::vector<std::size_t>& fresh,
                         const std::vector<std::int64_t>& id_of) {
  std::vector<std::size_t> with_raw;
  for (std::size_t i : fresh) {
    if (!batch.aggregates[i].raw_xml_packed.empty()) with_raw.push_back(i);
  }
  if (with_raw.empty()) return true;
  std::size_t k = 0;
  DMARC_TRY(conn.CopyIn("COPY aggregate_raw (report, encoding, size, bytes) FROM STDIN",
                        [&](std::string& buf) {
                          while (k < with_raw.size() && buf.size() < kPiece) {
                            const StoredAggregate& item = batch.aggregates[with_raw[k]];
                            CopyInt(id_of[with_raw[k]], buf);
                            buf += '\t';
                            CopyText(item.raw_xml_encoding, buf);
                            buf += '\t';
                            CopyInt(static_cast<std::int64_t>(item.raw_xml_size), buf);
                            buf += '\t';
                            pg::CopyBytes(item.raw_xml_packed, buf);
                            buf += '\n';
                            ++k;
                          }
                          return k < with_raw.size();
                        }));
  return true;
}

// Aggregate reports with their records, totals and raw XML; duplicates are only counted.
Result<bool> StoreAggregates(Connection& conn, const Batch& batch, std::int64_t now,
                             PgRollups& rollups, BatchResult& result,
                             std::vector<std::int64_t>& new_ids) {
  const std::size_t n = batch.aggregates.size();
  if (n == 0) return true;
  const KeyedReports keyed = KeyReports(batch);
  std::vector<std::int64_t> ids;
  DMARC_TRY_ASSIGN(ids, NextIds(conn, "aggregate_reports_id_seq", keyed.unique.size()));
  std::vector<std::int64_t> id_of(n, 0);
  for (std::size_t k = 0; k < keyed.unique.size(); ++k) id_of[keyed.unique[k]] = ids[k];
  std::unordered_set<std::int64_t> inserted;
  DMARC_TRY_ASSIGN(inserted, InsertReports(conn, batch, keyed, id_of, now));

  std::vector<std::size_t> fresh;     // batch indices of the new reports held whole
  std::vector<std::size_t> streamed;  // and of the new streamed ones
  bool any_records = false;           // in `fresh`
  for (std::size_t i = 0; i < n; ++i) {
    const StoredAggregate& item = batch.aggregates[i];
    if (id_of[i] != 0 && inserted.contains(id_of[i])) {
      (item.stream ? streamed : fresh).push_back(i);
      new_ids.push_back(id_of[i]);
      ++result.new_reports;
      result.new_records += item.RecordCount();
      if (!item.stream && !item.report->records.empty()) any_records = true;
    } else {
      ++result.duplicate_reports;
    }
  }
  if (!fresh.empty()) {
    DMARC_TRY(
        StoreRecordsAndTotals(conn, batch, fresh, id_of, keyed.domains, any_records, rollups));
    DMARC_TRY(StoreRawXml(conn, batch, fresh, id_of));
  }
  for (std::size_t i : streamed) {
    DMARC_TRY(StoreStreamedRecords(conn, batch.aggregates[i], id_of[i], keyed.domains[i], rollups));
    if (batch.aggregates[i].stream->RawXmlPackedBytes() > 0) {
      DMARC_TRY(StoreStreamedRawXml(conn, batch.aggregates[i], id_of[i]));
    }
  }
  return true;
}

}  // namespace

Result<BatchResult> PgStore::StoreOnce(const Batch& batch) {
  pending_ip_ids_.clear();  // what an attempt rolled back claimed nothing
  BatchResult result;
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  PgRollups rollups;
  NewReportIds fresh;
  DMARC_TRY(StoreAggregates(conn_, batch, now, rollups, result, fresh.aggregate));
  DMARC_TRY(StoreRollups(rollups));
  DMARC_TRY(StoreRejections(conn_, batch, options_.max_raw_bytes, result));
  DMARC_TRY(StoreFailures(conn_, batch, now, result, &fresh.failure));
  DMARC_TRY(StoreSmtpTls(conn_, batch, now, result, &fresh.smtp_tls));
  DMARC_TRY(EnqueueNewReports(fresh, now));
  return result;
}

Result<bool> PgStore::BumpAggregateVersion() {
  auto r = conn_.Query("UPDATE change_counters SET value = value + 1 WHERE name = 'aggregate'");
  if (!r) return std::move(r).error_value();
  return true;
}

// ---- AggregatesStored ----

Result<std::vector<bool>> PgStore::AggregatesStored(
    const std::vector<const model::AggregateReport*>& reports) {
  if (reports.empty()) return std::vector<bool>{};
  std::vector<std::string> org, rid, domain;
  std::vector<std::int64_t> begin, end;
  for (const auto* r : reports) {
    const auto& m = r->report_metadata;
    org.push_back(Clean(m.org_name));
    rid.push_back(Clean(m.report_id));
    domain.push_back(Clean(r->policy_published.domain));
    begin.push_back(m.begin);
    end.push_back(m.end);
  }
  Params params;
  params.AddArray(org).AddArray(rid).AddArray(domain).AddArray(begin).AddArray(end);
  return InTransaction<std::vector<bool>>(
      [&]() -> Result<std::vector<bool>> {
        auto rows = conn_.Query(
            "SELECT EXISTS (SELECT 1 FROM aggregate_reports a WHERE a.org_name = t.o"
            " AND a.report_id = t.r AND a.domain = t.d AND a.begin_ts = t.b AND a.end_ts = t.e)"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])"
            " WITH ORDINALITY AS t(o, r, d, b, e, n) ORDER BY t.n",
            params);
        if (!rows) return std::move(rows).error_value();
        std::vector<bool> out;
        out.reserve(reports.size());
        for (int i = 0; i < rows->size(); ++i) out.push_back(rows->Bool(i, 0));
        if (out.size() != reports.size())
          return MakeError(label_ + ": AggregatesStored: short answer");
        return out;
      },
      true);
}

// A connection of its own (it sees what was committed), one worker at a time; a check that fails
// (the server away) says "not stored": the report's XML is compressed, as without the check.
ReportStore::StoredCheck PgStore::AggregateStoredCheck() {
  struct Check {
    std::mutex mu;
    Connection conn;
  };
  auto conn = Connect(url_, options_);
  if (!conn) return {};
  auto check = std::make_shared<Check>();
  check->conn = std::move(conn).value();
  return [check](const model::AggregateReport& r) {
    const auto& m = r.report_metadata;
    const std::lock_guard lock(check->mu);
    auto rows = check->conn.Query(
        "SELECT EXISTS (SELECT 1 FROM aggregate_reports WHERE org_name = $1 AND report_id = $2"
        " AND domain = $3 AND begin_ts = $4 AND end_ts = $5)",
        Params()
            .Add(Clean(m.org_name))
            .Add(Clean(m.report_id))
            .Add(Clean(r.policy_published.domain))
            .Add(m.begin)
            .Add(m.end));
    return rows && rows->size() == 1 && rows->Bool(0, 0);
  };
}

}  // namespace dmarc::store::pg_impl
