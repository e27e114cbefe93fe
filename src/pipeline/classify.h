// Which folder a mail belongs in, from what was extracted from it.
#pragma once

#include "collect/source.h"
#include "pipeline/extract.h"

namespace dmarc::pipeline {

// A mail holding any report is filed by the kind of its first report kind found (aggregate
// first); a mail holding none — an auto-reply, spam, an unreadable attachment — is Invalid.
// A new report kind adds one line here.
collect::MailClass Classify(const Extracted& extracted);

}  // namespace dmarc::pipeline
