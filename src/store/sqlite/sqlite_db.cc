#include "store/sqlite/sqlite_db.h"

#include <fmt/format.h>

#include <algorithm>

namespace dmarc::store::sqlite {

namespace {

// The error kind of an SQLite result code (extended codes: the primary code is the low byte).
ErrorKind KindOf(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorKind::kBusy;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrorKind::kIo;
    default:
      return ErrorKind::kOther;
  }
}

}  // namespace

Result<bool> Statement::Run() {
  const int rc = sqlite3_step(stmt_);
  const std::string sql = rc == SQLITE_DONE || rc == SQLITE_ROW ? "" : sqlite3_sql(stmt_);
  Reset();
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return true;
  return MakeError(KindOf(rc), fmt::format("{} (in: {})", sqlite3_errmsg(db_), sql.substr(0, 80)));
}

std::string RowInserter::InsertSql(std::string_view table_and_columns, int columns, int rows) {
  std::string sql = fmt::format("INSERT OR FAIL INTO {} VALUES ", table_and_columns);
  for (int row = 0; row < rows; ++row) {
    sql += row ? ",(" : "(";
    for (int c = 1; c <= columns; ++c) {
      if (c > 1) sql += ',';
      sql += fmt::format("?{}", row * columns + c);
    }
    sql += ')';
  }
  return sql;
}

Result<RowInserter> RowInserter::Prepare(Database& db, std::string_view table_and_columns,
                                         int columns, std::string_view suffix, int per_insert) {
  RowInserter r;
  r.columns_ = static_cast<std::size_t>(columns);
  r.per_insert_ = static_cast<std::size_t>(std::max(1, per_insert));
  for (Statement* s : {&r.one_, &r.many_}) {
    const std::string sql =
        InsertSql(table_and_columns, columns, s == &r.one_ ? 1 : static_cast<int>(r.per_insert_)) +
        std::string(suffix);
    auto prepared = db.Prepare(sql);
    if (!prepared) return MakeError(prepared.error());
    *s = std::move(prepared).value();
  }
  r.values_.reserve(r.columns_ * r.per_insert_);
  return r;
}

Result<bool> RowInserter::Add(std::initializer_list<Value> row) {
  values_.insert(values_.end(), row.begin(), row.end());
  if (values_.size() < columns_ * per_insert_) return true;
  auto r = Run(many_, 0, per_insert_);
  values_.clear();
  return r;
}

Result<bool> RowInserter::Flush() {
  const std::size_t rows = values_.size() / columns_;
  Result<bool> r = true;
  for (std::size_t row = 0; row < rows && r; ++row) r = Run(one_, row * columns_, 1);
  values_.clear();
  return r;
}

Result<bool> RowInserter::Run(Statement& s, std::size_t first_value, std::size_t rows) {
  for (std::size_t i = 0; i < rows * columns_; ++i) {
    const int param = static_cast<int>(i + 1);
    const Value& v = values_[first_value + i];
    if (const auto* n = std::get_if<std::int64_t>(&v)) {
      s.Bind(param, *n);
    } else if (const auto* t = std::get_if<std::string_view>(&v)) {
      s.Bind(param, *t);
    }  // NULL: left unbound (Run clears every binding)
  }
  return s.Run();
}

Result<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return MakeError(KindOf(rc), fmt::format("{} (in: {})", sqlite3_errmsg(db_),
                                           std::string(sqlite3_sql(stmt_)).substr(0, 80)));
}

Result<bool> Database::Open(const std::string& path, int busy_timeout_ms) {
  static const int configured = [] {
    // No global memory statistics: they take a process-wide mutex on every allocation.
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return sqlite3_initialize();
  }();
  if (configured != SQLITE_OK) return MakeError(KindOf(configured), sqlite3_errstr(configured));
  const int rc =
      sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    return MakeError(KindOf(rc), db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  }
  sqlite3_busy_timeout(db_, busy_timeout_ms);
  sqlite3_extended_result_codes(db_, 1);
  return true;
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return MakeError(KindOf(rc),
                     fmt::format("{} (preparing: {})", sqlite3_errmsg(db_), sql.substr(0, 80)));
  }
  return Statement(db_, stmt);
}

Result<bool> Database::Exec(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return MakeError(KindOf(rc), msg);
  }
  return true;
}

Result<std::int64_t> Database::QueryInt(std::string_view sql) {
  auto s = Prepare(sql);
  if (!s) return MakeError(s.error());
  auto row = s->Step();
  if (!row) return MakeError(row.error());
  if (!*row) return MakeError(fmt::format("{}: no answer", sql));
  return s->Int(0);
}

}  // namespace dmarc::store::sqlite
