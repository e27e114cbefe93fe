// The PostgreSQL write path for what is not an aggregate report: rejected inputs (their bytes
// shared by SHA-256, the longer copy kept), failure reports (deduplicated by FailureDedupKey) and
// SMTP TLS reports with their policies and failure details. Each kind is one statement with
// arrays in key order (the lock order, pg_write_impl.h), ids taken first in batch order.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <unordered_set>

#include "sinks/report_json.h"
#include "store/failure_source.h"
#include "store/pg/pg_write_impl.h"
#include "store/pg/pg_write_text.h"

namespace dmarc::store::pg_impl {
namespace {

// The batch's items with equal keys: the first of each (in batch order) and the ids given to
// them in that order; the map lists them in key order.
template <class Key>
struct Firsts {
  std::map<Key, std::size_t> by_key;  // key → batch index of its first item
  std::vector<std::size_t> unique;    // batch order
  std::vector<std::int64_t> id_of;    // batch index → id (0: a repeat within the batch)

  void Add(Key key, std::size_t i) {
    if (by_key.emplace(std::move(key), i).second) unique.push_back(i);
  }
  Result<bool> TakeIds(Connection& conn, std::string_view sequence, std::size_t n) {
    std::vector<std::int64_t> ids;
    DMARC_TRY_ASSIGN(ids, NextIds(conn, sequence, unique.size()));
    id_of.assign(n, 0);
    for (std::size_t k = 0; k < unique.size(); ++k) id_of[unique[k]] = ids[k];
    return true;
  }
};

std::unordered_set<std::int64_t> Ids(const Rows& rows) {
  std::unordered_set<std::int64_t> out;
  for (int i = 0; i < rows.size(); ++i) out.insert(rows.Int(i, 0));
  return out;
}

std::optional<std::string> JsonListOrNull(const std::vector<std::string>& list) {
  if (list.empty()) return std::nullopt;
  return nlohmann::json(list).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Result<bool> StoreRejections(Connection& conn, const Batch& batch, std::size_t max_raw_bytes,
                             BatchResult& result) {
  if (batch.rejections.empty()) return true;
  // One blob per digest: the longest copy (an item first kept short gets the longer one), the
  // size of the first, as SQLite's one upsert after another leaves it.
  struct Blob {
    std::int64_t size;
    std::string_view raw;
  };
  std::map<std::string, Blob> blobs;
  Firsts<std::tuple<std::string, std::string, std::string>> inputs;
  for (std::size_t i = 0; i < batch.rejections.size(); ++i) {
    const RejectedInput& rej = batch.rejections[i];
    const std::string_view raw = std::string_view(rej.raw).substr(0, max_raw_bytes);
    std::string sha = Clean(rej.sha256);
    auto [it, fresh] = blobs.emplace(sha, Blob{static_cast<std::int64_t>(rej.size), raw});
    if (!fresh && raw.size() > it->second.raw.size()) it->second.raw = raw;
    inputs.Add({std::move(sha), Clean(rej.origin), Clean(rej.reason)}, i);
  }
  for (const auto& [sha, blob] : blobs) {
    DMARC_TRY(
        conn.Query("INSERT INTO rejected_blobs (sha256, size, raw) VALUES ($1, $2, $3)"
                   " ON CONFLICT (sha256) DO UPDATE SET raw = excluded.raw"
                   " WHERE length(excluded.raw) > length(rejected_blobs.raw)",
                   Params().Add(sha).Add(blob.size).AddBytes(blob.raw)));
  }
  DMARC_TRY(inputs.TakeIds(conn, "rejected_inputs_id_seq", batch.rejections.size()));
  std::vector<std::int64_t> id, received;
  std::vector<std::string> origin, reason, sha;
  for (const auto& [key, i] : inputs.by_key) {
    id.push_back(inputs.id_of[i]);
    received.push_back(batch.rejections[i].received_at);
    sha.push_back(std::get<0>(key));
    origin.push_back(std::get<1>(key));
    reason.push_back(std::get<2>(key));
  }
  auto rows = conn.Query(
      "INSERT INTO rejected_inputs (id, received_at, origin, reason, sha256)"
      " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])"
      " ON CONFLICT DO NOTHING RETURNING id",
      Params().AddArray(id).AddArray(received).AddArray(origin).AddArray(reason).AddArray(sha));
  if (!rows) return std::move(rows).error_value();
  result.rejections += static_cast<std::size_t>(rows->size());
  return true;
}

Result<bool> StoreFailures(Connection& conn, const Batch& batch, std::int64_t now,
                           BatchResult& result, std::vector<std::int64_t>* new_ids) {
  if (batch.failures.empty()) return true;
  Firsts<std::string> reports;
  for (std::size_t i = 0; i < batch.failures.size(); ++i) {
    reports.Add(Clean(FailureDedupKey(*batch.failures[i].report)), i);
  }
  DMARC_TRY(reports.TakeIds(conn, "failure_reports_id_seq", batch.failures.size()));
  std::vector<std::int64_t> id, arrival;
  std::vector<std::string> domain, ip, data, origin, key;
  std::vector<std::optional<std::string>> feedback;
  for (const auto& [k, i] : reports.by_key) {
    const StoredFailure& item = batch.failures[i];
    const model::FailureReport& r = *item.report;
    id.push_back(reports.id_of[i]);
    arrival.push_back(r.arrival_ts);
    domain.push_back(Clean(r.reported_domain));
    ip.push_back(Clean(r.source.ip_address));
    feedback.push_back(Clean(r.feedback_type));
    data.push_back(Clean(FailureData(r)));
    origin.push_back(Clean(item.origin));
    key.push_back(k);
  }
  auto rows = conn.Query(
      "INSERT INTO failure_reports (id, arrival_ts, reported_domain, source_ip, feedback_type,"
      " data, origin, dedup_key, imported_at, source_enriched_at)"
      " SELECT t.*, $8, NULLIF($10::bigint, 0) FROM unnest($1::bigint[], $2::bigint[],"
      " $3::text[], $4::text[],"
      " $5::text[], $6::text[], $7::text[], $9::text[]) AS t"
      " ON CONFLICT DO NOTHING RETURNING id",
      Params()
          .AddArray(id)
          .AddArray(arrival)
          .AddArray(domain)
          .AddArray(ip)
          .AddArray(feedback)
          .AddArray(data)
          .AddArray(origin)
          .Add(now)
          .AddArray(key)
          .Add(batch.sources_enriched_at));
  if (!rows) return std::move(rows).error_value();
  const std::size_t fresh = static_cast<std::size_t>(rows->size());
  for (int i = 0; new_ids && i < rows->size(); ++i) new_ids->push_back(rows->Int(i, 0));
  result.new_failures += fresh;
  result.duplicate_failures += batch.failures.size() - fresh;
  return true;
}

namespace {

// An SMTP TLS report's key: organization, report id, begin and end.
using SmtpTlsKey = std::tuple<std::string, std::string, std::int64_t, std::int64_t>;

// Inserts the batch's SMTP TLS reports (the first of each key, with the ids taken), the ones
// already stored left as they are; one row (its id) for each report inserted.
Result<Rows> InsertSmtpTlsReports(Connection& conn, const Batch& batch,
                                  const Firsts<SmtpTlsKey>& reports, std::int64_t now) {
  std::vector<std::int64_t> id, begin, end;
  std::vector<std::string> org, rid, origin, errors;
  std::vector<std::optional<std::string>> contact;
  for (const auto& [key, i] : reports.by_key) {
    const StoredSmtpTls& item = batch.smtp_tls[i];
    const model::SmtpTlsReport& r = *item.report;
    id.push_back(reports.id_of[i]);
    org.push_back(std::get<0>(key));
    rid.push_back(std::get<1>(key));
    begin.push_back(r.begin);
    end.push_back(r.end);
    contact.push_back(Clean(r.contact_info));
    origin.push_back(Clean(item.origin));
    errors.push_back(Clean(
        nlohmann::json(r.errors).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  }
  return conn.Query(
      "INSERT INTO smtp_tls_reports (id, organization_name, report_id, begin_ts, end_ts,"
      " contact_info, origin, errors, imported_at)"
      " SELECT t.*, $9 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[],"
      " $5::bigint[], $6::text[], $7::text[], $8::text[]) AS t"
      " ON CONFLICT DO NOTHING RETURNING id",
      Params()
          .AddArray(id)
          .AddArray(org)
          .AddArray(rid)
          .AddArray(begin)
          .AddArray(end)
          .AddArray(contact)
          .AddArray(origin)
          .AddArray(errors)
          .Add(now));
}

// The rows of smtp_tls_policies to insert, one array per column.
struct PolicyColumns {
  std::vector<std::int64_t> id, report, ok, failed;
  std::vector<std::string> domain, type;
  std::vector<std::optional<std::string>> strings, patterns;

  void Add(std::int64_t pid, std::int64_t report_id, const model::SmtpTlsPolicy& p) {
    id.push_back(pid);
    report.push_back(report_id);
    domain.push_back(Clean(p.policy_domain));
    type.push_back(Clean(p.policy_type));
    strings.push_back(Clean(JsonListOrNull(p.policy_strings)));
    patterns.push_back(Clean(JsonListOrNull(p.mx_host_patterns)));
    ok.push_back(static_cast<std::int64_t>(p.successful_session_count));
    failed.push_back(static_cast<std::int64_t>(p.failed_session_count));
  }
  Result<bool> Insert(Connection& conn) const {
    DMARC_TRY(conn.Query(
        "INSERT INTO smtp_tls_policies (id, report, policy_domain, policy_type, policy_strings,"
        " mx_host_patterns, successful_session_count, failed_session_count)"
        " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],"
        " $6::text[], $7::bigint[], $8::bigint[])",
        Params()
            .AddArray(id)
            .AddArray(report)
            .AddArray(domain)
            .AddArray(type)
            .AddArray(strings)
            .AddArray(patterns)
            .AddArray(ok)
            .AddArray(failed)));
    return true;
  }
};

// The rows of smtp_tls_failure_details to insert, one array per column.
struct FailureDetailColumns {
  std::vector<std::int64_t> policy, pos, count;
  std::vector<std::string> type;
  std::vector<std::optional<std::string>> mta, rip, mx, helo, uri, code;

  // The failure details of policy p (id pid), positions in their order.
  void Add(std::int64_t pid, const model::SmtpTlsPolicy& p) {
    std::int64_t position = 0;
    for (const auto& d : p.failure_details) {
      policy.push_back(pid);
      pos.push_back(position++);
      type.push_back(Clean(d.result_type));
      count.push_back(static_cast<std::int64_t>(d.failed_session_count));
      mta.push_back(Clean(d.sending_mta_ip));
      rip.push_back(Clean(d.receiving_ip));
      mx.push_back(Clean(d.receiving_mx_hostname));
      helo.push_back(Clean(d.receiving_mx_helo));
      uri.push_back(Clean(d.additional_info_uri));
      code.push_back(Clean(d.failure_reason_code));
    }
  }
  Result<bool> Insert(Connection& conn) const {
    if (policy.empty()) return true;
    DMARC_TRY(conn.Query(
        "INSERT INTO smtp_tls_failure_details (policy, position, result_type,"
        " failed_session_count, sending_mta_ip, receiving_ip, receiving_mx_hostname,"
        " receiving_mx_helo, additional_info_uri, failure_reason_code)"
        " SELECT t.policy, t.pos::integer, t.rt, t.cnt, t.mta, t.rip, t.mx, t.helo, t.uri, t.code"
        " FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[],"
        " $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])"
        " AS t(policy, pos, rt, cnt, mta, rip, mx, helo, uri, code)",
        Params()
            .AddArray(policy)
            .AddArray(pos)
            .AddArray(type)
            .AddArray(count)
            .AddArray(mta)
            .AddArray(rip)
            .AddArray(mx)
            .AddArray(helo)
            .AddArray(uri)
            .AddArray(code)));
    return true;
  }
};

// The policies of the batch's new reports (those whose id, id_of[i], is in inserted; policy ids
// in batch and report order) and their failure details.
Result<bool> StoreSmtpTlsPolicies(Connection& conn, const Batch& batch,
                                  const std::vector<std::int64_t>& id_of,
                                  const std::unordered_set<std::int64_t>& inserted) {
  const std::size_t n = batch.smtp_tls.size();
  std::size_t policy_count = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (inserted.contains(id_of[i])) policy_count += batch.smtp_tls[i].report->policies.size();
  }
  if (policy_count == 0) return true;
  std::vector<std::int64_t> policy_ids;
  DMARC_TRY_ASSIGN(policy_ids, NextIds(conn, "smtp_tls_policies_id_seq", policy_count));
  PolicyColumns policies;
  FailureDetailColumns details;
  std::size_t next = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!inserted.contains(id_of[i])) continue;
    for (const auto& p : batch.smtp_tls[i].report->policies) {
      const std::int64_t pid = policy_ids[next++];
      policies.Add(pid, id_of[i], p);
      details.Add(pid, p);
    }
  }
  DMARC_TRY(policies.Insert(conn));
  return details.Insert(conn);
}

}  // namespace

Result<bool> StoreSmtpTls(Connection& conn, const Batch& batch, std::int64_t now,
                          BatchResult& result, std::vector<std::int64_t>* new_ids) {
  if (batch.smtp_tls.empty()) return true;
  const std::size_t n = batch.smtp_tls.size();
  Firsts<SmtpTlsKey> reports;
  for (std::size_t i = 0; i < n; ++i) {
    const model::SmtpTlsReport& r = *batch.smtp_tls[i].report;
    reports.Add({Clean(r.organization_name), Clean(r.report_id), r.begin, r.end}, i);
  }
  DMARC_TRY(reports.TakeIds(conn, "smtp_tls_reports_id_seq", n));
  auto rows = InsertSmtpTlsReports(conn, batch, reports, now);
  if (!rows) return std::move(rows).error_value();
  const std::unordered_set<std::int64_t> inserted = Ids(*rows);
  if (new_ids) new_ids->insert(new_ids->end(), inserted.begin(), inserted.end());
  result.new_smtp_tls += inserted.size();
  result.duplicate_smtp_tls += n - inserted.size();
  if (inserted.empty()) return true;
  return StoreSmtpTlsPolicies(conn, batch, reports.id_of, inserted);
}

}  // namespace dmarc::store::pg_impl
