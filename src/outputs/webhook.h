// The webhook output (`type = "webhook"`): one JSON POST per report, signed with HMAC-SHA256 over
// the body (libsodium's crypto_auth_hmacsha256) in a header, so the receiver can tell it came from
// whoever holds the shared secret. See docs/outputs.md ("Webhook") for the keys and the body.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "outputs/output.h"

namespace dmarc::outputs {

// Keys: url (http:// or https://, required), secret_file (the HMAC key, required), signature_header
// (default "X-DMARC-Report-Signature"), timeout (seconds, 1..600, default 30), ca_file.
Result<std::unique_ptr<Output>> MakeWebhookOutput(const OutputConfig& config);

// "sha256=" + the lower-case hex HMAC-SHA256 of body under key: the signature header's value.
std::string WebhookSignature(std::string_view key, std::string_view body);

// The body posted for one item: {"type": ..., "key": ..., "report": {parsedmarc's JSON}}.
std::string WebhookBody(const Item& item);

}  // namespace dmarc::outputs
