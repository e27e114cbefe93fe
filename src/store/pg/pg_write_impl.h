// Pieces of the PostgreSQL write path shared by pg_write*.cc (internal to the store module).
//
// Lock order. Every writer takes its row locks in one global order, so concurrent writers wait
// for one another but never deadlock: tables in the order StoreOnce visits them (aggregate
// reports, source_ips, daily_results, daily_sources, source_totals, ip_totals,
// rejected_blobs, rejected_inputs, failure_reports, smtp_tls_reports), and within a table rows
// in the order of their key (C++ order of the cleaned texts, the same in every writer). Ids are
// taken from the table's sequence first and given in batch order, so the rows' ids (the order
// readers list them in) still follow the batch, as SQLite's do.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "model/aggregate.h"
#include "store/pg/pg_store_impl.h"

namespace dmarc::store::pg_impl {

struct PgRollups {
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

  // Adds one stored record of the policy domain `domain` (already cleaned) on `day`.
  void Add(std::int64_t day, const std::string& domain, const model::Record& rec);

  std::map<std::tuple<std::int64_t, std::string, std::string>, SourceTotals> sources;
  std::map<std::tuple<std::int64_t, std::string, std::string, std::string, bool, bool, bool>,
           ResultTotals>
      results;
};

// n new ids of the sequence `sequence` (a name this program gives), ascending.
Result<std::vector<std::int64_t>> NextIds(Connection& conn, std::string_view sequence,
                                          std::size_t n);

// The parts of a batch other than aggregate reports, inside Store's transaction.
Result<bool> StoreRejections(Connection& conn, const Batch& batch, std::size_t max_raw_bytes,
                             BatchResult& result);
// With new_ids, the ids of the reports inserted are added to it.
Result<bool> StoreFailures(Connection& conn, const Batch& batch, std::int64_t now,
                           BatchResult& result, std::vector<std::int64_t>* new_ids = nullptr);
Result<bool> StoreSmtpTls(Connection& conn, const Batch& batch, std::int64_t now,
                          BatchResult& result, std::vector<std::int64_t>* new_ids = nullptr);

// Monthly partitions exist for record days in [kFirstPartitionDay, kEndPartitionDay)
// (2010-01-01 to 2060-01-01): at most 600, however hostile the reports. Days before or after
// go to the two partitions migration 1 makes for them (aggregate_records_before_2010,
// aggregate_records_from_2060), so a report dated 1970 or 9999 creates nothing.
inline constexpr std::int64_t kFirstPartitionDay = 1262304000;  // 2010-01-01
inline constexpr std::int64_t kEndPartitionDay = 2840140800;    // 2060-01-01
// The first second of the month containing `day`, and of the next month.
std::int64_t MonthStart(std::int64_t day);
std::int64_t NextMonthStart(std::int64_t month_start);
// "aggregate_records_YYYYMM".
std::string PartitionName(std::int64_t month_start);

}  // namespace dmarc::store::pg_impl
