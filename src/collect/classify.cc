#include "collect/classify.h"

namespace dmarc::collect {

MailClass Classify(const pipeline::Extracted& extracted) {
  if (!extracted.reports.empty()) return MailClass::kAggregate;
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
