#include "store/pg/pg_db.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <charconv>
#include <cstring>

namespace dmarc::store::pg {
namespace {

// A short form of a statement for messages: its first line, at most 80 characters.
std::string Short(std::string_view sql) {
  std::string s(sql.substr(0, std::min<std::size_t>(sql.find('\n'), 80)));
  if (s.size() < sql.size()) s += " ...";
  return s;
}

void ArrayElement(std::string_view v, std::string& out) {
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

constexpr std::size_t kCopyChunk = 1 << 20;

}  // namespace

// ---- Params ----

Params& Params::Add(std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  values_.emplace_back(std::string(buf, end));
  formats_.push_back(0);
  return *this;
}
Params& Params::Add(bool v) {
  values_.emplace_back(v ? "t" : "f");
  formats_.push_back(0);
  return *this;
}
Params& Params::Add(std::string_view v) {
  // A text parameter cannot hold NUL: PostgreSQL's text type refuses it. Report texts are
  // strangers' words, so a NUL is dropped rather than failing the batch.
  std::string s(v);
  if (s.find('\0') != std::string::npos) std::erase(s, '\0');
  values_.emplace_back(std::move(s));
  formats_.push_back(0);
  return *this;
}
Params& Params::Add(const std::optional<std::string>& v) {
  return v ? Add(std::string_view(*v)) : AddNull();
}
Params& Params::Add(const std::optional<std::int64_t>& v) { return v ? Add(*v) : AddNull(); }
Params& Params::AddNull() {
  values_.emplace_back(std::nullopt);
  formats_.push_back(0);
  return *this;
}
Params& Params::AddBytes(std::string_view v) {
  values_.emplace_back(std::string(v));
  formats_.push_back(1);
  return *this;
}
Params& Params::AddArray(const std::vector<std::string>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    std::string e = v[i];
    std::erase(e, '\0');
    ArrayElement(e, s);
  }
  s += '}';
  values_.emplace_back(std::move(s));
  formats_.push_back(0);
  return *this;
}
Params& Params::AddArray(const std::vector<std::int64_t>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  s += '}';
  values_.emplace_back(std::move(s));
  formats_.push_back(0);
  return *this;
}
Params& Params::AddArray(const std::vector<std::optional<std::string>>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    if (!v[i]) {
      s += "NULL";
      continue;
    }
    std::string e = *v[i];
    std::erase(e, '\0');
    ArrayElement(e, s);
  }
  s += '}';
  values_.emplace_back(std::move(s));
  formats_.push_back(0);
  return *this;
}
Params& Params::AddArray(const std::vector<std::optional<std::int64_t>>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += v[i] ? std::to_string(*v[i]) : "NULL";
  }
  s += '}';
  values_.emplace_back(std::move(s));
  formats_.push_back(0);
  return *this;
}
std::vector<const char*> Params::Values() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
  return out;
}
std::vector<int> Params::Lengths() const {
  std::vector<int> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v ? static_cast<int>(v->size()) : 0);
  return out;
}
std::vector<int> Params::Formats() const { return formats_; }

// ---- Rows ----

Rows::Rows(pg_result* r) : r_(r) {}
Rows::Rows(Rows&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
Rows& Rows::operator=(Rows&& o) noexcept {
  std::swap(r_, o.r_);
  return *this;
}
Rows::~Rows() {
  if (r_) PQclear(r_);
}
int Rows::size() const { return r_ ? PQntuples(r_) : 0; }
bool Rows::IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::string_view Rows::View(int row, int col) const {
  return {PQgetvalue(r_, row, col), static_cast<std::size_t>(PQgetlength(r_, row, col))};
}
std::optional<std::string> Rows::OptText(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Text(row, col);
}
std::int64_t Rows::Int(int row, int col) const {
  const std::string_view v = View(row, col);
  std::int64_t n = 0;
  if (v == "t") return 1;
  if (v == "f") return 0;
  std::from_chars(v.data(), v.data() + v.size(), n);
  return n;
}
std::optional<std::int64_t> Rows::OptInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int(row, col);
}
bool Rows::Bool(int row, int col) const {
  const std::string_view v = View(row, col);
  return v == "t" || v == "true" || (!v.empty() && v != "0" && v != "f" && v != "false");
}
std::string Rows::Bytes(int row, int col) const {
  std::size_t n = 0;
  unsigned char* p =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col)), &n);
  if (!p) return {};
  std::string out(reinterpret_cast<const char*>(p), n);
  PQfreemem(p);
  return out;
}
std::int64_t Rows::Affected() const {
  const char* t = r_ ? PQcmdTuples(r_) : "";
  std::int64_t n = 0;
  std::from_chars(t, t + std::strlen(t), n);
  return n;
}

// ---- PgError ----

bool PgError::Retryable() const {
  if (connection_lost) return true;
  return sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03" || sqlstate == "53300" || sqlstate.starts_with("08");
}

// ---- Connection ----

Connection::Connection(Connection&& o) noexcept
    : conn_(o.conn_),
      conninfo_(std::move(o.conninfo_)),
      label_(std::move(o.label_)),
      last_error_(std::move(o.last_error_)) {
  o.conn_ = nullptr;
}
Connection& Connection::operator=(Connection&& o) noexcept {
  std::swap(conn_, o.conn_);
  std::swap(conninfo_, o.conninfo_);
  std::swap(label_, o.label_);
  std::swap(last_error_, o.last_error_);
  return *this;
}
Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

Result<Connection> Connection::Open(const std::string& conninfo, const std::string& label) {
  Connection c;
  c.conninfo_ = conninfo;
  c.label_ = label;
  c.conn_ = PQconnectdb(conninfo.c_str());
  if (!c.conn_) return MakeError(ErrorKind::kIo, label + ": out of memory connecting");
  if (PQstatus(c.conn_) != CONNECTION_OK) {
    std::string why = PQerrorMessage(c.conn_);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    const bool auth = why.find("password") != std::string::npos ||
                      why.find("authentication") != std::string::npos;
    return MakeError(auth ? ErrorKind::kAuth : ErrorKind::kIo,
                     fmt::format("cannot connect to {}: {}", label, why));
  }
  // Quiet NOTICEs (e.g. "relation already exists, skipping"): they are not for the user.
  PQsetNoticeProcessor(
      c.conn_, [](void*, const char*) {}, nullptr);
  return c;
}

bool Connection::Ok() const { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

Result<bool> Connection::Reset() {
  if (!conn_) return MakeError(ErrorKind::kIo, label_ + ": not connected");
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn_);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    last_error_ = PgError{why, "", true};
    return MakeError(ErrorKind::kIo, fmt::format("cannot reconnect to {}: {}", label_, why));
  }
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  return true;
}

int Connection::ServerVersion() const { return conn_ ? PQserverVersion(conn_) : 0; }

Error Connection::Fail(std::string_view what, pg_result* r) {
  std::string why = r ? PQresultErrorMessage(r) : "";
  if (why.empty()) why = PQerrorMessage(conn_);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  last_error_ = PgError{why, state ? state : "", PQstatus(conn_) != CONNECTION_OK};
  if (r) PQclear(r);
  const ErrorKind kind = last_error_.sqlstate == "23505" ? ErrorKind::kInvalid
                         : last_error_.Retryable()       ? ErrorKind::kBusy
                                                         : ErrorKind::kIo;
  return MakeError(
      kind, fmt::format("{}: {} ({}): {}", label_, Short(what),
                        last_error_.sqlstate.empty() ? "connection" : last_error_.sqlstate, why));
}

Result<bool> Connection::Exec(std::string_view sql) {
  const std::string s(sql);
  pg_result* r = PQexec(conn_, s.c_str());
  const auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Fail(sql, r);
  PQclear(r);
  return true;
}

Result<Rows> Connection::Query(std::string_view sql, const Params& params) {
  const std::string s(sql);
  const auto values = params.Values();
  const auto lengths = params.Lengths();
  const auto formats = params.Formats();
  pg_result* r = PQexecParams(conn_, s.c_str(), params.size(), nullptr, values.data(),
                              lengths.data(), formats.data(), 0);
  const auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Fail(sql, r);
  return Rows(r);
}

Result<bool> Connection::StartCopy(std::string_view copy_sql, int expected_status) {
  const std::string s(copy_sql);
  pg_result* r = PQexec(conn_, s.c_str());
  if (!r || static_cast<int>(PQresultStatus(r)) != expected_status) return Fail(copy_sql, r);
  PQclear(r);
  return true;
}

Result<bool> Connection::PutCopyData(std::string_view copy_sql, std::string_view data) {
  for (std::size_t off = 0; off < data.size(); off += kCopyChunk) {
    const std::size_t n = std::min(kCopyChunk, data.size() - off);
    if (PQputCopyData(conn_, data.data() + off, static_cast<int>(n)) != 1) {
      return Fail(copy_sql, nullptr);
    }
  }
  return true;
}

Result<std::int64_t> Connection::EndCopyIn(std::string_view copy_sql) {
  if (PQputCopyEnd(conn_, nullptr) != 1) return Fail(copy_sql, nullptr);
  return CopyResult(copy_sql);
}

Result<std::int64_t> Connection::CopyResult(std::string_view copy_sql) {
  pg_result* r = PQgetResult(conn_);
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
    Error e = Fail(copy_sql, r);
    while (pg_result* rest = PQgetResult(conn_)) PQclear(rest);
    return e;
  }
  Rows done(r);
  while (pg_result* rest = PQgetResult(conn_)) PQclear(rest);
  return done.Affected();
}

Result<std::int64_t> Connection::CopyIn(std::string_view copy_sql, std::string_view data) {
  DMARC_TRY(StartCopy(copy_sql, PGRES_COPY_IN));
  DMARC_TRY(PutCopyData(copy_sql, data));
  return EndCopyIn(copy_sql);
}

Result<std::int64_t> Connection::CopyIn(std::string_view copy_sql,
                                        const std::function<bool(std::string& buf)>& more) {
  DMARC_TRY(StartCopy(copy_sql, PGRES_COPY_IN));
  std::string buf;
  for (bool again = true; again;) {
    buf.clear();
    again = more(buf);
    DMARC_TRY(PutCopyData(copy_sql, buf));
  }
  return EndCopyIn(copy_sql);
}

Result<std::int64_t> Connection::CopyOut(std::string_view copy_sql,
                                         const std::function<void(std::string_view)>& on_row) {
  DMARC_TRY(StartCopy(copy_sql, PGRES_COPY_OUT));
  std::int64_t rows = 0;
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(conn_, &buf, 0);
    if (n == -1) break;
    if (n < 0) return Fail(copy_sql, nullptr);
    std::string_view line(buf, static_cast<std::size_t>(n));
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    on_row(line);
    PQfreemem(buf);
    ++rows;
  }
  DMARC_TRY(CopyResult(copy_sql));
  return rows;
}

// ---- COPY text format ----

void CopyEscape(std::string_view v, std::string& out) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\0':
        break;  // text cannot hold NUL (see Params::Add)
      default:
        out += c;
    }
  }
}

void CopyBytes(std::string_view v, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\\\x";
  for (unsigned char c : v) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
}

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace dmarc::store::pg
