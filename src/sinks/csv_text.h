// RFC 4180 CSV fields, quoted the way Python's csv module quotes them (parsedmarc's CSV).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dmarc::sinks {

// Quoted when it holds a comma, quote, CR or LF. Unless SetCsvRaw(true), a value starting with
// "=", "+", "-", "@", a tab or a CR gets a leading "'" first: a spreadsheet would run it as a
// formula (CSV injection: report fields are chosen by whoever sends the report), and OWASP's
// advice is this prefix, which shows as text.
void AppendCsvField(std::string& out, std::string_view v);
// parsedmarc's raw cells instead (parse/export --csv-raw), for the whole process: set once before
// any CSV is written (the workers that format rows read it).
void SetCsvRaw(bool raw);
inline void AppendCsvField(std::string& out, const std::string& v) {
  AppendCsvField(out, std::string_view(v));
}
// Null is an empty field.
inline void AppendCsvField(std::string& out, const std::optional<std::string>& v) {
  if (v) AppendCsvField(out, std::string_view(*v));
}

// Python's spelling of a boolean, as parsedmarc's CSV has it.
inline const char* PyBool(bool b) { return b ? "True" : "False"; }

}  // namespace dmarc::sinks
