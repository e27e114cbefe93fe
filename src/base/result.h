// Result<T>: a value or an error. Expected failures (bad input, a limit exceeded, a busy store)
// are values of this type, never exceptions or asserts; asserts are for programmer errors only.
// An error carries a kind, so callers branch on what went wrong (ErrorKind), never on the text;
// the message is for people.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace dmarc {

enum class ErrorKind {
  kOther,        // anything not listed below
  kNotFound,     // what was asked for does not exist (a report id, a folder, a file)
  kInvalid,      // the input is malformed or breaks a limit
  kBusy,         // a shared resource is held by someone else (a locked store); try again later
  kIo,           // reading or writing a file, socket or database failed
  kUnsupported,  // the operation or format is not supported here
  kAuth,         // credentials refused
};

struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::kOther;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const std::string& error() const { return std::get<1>(v_).message; }
  ErrorKind error_kind() const { return std::get<1>(v_).kind; }
  // The error as a value, to pass on unchanged (kind and message).
  const Error& error_value() const& { return std::get<1>(v_); }
  Error&& error_value() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// The result of an operation that returns nothing but may fail.
using Status = Result<std::monostate>;
inline Status Ok() { return std::monostate{}; }

inline Error MakeError(std::string message) { return Error{std::move(message)}; }
inline Error MakeError(ErrorKind kind, std::string message) {
  return Error{std::move(message), kind};
}

}  // namespace dmarc

// Returns the error of `expr` (a Result) from the enclosing function, kind and message unchanged.
#define DMARC_TRY(expr)                            \
  do {                                             \
    if (auto dmarc_try_r = (expr); !dmarc_try_r) { \
      return std::move(dmarc_try_r).error_value(); \
    }                                              \
  } while (0)
// Assigns the value of `expr` (a Result) to `var`, or returns its error as DMARC_TRY does.
#define DMARC_TRY_ASSIGN(var, expr)                                \
  do {                                                             \
    auto dmarc_try_r = (expr);                                     \
    if (!dmarc_try_r) return std::move(dmarc_try_r).error_value(); \
    (var) = std::move(dmarc_try_r).value();                        \
  } while (0)
