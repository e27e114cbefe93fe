#include "collect/classify.h"

namespace dmarc::collect {

MailClass Classify(const pipeline::Extracted& extracted) {
  // A mail holding several kinds is filed under the first: aggregate, failure, SMTP TLS.
  if (!extracted.reports.empty()) return MailClass::kAggregate;
  if (!extracted.failures.empty()) return MailClass::kForensic;
  if (!extracted.smtp_tls.empty()) return MailClass::kSmtpTls;
  return MailClass::kInvalid;
}

const char* FolderName(MailClass c) {
  switch (c) {
    case MailClass::kAggregate:
      return "Aggregate";
    case MailClass::kForensic:
      return "Forensic";
    case MailClass::kSmtpTls:
      return "SMTP-TLS";
    case MailClass::kInvalid:
      break;
  }
  return "Invalid";
}

}  // namespace dmarc::collect
