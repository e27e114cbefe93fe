#include "sinks/csv_text.h"

#include <atomic>

namespace dmarc::sinks {

namespace {

std::atomic<bool> g_raw{false};

bool LooksLikeAFormula(std::string_view v) {
  return !v.empty() && std::string_view("=+-@\t\r").find(v.front()) != std::string_view::npos;
}

}  // namespace

void SetCsvRaw(bool raw) { g_raw = raw; }

void AppendCsvField(std::string& out, std::string_view v) {
  const bool guard = !g_raw.load(std::memory_order_relaxed) && LooksLikeAFormula(v);
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    if (guard) out += '\'';
    out += v;
    return;
  }
  out += '"';
  if (guard) out += '\'';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace dmarc::sinks
