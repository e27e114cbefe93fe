#include "psl/psl.h"

#include <libpsl.h>

#include "base/text.h"

namespace dmarc::psl {

namespace {

const psl_ctx_t* Context() {
  static const psl_ctx_t* ctx = [] {
    // psl_latest picks the newest of the system list and the built-in one.
    const psl_ctx_t* c = psl_latest(nullptr);
    return c ? c : psl_builtin();
  }();
  return ctx;
}

bool IsHostnameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

}  // namespace

std::optional<std::string> RegistrableDomain(std::string_view name) {
  std::string host = ToLowerAscii(Trim(name));
  while (!host.empty() && host.back() == '.') host.pop_back();
  if (host.empty() || host.find('.') == std::string::npos || host.size() > 253) {
    return std::nullopt;
  }
  for (char c : host) {
    if (!IsHostnameChar(c)) return std::nullopt;
  }
  const psl_ctx_t* ctx = Context();
  if (!ctx) return std::nullopt;
  const char* reg = psl_registrable_domain(ctx, host.c_str());
  if (!reg) return std::nullopt;
  return std::string(reg);
}

}  // namespace dmarc::psl
