// The SQLite store's write path (import, fetch): one batch — aggregate reports with their
// records and rollups, rejections, failure and SMTP TLS reports — in one write transaction, with
// the statements prepared once (sqlite_schema.cc) and values bound without copies.
#include <fmt/format.h>

#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>

#include "base/time.h"
#include "sinks/report_json.h"
#include "store/auth_json.h"
#include "store/failure_source.h"
#include "store/reporter_key.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace dmarc::store::sqlite_impl {

struct BatchRollups {
  struct SourceTotals {
    std::int64_t messages = 0, records = 0, dmarc_pass = 0, spf_aligned = 0, dkim_aligned = 0;
    void Add(const SourceTotals& o) {
      messages += o.messages;
      records += o.records;
      dmarc_pass += o.dmarc_pass;
      spf_aligned += o.spf_aligned;
      dkim_aligned += o.dkim_aligned;
    }
  };
  struct ResultTotals {
    std::int64_t records = 0, messages = 0;
  };

  // Adds one stored record of the policy domain `domain` on `day`. The keys view the batch's
  // strings (no copy per record): the rollups live only while the batch is stored.
  void Add(std::int64_t day, std::string_view domain, const model::Record& rec) {
    const auto count = static_cast<std::int64_t>(rec.count);
    const auto& ev = rec.policy_evaluated;
    SourceTotals& st = sources[{day, domain, rec.source.ip_address}];
    st.messages += count;
    st.records += 1;
    if (rec.alignment.dmarc) st.dmarc_pass += count;
    if (rec.alignment.spf) st.spf_aligned += count;
    if (rec.alignment.dkim) st.dkim_aligned += count;
    ResultTotals& rt = results[{day, domain, rec.identifiers.header_from, ev.disposition,
                                rec.alignment.dmarc, rec.alignment.spf, rec.alignment.dkim}];
    rt.records += 1;
    rt.messages += count;
  }

  std::map<std::tuple<std::int64_t, std::string_view, std::string_view>, SourceTotals> sources;
  std::map<std::tuple<std::int64_t, std::string_view, std::string_view, std::string_view, bool,
                      bool, bool>,
           ResultTotals>
      results;
};

namespace {

void BindAggregateReport(Statement& s, const StoredAggregate& item, const std::string& errors,
                         const std::string& reporter_key, std::int64_t now,
                         std::int64_t first_record) {
  const model::AggregateReport& r = *item.report;
  const auto& m = r.report_metadata;
  const auto& p = r.policy_published;
  s.Bind(1, m.org_name)
      .Bind(2, m.org_email)
      .Bind(3, m.org_extra_contact_info)
      .Bind(4, m.report_id)
      .Bind(5, m.begin)
      .Bind(6, m.end)
      .Bind(7, p.domain)
      .Bind(8, r.xml_schema)
      .Bind(9, r.xml_namespace)
      .Bind(10, m.generator)
      .Bind(11, std::int64_t{m.timespan_requires_normalization})
      .Bind(12, m.original_timespan_seconds)
      .Bind(13, errors)
      .Bind(14, p.adkim)
      .Bind(15, p.aspf)
      .Bind(16, p.p)
      .Bind(17, p.sp)
      .Bind(18, p.pct)
      .Bind(19, p.fo)
      .Bind(20, p.np)
      .Bind(21, p.testing)
      .Bind(22, p.discovery_method)
      .Bind(23, item.origin)
      .Bind(24, now)
      .Bind(26, static_cast<std::int64_t>(item.RecordCount()))
      .Bind(27, reporter_key);
  // first_record stays NULL for a report without records.
  if (item.RecordCount() > 0) s.Bind(25, first_record);
}

// A list as a JSON array, NULL when empty.
std::optional<std::string> JsonListOrNull(const std::vector<std::string>& list) {
  if (list.empty()) return std::nullopt;
  return nlohmann::json(list).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Result<BatchResult> SqliteStore::Store(const Batch& batch) {
  pending_ip_ids_.clear();
  auto result = InWriteTransaction([&] { return StoreInTransaction(batch); });
  if (result) ip_ids_.merge(pending_ip_ids_);
  return result;
}

Result<BatchResult> SqliteStore::StoreInTransaction(const Batch& batch) {
  BatchResult result;
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  BatchRollups rollups;
  // None left by a batch that failed.
  for (RowInserter* r : {&insert_records_, &upsert_daily_results_, &upsert_daily_sources_,
                         &upsert_source_totals_, &upsert_ip_totals_}) {
    r->Clear();
  }
  ReportRows before;
  if (!OutboxOutputs().empty()) DMARC_TRY_ASSIGN(before, LastReportRows());
  DMARC_TRY(select_next_record_.Step());
  next_record_ = select_next_record_.Int(0);
  select_next_record_.Reset();
  for (const auto& item : batch.aggregates) {
    DMARC_TRY(StoreAggregate(batch, item, now, rollups, result));
  }
  DMARC_TRY(insert_records_.Flush());
  DMARC_TRY(StoreDailyRollups(rollups));
  DMARC_TRY(StoreSourceRollups(rollups));
  DMARC_TRY(StoreRejections(batch, result));
  DMARC_TRY(StoreFailures(batch, now, result));
  DMARC_TRY(StoreSmtpTls(batch, now, result));
  DMARC_TRY(EnqueueNewReports(before, now));
  // A duplicate changes nothing; StoreCopy's later fixes of import and enrichment times change
  // nothing ForEachAggregate reads either.
  if (result.new_reports > 0) DMARC_TRY(BumpAggregateVersion());
  return result;
}

Result<bool> SqliteStore::BumpAggregateVersion() { return bump_aggregate_version_.Run(); }

Result<bool> SqliteStore::StoreAggregate(const Batch& batch, const StoredAggregate& item,
                                         std::int64_t now, BatchRollups& rollups,
                                         BatchResult& result) {
  const model::AggregateReport& r = *item.report;
  const std::string& domain = r.policy_published.domain;
  const std::string errors = nlohmann::json(r.report_metadata.errors).dump();
  const std::string reporter_key = ReporterKey(item.report->report_metadata.org_name);
  BindAggregateReport(insert_report_, item, errors, reporter_key, now, next_record_);
  DMARC_TRY(insert_report_.Run());
  if (db_.Changes() == 0) {
    ++result.duplicate_reports;
    return true;
  }
  ++result.new_reports;
  const std::int64_t report_row = db_.LastInsertId();
  std::int64_t report_messages = 0, report_pass = 0;
  if (item.stream) {
    DMARC_TRY(StoreStreamedRecords(item, report_row, report_messages, report_pass));
    result.new_records += item.stream->RecordCount();
  }
  for (const auto& rec : r.records) {
    const std::int64_t day = FloorDay(rec.interval_begin);
    DMARC_TRY(StoreRecord(batch.sources_enriched_at, rec, domain, day, report_row, next_record_++));
    ++result.new_records;
    rollups.Add(day, domain, rec);
    const auto count = static_cast<std::int64_t>(rec.count);
    report_messages += count;
    if (rec.alignment.dmarc) report_pass += count;
  }
  insert_report_totals_.Bind(1, report_row).Bind(2, report_messages).Bind(3, report_pass);
  DMARC_TRY(insert_report_totals_.Run());
  if (!item.raw_xml_packed.empty()) {
    insert_raw_.Bind(1, report_row)
        .Bind(2, static_cast<std::int64_t>(item.raw_xml_size))
        .BindBlob(3, item.raw_xml_packed)
        .Bind(4, item.raw_xml_encoding);
    DMARC_TRY(insert_raw_.Run());
  }
  if (item.stream && item.stream->RawXmlPackedBytes() > 0) {
    DMARC_TRY(StoreStreamedRawXml(item, report_row));
  }
  return true;
}

Result<bool> SqliteStore::StoreStreamedRecords(const StoredAggregate& item, std::int64_t report_row,
                                               std::int64_t& messages, std::int64_t& pass) {
  RecordStream& stream = *item.stream;
  const std::string& domain = item.report->policy_published.domain;
  const std::int64_t enriched_at = stream.SourcesEnrichedAt();
  DMARC_TRY(stream.Rewind());
  std::vector<model::Record> records;
  std::uint64_t stored = 0;
  for (;;) {
    DMARC_TRY(stream.NextRecords(records, kStreamRecordsPerRead));
    if (records.empty()) break;
    // The rollups view these records' strings: stored before the next read replaces them
    // (they are sums, so storing them a read at a time adds up to the same).
    BatchRollups rollups;
    for (const auto& rec : records) {
      const std::int64_t day = FloorDay(rec.interval_begin);
      DMARC_TRY(StoreRecord(enriched_at, rec, domain, day, report_row, next_record_++));
      rollups.Add(day, domain, rec);
      const auto count = static_cast<std::int64_t>(rec.count);
      messages += count;
      if (rec.alignment.dmarc) pass += count;
    }
    DMARC_TRY(insert_records_.Flush());  // before the next read replaces these records
    stored += records.size();
    DMARC_TRY(StoreDailyRollups(rollups));
    DMARC_TRY(StoreSourceRollups(rollups));
  }
  // The report's row numbered its records from its count: the stream must hold that many.
  if (stored != stream.RecordCount()) {
    return MakeError(fmt::format("{}: the streamed report {} gave {} records, not {}", Describe(),
                                 item.origin, stored, stream.RecordCount()));
  }
  return true;
}

// The compressed XML of a streamed report, written into a blob of its size a piece at a time
// (never held whole).
Result<bool> SqliteStore::StoreStreamedRawXml(const StoredAggregate& item,
                                              std::int64_t report_row) {
  RecordStream& stream = *item.stream;
  const std::uint64_t bytes = stream.RawXmlPackedBytes();
  insert_raw_.Bind(1, report_row)
      .Bind(2, static_cast<std::int64_t>(item.raw_xml_size))
      .BindZeroBlob(3, bytes)
      .Bind(4, item.raw_xml_encoding);
  DMARC_TRY(insert_raw_.Run());
  sqlite3_blob* blob = nullptr;
  if (sqlite3_blob_open(db_.handle(), "main", "aggregate_raw", "bytes", report_row, 1, &blob) !=
      SQLITE_OK) {
    sqlite3_blob_close(blob);
    return MakeError(fmt::format("{}: cannot write the XML of report {}: {}", Describe(),
                                 report_row, sqlite3_errmsg(db_.handle())));
  }
  std::uint64_t at = 0;
  std::string piece(1u << 20, '\0');
  Result<std::size_t> got = std::size_t{0};
  for (;;) {
    got = stream.ReadRawXmlPacked(piece.data(), piece.size());
    if (!got || *got == 0) break;
    if (at + *got > bytes || sqlite3_blob_write(blob, piece.data(), static_cast<int>(*got),
                                                static_cast<int>(at)) != SQLITE_OK) {
      got = MakeError(fmt::format("cannot write the XML of report {}: {}", report_row,
                                  sqlite3_errmsg(db_.handle())));
      break;
    }
    at += *got;
  }
  sqlite3_blob_close(blob);
  if (!got) return MakeError(Describe() + ": " + got.error());
  if (at != bytes) {
    return MakeError(fmt::format("{}: the XML of report {} is {} bytes, not {}", Describe(),
                                 report_row, at, bytes));
  }
  return true;
}

Result<bool> SqliteStore::StoreRecord(std::int64_t enriched_at, const model::Record& rec,
                                      std::string_view domain, std::int64_t day,
                                      std::int64_t report_row, std::int64_t record_row) {
  using Value = RowInserter::Value;
  // The results as JSON, NULL when none, in the buffers of the record's row in the statement
  // (kept until it has run).
  std::string* json = &auth_json_[3 * insert_records_.Queued()];
  for (int i = 0; i < 3; ++i) json[i].clear();
  AppendDkimJson(rec.dkim, json[0]);
  AppendSpfJson(rec.spf, json[1]);
  AppendOverridesJson(rec.policy_evaluated.policy_override_reasons, json[2]);
  auto json_or_null = [](const std::string& j) { return j.empty() ? Value() : Value(j); };
  const auto& src = rec.source;
  const auto& ev = rec.policy_evaluated;
  auto maybe = [](const auto& v) { return RowInserter::Maybe(v); };
  return insert_records_.Add({
      report_row,
      domain,
      day,
      rec.interval_begin,
      rec.interval_end,
      std::int64_t{rec.normalized_timespan},
      src.ip_address,
      maybe(src.country),
      maybe(src.reverse_dns),
      maybe(src.base_domain),
      maybe(src.name),
      maybe(src.type),
      maybe(src.asn),
      maybe(src.as_name),
      maybe(src.as_domain),
      static_cast<std::int64_t>(rec.count),
      std::int64_t{rec.alignment.spf},
      std::int64_t{rec.alignment.dkim},
      std::int64_t{rec.alignment.dmarc},
      ev.disposition,
      ev.dkim,
      ev.spf,
      rec.identifiers.header_from,
      maybe(rec.identifiers.envelope_from),
      maybe(rec.identifiers.envelope_to),
      // NULL when the sources were not enriched from DNS.
      enriched_at ? Value(enriched_at) : Value(),
      record_row,
      json_or_null(json[0]),
      json_or_null(json[1]),
      json_or_null(json[2]),
  });
}

Result<bool> SqliteStore::StoreDailyRollups(const BatchRollups& rollups) {
  for (const auto& [key, rt] : rollups.results) {
    const auto& [day, domain, header_from, disposition, dmarc, spf, dkim] = key;
    DMARC_TRY(upsert_daily_results_.Add({day, domain, header_from, disposition, std::int64_t{dmarc},
                                         std::int64_t{spf}, std::int64_t{dkim}, rt.records,
                                         rt.messages}));
  }
  DMARC_TRY(upsert_daily_results_.Flush());
  return true;
}

Result<bool> SqliteStore::StoreSourceRollups(const BatchRollups& rollups) {
  using SourceTotals = BatchRollups::SourceTotals;
  std::map<std::pair<std::string_view, std::int64_t>, SourceTotals> all_days;
  for (const auto& [key, st] : rollups.sources) {
    const auto& [day, domain, ip] = key;
    std::int64_t ip_id = 0;
    DMARC_TRY_ASSIGN(ip_id, SourceIpId(ip));
    DMARC_TRY(upsert_daily_sources_.Add({day, domain, ip_id, st.records, st.messages, st.dmarc_pass,
                                         st.spf_aligned, st.dkim_aligned}));
    all_days[{domain, ip_id}].Add(st);
  }
  DMARC_TRY(upsert_daily_sources_.Flush());
  std::map<std::int64_t, SourceTotals> per_ip;  // all_days over every policy domain
  for (const auto& [key, st] : all_days) {
    DMARC_TRY(upsert_source_totals_.Add({key.first, key.second, st.records, st.messages,
                                         st.dmarc_pass, st.spf_aligned, st.dkim_aligned}));
    per_ip[key.second].Add(st);
  }
  DMARC_TRY(upsert_source_totals_.Flush());
  for (const auto& [ip_id, st] : per_ip) {
    DMARC_TRY(upsert_ip_totals_.Add(
        {ip_id, st.records, st.messages, st.dmarc_pass, st.spf_aligned, st.dkim_aligned}));
  }
  DMARC_TRY(upsert_ip_totals_.Flush());
  return true;
}

Result<std::int64_t> SqliteStore::SourceIpId(std::string_view ip) {
  if (auto it = ip_ids_.find(ip); it != ip_ids_.end()) return it->second;
  if (auto it = pending_ip_ids_.find(ip); it != pending_ip_ids_.end()) return it->second;
  insert_source_ip_.Bind(1, ip);
  DMARC_TRY(insert_source_ip_.Run());
  if (db_.Changes() == 1) {  // new: numbered by its insert
    const std::int64_t ip_id = db_.LastInsertId();
    pending_ip_ids_.emplace(ip, ip_id);
    return ip_id;
  }
  select_source_ip_.Bind(1, ip);  // known before this process: look its number up
  auto row = select_source_ip_.Step();
  if (!row || !*row) {
    select_source_ip_.Reset();
    return MakeError("cannot number source IP " + std::string(ip));
  }
  const std::int64_t ip_id = select_source_ip_.Int(0);
  select_source_ip_.Reset();
  pending_ip_ids_.emplace(ip, ip_id);
  return ip_id;
}

Result<bool> SqliteStore::StoreRejections(const Batch& batch, BatchResult& result) {
  for (const auto& rej : batch.rejections) {
    const std::string_view raw = std::string_view(rej.raw).substr(0, options_.max_raw_bytes);
    insert_blob_.Bind(1, rej.sha256).Bind(2, static_cast<std::int64_t>(rej.size)).BindBlob(3, raw);
    DMARC_TRY(insert_blob_.Run());
    insert_rejection_.Bind(1, rej.received_at)
        .Bind(2, rej.origin)
        .Bind(3, rej.reason)
        .Bind(4, rej.sha256);
    DMARC_TRY(insert_rejection_.Run());
    result.rejections += static_cast<std::size_t>(db_.Changes());
  }
  return true;
}

Result<bool> SqliteStore::StoreFailures(const Batch& batch, std::int64_t now, BatchResult& result) {
  for (const auto& item : batch.failures) {
    const model::FailureReport& r = *item.report;
    const std::string data = FailureData(r);
    const std::string key = FailureDedupKey(r);
    insert_failure_.Bind(1, r.arrival_ts)
        .Bind(2, r.reported_domain)
        .Bind(3, r.source.ip_address)
        .Bind(4, r.feedback_type)
        .Bind(5, data)
        .Bind(6, item.origin)
        .Bind(7, now)
        .Bind(8, key)
        .Bind(9, batch.sources_enriched_at);
    DMARC_TRY(insert_failure_.Run());
    if (db_.Changes() == 0) {
      ++result.duplicate_failures;
    } else {
      ++result.new_failures;
    }
  }
  return true;
}

Result<bool> SqliteStore::StoreSmtpTls(const Batch& batch, std::int64_t now, BatchResult& result) {
  for (const auto& item : batch.smtp_tls) {
    const model::SmtpTlsReport& r = *item.report;
    const std::string errors =
        nlohmann::json(r.errors).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    insert_tls_report_.Bind(1, r.organization_name)
        .Bind(2, r.report_id)
        .Bind(3, r.begin)
        .Bind(4, r.end)
        .Bind(5, r.contact_info)
        .Bind(6, item.origin)
        .Bind(7, now)
        .Bind(8, errors);
    DMARC_TRY(insert_tls_report_.Run());
    if (db_.Changes() == 0) {
      ++result.duplicate_smtp_tls;
      continue;
    }
    ++result.new_smtp_tls;
    const std::int64_t report_row = db_.LastInsertId();
    for (const auto& p : r.policies) DMARC_TRY(StoreSmtpTlsPolicy(p, report_row));
  }
  return true;
}

Result<bool> SqliteStore::StoreSmtpTlsPolicy(const model::SmtpTlsPolicy& p,
                                             std::int64_t report_row) {
  const std::optional<std::string> strings = JsonListOrNull(p.policy_strings);
  const std::optional<std::string> patterns = JsonListOrNull(p.mx_host_patterns);
  insert_tls_policy_.Bind(1, report_row)
      .Bind(2, p.policy_domain)
      .Bind(3, p.policy_type)
      .Bind(4, strings)
      .Bind(5, patterns)
      .Bind(6, static_cast<std::int64_t>(p.successful_session_count))
      .Bind(7, static_cast<std::int64_t>(p.failed_session_count));
  DMARC_TRY(insert_tls_policy_.Run());
  const std::int64_t policy_row = db_.LastInsertId();
  std::int64_t pos = 0;
  for (const auto& d : p.failure_details) {
    insert_tls_detail_.Bind(1, policy_row)
        .Bind(2, pos++)
        .Bind(3, d.result_type)
        .Bind(4, static_cast<std::int64_t>(d.failed_session_count))
        .Bind(5, d.sending_mta_ip)
        .Bind(6, d.receiving_ip)
        .Bind(7, d.receiving_mx_hostname)
        .Bind(8, d.receiving_mx_helo)
        .Bind(9, d.additional_info_uri)
        .Bind(10, d.failure_reason_code);
    DMARC_TRY(insert_tls_detail_.Run());
  }
  return true;
}

}  // namespace dmarc::store::sqlite_impl
