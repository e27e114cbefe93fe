// The PostgreSQL store's connection, schema migrations and retries.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <random>
#include <thread>

#include "store/pg/pg_store.h"
#include "store/pg/pg_store_impl.h"
#include "store/pg/pg_write_text.h"
#include "store/reporter_key.h"

namespace dmarc::store {

bool IsPostgresUrl(const std::string& url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

Result<std::string> PostgresLabel(const std::string& url) {
  // postgresql://[user[:password]@][host][:port][/dbname][?params]
  const std::size_t scheme = url.find("://") + 3;
  const std::size_t end = url.find_first_of("/?", scheme);
  const std::string authority = url.substr(scheme, end == std::string::npos ? end : end - scheme);
  const std::size_t at = authority.rfind('@');
  if (at != std::string::npos && authority.substr(0, at).find(':') != std::string::npos) {
    return MakeError(ErrorKind::kInvalid,
                     "the store URL carries a password: put it in a file named by [store] "
                     "password_file (or DMARC_REPORT_STORE_PASSWORD_FILE), or in PGPASSFILE");
  }
  const std::size_t q = url.find('?');
  // Parameters may hold a password too (?password=...): never shown.
  std::string shown = q == std::string::npos ? url : url.substr(0, q);
  if (q != std::string::npos && url.find("password=", q) != std::string::npos) {
    return MakeError(ErrorKind::kInvalid,
                     "the store URL carries a password: put it in a file named by [store] "
                     "password_file (or DMARC_REPORT_STORE_PASSWORD_FILE), or in PGPASSFILE");
  }
  return shown;
}

namespace pg_impl {

Result<Connection> Connect(const std::string& url, const OpenOptions& options) {
  auto label = PostgresLabel(url);
  if (!label) return std::move(label).error_value();
  std::string conninfo = url;
  if (!options.password.empty()) {
    conninfo += url.find('?') == std::string::npos ? "?" : "&";
    // libpq URI parameters are percent-decoded: encode every byte that is not plain.
    std::string enc;
    for (unsigned char c : options.password) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        enc += static_cast<char>(c);
      } else {
        enc += fmt::format("%{:02X}", c);
      }
    }
    conninfo += "password=" + enc;
  }
  conninfo += conninfo.find('?') == std::string::npos ? "?" : "&";
  conninfo += "fallback_application_name=dmarc-report&connect_timeout=10";
  return Connection::Open(conninfo, *label);
}

std::int64_t PgStore::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool PgStore::BackOff(int attempt, std::int64_t deadline_ms) {
  if (NowMs() >= deadline_ms) return false;
  // 50 ms, 100 ms, ... up to 5 s, with jitter, so that writers that collided do not collide
  // again.
  static thread_local std::mt19937 rng{std::random_device{}()};
  const std::int64_t base = std::min<std::int64_t>(5000, 50LL << std::min(attempt - 1, 7));
  const std::int64_t wait =
      std::min(base / 2 + std::uniform_int_distribution<std::int64_t>(0, base / 2)(rng),
               std::max<std::int64_t>(0, deadline_ms - NowMs()));
  spdlog::debug("{}: retrying after {} ({} ms)", label_, conn_.LastError().message, wait);
  std::this_thread::sleep_for(std::chrono::milliseconds(wait));
  if (!conn_.Ok()) {
    if (auto r = conn_.Reset(); !r) {
      spdlog::warn("{}: database unreachable, retrying: {}", label_, r.error());
      return NowMs() < deadline_ms;
    }
    spdlog::info("{}: reconnected", label_);
  }
  return true;
}

Result<bool> PgStore::Init() {
  // Times and numbers as text in UTC. (lc_messages is the server's: only a superuser may set
  // it, and the store's role is not one.)
  DMARC_TRY(conn_.Exec("SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC'"));
  const auto migrations = PgSchemaMigrations();
  // Most opens find the schema current: no lock, no write (a hot standby allows none).
  std::size_t found = 0;
  {
    auto exists = conn_.Query("SELECT to_regclass('dmarc_report_schema') IS NOT NULL");
    if (!exists) return std::move(exists).error_value();
    if (exists->Bool(0, 0)) {
      auto rows = conn_.Query("SELECT coalesce(max(version), 0) FROM dmarc_report_schema");
      if (!rows) return std::move(rows).error_value();
      found = static_cast<std::size_t>(rows->Int(0, 0));
    }
  }
  // Current: only reports written without their reporter key (before migration 3 by another
  // program, or by hand) are completed, by a writer; finding none is one index lookup.
  if (found == migrations.size()) return options_.read_only ? true : FillReporterKeys();
  if (options_.read_only && found < migrations.size()) {
    return MakeError(ErrorKind::kUnsupported,
                     fmt::format("{}: the store's schema version is {}, this program's {}: open "
                                 "the primary with a writer (import, fetch, run) first",
                                 label_, found, migrations.size()));
  }
  return InTransaction<bool>([&]() -> Result<bool> {
    // One opener migrates at a time; the others wait, then find the schema current.
    DMARC_TRY(conn_.Exec("SELECT pg_advisory_xact_lock(7400319022)"));
    DMARC_TRY(
        conn_.Exec("CREATE TABLE IF NOT EXISTS dmarc_report_schema (version INTEGER NOT NULL)"));
    auto rows = conn_.Query("SELECT max(version) FROM dmarc_report_schema");
    if (!rows) return std::move(rows).error_value();
    const auto version = static_cast<std::size_t>(rows->Int(0, 0));
    if (version > migrations.size()) {
      return MakeError(ErrorKind::kUnsupported,
                       fmt::format("{}: the store's schema version {} is newer than this "
                                   "program's ({}): upgrade dmarc-report",
                                   label_, version, migrations.size()));
    }
    for (std::size_t v = version; v < migrations.size(); ++v) {
      if (auto r = conn_.Exec(migrations[v]); !r) {
        return MakeError(fmt::format("migrating the schema to version {}: {}", v + 1, r.error()));
      }
    }
    if (version < migrations.size()) {
      DMARC_TRY(FillReporterKeys());
      DMARC_TRY(conn_.Exec("DELETE FROM dmarc_report_schema"));
      DMARC_TRY(conn_.Query("INSERT INTO dmarc_report_schema (version) VALUES ($1)",
                            Params().Add(static_cast<std::int64_t>(migrations.size()))));
    }
    return true;
  });
}

// Reports stored before migration 3 get the key of their org_name (the key is the program's,
// not SQL's): one UPDATE for all the distinct names.
Result<bool> PgStore::FillReporterKeys() {
  auto rows =
      conn_.Query("SELECT DISTINCT org_name FROM aggregate_reports WHERE reporter_key IS NULL");
  if (!rows) return std::move(rows).error_value();
  std::vector<std::string> names, keys;
  for (int i = 0; i < rows->size(); ++i) {
    names.push_back(rows->Text(i, 0));
    keys.push_back(Clean(ReporterKey(names.back())));
  }
  if (names.empty()) return true;
  auto updated = conn_.Query(
      "UPDATE aggregate_reports a SET reporter_key = v.k FROM unnest($1::text[], $2::text[])"
      " AS v(o, k) WHERE a.org_name = v.o AND a.reporter_key IS NULL",
      Params().AddArray(names).AddArray(keys));
  if (!updated) return std::move(updated).error_value();
  return true;
}

}  // namespace pg_impl

Result<std::unique_ptr<ReportStore>> OpenPgStore(const std::string& url,
                                                 const OpenOptions& options) {
  auto conn = pg_impl::Connect(url, options);
  if (!conn) return std::move(conn).error_value();
  const std::string label = conn->label();
  auto store = std::make_unique<pg_impl::PgStore>(std::move(*conn), url, label, options);
  DMARC_TRY(store->Init());
  return std::unique_ptr<ReportStore>(std::move(store));
}

}  // namespace dmarc::store
