// The PostgreSQL store's health: Ping, Health (for /healthz: fast) and CheckIntegrity.
//
// What the integrity check looks at. PostgreSQL's own storage has no quick_check: its pages
// carry checksums only when the cluster was made with them, and it reports a damaged page when
// a query reads it. So the check reads what matters to this program, in one read-only snapshot
// (so concurrent writers never make it disagree with itself):
// - the schema version is this program's;
// - the store's own invariants: the daily totals count exactly the records stored (one count of
//   aggregate_records: it reads every partition, so a damaged page or a partition dropped or
//   emptied behind the store's back is found), and, for the newest and the oldest 1000 reports,
//   each report's record_count and report_totals agree with its records (through the report
//   index);
// - when the database administrator has installed the amcheck extension (PostgreSQL's contrib,
//   part of Debian's postgresql package: `CREATE EXTENSION amcheck`, and, for a role that is not
//   a superuser, GRANT EXECUTE on bt_index_check), every B-tree index of the store's tables is
//   verified with bt_index_check (AccessShareLock only: writers are not held up). Without it,
//   or without the right to run it, that part is skipped: the store never creates extensions.
// Like SQLite's quick_check this reads the whole store (seconds on a large one), so /healthz
// runs it in the background, at most once an hour per database in this process, on a
// connection of its own, and answers at once with the last verdict.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "store/pg/pg_store_impl.h"

namespace dmarc::store {
namespace pg_impl {

namespace {

constexpr auto kIntegrityInterval = std::chrono::hours(1);
// The newest and the oldest this many reports are compared with their records.
constexpr int kSampleReports = 1000;

// The outcome of one integrity check.
struct Findings {
  bool ran = false;    // false: it could not run (the connection failed), no verdict
  std::string damage;  // "" when nothing was found; never SQL
};

// The server's message of the last error (without the statement).
std::string ServerMessage(const Connection& conn) { return conn.LastError().message; }

Findings RunChecks(Connection& conn) {
  Findings f;
  auto fail = [&](const std::string& what) {
    if (conn.LastError().Retryable()) return f;  // connection trouble: no verdict
    f.ran = true;
    f.damage = what + ": " + ServerMessage(conn);
    return f;
  };
  if (!conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")) {
    return fail("cannot be read");
  }
  auto body = [&]() -> Findings {
    auto version = conn.Query("SELECT max(version) FROM dmarc_report_schema");
    if (!version) return fail("no schema version");
    const auto v = version->Int(0, 0);
    if (v != static_cast<std::int64_t>(PgSchemaMigrations().size())) {
      f.ran = true;
      f.damage = fmt::format("the schema version is {}, not {}", v, PgSchemaMigrations().size());
      return f;
    }
    auto totals = conn.Query(
        "SELECT (SELECT coalesce(sum(records), 0)::bigint FROM daily_messages),"
        " (SELECT count(*) FROM aggregate_records)");
    if (!totals) return fail("the records cannot be read");
    if (totals->Int(0, 0) != totals->Int(0, 1)) {
      f.ran = true;
      f.damage = fmt::format("the daily totals count {} records, the store holds {}",
                             totals->Int(0, 0), totals->Int(0, 1));
      return f;
    }
    auto sample = conn.Query(
        "WITH s AS ((SELECT id, record_count FROM aggregate_reports ORDER BY id DESC LIMIT $1)"
        " UNION (SELECT id, record_count FROM aggregate_reports ORDER BY id LIMIT $1)),"
        " c AS (SELECT report, count(*) AS n, sum(count)::bigint AS m FROM aggregate_records"
        " WHERE report IN (SELECT id FROM s) GROUP BY report)"
        " SELECT count(*), min(s.id) FROM s LEFT JOIN c ON c.report = s.id"
        " LEFT JOIN report_totals t ON t.report = s.id"
        " WHERE s.record_count <> coalesce(c.n, 0) OR coalesce(t.messages, 0) <> coalesce(c.m, 0)",
        Params().Add(kSampleReports));
    if (!sample) return fail("the reports cannot be read");
    if (sample->Int(0, 0) > 0) {
      f.ran = true;
      f.damage = fmt::format("{} report(s) disagree with their records (the first: report {})",
                             sample->Int(0, 0), sample->Int(0, 1));
      return f;
    }
    auto amcheck = conn.Query(
        "SELECT has_function_privilege('bt_index_check(regclass)', 'EXECUTE')"
        " FROM pg_extension WHERE extname = 'amcheck'");
    if (!amcheck) return fail("the extensions cannot be read");
    if (amcheck->size() == 1 && amcheck->Bool(0, 0)) {
      auto checked = conn.Query(
          "SELECT count(bt_index_check(c.oid)) FROM pg_index i"
          " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam"
          " WHERE am.amname = 'btree' AND c.relkind = 'i' AND c.relpersistence = 'p'"
          " AND c.relnamespace = (SELECT relnamespace FROM pg_class"
          " WHERE oid = 'aggregate_reports'::regclass)");
      if (!checked) return fail("an index is damaged");
    }
    f.ran = true;
    return f;
  };
  Findings out = body();
  (void)conn.Exec(out.ran && out.damage.empty() ? "COMMIT" : "ROLLBACK");
  return out;
}

}  // namespace

// The background integrity check of one database, shared by the stores of this process that
// are asked for their health (the server's connections). The check runs on a thread with its
// own connection; the thread owns the state it writes (shared), so a monitor that goes while a
// check runs does not wait for it: the check ends on its own and its verdict is dropped.
class PgIntegrityMonitor {
 public:
  PgIntegrityMonitor(std::string url, OpenOptions options)
      : url_(std::move(url)), options_(std::move(options)), state_(std::make_shared<State>()) {}
  ~PgIntegrityMonitor() {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
    if (thread_.joinable()) thread_.detach();
  }

  // The last finished check's findings ("" when it found nothing or none has finished yet);
  // starts a check when none is running and the last one started kIntegrityInterval ago.
  std::string Damage() {
    std::lock_guard lock(state_->mu);
    const auto now = std::chrono::steady_clock::now();
    if (!state_->running && (!started_ || now - *started_ >= kIntegrityInterval)) {
      if (thread_.joinable()) thread_.join();  // done: it cleared running
      state_->running = true;
      started_ = now;
      thread_ = std::thread([state = state_, url = url_, options = options_] {
        Findings f;
        auto conn = Connect(url, options);
        if (conn) {
          (void)conn->Exec("SET application_name = 'dmarc-report integrity check'");
          f = RunChecks(*conn);
        }
        std::lock_guard done(state->mu);
        state->running = false;
        if (state->stop || !f.ran) return;
        if (!f.damage.empty()) {
          spdlog::error("store {}: integrity check failed: {}",
                        conn ? conn->label() : std::string("?"), f.damage);
        }
        state->damage = f.damage;
      });
    }
    return state_->damage;
  }

 private:
  struct State {
    std::mutex mu;
    bool running = false;
    bool stop = false;
    std::string damage;
  };
  const std::string url_;
  const OpenOptions options_;
  std::shared_ptr<State> state_;
  std::thread thread_;
  std::optional<std::chrono::steady_clock::time_point> started_;
};

namespace {

// The one monitor of a database in this process.
std::shared_ptr<PgIntegrityMonitor> MonitorOf(const std::string& url, const OpenOptions& options) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<PgIntegrityMonitor>> monitors;
  std::lock_guard lock(mu);
  std::erase_if(monitors, [](const auto& kv) { return kv.second.expired(); });
  auto& weak = monitors[url];
  auto monitor = weak.lock();
  if (!monitor) {
    monitor = std::make_shared<PgIntegrityMonitor>(url, options);
    weak = monitor;
  }
  return monitor;
}

}  // namespace

Result<bool> PgStore::Ping() { return conn_.Exec("SELECT 1"); }

Result<bool> PgStore::Health() {
  // The answers are meant to be shown without sign-in: short, no SQL, no address (the log has
  // the details). A connection lost since the last call (a server restart) is made again once.
  auto version = conn_.Query("SELECT max(version) FROM dmarc_report_schema");
  if (!version && !conn_.Ok() && conn_.Reset()) {
    version = conn_.Query("SELECT max(version) FROM dmarc_report_schema");
  }
  if (!version) {
    spdlog::error("store {}: cannot be read: {}", label_, version.error());
    return MakeError(ErrorKind::kIo, "the store cannot be read");
  }
  if (const auto v = version->Int(0, 0);
      v != static_cast<std::int64_t>(PgSchemaMigrations().size())) {
    return MakeError(ErrorKind::kIo, fmt::format("the store's schema version is {}, not {}", v,
                                                 PgSchemaMigrations().size()));
  }
  if (!integrity_) integrity_ = MonitorOf(url_, options_);
  if (!integrity_->Damage().empty()) {
    return MakeError(ErrorKind::kIo, "the store is damaged (integrity check failed)");
  }
  return true;
}

Result<bool> PgStore::CheckIntegrity() {
  const Findings f = RunChecks(conn_);
  if (!f.ran) return MakeError(ErrorKind::kIo, label_ + ": the integrity check could not run");
  if (!f.damage.empty()) return MakeError(ErrorKind::kIo, "the store is damaged: " + f.damage);
  return true;
}

}  // namespace pg_impl
}  // namespace dmarc::store
