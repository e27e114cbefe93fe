// SMTP TLS report JSON (RFC 8460) → model. Lenient where senders are known to be sloppy, and
// every leniency is recorded in the report's errors. Knows nothing of files, gzip or mail.
//
// Thread-safety: reentrant.
#pragma once

#include <string_view>

#include "base/limits.h"
#include "base/result.h"
#include "model/smtp_tls.h"

namespace dmarc::parse {

// A cheap test: does this JSON look like a TLS-RPT report (an object naming "policies" or
// "organization-name")? Used to tell a report attached to a mail from other JSON.
bool LooksLikeSmtpTlsJson(std::string_view bytes);

Result<model::SmtpTlsReport> ParseSmtpTlsJson(std::string_view bytes, const Limits& limits);

}  // namespace dmarc::parse
