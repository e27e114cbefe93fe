// The SQLite store's health for /healthz: a cheap check on the store's own connection each time
// (the schema and its version readable), and SQLite's integrity check (PRAGMA quick_check), which
// reads every page: seconds on a large store, so it runs in the background on a connection of its
// own, at most once every kIntegrityInterval (an hour) per store file in this process, and /healthz
// answers with the last verdict at once.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "store/sqlite/sqlite_store_impl.h"

namespace dmarc::store {
namespace sqlite_impl {

namespace {

// quick_check reads the whole file (a 490 MB store: about 6 s): once an hour keeps that a small
// share of the disk's time even for a store of gigabytes.
constexpr auto kIntegrityInterval = std::chrono::hours(1);

// What PRAGMA quick_check finds on db ("" when nothing): its first findings or SQLite's error
// (the file is not a database, a page cannot be read). Never SQL, never the path.
std::string QuickCheck(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA quick_check(3)", -1, &stmt, nullptr) != SQLITE_OK) {
    return sqlite3_errmsg(db);
  }
  std::string found;
  int rc = 0;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    const std::string line = text ? text : "";
    if (line != "ok") found += (found.empty() ? "" : "; ") + line;
  }
  if (rc != SQLITE_DONE) found = sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  return found;
}

}  // namespace

// The background integrity check of one store file, shared by the stores of this process that
// are asked for their health (the server's connections).
class IntegrityMonitor {
 public:
  explicit IntegrityMonitor(std::string path) : path_(std::move(path)) {}
  ~IntegrityMonitor() {
    stop_ = true;  // interrupts a check in progress (progress handler)
    if (thread_.joinable()) thread_.join();
  }

  // The last finished check's findings ("" when it found nothing or none has finished yet);
  // starts a check when none is running and the last one started kIntegrityInterval ago.
  std::string Damage() {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (!running_ && (!started_ || now - *started_ >= kIntegrityInterval)) {
      if (thread_.joinable()) thread_.join();  // done: it cleared running_
      running_ = true;
      started_ = now;
      thread_ = std::thread([this] { Run(); });
    }
    return damage_;
  }

 private:
  void Run() {
    std::string found;
    sqlite3* db = nullptr;
    // Read-only: a store file that has gone is reported, not created anew.
    if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK) {
      found = db ? sqlite3_errmsg(db) : "cannot be opened";
    } else {
      sqlite3_progress_handler(
          db, 10'000,
          [](void* stop) { return static_cast<std::atomic<bool>*>(stop)->load() ? 1 : 0; }, &stop_);
      found = QuickCheck(db);
    }
    sqlite3_close_v2(db);
    if (stop_) return;
    if (!found.empty()) spdlog::error("store {}: integrity check failed: {}", path_, found);
    std::lock_guard lock(mu_);
    damage_ = found;
    running_ = false;
  }

  const std::string path_;
  std::atomic<bool> stop_ = false;
  std::mutex mu_;
  std::thread thread_;
  bool running_ = false;
  std::optional<std::chrono::steady_clock::time_point> started_;
  std::string damage_;
};

namespace {

// The one monitor of a store file in this process.
std::shared_ptr<IntegrityMonitor> MonitorOf(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<IntegrityMonitor>> monitors;
  std::lock_guard lock(mu);
  std::erase_if(monitors, [](const auto& kv) { return kv.second.expired(); });
  auto& weak = monitors[path];
  auto monitor = weak.lock();
  if (!monitor) {
    monitor = std::make_shared<IntegrityMonitor>(path);
    weak = monitor;
  }
  return monitor;
}

}  // namespace

Result<bool> SqliteStore::Health() {
  // The answers are meant to be shown without sign-in: short, no SQL, no path (the log has
  // the details).
  auto version = db_.Prepare("PRAGMA user_version");
  Result<bool> read = version ? version->Step() : Result<bool>(MakeError(version.error()));
  if (read) read = *read ? Ping() : Result<bool>(MakeError("no schema version"));
  if (!read) {
    spdlog::error("store {}: cannot be read: {}", path_, read.error());
    return MakeError(ErrorKind::kIo, "the store cannot be read");
  }
  if (const auto v = version->Int(0); v != static_cast<std::int64_t>(SchemaMigrations().size())) {
    return MakeError(ErrorKind::kIo, fmt::format("the store's schema version is {}, not {}", v,
                                                 SchemaMigrations().size()));
  }
  if (!integrity_) integrity_ = MonitorOf(path_);
  if (!integrity_->Damage().empty()) {
    return MakeError(ErrorKind::kIo, "the store is damaged (integrity check failed)");
  }
  return true;
}

Result<bool> SqliteStore::CheckIntegrity() {
  if (auto found = QuickCheck(db_.handle()); !found.empty()) {
    return MakeError(ErrorKind::kIo, "the store is damaged: " + found);
  }
  return true;
}

}  // namespace sqlite_impl
}  // namespace dmarc::store
