// Which folder a mail belongs in, from what was extracted from it.
#pragma once

#include <string>
#include <string_view>

#include "collect/source.h"
#include "pipeline/extract.h"

namespace dmarc::pipeline {

// A mail holding any report is filed by the kind of its first report kind found (aggregate
// first); a mail holding none — an auto-reply, spam, an unreadable attachment — is Invalid.
// A new report kind adds one line here.
collect::MailClass Classify(const Extracted& extracted);

// What the store keeps of a rejected input's bytes (its first raw_bytes, shown by
// /api/rejected/raw), under failure.keep_sample (--failure-sample): a rejected mail that looks
// like a failure report (an ARF part, a forwarded message or its headers, Exim's copy of the
// headers) carries someone's message, so with `headers` only its own header block is kept and
// with `none` nothing (the origin, reason, size and SHA-256 stay). Other inputs, and everything
// with `full`, keep their first raw_bytes.
std::string RejectedBytesToKeep(std::string_view input, std::size_t raw_bytes,
                                parse::KeepSample keep);

}  // namespace dmarc::pipeline
