#include "pipeline/classify.h"

namespace dmarc::pipeline {

using collect::MailClass;

MailClass Classify(const Extracted& extracted) {
  // A mail holding several kinds is filed under the first: aggregate, failure, SMTP TLS.
  if (!extracted.reports.empty()) return MailClass::kAggregate;
  if (!extracted.failures.empty()) return MailClass::kForensic;
  if (!extracted.smtp_tls.empty()) return MailClass::kSmtpTls;
  return MailClass::kInvalid;
}

}  // namespace dmarc::pipeline
