// RFC 4180 CSV fields, quoted the way Python's csv module quotes them (parsedmarc's CSV).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dmarc::sinks {

// Quoted when it holds a comma, quote, CR or LF.
void AppendCsvField(std::string& out, std::string_view v);
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
