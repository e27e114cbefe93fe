// libFuzzer target: SMTP TLS report JSON (RFC 8460) on its own, serialised to JSON and CSV and
// read back from its JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parse/smtp_tls.h"
#include "sinks/report_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  dmarc::Limits limits;
  limits.max_decompressed_bytes = 8 * 1024 * 1024;
  limits.max_tls_entries = 10'000;
  (void)dmarc::parse::LooksLikeSmtpTlsJson(in);
  auto report = dmarc::parse::ParseSmtpTlsJson(in, limits);
  if (!report) return 0;
  std::string out;
  dmarc::sinks::AppendSmtpTlsJson(*report, out, false);
  dmarc::sinks::AppendSmtpTlsCsvRows(*report, out);
  auto back = dmarc::sinks::SmtpTlsFromJson(dmarc::sinks::SmtpTlsToJson(*report));
  if (!back) __builtin_trap();
  return 0;
}
