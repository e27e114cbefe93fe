// The PostgreSQL store's outbox of the outputs (docs/outputs.md): as sqlite_outbox.cc, the new
// reports queued in Store's transaction (numbered in commit order under a transaction lock), read
// back in order with their reports, settled after each delivery attempt.
#include <algorithm>
#include <ctime>
#include <unordered_map>

#include "store/pg/pg_store_impl.h"

namespace dmarc::store::pg_impl {

namespace {

// The lock that numbers outbox entries in commit order (pg_schema.cc's lock is 7400319022).
constexpr std::string_view kEnqueueLock = "SELECT pg_advisory_xact_lock(7400319023)";

// $1 name, $2 settled, $3 now, $4 delivered, $5 dropped, $6 error, $7 next attempt.
constexpr std::string_view kSettleStateSql =
    "UPDATE output_state SET"
    " last_success_at = CASE WHEN $2::boolean AND $4::bigint > 0 THEN $3::bigint"
    " ELSE last_success_at END,"
    " consecutive_failures = CASE WHEN $2::boolean THEN 0 ELSE consecutive_failures + 1 END,"
    " failures = failures + CASE WHEN $2::boolean THEN 0 ELSE 1 END,"
    " next_attempt_at = CASE WHEN $2::boolean THEN 0 ELSE $7::bigint END,"
    " delivered = delivered + $4::bigint, dropped = dropped + $5::bigint,"
    " last_error = CASE WHEN $6::text <> '' THEN $6::text ELSE last_error END,"
    " last_error_at = CASE WHEN $6::text <> '' THEN $3::bigint ELSE last_error_at END"
    " WHERE name = $1";

constexpr std::string_view kOutboxStateSql =
    "SELECT n.name, (SELECT count(*) FROM outbox o WHERE o.output = n.name),"
    " coalesce((SELECT enqueued_at FROM outbox o WHERE o.output = n.name ORDER BY id LIMIT 1),"
    " 0), coalesce(st.last_success_at, 0), coalesce(st.last_error_at, 0),"
    " coalesce(st.last_error, ''), coalesce(st.consecutive_failures, 0),"
    " coalesce(st.next_attempt_at, 0), coalesce(st.delivered, 0), coalesce(st.failures, 0),"
    " coalesce(st.dropped, 0)"
    " FROM (SELECT name FROM output_state UNION SELECT DISTINCT output FROM outbox) n"
    " LEFT JOIN output_state st ON st.name = n.name ORDER BY n.name";

// OutboxEnqueue per kind ($2, $3: the day range; $4: the domain or NULL).
constexpr std::string_view kEnqueueAggregate =
    "INSERT INTO outbox (output, kind, report, enqueued_at) SELECT $1, 0, id, $5"
    " FROM aggregate_reports WHERE begin_ts >= $2 AND begin_ts < $3"
    " AND ($4::text IS NULL OR domain = $4::text) ORDER BY id";
constexpr std::string_view kEnqueueFailure =
    "INSERT INTO outbox (output, kind, report, enqueued_at) SELECT $1, 1, id, $5"
    " FROM failure_reports WHERE arrival_ts >= $2 AND arrival_ts < $3"
    " AND ($4::text IS NULL OR reported_domain = $4::text) ORDER BY id";
constexpr std::string_view kEnqueueSmtpTls =
    "INSERT INTO outbox (output, kind, report, enqueued_at) SELECT $1, 2, r.id, $5"
    " FROM smtp_tls_reports r WHERE begin_ts >= $2 AND begin_ts < $3 AND ($4::text IS NULL OR"
    " EXISTS (SELECT 1 FROM smtp_tls_policies p WHERE p.report = r.id AND"
    " p.policy_domain = $4::text)) ORDER BY r.id";

}  // namespace

Result<bool> PgStore::EnqueueNewReports(NewReportIds& fresh, std::int64_t now) {
  if (OutboxOutputs().empty()) return true;
  if (fresh.aggregate.empty() && fresh.failure.empty() && fresh.smtp_tls.empty()) return true;
  DMARC_TRY(conn_.Exec(kEnqueueLock));
  std::vector<std::int64_t>* kinds[] = {&fresh.aggregate, &fresh.failure, &fresh.smtp_tls};
  for (auto* ids : kinds) std::sort(ids->begin(), ids->end());
  for (const auto& name : OutboxOutputs()) {
    for (int kind = 0; kind < 3; ++kind) {
      if (kinds[kind]->empty()) continue;
      DMARC_TRY(
          conn_.Query("INSERT INTO outbox (output, kind, report, enqueued_at)"
                      " SELECT $1, $2, r, $4 FROM unnest($3::bigint[]) AS r ORDER BY r",
                      Params().Add(name).Add(kind).AddArray(*kinds[kind]).Add(now)));
    }
  }
  return true;
}

Result<std::vector<OutboxEntry>> PgStore::OutboxNext(const std::string& output,
                                                     std::size_t max_items,
                                                     std::size_t max_records) {
  return InTransaction<std::vector<OutboxEntry>>(
      [&]() -> Result<std::vector<OutboxEntry>> {
        // The entries, with each aggregate report's record count to stop at max_records.
        auto rows = conn_.Query(
            "SELECT o.id, o.kind, o.report, o.enqueued_at, coalesce(a.record_count, 0)"
            " FROM outbox o LEFT JOIN aggregate_reports a ON o.kind = 0 AND a.id = o.report"
            " WHERE o.output = $1 ORDER BY o.id LIMIT $2",
            Params().Add(output).Add(static_cast<std::int64_t>(max_items)));
        if (!rows) return std::move(rows).error_value();
        std::vector<OutboxEntry> out;
        std::vector<std::int64_t> reports;    // each entry's report row
        std::vector<std::int64_t> wanted[3];  // the rows to read, per kind
        std::size_t records = 0;
        for (int i = 0; i < rows->size() && (out.empty() || records < max_records); ++i) {
          OutboxEntry e;
          e.id = rows->Int(i, 0);
          e.kind = static_cast<OutboxKind>(std::clamp<std::int64_t>(rows->Int(i, 1), 0, 2));
          e.enqueued_at = rows->Int(i, 3);
          records += static_cast<std::size_t>(rows->Int(i, 4));
          reports.push_back(rows->Int(i, 2));
          wanted[static_cast<int>(e.kind)].push_back(reports.back());
          out.push_back(std::move(e));
        }
        // Every report at once per kind (no raw XML), then each handed to its entries.
        constexpr std::string_view kListed = "id = ANY($1::bigint[]) ORDER BY id";
        CopyBatch read;
        std::vector<std::int64_t> ids[3];
        if (!wanted[0].empty()) {
          DMARC_TRY(
              ReadAggregateCopies(kListed, Params().AddArray(wanted[0]), false, read, ids[0]));
        }
        if (!wanted[1].empty()) {
          DMARC_TRY(ReadFailureCopies(kListed, Params().AddArray(wanted[1]), read, ids[1]));
        }
        if (!wanted[2].empty()) {
          DMARC_TRY(ReadSmtpTlsCopies(kListed, Params().AddArray(wanted[2]), read, ids[2]));
        }
        // Row → (position in read, entries still to hand it to): a report queued twice (export
        // --to twice) is copied to its first entries and moved to its last.
        std::unordered_map<std::int64_t, std::pair<std::size_t, std::size_t>> at[3];
        for (int k = 0; k < 3; ++k) {
          for (std::size_t i = 0; i < ids[k].size(); ++i) at[k][ids[k][i]] = {i, 0};
        }
        for (std::size_t i = 0; i < out.size(); ++i) {
          const auto it = at[static_cast<int>(out[i].kind)].find(reports[i]);
          if (it != at[static_cast<int>(out[i].kind)].end()) ++it->second.second;
        }
        for (std::size_t i = 0; i < out.size(); ++i) {
          OutboxEntry& e = out[i];
          const int k = static_cast<int>(e.kind);
          const auto it = at[k].find(reports[i]);
          e.purged = it == at[k].end();
          if (e.purged) continue;
          const std::size_t pos = it->second.first;
          const bool last = --it->second.second == 0;
          auto hand = [last](auto& from, auto& to) { to = last ? std::move(from) : from; };
          if (k == 0) hand(read.aggregates[pos].report, e.aggregate);
          if (k == 1) hand(read.failures[pos].report, e.failure);
          if (k == 2) hand(read.smtp_tls[pos].report, e.smtp_tls);
        }
        return out;
      },
      true);
}

Result<bool> PgStore::OutboxSettle(const std::string& output, const OutboxOutcome& o) {
  return InTransaction<bool>([&]() -> Result<bool> {
    DMARC_TRY(conn_.Query("INSERT INTO output_state (name) VALUES ($1) ON CONFLICT DO NOTHING",
                          Params().Add(output)));
    if (o.settled && !o.ids.empty()) {
      DMARC_TRY(conn_.Query("DELETE FROM outbox WHERE output = $1 AND id = ANY($2::bigint[])",
                            Params().Add(output).AddArray(o.ids)));
    }
    DMARC_TRY(conn_.Query(kSettleStateSql, Params()
                                               .Add(output)
                                               .Add(o.settled)
                                               .Add(o.now)
                                               .Add(static_cast<std::int64_t>(o.delivered))
                                               .Add(static_cast<std::int64_t>(o.dropped))
                                               .Add(o.error)
                                               .Add(o.next_attempt_at)));
    return true;
  });
}

Result<std::size_t> PgStore::OutboxEnqueue(const std::string& output, const Filter& filter,
                                           const OutboxKinds& kinds) {
  const auto days = DayRange(filter);
  const std::int64_t from = days.first, to = days.second;
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  return InTransaction<std::size_t>([&]() -> Result<std::size_t> {
    DMARC_TRY(conn_.Exec(kEnqueueLock));
    std::size_t added = 0;
    auto run = [&](std::string_view sql) -> Result<bool> {
      auto r = conn_.Query(sql, Params().Add(output).Add(from).Add(to).Add(filter.domain).Add(now));
      if (!r) return std::move(r).error_value();
      added += static_cast<std::size_t>(r->Affected());
      return true;
    };
    if (kinds.aggregate) DMARC_TRY(run(kEnqueueAggregate));
    if (kinds.failure) DMARC_TRY(run(kEnqueueFailure));
    if (kinds.smtp_tls) DMARC_TRY(run(kEnqueueSmtpTls));
    return added;
  });
}

Result<std::vector<OutboxState>> PgStore::QueryOutbox() {
  return InTransaction<std::vector<OutboxState>>(
      [&]() -> Result<std::vector<OutboxState>> {
        auto rows = conn_.Query(kOutboxStateSql);
        if (!rows) return std::move(rows).error_value();
        std::vector<OutboxState> out;
        for (int i = 0; i < rows->size(); ++i) {
          OutboxState s;
          s.name = rows->Text(i, 0);
          s.backlog = static_cast<std::uint64_t>(rows->Int(i, 1));
          s.oldest_enqueued_at = rows->Int(i, 2);
          s.last_success_at = rows->Int(i, 3);
          s.last_error_at = rows->Int(i, 4);
          s.last_error = rows->Text(i, 5);
          s.consecutive_failures = static_cast<std::uint64_t>(rows->Int(i, 6));
          s.next_attempt_at = rows->Int(i, 7);
          s.delivered = static_cast<std::uint64_t>(rows->Int(i, 8));
          s.failures = static_cast<std::uint64_t>(rows->Int(i, 9));
          s.dropped = static_cast<std::uint64_t>(rows->Int(i, 10));
          out.push_back(std::move(s));
        }
        return out;
      },
      true);
}

Result<std::size_t> PgStore::OutboxClear(const std::string& output) {
  return InTransaction<std::size_t>([&]() -> Result<std::size_t> {
    auto del = conn_.Query("DELETE FROM outbox WHERE output = $1", Params().Add(output));
    if (!del) return std::move(del).error_value();
    DMARC_TRY(conn_.Query("DELETE FROM output_state WHERE name = $1", Params().Add(output)));
    return static_cast<std::size_t>(del->Affected());
  });
}

}  // namespace dmarc::store::pg_impl
