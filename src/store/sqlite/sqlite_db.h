// Thin RAII wrappers around sqlite3 and sqlite3_stmt: every statement is prepared, every value
// bound (never spliced into SQL), every error turned into a message naming the statement.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"

namespace dmarc::store::sqlite {

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept {
    std::swap(db_, o.db_);
    std::swap(stmt_, o.stmt_);
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Statement& Bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // Text and blobs are bound without a copy (SQLITE_STATIC): the caller keeps them alive until
  // the statement has run, which Bind(...).Run() on values held by the caller guarantees.
  Statement& Bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  // Text that SQLite copies (SQLITE_TRANSIENT): for a value made just to be bound.
  Statement& BindCopy(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Bind(int i, std::string&& v) = delete;  // would dangle: bind a value that lives on
  Statement& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Statement& Bind(int i, const std::optional<std::string>& v) {
    if (v) return Bind(i, std::string_view(*v));
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  Statement& Bind(int i, const std::optional<std::int64_t>& v) {
    if (v) return Bind(i, *v);
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // A blob of n zero bytes, to be written in place (sqlite3_blob_write).
  Statement& BindZeroBlob(int i, std::uint64_t n) {
    sqlite3_bind_zeroblob64(stmt_, i, n);
    return *this;
  }
  Statement& BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }

  // Runs a statement that returns no rows; resets it for the next use.
  Result<bool> Run();
  // Steps once: true with a row, false when done. Errors are returned.
  Result<bool> Step();
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  // The text of a column without a copy: valid until the next Step, Reset or column call.
  std::string_view View(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view();
  }
  std::optional<std::string> OptText(int col) const {
    if (IsNull(col)) return std::nullopt;
    return Text(col);
  }
  std::optional<std::int64_t> OptInt(int col) const {
    if (IsNull(col)) return std::nullopt;
    return Int(col);
  }
  std::string Blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    return p ? std::string(static_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database;

// Rows of one table inserted several at a time: `per_insert` rows through one statement of that
// many rows, the rest one by one at Flush. One statement run per row costs SQLite a program
// start and halt each; the statements are INSERT OR FAIL, which needs no statement journal (an
// error fails the caller's whole transaction anyway). Text is bound without a copy: it must
// live until Flush.
class RowInserter {
 public:
  // NULL (std::monostate), an integer or text.
  using Value = std::variant<std::monostate, std::int64_t, std::string_view>;
  // A value that may be absent: NULL then.
  static Value Maybe(const std::optional<std::string>& v) {
    return v ? Value(std::string_view(*v)) : Value();
  }
  static Value Maybe(const std::optional<std::int64_t>& v) { return v ? Value(*v) : Value(); }

  RowInserter() = default;
  // `table_and_columns`: "name (col, ...)"; `suffix`: what follows the VALUES (an ON CONFLICT
  // clause, or empty). Each row's parameters are numbered in order.
  static Result<RowInserter> Prepare(Database& db, std::string_view table_and_columns, int columns,
                                     std::string_view suffix, int per_insert);

  // "INSERT OR FAIL INTO table_and_columns VALUES (?1,...),(...)": `rows` rows of `columns`
  // parameters, numbered in order.
  static std::string InsertSql(std::string_view table_and_columns, int columns, int rows);

  // Queues a row of `columns` values; inserts a full statement's worth.
  Result<bool> Add(std::initializer_list<Value> row);
  // Inserts what is queued.
  Result<bool> Flush();
  // Forgets what is queued (after a failed transaction).
  void Clear() { values_.clear(); }
  // The rows queued: the next row Add takes is this one of its statement.
  std::size_t Queued() const { return columns_ ? values_.size() / columns_ : 0; }

 private:
  Result<bool> Run(Statement& s, std::size_t first_value, std::size_t rows);

  Statement one_, many_;
  std::size_t columns_ = 0, per_insert_ = 1;
  std::vector<Value> values_;
};

class Database {
 public:
  Database() = default;
  Database(Database&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Database& operator=(Database&&) = delete;
  Database(const Database&) = delete;
  ~Database() { sqlite3_close_v2(db_); }

  Result<bool> Open(const std::string& path, int busy_timeout_ms);
  Result<Statement> Prepare(std::string_view sql);
  // Runs one or more statements without parameters (schema, pragmas, BEGIN/COMMIT).
  Result<bool> Exec(const std::string& sql);
  // The integer of the first column of the first row of sql (e.g. "PRAGMA user_version"); the
  // statement is finalized before this returns, so it holds no read transaction.
  Result<std::int64_t> QueryInt(std::string_view sql);
  std::int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace dmarc::store::sqlite
