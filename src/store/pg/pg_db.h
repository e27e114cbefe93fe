// Thin RAII wrappers around libpq: the one place that sees PGconn and PGresult. Every query is
// sent with its values as parameters (never spliced into SQL), every error becomes a message
// naming the statement and carrying the server's SQLSTATE, so callers can tell a retryable
// failure (serialization, deadlock, lost connection) from a real one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

struct pg_conn;
struct pg_result;

namespace dmarc::store::pg {

// The values of one query, sent as text (or binary for bytea) parameters $1, $2, ...
class Params {
 public:
  Params& Add(std::int64_t v);
  Params& Add(std::uint64_t v) { return Add(static_cast<std::int64_t>(v)); }
  Params& Add(int v) { return Add(static_cast<std::int64_t>(v)); }
  Params& Add(bool v);
  Params& Add(std::string_view v);
  Params& Add(const std::string& v) { return Add(std::string_view(v)); }
  Params& Add(const char* v) { return Add(std::string_view(v)); }
  Params& Add(const std::optional<std::string>& v);
  Params& Add(const std::optional<std::int64_t>& v);
  Params& AddNull();
  // Binary bytes for a bytea parameter.
  Params& AddBytes(std::string_view v);
  // A text[] / bigint[] parameter in PostgreSQL's array literal syntax (every element quoted).
  Params& AddArray(const std::vector<std::string>& v);
  Params& AddArray(const std::vector<std::int64_t>& v);
  // An array whose elements may be NULL.
  Params& AddArray(const std::vector<std::optional<std::string>>& v);
  Params& AddArray(const std::vector<std::optional<std::int64_t>>& v);

  int size() const { return static_cast<int>(values_.size()); }
  // For PQexecParams: pointers stay valid while this object lives unchanged.
  std::vector<const char*> Values() const;
  std::vector<int> Lengths() const;
  std::vector<int> Formats() const;

 private:
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;  // 0 text, 1 binary
};

// A query's rows. Columns are read as text (PostgreSQL's text output), converted on demand.
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* r);
  Rows(Rows&&) noexcept;
  Rows& operator=(Rows&&) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  ~Rows();

  int size() const;  // rows
  bool IsNull(int row, int col) const;
  std::string_view View(int row, int col) const;
  std::string Text(int row, int col) const { return std::string(View(row, col)); }
  std::optional<std::string> OptText(int row, int col) const;
  std::int64_t Int(int row, int col) const;  // 0 for NULL
  std::optional<std::int64_t> OptInt(int row, int col) const;
  bool Bool(int row, int col) const;  // 't' / 'true' / non-zero number
  // A bytea column, decoded from its text form (hex).
  std::string Bytes(int row, int col) const;
  // Rows affected by an INSERT/UPDATE/DELETE.
  std::int64_t Affected() const;

 private:
  pg_result* r_ = nullptr;
};

// An error of the server or of the connection, with what a retry needs to know.
struct PgError {
  std::string message;   // names the statement
  std::string sqlstate;  // "" when the connection failed before the server answered
  bool connection_lost = false;
  // Worth running the whole transaction again: serialization failure (40001), deadlock (40P01),
  // a lost or refused connection, the server shutting down (57P01..57P03), too many connections.
  bool Retryable() const;
};

class Connection {
 public:
  Connection() = default;
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Connects with a libpq connection string or URI. `label` (the URL without its password)
  // names the server in errors. The password, when any, comes from the URI, PGPASSFILE or
  // ~/.pgpass, as libpq finds it; it never appears in a message.
  static Result<Connection> Open(const std::string& conninfo, const std::string& label);

  // One or more statements without parameters (schema, BEGIN/COMMIT, SET).
  Result<bool> Exec(std::string_view sql);
  // One statement with parameters; its rows (empty for a statement returning none).
  Result<Rows> Query(std::string_view sql, const Params& params = {});
  // COPY ... FROM STDIN with the given text-format data (rows already escaped with
  // CopyEscape, tab-separated, newline-terminated). Sent in chunks.
  Result<std::int64_t> CopyIn(std::string_view copy_sql, std::string_view data);
  // The same, the data made piece by piece: `more` appends the next rows to its (emptied)
  // buffer and returns false once it appended the last ones. Bounds the memory of a large COPY
  // and lets the server work while the next piece is made.
  Result<std::int64_t> CopyIn(std::string_view copy_sql,
                              const std::function<bool(std::string& buf)>& more);
  // COPY ... TO STDOUT: calls on_row with each line (text format, without its newline).
  Result<std::int64_t> CopyOut(std::string_view copy_sql,
                               const std::function<void(std::string_view)>& on_row);

  // The error of the last failed call, for retry decisions.
  const PgError& LastError() const { return last_error_; }
  // Forgets the last error: a transaction clears it before it starts, so that a failure of its
  // own that is not the server's is never taken for an earlier retryable one.
  void ClearError() { last_error_ = PgError{}; }
  bool Ok() const;  // the connection is up
  // Reconnects with the same connection string (after a lost connection).
  Result<bool> Reset();
  const std::string& label() const { return label_; }
  // The server's version number, e.g. 150018.
  int ServerVersion() const;

 private:
  Error Fail(std::string_view what, pg_result* r);
  // The pieces of CopyIn and CopyOut. Starts a COPY: the server answers expected_status
  // (PGRES_COPY_IN or PGRES_COPY_OUT).
  Result<bool> StartCopy(std::string_view copy_sql, int expected_status);
  // Sends data to COPY FROM STDIN in chunks of kCopyChunk.
  Result<bool> PutCopyData(std::string_view copy_sql, std::string_view data);
  // Ends COPY FROM STDIN; the rows copied.
  Result<std::int64_t> EndCopyIn(std::string_view copy_sql);
  // Takes the result of an ended COPY, draining what follows; the rows it affected.
  Result<std::int64_t> CopyResult(std::string_view copy_sql);
  pg_conn* conn_ = nullptr;
  std::string conninfo_;
  std::string label_;
  PgError last_error_;
};

// Appends one value in COPY text format: backslash, tab, newline and carriage return escaped.
void CopyEscape(std::string_view v, std::string& out);
// "\\N", COPY's NULL.
inline void CopyNull(std::string& out) { out += "\\N"; }
// A bytea value in COPY text format (hex, "\\\\x...").
void CopyBytes(std::string_view v, std::string& out);

// A quoted PostgreSQL identifier, every quote doubled (for DDL, which cannot take parameters:
// partition names; only ever given names this program makes).
std::string QuoteIdent(std::string_view name);

}  // namespace dmarc::store::pg
