// A record's DKIM, SPF and policy-override results as both stores keep them: JSON arrays in the
// record's own row (columns dkim, spf and overrides: SQLite migration 14, PostgreSQL migration 1),
// in the reporter's order, NULL for an empty list:
//   dkim       [{"domain", "selector", "result", "human_result"?}, ...]
//   spf        [{"domain", "scope", "result", "human_result"?}, ...]
//   overrides  [{"type", "comment"}, ...]  (each null when absent)
// One row per record instead of one per result: three b-tree inserts fewer per record on import.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "model/aggregate.h"

namespace dmarc::store {

// Appends a text value as a JSON string literal. The default writes it as it is, each byte that
// is not valid UTF-8 as U+FFFD (parsed reports are valid UTF-8; the JSON must always read back).
using JsonStringWriter = void (*)(std::string_view value, std::string& out);
void AppendJsonText(std::string_view value, std::string& out);

// Append the list's JSON array; nothing at all for an empty list (the caller stores NULL).
void AppendDkimJson(const std::vector<model::DkimAuthResult>& list, std::string& out,
                    JsonStringWriter text = AppendJsonText);
void AppendSpfJson(const std::vector<model::SpfAuthResult>& list, std::string& out,
                   JsonStringWriter text = AppendJsonText);
void AppendOverridesJson(const std::vector<model::PolicyOverrideReason>& list, std::string& out,
                         JsonStringWriter text = AppendJsonText);

// Add the results of a stored column to `out`. An empty text (NULL) adds none; elements that are
// not objects are skipped, a key that is absent or not a string reads as "" (or as absent where
// optional). Text that is not a JSON array is an error.
Result<bool> ReadDkimJson(std::string_view text, std::vector<model::DkimAuthResult>& out);
Result<bool> ReadSpfJson(std::string_view text, std::vector<model::SpfAuthResult>& out);
Result<bool> ReadOverridesJson(std::string_view text,
                               std::vector<model::PolicyOverrideReason>& out);

}  // namespace dmarc::store
